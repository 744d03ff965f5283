package scorer

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	sjson "github.com/segmentio/encoding/json"
	"github.com/stretchr/testify/require"

	"github.com/leadscore/leadscore/internal/event"
)

// Folding two leads' states equals one lead that saw both streams, for
// rules without caps: checked against the decay formula itself, points
// times 2^(-age/half_life) summed over every event, not against Observe.
func TestFoldEqualsOneStream(t *testing.T) {
	r := mustParse(t, spec{halfLife: "10d", rules: []string{
		`{name: demo, category: strong, when: {event: Demo Requested}, points: 20}`,
		`{name: pricing, category: strong, when: {path_prefix: /pricing}, points: 7}`,
		`{name: spam, category: negative, when: {event: Email Marked as Spam}, points: -9}`,
	}}.yaml())
	points := map[string]float64{"Demo Requested": 20, "/pricing": 7, "Email Marked as Spam": -9}
	rng := rand.New(rand.NewPCG(1, 2))
	var a, b State
	want := map[string]float64{}
	counts := map[string]uint32{}
	var evs []struct {
		at  time.Time
		key string
	}
	var newest time.Time
	for i := range 200 {
		at := t0.Add(time.Duration(rng.IntN(60*24)) * time.Hour)
		keys := []string{"Demo Requested", "/pricing", "Email Marked as Spam"}
		key := keys[i%3]
		var ev *event.Event
		if key == "/pricing" {
			ev = page(at, key)
		} else {
			ev = track(at, key)
		}
		// Each lead sees its events in time order, as a partition does.
		if rng.IntN(2) == 0 {
			if at.Before(a.AsOf) {
				continue
			}
			r.Observe(&a, ev)
		} else {
			if at.Before(b.AsOf) {
				continue
			}
			r.Observe(&b, ev)
		}
		evs = append(evs, struct {
			at  time.Time
			key string
		}{at, key})
		if at.After(newest) {
			newest = at
		}
	}
	for _, e := range evs {
		want[e.key] += points[e.key] * math.Pow(2, -newest.Sub(e.at).Hours()/(240))
		counts[e.key]++
	}
	r.Fold(&a, &b)
	require.Equal(t, newest, a.AsOf)
	require.Equal(t, newest, a.Last)
	for i, key := range []string{"Demo Requested", "/pricing", "Email Marked as Spam"} {
		require.InDelta(t, want[key], a.Rules[i].Sum, 1e-6, key)
		require.Equal(t, counts[key], a.Rules[i].Count, key)
	}
}

// A count condition sees both leads' events once folded: two pricing
// views by one lead and one by its duplicate make the third.
func TestFoldCountHistory(t *testing.T) {
	r := mustParse(t, spec{rules: []string{
		`{name: pricing, category: strong, when: {path_prefix: /pricing, count: {min: 4, within: 7d}}, points: 10}`,
	}}.yaml())
	var a, b State
	r.Observe(&a, page(t0, "/pricing"))
	r.Observe(&a, page(t0.Add(time.Hour), "/pricing"))
	r.Observe(&b, page(t0.Add(2*time.Hour), "/pricing"))
	r.Fold(&a, &b)
	require.Len(t, a.Rules[0].Times, 3)
	single := a // without the fold the fourth view would be the third
	single.Rules = []RuleState{{ID: a.Rules[0].ID, Points: 10, RuleHist: &RuleHist{Times: a.Rules[0].Times[:2:2]}}}
	require.True(t, r.Observe(&a, page(t0.Add(3*time.Hour), "/pricing")))
	require.Equal(t, 10.0, evaluate(r, &a).Engagement)
	r.Observe(&single, page(t0.Add(3*time.Hour), "/pricing"))
	require.Zero(t, evaluate(r, &single).Engagement)
}

// Cap history merges in time order, and an empty duplicate changes
// nothing but the time.
func TestFoldCapWindowAndEmpty(t *testing.T) {
	r := mustParse(t, spec{halfLife: "14d", rules: []string{
		`{name: pricing, category: strong, when: {path_prefix: /pricing}, points: 15, cap: {points: 40, per: 7d}}`,
	}}.yaml())
	var a, b State
	r.Observe(&a, page(t0.Add(2*time.Hour), "/pricing"))
	r.Observe(&b, page(t0, "/pricing"))
	r.Observe(&b, page(t0.Add(time.Hour), "/pricing"))
	r.Fold(&a, &b)
	w := a.Rules[0].Window
	require.Len(t, w, 3)
	require.True(t, w[0].At.Before(w[1].At) && w[1].At.Before(w[2].At))
	// The merged window is full (45 >= 40): a fourth view in it earns nothing.
	before := a.Rules[0].Sum
	r.Observe(&a, page(t0.Add(3*time.Hour), "/pricing"))
	require.InDelta(t, before*math.Pow(2, -1.0/(14*24)), a.Rules[0].Sum, 1e-9)

	c := State{Title: "CTO", Known: true}
	r.Observe(&c, page(t0, "/pricing"))
	sum := c.Rules[0].Sum
	r.Fold(&c, &State{})
	require.Equal(t, sum, c.Rules[0].Sum)
	require.Equal(t, "CTO", c.Title)
	require.True(t, c.Known)
}

// Rule state written before RuleHist existed (every rule with its Window
// and Times keys) still decodes, with the segmentio codec the changelog
// uses and with encoding/json; a rule without history encodes without them.
func TestRuleStateJSONCompatible(t *testing.T) {
	old := []byte(`[{"ID":1,"Points":20,"Sum":5,"Count":2,"Window":[{"At":"2025-03-03T09:00:00Z","Points":20}],"Times":null},` +
		`{"ID":2,"Points":1,"Sum":1,"Count":1,"Window":null,"Times":null}]`)
	for name, unmarshal := range map[string]func([]byte, any) error{"segmentio": sjson.Unmarshal, "encoding/json": json.Unmarshal} {
		var rs []RuleState
		require.NoError(t, unmarshal(old, &rs), name)
		require.Equal(t, []Earned{{At: t0, Points: 20}}, rs[0].window(), name)
		require.Empty(t, rs[1].window(), name)
		rs[1].compact()
		require.Nil(t, rs[1].RuleHist, name)
		b, err := sjson.Marshal(rs)
		require.NoError(t, err)
		require.JSONEq(t, `[{"ID":1,"Points":20,"Sum":5,"Count":2,"Window":[{"At":"2025-03-03T09:00:00Z","Points":20}],"Times":null},`+
			`{"ID":2,"Points":1,"Sum":1,"Count":1}]`, string(b), name)
	}
}
