package pipeline

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/segmentio/encoding/json"
	"github.com/stretchr/testify/require"

	"github.com/leadscore/leadscore/features"
	"github.com/leadscore/leadscore/internal/event"
	"github.com/leadscore/leadscore/internal/rows"
	"github.com/leadscore/leadscore/scorer"
)

// jsonRoundTrip is the oracle of the binary snapshot: what the JSON
// snapshot (the format before it, still read) makes of a.
func jsonRoundTrip(t testing.TB, a *account) *account {
	v, err := json.Marshal(a)
	require.NoError(t, err)
	var out account
	require.NoError(t, json.Unmarshal(v, &out))
	return &out
}

func binaryRoundTrip(t testing.TB, a *account) (*account, int) {
	v, err := appendAccount(nil, a)
	require.NoError(t, err)
	var out account
	require.NoError(t, decodeAccount(v, &out))
	return &out, len(v)
}

// randomAccount fills every snapshot field of an account (the scoring
// state itself comes from real scoring, see TestSnapshotRoundTrip).
func randomAccount(r *rand.Rand, st scorer.State) *account {
	str := func() string {
		if r.IntN(4) == 0 {
			return ""
		}
		return []string{"a", "software", "Zürich", "日本", "x\x00y", "acct-1.example"}[r.IntN(6)] + string(rune('a'+r.IntN(26)))
	}
	tm := func() time.Time {
		switch r.IntN(5) {
		case 0:
			return time.Time{}
		case 1:
			return time.Date(1200+r.IntN(2000), 3, 1, 0, 0, 0, r.IntN(1e9), time.UTC) // outside UnixNano's years too
		default:
			return time.Unix(1_700_000_000+r.Int64N(1e8), r.Int64N(1e9)).UTC()
		}
	}
	emit := func() emitted {
		return emitted{Emitted: r.IntN(2) == 0, LastScore: r.Float64() * 100, LastLabel: str(),
			LastStage: scorer.Stage(r.IntN(6)), EnteredFunnel: r.IntN(2) == 0, Due: tm()}
	}
	hours := func() features.Hours {
		var h features.Hours
		for range r.IntN(4) {
			h.Slots = append(h.Slots, features.HourCount{Slot: uint8(r.IntN(168)), N: r.Uint32()})
		}
		return h
	}
	camp := func() *event.Campaign {
		if r.IntN(3) == 0 {
			return nil
		}
		return &event.Campaign{Source: str(), Medium: str(), Name: str(), Term: str(), Content: str()}
	}
	a := &account{Score: st, Version: r.Uint64(), FirstTouch: camp(), LastTouch: camp(), emitted: emit(),
		Hours: hours(), NextDue: tm(), RulesVersion: str()}
	if r.IntN(2) == 0 {
		a.Visits = &Visits{First: tm(), Last: tm(), Sessions: r.Uint32(), Pages: r.Uint32(), Organisation: str(),
			Confidence: r.Float64(), Source: str()}
		for range r.IntN(4) {
			if a.Visits.Paths == nil {
				a.Visits.Paths = map[string]uint32{}
			}
			a.Visits.Paths["/"+str()] = r.Uint32()
		}
	}
	for range r.IntN(3) {
		if a.Contacts == nil {
			a.Contacts = map[string]*contact{}
		}
		c := &contact{Score: st, Version: r.Uint64(), Timezone: str(), Hours: hours(), MergedInto: str(),
			IntoAccount: str(), DuplicateOf: str(), emitted: emit()}
		c.Score.Title = str()
		for range r.IntN(3) {
			c.Tags = append(c.Tags, str())
		}
		a.Contacts["c-"+str()] = c
	}
	for range r.IntN(3) {
		if a.Anon == nil {
			a.Anon = map[string]string{}
		}
		a.Anon["v-"+str()] = str()
	}
	return a
}

