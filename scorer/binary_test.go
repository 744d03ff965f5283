package scorer

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	sjson "github.com/segmentio/encoding/json"
	"github.com/stretchr/testify/require"
)

// jsonRoundTrip is the oracle: what a State becomes through the JSON
// snapshots the pipeline writes today (segmentio's codec).
func jsonRoundTrip(t testing.TB, s *State) State {
	t.Helper()
	b, err := sjson.Marshal(s)
	require.NoError(t, err)
	var out State
	require.NoError(t, sjson.Unmarshal(b, &out))
	return out
}

func binaryRoundTrip(t testing.TB, s *State, into *State) {
	t.Helper()
	b, err := s.AppendBinary(nil)
	require.NoError(t, err)
	require.NoError(t, into.UnmarshalBinary(b))
}

// stateGen fills any value by reflection, so a field added to State or a
// type in it is filled too and the oracle sees it: slices nil, empty or
// short, pointers nil or set, times zero or UTC, unicode strings, every
// integer's range, finite floats with -0 and subnormals. Stages are the
// only values it knows by type: the others would not encode.
type stateGen struct{ rng *rand.Rand }

var (
	typeTime  = reflect.TypeFor[time.Time]()
	typeStage = reflect.TypeFor[Stage]()
)

var genStrings = []string{"", "a", "Software", "us", "HubSpot", "Zoë", "日本語のタイトル", "emoji 🚀 x", `quote " back \ slash`, "line\nbreak\ttab", "\u2028\u2029", "<b>&amp;</b>", "\x00nul"}

func (g stateGen) state() State {
	var s State
	g.fill(reflect.ValueOf(&s).Elem())
	return s
}

func (g stateGen) fill(v reflect.Value) {
	r := g.rng
	switch {
	case v.Type() == typeTime:
		v.Set(reflect.ValueOf(g.time()))
		return
	case v.Type() == typeStage:
		v.SetUint(uint64(r.IntN(int(StageLost) + 1)))
		return
	}
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(r.IntN(2) == 0)
	case reflect.String:
		if r.IntN(3) == 0 {
			v.SetString(genStrings[r.IntN(len(genStrings))] + genStrings[r.IntN(len(genStrings))])
		} else {
			v.SetString(genStrings[r.IntN(len(genStrings))])
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		bits := v.Type().Bits()
		x := int64(r.Uint64())
		switch r.IntN(3) {
		case 0:
			x = int64(r.IntN(300)) - 100
		case 1:
			x >>= 64 - bits // anywhere in the type's range
		default:
			x >>= 64 - bits + r.IntN(bits)
		}
		v.SetInt(x)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		bits := v.Type().Bits()
		x := r.Uint64()
		switch r.IntN(3) {
		case 0:
			x = uint64(r.IntN(300))
		case 1:
			x >>= 64 - bits
		default:
			x >>= 64 - bits + r.IntN(bits)
		}
		v.SetUint(x)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(g.float())
	case reflect.Pointer:
		if r.IntN(3) == 0 {
			v.SetZero()
			return
		}
		p := reflect.New(v.Type().Elem())
		g.fill(p.Elem())
		v.Set(p)
	case reflect.Slice:
		switch r.IntN(5) {
		case 0:
			v.SetZero()
		case 1:
			v.Set(reflect.MakeSlice(v.Type(), 0, r.IntN(3)))
		default:
			n := 1 + r.IntN(5)
			v.Set(reflect.MakeSlice(v.Type(), n, n))
			for i := range n {
				g.fill(v.Index(i))
			}
		}
	case reflect.Struct:
		for i := range v.NumField() {
			g.fill(v.Field(i))
		}
	default:
		panic("stateGen: no generator for " + v.Type().String())
	}
}

func (g stateGen) time() time.Time {
	r := g.rng
	switch r.IntN(6) {
	case 0:
		return time.Time{}
	case 1: // anywhere the format holds: deltas from AsOf stay below 2^63
		return time.Unix(0, int64(r.Uint64())>>1).UTC()
	case 2: // whole seconds, as most event times
		return t0.Add(time.Duration(r.IntN(200)-100) * time.Hour).UTC()
	default:
		return time.Unix(0, t0.UnixNano()+r.Int64N(int64(60*day))-int64(30*day)).UTC()
	}
}

func (g stateGen) float() float64 {
	r := g.rng
	switch r.IntN(8) {
	case 0:
		return 0
	case 1:
		return math.Copysign(0, -1)
	case 2:
		return float64(r.IntN(200) - 100)
	case 3:
		return math.SmallestNonzeroFloat64 * float64(r.IntN(1000))
	case 4:
		return math.MaxFloat64 * (r.Float64()*2 - 1)
	case 5:
		return math.Float64frombits(r.Uint64() &^ (0x7ff << 52)) // exponent 0: subnormal
	default:
		f := math.Float64frombits(r.Uint64())
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return r.NormFloat64() * 1e6
		}
		return f
	}
}

