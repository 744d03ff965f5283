package scorer

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/leadscore/leadscore/internal/rows"
)

// TestSeedExample is CONTRACT section 3's worked example: fit 67.3 is B,
// engagement 85 is level 1, so the label is B1.
func TestSeedExample(t *testing.T) {
	r := mustParse(t, spec{
		attrs: `{industry: {points: {software: 67.3}}}`,
		rules: []string{`{name: big, category: strong, when: {event: Big Deal}, points: 85}`},
	}.yaml())
	s := State{Known: true, Firm: Firmographics{Industry: "Software"}}
	r.Observe(&s, track(t0, "Big Deal"))
	res := evaluate(r, &s)
	require.Equal(t, 67.3, res.Fit)
	require.Equal(t, 85.0, res.Engagement)
	require.Equal(t, "B", res.Grade)
	require.Equal(t, uint8(1), res.Level)
	require.Equal(t, "B1", res.Label)
	require.InDelta(t, 0.4*67.3+0.6*85, res.Score, 1e-12) // 77.92
	require.Equal(t, StageMQL, res.Stage)
	require.Equal(t, []rows.Reason{
		{Rule: "industry", Category: "fit", Points: 67.3},
		{Rule: "big", Category: "strong", Points: 85, Count: 1},
	}, res.Reasons)
}

// TestExampleAccount scores an account with the example rules, by hand.
func TestExampleAccount(t *testing.T) {
	r := exampleRules(t)
	s := State{Known: true, Firm: Firmographics{
		Industry: "Fintech", Employees: 120, HasEmployees: true, Country: "de", Technologies: []string{"Salesforce"},
	}}
	r.Observe(&s, page(t0, "/pricing"))                  // pricing page 20, any page 1
	r.Observe(&s, track(t0.Add(7*day), "Email Opened"))  // 2
	r.Observe(&s, track(t0.Add(14*day), "Chat Started")) // 15
	res := evaluate(r, &s)
	fit := 25.0 + 15 + 15 + 20                // 75: B
	eng := 21*0.5 + 2*0.7071067811865476 + 15 // 26.914...: level 3
	require.Equal(t, fit, res.Fit)
	require.InDelta(t, eng, res.Engagement, 1e-12)
	require.Equal(t, "B3", res.Label)
	require.InDelta(t, 0.4*fit+0.6*eng, res.Score, 1e-12) // 46.1: a lead
	require.Equal(t, StageLead, res.Stage)
	require.Equal(t, []string{"industry", "employees", "country", "technologies", "pricing page", "any page", "email open", "chat"},
		reasonRules(res))
}

func reasonRules(res Result) []string {
	var out []string
	for _, rr := range res.Reasons {
		out = append(out, rr.Rule)
	}
	return out
}

func TestStageHysteresis(t *testing.T) {
	// Score = fit, set directly through the industry's points.
	r := mustParse(t, spec{
		attrs:   `{industry: {points: {a: 69.9, b: 70, c: 65, d: 59.9, e: 60, f: 100}}}`,
		weights: `{fit: 1, engagement: 0}`,
	}.yaml())
	s := State{Known: true}
	for i, step := range []struct {
		industry string
		want     Stage
	}{
		{"a", StageLead}, // 69.9: below enter
		{"b", StageMQL},  // 70: enters
		{"c", StageMQL},  // 65: above exit, stays
		{"e", StageMQL},  // 60: not below exit
		{"d", StageLead}, // 59.9: leaves
		{"c", StageLead}, // 65: not enough to enter again
		{"a", StageLead},
		{"b", StageMQL},
	} {
		s.Firm.Industry = step.industry
		require.Equal(t, step.want, evaluate(r, &s).Stage, "step %d", i)
	}

	// MQL needs a known person.
	anon := State{Firm: Firmographics{Industry: "f"}}
	require.Equal(t, StageVisitor, evaluate(r, &anon).Stage)
	anon.Known = true
	require.Equal(t, StageMQL, evaluate(r, &anon).Stage, "visitor straight to mql")

	// CRM stages override the score, and stay.
	s.CRM = StageOpportunity
	s.Firm.Industry = "d"
	require.Equal(t, StageOpportunity, evaluate(r, &s).Stage)
	s.CRM = StageCustomer
	require.Equal(t, StageCustomer, evaluate(r, &s).Stage)
	visitor := State{CRM: StageLost}
	require.Equal(t, StageLost, evaluate(r, &visitor).Stage)
}

func TestShouldEmit(t *testing.T) {
	r := exampleRules(t) // min_delta 5
	zero := mustParse(t, spec{}.yaml())
	zero.minDelta = 0 // as when min_delta is absent
	base := Result{Score: 50, Label: "B2", Stage: StageLead}
	with := func(f func(*Result)) Result {
		c := base
		f(&c)
		return c
	}
	tests := []struct {
		name    string
		rules   *Rules
		hasPrev bool
		cur     Result
		want    bool
	}{
		{"first emission", r, false, base, true},
		{"nothing changed", r, true, base, false},
		{"small move", r, true, with(func(c *Result) { c.Score = 54.99 }), false},
		{"small drop", r, true, with(func(c *Result) { c.Score = 45.01 }), false},
		{"min_delta up", r, true, with(func(c *Result) { c.Score = 55 }), true},
		{"min_delta down", r, true, with(func(c *Result) { c.Score = 45 }), true},
		{"label", r, true, with(func(c *Result) { c.Label = "B1" }), true},
		{"stage", r, true, with(func(c *Result) { c.Stage = StageMQL }), true},
		{"min_delta 0, unchanged", zero, true, base, false},
		{"min_delta 0, any move", zero, true, with(func(c *Result) { c.Score = 50.001 }), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			prev := base
			require.Equal(t, tc.want, tc.rules.ShouldEmit(&prev, tc.hasPrev, &tc.cur))
		})
	}
}

func TestStageText(t *testing.T) {
	for st, name := range map[Stage]string{
		StageVisitor: "visitor", StageLead: "lead", StageMQL: "mql",
		StageOpportunity: "opportunity", StageCustomer: "customer", StageLost: "lost",
	} {
		require.Equal(t, name, st.String())
		b, err := st.MarshalText()
		require.NoError(t, err)
		require.Equal(t, name, string(b))
		var back Stage
		require.NoError(t, back.UnmarshalText(b))
		require.Equal(t, st, back)
	}
	require.Equal(t, "unknown", Stage(42).String())
	_, err := Stage(42).MarshalText()
	require.Error(t, err)
	var s Stage
	require.Error(t, s.UnmarshalText([]byte("prospect")))
}

// TestStateJSON checks that a snapshot round trip changes nothing: the
// restored state scores, and goes on scoring, exactly like the original.
func TestStateJSON(t *testing.T) {
	r := exampleRules(t)
	s := State{Known: true, Firm: Firmographics{Industry: "Software", Technologies: []string{"hubspot"}}}
	for i := range 20 {
		r.Observe(&s, page(t0.Add(time.Duration(i)*3*time.Hour), "/pricing"))
	}
	r.Observe(&s, track(t0.Add(70*time.Hour), "Deal Lost"))
	data, err := json.Marshal(&s)
	require.NoError(t, err)
	require.Contains(t, string(data), `"CRM":"lost"`)
	var back State
	require.NoError(t, json.Unmarshal(data, &back))
	require.Equal(t, evaluate(r, &s), evaluate(r, &back))

	next := page(t0.Add(80*time.Hour), "/pricing/x")
	r.Observe(&s, next)
	r.Observe(&back, next)
	require.Equal(t, evaluate(r, &s), evaluate(r, &back))
	require.Equal(t, s, back)
}