// TestSnapshotRoundTrip: the binary snapshot decodes to what the JSON one
// did, for the accounts of real scoring (the generated stream) and for
// random accounts that fill every field.
func TestSnapshotRoundTrip(t *testing.T) {
	p := newStagePipeline(t)
	p.warm(t, 20_000)
	require.NotEmpty(t, p.sc.accounts)
	binSize, jsonSize := 0, 0
	var states []scorer.State
	withContacts := 0
	tails := 0
	for id, a := range p.sc.accounts {
		got, n := binaryRoundTrip(t, a)
		// The JSON format predates open tails: compare those on their own.
		if a.open != nil {
			tails++
			require.Equal(t, viewTail(a.open), viewTail(got.open), "account %s", id)
			got.open = nil
		}
		require.Equal(t, jsonRoundTrip(t, a), got, "account %s", id)
		v, _ := json.Marshal(a)
		binSize, jsonSize = binSize+n, jsonSize+len(v)
		states = append(states, a.Score)
		if len(a.Contacts) > 0 {
			withContacts++
		}
	}
	require.Positive(t, withContacts, "the stream has identified contacts")
	require.Positive(t, tails, "some accounts have open tails")
	t.Logf("%d accounts: binary %d bytes each, JSON %d", len(p.sc.accounts), binSize/len(p.sc.accounts), jsonSize/len(p.sc.accounts))

	r := rand.New(rand.NewPCG(3, 4))
	for i := range 2000 {
		a := randomAccount(r, states[r.IntN(len(states))])
		got, _ := binaryRoundTrip(t, a)
		require.Equal(t, jsonRoundTrip(t, a), got, "random account %d", i)
	}
}

// TestSnapshotReadsJSON: snapshots written before the binary format still
// load, and the head of both formats reads the same.
func TestSnapshotReadsJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 200 {
		a := randomAccount(r, scorer.State{AsOf: time.Unix(1_700_000_000, 0).UTC()})
		js, err := json.Marshal(a)
		require.NoError(t, err)
		var fromJSON account
		require.NoError(t, decodeAccount(js, &fromJSON))
		require.Equal(t, jsonRoundTrip(t, a), &fromJSON)

		bin, err := appendAccount(nil, a)
		require.NoError(t, err)
		d1, v1, err := snapshotHead(js)
		require.NoError(t, err)
		d2, v2, err := snapshotHead(bin)
		require.NoError(t, err)
		require.True(t, d1.Equal(d2), "%v %v", d1, d2)
		require.True(t, d2.Equal(a.NextDue))
		require.Equal(t, v1, v2)
		require.Equal(t, a.RulesVersion, v2)
	}
}

// TestSnapshotCorrupt: every truncation and a flipped version byte are
// errors, not panics or silent zero states.
func TestSnapshotCorrupt(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	a := randomAccount(r, scorer.State{AsOf: time.Unix(1_700_000_000, 0).UTC(), Title: "cto"})
	for a.Visits == nil || len(a.Contacts) == 0 {
		a = randomAccount(r, scorer.State{AsOf: time.Unix(1_700_000_000, 0).UTC(), Title: "cto"})
	}
	a.open = randomTail(r)
	v, err := appendAccount(nil, a)
	require.NoError(t, err)
	var back account
	require.NoError(t, decodeAccount(v, &back))
	require.Equal(t, viewTail(a.open), viewTail(back.open), "the tail round-trips")
	for n := range len(v) {
		var out account
		require.Error(t, decodeAccount(v[:n], &out), "truncated to %d of %d bytes", n, len(v))
	}
	bad := append([]byte{0x7f}, v[1:]...)
	require.ErrorContains(t, decodeAccount(bad, &account{}), "unknown account snapshot format")
	require.Error(t, decodeAccount(append(v, 0), &account{}), "trailing bytes")
}

func FuzzAccountSnapshot(f *testing.F) {
	r := rand.New(rand.NewPCG(9, 10))
	for i := range 8 {
		a := randomAccount(r, scorer.State{AsOf: time.Unix(1_700_000_000, 0).UTC()})
		if i%2 == 1 {
			a.open = randomTail(r) // version 2
		}
		v, err := appendAccount(nil, a)
		require.NoError(f, err)
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		var a account
		if decodeAccount(v, &a) != nil {
			return
		}
		// What decodes re-encodes to a snapshot that decodes the same.
		again, n := binaryRoundTrip(t, &a)
		_ = n
		require.Equal(t, jsonRoundTrip(t, &a), jsonRoundTrip(t, again))
	})
}

