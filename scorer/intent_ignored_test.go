package scorer

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/leadscore/leadscore/internal/event"
)

// TestIntentScoreIgnored: an Intent Signal whose score is not a number is
// not lost. It decodes with the score absent and is scored by every rule
// that does not need the score (testdata/full.yaml: competitor research 10,
// comeback 10 as the account's first event); only the intent topic and the
// surge rule (25), which need a score, pass it by.
func TestIntentScoreIgnored(t *testing.T) {
	r := mustParse(t, full(t))
	observe := func(score string) (map[string]float64, *State) {
		t.Helper()
		var ev event.Event
		require.NoError(t, event.Decode([]byte(`{"type":"track","event":"Intent Signal","timestamp":"2026-01-05T10:00:00Z",`+
			`"context":{"groupId":"acme.com"},"properties":{"topic":"crm","score":`+score+`,"competitor":"marketo"}}`), &ev, event.DefaultLimits()))
		s := &State{}
		hits, matched := r.ObserveHits(s, &ev, nil)
		require.True(t, matched)
		got := map[string]float64{}
		for _, h := range hits {
			got[r.RuleName(h.Rule)] += h.Points
		}
		return got, s
	}
	for _, bad := range []string{`"high"`, `true`, `{}`, `1e400`} {
		hits, s := observe(bad)
		require.Equal(t, map[string]float64{"competitor research": 10, "comeback": 10}, hits, "score %s", bad)
		require.Empty(t, s.Intent, "score %s: no intent without a score", bad)
	}
	hits, s := observe(`80`)
	require.Equal(t, map[string]float64{"competitor research": 10, "comeback": 10, "intent surge": 25}, hits)
	require.Len(t, s.Intent, 1)
}
