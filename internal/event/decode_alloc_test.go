package event

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestDecodeFastPathAllocs holds Decode to its allocation budget: one
// allocation for all the strings an event keeps, one more for a
// technologies list, none for anything else.
func TestDecodeFastPathAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts")
	}
	tests := []struct {
		name string
		in   []byte
		max  float64
	}{
		{"page", benchPage, 1},
		{"strings with escapes", []byte(`{"type":"page","userId":"a\u00e9\"b","timestamp":"2026-01-05T10:00:00Z","context":{"page":{"title":"T\tab"}}}`), 1},
		{"no kept strings", []byte(`{"type":"track","event":"","properties":{"domain":""},"context":{"groupId":42},"timestamp":"2026-01-05T10:00:00Z","event":"x"}`), 1},
		{"group with technologies", []byte(`{"type":"group","groupId":"acme.com","timestamp":"2026-01-05T10:00:00Z","traits":{"employees":12,"technologies":["segment","hubspot"]}}`), 2},
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
