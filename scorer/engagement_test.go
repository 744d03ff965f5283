package scorer

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/leadscore/leadscore/internal/event"
	"github.com/leadscore/leadscore/internal/rows"
)

func TestDecay(t *testing.T) {
	r := mustParse(t, spec{rules: []string{`{name: demo, category: strong, when: {event: Demo Requested}, points: 20}`}}.yaml())
	var s State
	require.True(t, r.Observe(&s, track(t0, "Demo Requested")))
	require.Equal(t, 20.0, evaluate(r, &s).Engagement)

	// An unrelated event moves the clock: one half-life later, half is left.
	require.False(t, r.Observe(&s, identify(t0.Add(14*day))))
	require.Equal(t, t0.Add(14*day), s.AsOf)
	res := evaluate(r, &s)
	require.InDelta(t, 10.0, res.Engagement, 1e-12)
	require.Equal(t, []rows.Reason{{Rule: "demo", Category: "strong", Points: res.Engagement, Count: 1}}, res.Reasons)

	require.False(t, r.Observe(&s, identify(t0.Add(28*day))))
	require.InDelta(t, 5.0, evaluate(r, &s).Engagement, 1e-12)

	// An older event does not move the clock back.
	require.False(t, r.Observe(&s, identify(t0.Add(21*day))))
	require.Equal(t, t0.Add(28*day), s.AsOf)
	require.InDelta(t, 5.0, evaluate(r, &s).Engagement, 1e-12)

	// A third of a half-life.
	var s2 State
	r.Observe(&s2, track(t0, "Demo Requested"))
	r.Observe(&s2, identify(t0.Add(14*day/3)))
	require.InDelta(t, 20*0.7937005259840998, evaluate(r, &s2).Engagement, 1e-9) // 20 * 2^(-1/3)

	// A contribution decays away completely and leaves the reasons.
	r.Observe(&s2, identify(t0.Add(5*365*day)))
	res = evaluate(r, &s2)
	require.Zero(t, res.Engagement)
	require.Empty(t, res.Reasons)
}

func TestMatching(t *testing.T) {
	r := exampleRules(t)
	tests := []struct {
		name string
		ev   *event.Event
		want map[string]float64 // reason points by rule
	}{
		{"pricing page counts for two rules", page(t0, "/pricing"), map[string]float64{"pricing page": 20, "any page": 1}},
		{"pricing sub page", page(t0, "/pricing/enterprise"), map[string]float64{"pricing page": 20, "any page": 1}},
		{"prefix is case-sensitive", page(t0, "/Pricing"), map[string]float64{"any page": 1}},
		{"prefix is not a path segment match", page(t0, "/pricing-old"), map[string]float64{"pricing page": 20, "any page": 1}},
		{"path from the url", &event.Event{Type: event.TypePage, Time: t0, Properties: event.Properties{URL: "https://acme.com/pricing?plan=pro"}},
			map[string]float64{"pricing page": 20, "any page": 1}},
		{"other page", page(t0, "/blog"), map[string]float64{"any page": 1}},
		{"event name", track(t0, "Email Replied"), map[string]float64{"email reply": 25}},
		{"event name any case", track(t0, "email REPLIED"), map[string]float64{"email reply": 25}},
		{"event implies track", &event.Event{Type: event.TypeIdentify, Time: t0, Event: "Email Replied"}, nil},
		{"track is not a page", &event.Event{Type: event.TypeTrack, Time: t0, Event: "Page Viewed", Context: event.Context{Page: event.Page{Path: "/pricing"}}}, nil},
		{"unknown event", track(t0, "Email Replied Twice"), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s State
			require.Equal(t, len(tc.want) > 0, r.Observe(&s, tc.ev))
			res := evaluate(r, &s)
			got := map[string]float64{}
			sum := 0.0
			for _, rr := range res.Reasons {
				got[rr.Rule] = rr.Points
				sum += rr.Points
			}
			if tc.want == nil {
				tc.want = map[string]float64{}
			}
			require.Equal(t, tc.want, got)
			require.Equal(t, sum, res.Engagement)
		})
	}
}