// TestSnapshotCoversFields fails when a field is added to a type the
// snapshot holds without extending appendAccount and decodeAccount (then
// update the counts here).
func TestSnapshotCoversFields(t *testing.T) {
	exported := func(v any) int {
		n := 0
		typ := reflect.TypeOf(v)
		for i := range typ.NumField() {
			if f := typ.Field(i); f.IsExported() || f.Anonymous {
				n++
			}
		}
		return n
	}
	for _, c := range []struct {
		v    any
		want int
	}{
		// Score, Version, FirstTouch, LastTouch, emitted, Contacts, Anon,
		// Hours, Visits, NextDue, RulesVersion.
		{account{}, 11},
		// Score, Tags, Version, Timezone, Hours, MergedInto, IntoAccount,
		// DuplicateOf, emitted.
		{contact{}, 9},
		{emitted{}, 6},
		{Visits{}, 8},
		{features.Hours{}, 1},
		{features.HourCount{}, 2},
		{event.Campaign{}, 5},
	} {
		require.Equal(t, c.want, exported(c.v), "%T: a field the account snapshot does not encode?", c.v)
	}
}

// TestSnapshotStageCodes pins the stage codes of the snapshot format: they
// are the scorer.Stage values, so reordering the constants would change
// the meaning of every written snapshot.
func TestSnapshotStageCodes(t *testing.T) {
	for code, name := range []string{"visitor", "lead", "mql", "opportunity", "customer", "lost"} {
		require.Equal(t, name, scorer.Stage(code).String())
	}
	require.Equal(t, scorer.StageLost, scorer.Stage(5))
}

// tailView is what a tail holds, independent of its buffer's layout.
type tailView struct {
	Base    []byte
	Records [][3]any // time, key, record
	Sealed  []sealedKey
	Fired   int64
	Outs    []tailOut
}

func viewTail(tl *tail) tailView {
	v := tailView{Base: append([]byte{}, tl.buf[:tl.base]...), Sealed: append([]sealedKey{}, tl.sealed...), Fired: tl.fired}
	for _, o := range tl.outs {
		o.batch, o.idx = 0, -1 // where the row was in a batch: not state
		v.Outs = append(v.Outs, o)
	}
	for i := range tl.entries {
		e := &tl.entries[i]
		v.Records = append(v.Records, [3]any{e.at, string(tl.key(e)), string(tl.rec(e))})
	}
	return v
}

// randomTail is an open tail with every field set: a base, records (whose
// values need not decode for the snapshot), sealed keys and outs.
func randomTail(r *rand.Rand) *tail {
	base, err := appendAccountState(nil, randomAccount(r, scorer.State{AsOf: time.Unix(1_700_000_000, 0).UTC()}))
	if err != nil {
		panic(err)
	}
	tl := &tail{buf: base, base: len(base), fired: r.Int64N(1e18)}
	for i := range 1 + r.IntN(4) {
		rec := make([]byte, r.IntN(40))
		for j := range rec {
			rec[j] = byte(r.IntN(256))
		}
		tl.entries = append(tl.entries, tl.add(1_700_000_000_000_000_000+int64(i)*1e9, fmt.Sprintf("msg-%d", r.IntN(1000)), rec))
	}
	for range r.IntN(3) {
		tl.sealed = append(tl.sealed, sealedKey{at: r.Int64N(1e18), h: r.Uint64()})
	}
	for k := range 1 + r.IntN(4) {
		tl.outs = append(tl.outs, tailOut{kind: uint8(1 + k%4), contact: r.Uint64(), src: rows.Source{Topic: "leadscore.events", Partition: int32(r.IntN(4)), Offset: r.Int64N(1e6)},
			at: r.Int64N(1e18), from: "lead", to: "mql", digest: r.Uint64(), idx: -1})
	}
	return tl
}
