package event

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// TestDecodeFastPathAllocs holds Decode to its allocation budget: the
// strings an event keeps cost a share of a slab (an 8 KiB slab serves
// dozens of these events, which AllocsPerRun truncates to 0), a
// technologies list one allocation, an event with more than maxCarve bytes
// of strings one block of its own, nothing else anything.
func TestDecodeFastPathAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts (sync.Pool drops items)")
	}
	big := []byte(`{"type":"page","anonymousId":"a","timestamp":"2026-01-05T10:00:00Z","context":{"page":{"url":"https://x.example/?q=` +
		strings.Repeat("y", maxCarve) + `"}}}`)
	tests := []struct {
		name string
		in   []byte
		max  float64
	}{
		{"page", benchPage, 0},
		{"strings with escapes", []byte(`{"type":"page","userId":"a\u00e9\"b","timestamp":"2026-01-05T10:00:00Z","context":{"page":{"title":"T\tab"}}}`), 0},
		{"no kept strings", []byte(`{"type":"track","event":"","properties":{"domain":""},"context":{"groupId":42},"timestamp":"2026-01-05T10:00:00Z","event":"x"}`), 0},
		{"group with technologies", []byte(`{"type":"group","groupId":"acme.com","timestamp":"2026-01-05T10:00:00Z","traits":{"employees":12,"technologies":["segment","hubspot"]}}`), 1},
		{"strings bigger than maxCarve", big, 1},
		// An ignored score stays on the fast path.
		{"score not a number", []byte(`{"type":"track","event":"Intent Signal","userId":"u","timestamp":"2026-01-05T10:00:00Z","properties":{"score":"high"}}`), 0},
		{"score an object", []byte(`{"type":"track","event":"Intent Signal","userId":"u","timestamp":"2026-01-05T10:00:00Z","properties":{"score":{"v":[1,true]}}}`), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ev Event
			require.NoError(t, Decode(tt.in, &ev, DefaultLimits()))
			allocs := testing.AllocsPerRun(200, func() {
				if err := Decode(tt.in, &ev, DefaultLimits()); err != nil {
					panic(err)
				}
			})
			require.LessOrEqual(t, allocs, tt.max)
		})
	}
}

// TestDecodeSlab checks that no string changes while later events are
// decoded into the slabs, across many slabs and with escapes (which decode
// shorter than they are written, leaving part of a carved block unused),
// and that the strings of consecutive small events are carved from the
// pool's slab while a big event's are not.
func TestDecodeSlab(t *testing.T) {
	lim := DefaultLimits()
	rec := func(i int) []byte {
		return fmt.Appendf(nil, `{"type":"page","anonymousId":"visitor-%d","userId":"u\u00e9-%d","timestamp":"2026-01-05T10:00:00Z",`+
			`"context":{"page":{"path":"/p/%d","title":"T\t%d"},"campaign":{"name":"c%d"}}}`, i, i, i, i, i%7)
	}
	url := "https://x.example/" + strings.Repeat("z", maxCarve)
	bigRec := []byte(`{"type":"page","anonymousId":"b","timestamp":"2026-01-05T10:00:00Z","context":{"page":{"url":"` + url + `"}}}`)
	// inPoolSlab reports whether s lies in the handed-out part of the
	// slab the pool gives back now: the one the last decode used, unless
	// the goroutine moved to another P or a GC emptied the pool.
	inPoolSlab := func(s string) bool {
		sl := slabs.Get().(*slab)
		defer slabs.Put(sl)
		if len(sl.b) == 0 {
			return false
		}
		lo := uintptr(unsafe.Pointer(unsafe.SliceData(sl.b)))
		p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
		return p >= lo && p+uintptr(len(s)) <= lo+uintptr(len(sl.b))
	}
	type kept struct {
		ev   Event
		want Event // its strings cloned right after decoding
	}
	var all []kept
	inSlab := 0
	for i := range 3 * slabSize / 64 { // ~64 bytes of strings each: three slabs and more
		var ev Event
		require.NoError(t, Decode(rec(i), &ev, lim))
		if inPoolSlab(ev.AnonymousID) && inPoolSlab(ev.Context.Campaign.Name) {
			inSlab++
		}
		want := ev
		want.AnonymousID, want.UserID = strings.Clone(ev.AnonymousID), strings.Clone(ev.UserID)
		want.Context.Page.Path, want.Context.Page.Title = strings.Clone(ev.Context.Page.Path), strings.Clone(ev.Context.Page.Title)
		want.Context.Campaign.Name = strings.Clone(ev.Context.Campaign.Name)
		all = append(all, kept{ev, want})
		if i%50 == 0 {
			var big Event
			require.NoError(t, Decode(bigRec, &big, lim))
			require.Equal(t, url, big.Context.Page.URL)
			require.False(t, inPoolSlab(big.Context.Page.URL), "a big event's block is its own")
		}
	}
	for i, k := range all {
		require.Equal(t, k.want, k.ev, "event %d changed after later decodes", i)
		require.Equal(t, fmt.Sprintf("visitor-%d", i), k.ev.AnonymousID)
	}
	if !raceEnabled { // under the race detector the pool drops slabs at random
		require.Greater(t, inSlab, len(all)*9/10, "small events are carved from the slab")
	}
}

