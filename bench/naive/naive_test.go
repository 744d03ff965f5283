package naive

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/leadscore/leadscore/internal/event"
	"github.com/leadscore/leadscore/internal/generate"
	"github.com/leadscore/leadscore/scorer"
)

// TestSameScores scores the generated events that name their account
// (groupId, context.groupId) with the baseline and with the scorer package,
// per account in stream order, and requires the same score, label and stage
// after every event: the baseline is slower, not different.
func TestSameScores(t *testing.T) {
	nr, err := ParseRules(scorer.Example())
	require.NoError(t, err)
	sr, err := scorer.Parse(scorer.Example(), "example")
	require.NoError(t, err)

	type pair struct {
		n *Score
		s *scorer.State
	}
	accounts := map[string]*pair{}
	g := generate.New(generate.Config{Seed: 7, Accounts: 50})
	compared := 0
	for range 20_000 {
		rec := g.Next()
		var ev event.Event
		if event.Decode(rec.Value, &ev, event.DefaultLimits()) != nil {
			continue
		}
		nev, err := Decode(rec.Value)
		require.NoError(t, err, "%s", rec.Value)
		acct := nev.account()
		if acct == "" {
			continue
		}
		p := accounts[acct]
		if p == nil {
			p = &pair{n: newScore(), s: &scorer.State{}}
			accounts[acct] = p
		}
		sr.Observe(p.s, &ev)
		nr.Observe(p.n, nev)
		if ev.Type == event.TypeGroup {
			merge(&p.s.Firm, &ev.Traits)
			for k, v := range nev.firmographics() {
				p.n.Firm[k] = v
			}
		}
		if ev.UserID != "" || (ev.Type == event.TypeIdentify && ev.Traits.Email != "") {
			p.s.Known, p.n.Known = true, true
		}
		var want scorer.Result
		sr.Evaluate(p.s, &want)
		got := nr.Evaluate(p.n, p.n.Firm, false)
		require.InDelta(t, want.Score, got.Score, 1e-9, "%s after %s", acct, rec.Value)
		require.InDelta(t, want.Fit, got.Fit, 1e-9, "%s after %s", acct, rec.Value)
		require.Equal(t, want.Label, got.Label, "%s after %s", acct, rec.Value)
		require.Equal(t, want.Stage.String(), got.Stage, "%s after %s", acct, rec.Value)
		require.Equal(t, len(want.Reasons), len(got.Reasons))
		compared++
	}
	require.Greater(t, compared, 5000)
	t.Logf("compared %d evaluations over %d accounts", compared, len(accounts))
}

// merge is the pipeline's firmographics upsert (pipeline.mergeFirmographics).
func merge(f *scorer.Firmographics, t *event.Traits) {
	if t.Industry != "" {
		f.Industry = t.Industry
	}
	if t.HasEmployees {
		f.Employees, f.HasEmployees = t.Employees, true
	}
	if t.Country != "" {
		f.Country = t.Country
	}
	if t.Technologies != nil {
		f.Technologies = append(f.Technologies[:0:0], t.Technologies...)
	}
}

func TestParseRules(t *testing.T) {
	r, err := ParseRules(scorer.Example())
	require.NoError(t, err)
	require.Len(t, r.Engagement.Rules, 7)
	require.Equal(t, 20.0, r.Fit.Attributes["technologies"].AnyPoints)
	fit, _ := r.fit(map[string]any{"industry": "Software", "employees": 300.0, "country": "us", "technologies": []string{"HubSpot"}})
	require.Equal(t, 100.0, fit)
	require.False(t, math.IsNaN(fit))
}
