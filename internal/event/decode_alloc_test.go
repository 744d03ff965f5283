package event

import (
	"testing"

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
