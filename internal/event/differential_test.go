package event_test

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/leadscore/leadscore/internal/event"
	"github.com/leadscore/leadscore/internal/generate"
)

// The differential tests hold Decode's single-pass parser to the reference
// decoder it replaced (segmentio/encoding/json into the wire struct), which
// is an independent reading of the same records: on every input both must
// return the same error, reason and detail, or the same Event.

// diffLimits are the limits every input is decoded with: the defaults, and
// small ones that put the depth and string limits within a fuzzer's reach.
var diffLimits = []event.Limits{
	event.DefaultLimits(),
	{MaxBytes: 512, MaxDepth: 3, MaxString: 12},
	{MaxBytes: 1 << 10, MaxDepth: 2, MaxString: 20},
}

// checkDifferential decodes data with both decoders under every limit and
// fails on any difference.
func checkDifferential(t *testing.T, data []byte) {
	t.Helper()
	orig := bytes.Clone(data)
	for _, lim := range diffLimits {
		got := event.Event{Type: event.TypeAlias, UserID: "stale", Traits: event.Traits{Technologies: []string{"x"}}}
		gotErr := event.Decode(data, &got, lim)
		var want event.Event
		wantErr := event.DecodeReference(data, &want, lim)
		if !bytes.Equal(data, orig) {
			t.Fatalf("decode modified its input")
		}
		if (gotErr == nil) != (wantErr == nil) || (gotErr != nil && gotErr.Error() != wantErr.Error()) {
			t.Fatalf("limits %+v, input %q:\nDecode:    %v\nreference: %v", lim, data, gotErr, wantErr)
		}
		if !reflect.DeepEqual(got, want) {
			got.Raw, want.Raw = nil, nil // printed as the input
			t.Fatalf("limits %+v, input %q:\nDecode:    %+v\nreference: %+v", lim, data, got, want)
		}
		if gotErr == nil {
			checkNoAlias(t, data, &got)
		}
	}
}

// checkNoAlias fails if a string of ev points into data: only Raw may.
func checkNoAlias(t *testing.T, data []byte, ev *event.Event) {
	t.Helper()
	if len(data) == 0 {
		return
	}
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(data)))
	hi := lo + uintptr(len(data))
	var walk func(v reflect.Value, path string)
	walk = func(v reflect.Value, path string) {
		switch v.Kind() {
		case reflect.String:
			if v.Len() == 0 {
				return
			}
			p := uintptr(unsafe.Pointer(unsafe.StringData(v.String())))
			if p >= lo && p < hi {
				t.Fatalf("%s aliases the record", path)
			}
		case reflect.Struct:
			for i := range v.NumField() {
				if v.Type().Field(i).Name != "Raw" && v.Type().Field(i).IsExported() {
					walk(v.Field(i), path+"."+v.Type().Field(i).Name)
				}
			}
		case reflect.Slice:
			for i := range v.Len() {
				walk(v.Index(i), path+"["+strconv.Itoa(i)+"]")
			}
		}
	}
	walk(reflect.ValueOf(ev).Elem(), "Event")
}