// The binary round trip of any State is its JSON round trip: decoded into
// a fresh State and into one that held another state (reusing its slices).
func TestStateBinaryMatchesJSON(t *testing.T) {
	g := stateGen{rand.New(rand.NewPCG(7, 11))}
	var reused State
	for i := range 5000 {
		s := g.state()
		want := jsonRoundTrip(t, &s)

		var fresh State
		binaryRoundTrip(t, &s, &fresh)
		require.Equal(t, want, fresh, "state %d", i)

		binaryRoundTrip(t, &s, &reused)
		require.Equal(t, want, reused, "state %d, decoded into the previous state", i)
	}
}

// The states the engine builds, too.
func TestStateBinaryRealistic(t *testing.T) {
	for name, s := range map[string]State{
		"zero":      {},
		"account":   benchState(t),
		"workload":  newWorkload(t).s,
		"full":      newCappedWorkload(t).s,
		"fresh hit": func() State { var s State; exampleRules(t).Observe(&s, page(t0, "/pricing")); return s }(),
	} {
		var got State
		binaryRoundTrip(t, &s, &got)
		require.Equal(t, jsonRoundTrip(t, &s), got, name)
	}
}

// TestStateBinaryFields is the guard against a field the format forgets:
// binaryFields must name exactly the fields of State and of every struct
// type within it. Adding a field means a new format version (see the
// format's comment), then adding it here.
func TestStateBinaryFields(t *testing.T) {
	got := map[string][]string{}
	var walk func(reflect.Type)
	walk = func(ty reflect.Type) {
		switch ty.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
			walk(ty.Elem())
			return
		case reflect.Struct:
		default:
			return
		}
		if ty == typeTime {
			return
		}
		require.Equal(t, reflect.TypeFor[State]().PkgPath(), ty.PkgPath(), "%s: a struct from another package needs its fields listed by hand", ty)
		if _, ok := got[ty.Name()]; ok {
			return
		}
		got[ty.Name()] = []string{}
		for i := range ty.NumField() {
			f := ty.Field(i)
			got[ty.Name()] = append(got[ty.Name()], f.Name)
			walk(f.Type)
		}
	}
	walk(reflect.TypeFor[State]())
	require.Equal(t, len(binaryFields), len(got), "types: %v", got)
	for name, fields := range got {
		require.ElementsMatch(t, binaryFields[name], fields, "fields of %s: a new one needs a new format version", name)
	}
}

func TestStateBinaryErrors(t *testing.T) {
	s := benchState(t)
	b, err := s.AppendBinary(nil)
	require.NoError(t, err)

	// Every prefix is truncated, whatever it reuses.
	into := benchState(t)
	for n := range len(b) {
		require.Error(t, into.UnmarshalBinary(b[:n]), "prefix of %d bytes", n)
		require.Equal(t, State{}, into, "a failed decode leaves the zero State")
	}
	require.ErrorContains(t, into.UnmarshalBinary(append(bytes.Clone(b), 0)), "trailing")
	require.ErrorContains(t, into.UnmarshalBinary([]byte{9, 0}), "unknown format version 9")
	j, err := sjson.Marshal(&s)
	require.NoError(t, err)
	require.ErrorContains(t, into.UnmarshalBinary(j), "JSON")

	// What JSON refuses to write, the binary format refuses too, leaving
	// the buffer as it was.
	buf := []byte("prefix")
	for name, bad := range map[string]State{
		"stage":      {Stage: StageLost + 1},
		"crm":        {CRM: 7},
		"nan":        {Rules: []RuleState{{Sum: math.NaN()}}},
		"inf":        {Intent: []TopicIntent{{Days: []IntentDay{{Sum: math.Inf(-1)}}}}},
		"time":       {AsOf: time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)},
		"time delta": {AsOf: time.Unix(0, math.MaxInt64), Last: time.Unix(0, -1)},
	} {
		out, err := bad.AppendBinary(buf)
		require.Error(t, err, name)
		require.Equal(t, "prefix", string(out), name)
	}
}

// Ids are hashes: fixed 8 bytes beat a uvarint, which takes 9.9 on
// average.
func TestRuleIDsFixed(t *testing.T) {
	r := exampleRules(t)
	total := 0
	for i := range r.rules {
		var tmp [16]byte
		total += len(binary.AppendUvarint(tmp[:0], r.rules[i].id))
	}
	require.Greater(t, total, 8*len(r.rules))
}