// TestSlabCarve checks carve and commit: blocks follow each other in a
// slab with exact capacities, only what was used is handed out, a block
// that does not fit starts a new slab, and a big one is its own.
func TestSlabCarve(t *testing.T) {
	var s slab
	a := s.carve(100)
	require.Equal(t, 0, len(a))
	require.Equal(t, 100, cap(a))
	a = append(a, strings.Repeat("a", 60)...)
	s.commit(100, len(a))
	require.Equal(t, 60, len(s.b))
	require.Equal(t, slabSize, cap(s.b))
	b := s.carve(50)
	require.Equal(t, 50, cap(b))
	require.Same(t, &s.b[:61][60], &b[:1][0], "the next block starts where the used part ends")
	s.commit(50, 50)

	big := s.carve(maxCarve + 1)
	require.Equal(t, maxCarve+1, cap(big))
	s.commit(maxCarve+1, maxCarve+1)
	require.Equal(t, 110, len(s.b), "a big block is not carved from the slab")

	old := s.b
	for len(s.b)+maxCarve <= slabSize {
		s.commit(maxCarve, len(s.carve(maxCarve)[:maxCarve]))
	}
	c := s.carve(maxCarve)
	require.NotSame(t, &old[:1][0], &s.b[:1][0], "a new slab")
	require.Equal(t, 0, len(s.b))
	require.Same(t, &s.b[:1][0], &c[:1][0])
	require.Equal(t, strings.Repeat("a", 60), string(old[:60]), "the old slab is left as it was")
}

// parseUTC agrees with time.Parse wherever it answers.
func FuzzParseUTC(f *testing.F) {
	for _, s := range []string{
		"2026-03-02T09:00:00Z", "2026-03-02T09:00:00.123Z", "2026-03-02T09:00:00.123456789Z", "2024-02-29T23:59:59Z",
		"2023-02-29T00:00:00Z", "2026-13-01T00:00:00Z", "2026-03-02T24:00:00Z", "2026-03-02T09:00:60Z", "2026-03-02T09:00:00.Z",
		"2026-03-02T09:00:00.1234567890Z", "2026-03-02T09:00:00+01:00", "0000-01-01T00:00:00Z", "2026-3-02T09:00:00Z",
		"2026-03-02t09:00:00z", "2026-03-02T09:00:00,5Z", "+026-03-02T09:00:00Z",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseUTC(s)
		if !ok {
			return
		}
		want, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatalf("parseUTC(%q) = %v, time.Parse fails: %v", s, got, err)
		}
		if !got.Equal(want) || got.Location() != time.UTC {
			t.Fatalf("parseUTC(%q) = %v, time.Parse says %v", s, got, want)
		}
	})
}