// diffSeeds are inputs at the edges where a hand-written parser and
// segmentio are most likely to part ways.
var diffSeeds = []string{
	// Repeated keys: scalars, objects (merged), nulls (strings keep, ids clear).
	`{"type":"track","event":"A","event":"B","userId":"u",` + ts + `}`,
	`{"type":"track","event":"A","event":null,"userId":"u",` + ts + `}`,
	`{"type":"track","event":"A","userId":"u","userId":null,"anonymousId":"a",` + ts + `}`,
	`{"type":"page","userId":"u",` + ts + `,"context":{"ip":"1.2.3.4"},"context":{"timezone":"UTC"},"context":null}`,
	`{"type":"page","userId":"u",` + ts + `,"type":null}`,
	`{"type":"page","userId":"u",` + ts + `,"timestamp":null,"originalTimestamp":"2026-01-05T10:00:00Z"}`,
	`{"type":"track","event":"x","userId":"u",` + ts + `,"properties":{"score":5,"score":null,"amount":"7","amount":8}}`,
	// Technologies: segmentio reuses the slice, so a null element keeps what
	// an earlier array left at its index.
	`{"type":"group","groupId":"g",` + ts + `,"traits":{"technologies":["a","b","c"],"technologies":[null,"x"]}}`,
	`{"type":"group","groupId":"g",` + ts + `,"traits":{"technologies":["a"],"technologies":null,"technologies":[null]}}`,
	`{"type":"group","groupId":"g",` + ts + `,"traits":{"technologies":[null,null,""]}}`,
	`{"type":"group","groupId":"g",` + ts + `,"traits":{"technologies":["a","b"],"technologies":[]}}`,
	`{"type":"group","groupId":"g",` + ts + `,"traits":{"technologies":[` + strings.Repeat(`"t",`, 40) + `"t"]}}`,
	`{"type":"group","groupId":"g",` + ts + `,"traits":{"technologies":["a\u00e9\ud83d\ude00",null]}}`,
	// Keys: exact case, escapes, NUL.
	`{"typ\u0065":"page","user\u0049d":"u",` + ts + `}`,
	`{"type":"page","userID":"x","UserId":"y","userId":"u",` + ts + `}`,
	`{"type\u0000":"x","type":"page","userId":"u",` + ts + `}`,
	`{"\u0074\u0069\u006d\u0065\u0073\u0074\u0061\u006d\u0070":"2026-01-05T10:00:00Z","type":"page","userId":"u"}`,
	// Escapes and surrogates in kept and scratch strings.
	`{"type":"p\u0061ge","userId":"\ud800\udc00|\udc00\ud800|\ud800\u0041|\ud800\ud800\udc00|\ud800","timestamp":"2026-01-05T10:00:00\u005a"}`,
	`{"type":"page","userId":"\udc00\udc00|\udbff\udfff|\ud7ff\ue000",` + ts + `}`,
	`{"type":"page","userId":"\ud800\u12",` + ts + `}`,
	`{"type":"page","userId":"\"\\\/\b\f\n\r\t\u0000\u007f\u0080\u07ff\u0800\uffff",` + ts + `}`,
	`{"type":"page","userId":"é中😀` + "\x7f" + `",` + ts + `}`,
	// Numbers: ids keep their spelling, flexNumber's range and syntax.
	`{"type":"alias","previousId":-0,"userId":1E+2,"anonymousId":0.5e-3,"groupId":12345678901234567890123,` + ts + `}`,
	`{"type":"group","groupId":"g",` + ts + `,"traits":{"employees":"1e999"}}`,
	`{"type":"group","groupId":"g",` + ts + `,"traits":{"employees":1e-400,"company":{"employees":-1e300}}}`,
	`{"type":"group","groupId":"g",` + ts + `,"traits":{"employees":"-0.0E-0"}}`,
	`{"type":"group","groupId":"g",` + ts + `,"traits":{"employees":01}}`,
	`{"type":"group","groupId":"g",` + ts + `,"traits":{"employees":1e400}}`,
	// properties.score: anything not a number is ignored, not refused.
	`{"type":"track","event":"Intent Signal","userId":"u",` + ts + `,"properties":{"topic":"t","score":"high"}}`,
	`{"type":"track","event":"x","userId":"u",` + ts + `,"properties":{"score":{"a":[1,{"b":"c"}]},"score":[],"score":true}}`,
	`{"type":"track","event":"x","userId":"u",` + ts + `,"properties":{"score":"\u0031","score":1e400,"score":"-1e999"}}`,
	`{"type":"track","event":"x","userId":"u",` + ts + `,"properties":{"score":false,"score":"7"}}`,
	`{"type":"track","event":"x","userId":"u",` + ts + `,"properties":{"score":"high","score":null}}`,
	`{"type":"track","event":"x","userId":"u",` + ts + `,"properties":{"score":[[[[[1]]]]]}}`,
	`{"type":"track","event":"x","userId":"u",` + ts + `,"properties":{"score":"1234567890123"}}`,
	`{"type":"track","event":"x","userId":"u",` + ts + `,"properties":{"score":{"k":"1234567890123"}}}`,
	`{"type":"track","event":"x","userId":"u",` + ts + `,"properties":{"score":01}}`,
	`{"type":"track","event":"x","userId":"u",` + ts + `,"properties":{"score":[1,]}}`,
	// Limits at their edges (see diffLimits).
	`{"type":"page","userId":"123456789012",` + ts + `}`,
	`{"type":"page","userId":"1234567890123",` + ts + `}`,
	`{"type":"page","userId":"\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9",` + ts + `}`,
	`{"type":"page","userId":"u",` + ts + `,"context":{"page":{"url":"x"}}}`,
	`{"type":"page","userId":"u",` + ts + `,"x":[[1]]}`,
	`{"type":"group","groupId":"g",` + ts + `,"traits":{"technologies":["a"]}}`,
	// Whitespace and syntax.
	" \t\r\n{ \"type\" : \"page\" , \"userId\" : \"u\" , " + ts + " } \n",
	`{"type":"page","userId":"u",` + ts + `,"x":[1,2,]}`,
	`{"type":"page","userId":"u",` + ts + `,"x":{"a":1,}}`,
	`{"type":"page","userId":"u",` + ts + `,"x":tru}`,
	`{"type":"page","userId":"u",` + ts + `,"x":-}`,
	`{"type":"page","userId":"u",` + ts + `,"x":1.}`,
	`{"type":"page","userId":"u",` + ts + `,"x":.5}`,
	`{"type":"page","userId":"u",` + ts + "}\x00",
	"{\"type\":\"page\",\"userId\":\"u\xed\xa0\x80\"," + ts + "}",
	`{"type":"page","userId":"u",` + ts + `}{}`,
}