func TestStateBinaryAllocs(t *testing.T) {
	s := benchState(t)
	buf := make([]byte, 0, 1024)
	require.Zero(t, testing.AllocsPerRun(100, func() {
		var err error
		buf, err = s.AppendBinary(buf[:0])
		if err != nil {
			t.Fatal(err)
		}
	}))

	// Decoding into a State of the same shape allocates the string block
	// only; the data may be overwritten after.
	var into State
	require.NoError(t, into.UnmarshalBinary(buf))
	require.Equal(t, 1.0, testing.AllocsPerRun(100, func() {
		if err := into.UnmarshalBinary(buf); err != nil {
			t.Fatal(err)
		}
	}))
	for i := range buf {
		buf[i] = 0xff
	}
	require.Equal(t, jsonRoundTrip(t, &s), into)
}

func FuzzStateBinary(f *testing.F) {
	g := stateGen{rand.New(rand.NewPCG(3, 5))}
	seeds := []State{{}, benchState(f), newCappedWorkload(f).s}
	for range 20 {
		seeds = append(seeds, g.state())
	}
	for i := range seeds {
		b, err := seeds[i].AppendBinary(nil)
		require.NoError(f, err)
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte(`{"Title":"x"}`))
	f.Add([]byte{stateBinaryV1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		var s State
		if s.UnmarshalBinary(data) != nil {
			return
		}
		b1, err := s.AppendBinary(nil)
		require.NoError(t, err, "a decoded state encodes")
		var s2 State
		require.NoError(t, s2.UnmarshalBinary(b1))
		require.Equal(t, s, s2)
		b2, err := s2.AppendBinary(nil)
		require.NoError(t, err)
		require.Equal(t, b1, b2)
	})
}

// benchState is an account that engaged with several rules of the example
// rules, some capped (pricing page, any page, email open), over a few
// weeks, with firmographics naming two technologies.
func benchState(t testing.TB) State {
	t.Helper()
	r := exampleRules(t)
	s := State{Known: true, Firm: Firmographics{
		Industry: "Software", Employees: 800, HasEmployees: true, Country: "us", Technologies: []string{"Segment", "HubSpot"},
	}}
	at := t0
	for i, p := range []string{"/", "/pricing", "/docs", "/pricing", "/pricing/enterprise", "/blog/x", "/pricing", "/contact"} {
		at = at.Add(time.Duration(i+1) * 7 * time.Hour)
		r.Observe(&s, page(at, p))
		if i%3 == 0 {
			r.Observe(&s, track(at.Add(time.Minute), "Email Opened"))
		}
	}
	r.Observe(&s, track(at.Add(time.Hour), "Email Replied"))
	var res Result
	r.Evaluate(&s, &res)
	return s
}

func BenchmarkStateEncodeBinary(b *testing.B) {
	s := benchState(b)
	buf, err := s.AppendBinary(nil)
	require.NoError(b, err)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = s.AppendBinary(buf[:0])
	}
	b.ReportMetric(float64(len(buf)), "bytes/state")
}

func BenchmarkStateEncodeJSON(b *testing.B) {
	s := benchState(b)
	buf, err := sjson.Marshal(&s)
	require.NoError(b, err)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = sjson.Append(buf[:0], &s, 0)
	}
	b.ReportMetric(float64(len(buf)), "bytes/state")
}

// The decode benchmarks decode into a fresh State, as the pipeline reloads
// an account; DecodeBinaryReuse into the same one.
func BenchmarkStateDecodeBinary(b *testing.B) {
	s := benchState(b)
	buf, err := s.AppendBinary(nil)
	require.NoError(b, err)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		var s State
		if err := s.UnmarshalBinary(buf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStateDecodeBinaryReuse(b *testing.B) {
	s := benchState(b)
	buf, err := s.AppendBinary(nil)
	require.NoError(b, err)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	var into State
	for b.Loop() {
		if err := into.UnmarshalBinary(buf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStateDecodeJSON(b *testing.B) {
	s := benchState(b)
	buf, err := sjson.Marshal(&s)
	require.NoError(b, err)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		var s State
		if err := sjson.Unmarshal(buf, &s); err != nil {
			b.Fatal(err)
		}
	}
}

// The sizes the report quotes, in the test log.
func TestStateBinarySize(t *testing.T) {
	s := benchState(t)
	bin, err := s.AppendBinary(nil)
	require.NoError(t, err)
	j, err := sjson.Marshal(&s)
	require.NoError(t, err)
	t.Logf("realistic account: binary %d bytes, JSON %d bytes (%d rules, %s)", len(bin), len(j), len(s.Rules), strings.Join(s.Firm.Technologies, ", "))
	require.Less(t, len(bin), len(j)/2)
}