func TestNegativePoints(t *testing.T) {
	r := exampleRules(t)
	var s State
	r.Observe(&s, track(t0, "Email Replied"))        // +25
	r.Observe(&s, track(t0, "Email Marked as Spam")) // -50
	res := evaluate(r, &s)
	require.Zero(t, res.Engagement, "clamped at 0")
	require.Equal(t, []rows.Reason{
		{Rule: "email reply", Category: "strong", Points: 25, Count: 1},
		{Rule: "spam report", Category: "negative", Points: -50, Count: 1},
	}, res.Reasons)
	require.Equal(t, -50.0, s.Rules[6].Sum, "per-rule sums are not clamped")

	r.Observe(&s, track(t0, "Event Attended")) // +30
	r.Observe(&s, track(t0, "Chat Started"))   // +15
	require.Equal(t, 20.0, evaluate(r, &s).Engagement)

	// Both halve alike: 20 becomes 10 a half-life later.
	r.Observe(&s, identify(t0.Add(14*day)))
	require.InDelta(t, 10.0, evaluate(r, &s).Engagement, 1e-12)

	// And the clamp at 100.
	var hot State
	for range 5 {
		r.Observe(&hot, track(t0, "Event Attended"))
	}
	require.Equal(t, 100.0, evaluate(r, &hot).Engagement)
	require.Equal(t, 150.0, hot.Rules[5].Sum)
}

// capRules has one capped rule: 15 points, at most 40 per 7 days, with a
// half-life long enough that the window arithmetic is easy to follow.
func capRules(t *testing.T) *Rules {
	return mustParse(t, spec{halfLife: "14d", rules: []string{
		`{name: pricing, category: strong, when: {path_prefix: /pricing}, points: 15, cap: {points: 40, per: 7d}}`,
	}}.yaml())
}

func TestCap(t *testing.T) {
	r := capRules(t)
	const hl = 14 * day
	steps := []struct {
		at     time.Duration
		earned float64 // undecayed points this event earns, by hand
	}{
		{0, 15},
		{1 * day, 15},
		{2 * day, 10}, // crosses the cap: the remainder
		{3 * day, 0},  // capped
		{7 * day, 15}, // window (0, 7d] no longer holds the event at 0: 25 used
		{7 * day, 0},  // 25 + 15 = 40
		{8 * day, 15}, // window (1d, 8d]: 10 + 15 used
		{8 * day, 0},
	}
	var s State
	var done []Earned
	for i, st := range steps {
		at := t0.Add(st.at)
		r.Observe(&s, page(at, "/pricing"))
		done = append(done, Earned{At: at, Points: st.earned})
		want := 0.0
		for _, e := range done {
			want += e.Points * half(at.Sub(e.At), hl)
		}
		require.InDelta(t, want, evaluate(r, &s).Engagement, 1e-9, "step %d", i)
		require.Equal(t, uint32(i+1), s.Rules[0].Count)
	}
	// Only the earning events still inside (8d-7d, 8d] are kept.
	require.Equal(t, []Earned{
		{At: t0.Add(2 * day), Points: 10},
		{At: t0.Add(7 * day), Points: 15},
		{At: t0.Add(8 * day), Points: 15},
	}, s.Rules[0].Window)

	// After a quiet week the whole cap is available again, and the window
	// history is gone.
	r.Observe(&s, identify(t0.Add(20*day)))
	require.Empty(t, s.Rules[0].Window)
	before := evaluate(r, &s).Engagement
	r.Observe(&s, page(t0.Add(20*day), "/pricing"))
	r.Observe(&s, page(t0.Add(20*day), "/pricing"))
	r.Observe(&s, page(t0.Add(20*day), "/pricing"))
	require.InDelta(t, before+40, evaluate(r, &s).Engagement, 1e-9)
}

func TestCapExactBoundary(t *testing.T) {
	r := capRules(t)
	var s State
	for range 3 {
		r.Observe(&s, page(t0, "/pricing")) // 15 + 15 + 10
	}
	// One nanosecond before the week is up the cap still holds...
	r.Observe(&s, page(t0.Add(7*day-time.Nanosecond), "/pricing"))
	require.Len(t, s.Rules[0].Window, 3)
	// ...and at exactly 7 days the events at t0 have left (t-per, t].
	r.Observe(&s, page(t0.Add(7*day), "/pricing"))
	require.Equal(t, []Earned{{At: t0.Add(7 * day), Points: 15}}, s.Rules[0].Window)
}