// ts is a valid timestamp member.
const ts = `"timestamp":"2026-01-05T10:00:00Z"`

// generated returns n records of the engine's generator, malformed ones
// included.
func generated(n int) [][]byte {
	g := generate.New(generate.Config{Seed: 1, Accounts: 2000})
	out := make([][]byte, n)
	for i := range out {
		out[i] = g.Next().Value
	}
	return out
}

// fuzzSeeds returns the corpus of FuzzDecode, which holds the shapes earlier
// fuzzing found interesting.
func fuzzSeeds(tb testing.TB) [][]byte {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzDecode", "*"))
	require.NoError(tb, err)
	var out [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(tb, err)
		_, lit, ok := strings.Cut(string(b), "[]byte(")
		require.True(tb, ok, "%s: not a []byte corpus entry", f)
		s, err := strconv.Unquote(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(lit), ")")))
		require.NoError(tb, err, f)
		out = append(out, []byte(s))
	}
	return out
}

func TestDecodeDifferential(t *testing.T) {
	for _, s := range diffSeeds {
		checkDifferential(t, []byte(s))
	}
	for _, b := range fuzzSeeds(t) {
		checkDifferential(t, b)
	}
}

// TestFastPathTakesGenerated checks that the fast path, not the reference,
// decodes every well-formed record of the engine's generator: the speed of
// Decode rests on it.
func TestFastPathTakesGenerated(t *testing.T) {
	g := generate.New(generate.Config{Seed: 1, Accounts: 2000})
	for i := range 10_000 {
		r := g.Next()
		ok := event.FastPathAccepts(r.Value, event.DefaultLimits())
		// Malformed records fail in the parser, except those that fail only
		// the Segment semantics, which the fast path checks itself.
		semantic := r.Kind == string(event.ReasonMissingIdentity) || r.Kind == string(event.ReasonMissingTimestamp)
		require.Equal(t, !r.Malformed || semantic, ok, "record %d (%s): %s", i, r.Kind, r.Value)
	}
}

// FuzzDecodeDifferential holds Decode to the reference decoder on any input.
// Its seeds are diffSeeds, FuzzDecode's corpus and 10k generator records.
func FuzzDecodeDifferential(f *testing.F) {
	for _, s := range diffSeeds {
		f.Add([]byte(s))
	}
	for _, b := range fuzzSeeds(f) {
		f.Add(b)
	}
	for _, b := range generated(10_000) {
		f.Add(b)
	}
	f.Fuzz(checkDifferential)
}