func TestLateEvents(t *testing.T) {
	r := mustParse(t, spec{rules: []string{
		`{name: demo, category: strong, when: {event: Demo Requested}, points: 20}`,
		`{name: pricing, category: strong, when: {path_prefix: /pricing}, points: 20, cap: {points: 40, per: 7d}}`,
	}}.yaml())
	var s State
	r.Observe(&s, track(t0.Add(14*day), "Demo Requested"))
	require.Equal(t, 20.0, evaluate(r, &s).Engagement)

	// Late by one half-life: counts half, and AsOf stays.
	require.True(t, r.Observe(&s, track(t0, "Demo Requested")))
	require.Equal(t, t0.Add(14*day), s.AsOf)
	require.InDelta(t, 30.0, evaluate(r, &s).Engagement, 1e-12)

	// The same as having seen both in order: 30 halves to 15, plus 20.
	r.Observe(&s, track(t0.Add(28*day), "Demo Requested"))
	require.InDelta(t, 35.0, evaluate(r, &s).Engagement, 1e-12)

	// A late event is capped by its own window (t-7d, t], counting the
	// events applied before it.
	var c State
	at := t0.Add(28 * day)
	r.Observe(&c, page(at.Add(-1*day), "/pricing")) // earns 20
	r.Observe(&c, page(at, "/pricing"))             // earns 20: cap reached
	r.Observe(&c, page(at, "/pricing"))             // earns 0
	r.Observe(&c, page(at.Add(-8*day), "/pricing")) // window (-15d, -8d]: empty, earns 20
	r.Observe(&c, page(at.Add(-6*day), "/pricing")) // window (-13d, -6d]: nothing applied there, earns 20
	r.Observe(&c, page(at.Add(-5*day), "/pricing")) // window (-12d, -5d]: 20 from -6d, earns 20
	r.Observe(&c, page(at.Add(-5*day), "/pricing")) // window holds 40 now, earns 0
	want := 20*half(day, 14*day) + 20 + 20*half(8*day, 14*day) + 20*half(6*day, 14*day) + 20*half(5*day, 14*day)
	require.InDelta(t, want, evaluate(r, &c).Engagement, 1e-9)
	// The -8d event is older than the window of AsOf (AsOf-7d, AsOf], so the
	// cap history does not keep it (bounded memory): a later late event
	// whose own window reaches back to it does not see it.
	require.Equal(t, []Earned{
		{At: at.Add(-1 * day), Points: 20}, {At: at, Points: 20},
		{At: at.Add(-6 * day), Points: 20}, {At: at.Add(-5 * day), Points: 20},
	}, c.Rules[1].Window)
}

func TestCRM(t *testing.T) {
	r := exampleRules(t)
	tests := []struct {
		name   string
		events []string
		want   Stage
	}{
		{"opportunity", []string{"Opportunity Created"}, StageOpportunity},
		{"won", []string{"Opportunity Created", "Deal Won"}, StageCustomer},
		{"won without opportunity", []string{"Deal Won"}, StageCustomer},
		{"lost", []string{"Opportunity Created", "Deal Lost"}, StageLost},
		{"customer is final", []string{"Deal Won", "Deal Lost", "Opportunity Created"}, StageCustomer},
		{"lost is final", []string{"Deal Lost", "Deal Won"}, StageLost},
		{"not back to opportunity", []string{"Deal Won", "Opportunity Created"}, StageCustomer},
		{"any case", []string{"deal won"}, StageCustomer},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s State
			for i, name := range tc.events {
				require.True(t, r.Observe(&s, track(t0.Add(time.Duration(i)*time.Hour), name)))
			}
			require.Equal(t, tc.want, s.CRM)
			res := evaluate(r, &s)
			require.Equal(t, tc.want, res.Stage)
			require.Equal(t, tc.want, s.Stage)
		})
	}
	// A CRM outcome that is a page or identify call is not one.
	var s State
	require.False(t, r.Observe(&s, &event.Event{Type: event.TypeIdentify, Time: t0, Event: "Deal Won"}))
	require.Equal(t, StageVisitor, s.CRM)
}

func TestRuleStateResize(t *testing.T) {
	r := exampleRules(t)
	// A state written before rules had ids, with another rule count, has
	// nothing to match its entries by: engagement starts afresh.
	s := State{Rules: make([]RuleState, 9)}
	s.Rules[8].Sum = 99
	r.Observe(&s, track(t0, "Chat Started"))
	require.Len(t, s.Rules, 7)
	require.Equal(t, 15.0, evaluate(r, &s).Engagement)

	// One with the same count is positional, as it was written.
	s = State{Rules: make([]RuleState, 7)}
	s.Rules[4].Sum = 1 // chat
	r.Observe(&s, track(t0, "Chat Started"))
	require.Len(t, s.Rules, 7)
	require.Equal(t, 16.0, evaluate(r, &s).Engagement)
}
