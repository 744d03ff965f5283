package scorer

// The window-update and score stages of issue 8's per-stage benchmarks,
// under the example rules (the engine's default) on the generated stream,
// each event applied to its generated account (the record key):
//
//   - BenchmarkStageWindow: Observe, which keeps each account's per-rule
//     decayed sums, counts and cap windows (State.Rules). Baseline: the
//     same state in maps keyed by account and rule id strings.
//   - BenchmarkStageScore: Evaluate of the event's account. Baseline: the
//     same sum over those maps, with a fresh reasons slice and the label
//     formatted per call.
//
// One op is one event; SetBytes is the mean record size. Both baselines
// share the engine's compiled rule conditions (cond.matchStatic) and fit
// attribute maps: what is compared is the state and the evaluation.

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/leadscore/leadscore/internal/event"
	"github.com/leadscore/leadscore/internal/generate"
	"github.com/leadscore/leadscore/internal/rows"
)

// stageSample is how many events a stage benchmark cycles through.
const stageSample = 10_000

// stageStream is a sample of the generated stream, replayed in laps: lap k
// shifts every event time by k spans, so the replay stays in time order
// and the windows keep sliding as in a longer stream.
type stageStream struct {
	evs      []event.Event
	accounts []string
	at       []time.Time
	span     time.Duration
	size     int64 // mean record bytes
	i        int
}

// newStageStream takes the first n valid records of the stream `leadscore
// generate` writes by default (seed 1, 2000 accounts), decoded.
func newStageStream(tb testing.TB, n int) *stageStream {
	tb.Helper()
	g := generate.New(generate.Config{Seed: 1, Accounts: 2000})
	s := &stageStream{}
	total := 0
	for len(s.evs) < n {
		r := g.Next()
		if r.Malformed {
			continue
		}
		var ev event.Event
		require.NoError(tb, event.Decode(r.Value, &ev, event.DefaultLimits()))
		s.evs = append(s.evs, ev)
		s.accounts = append(s.accounts, string(r.Key))
		s.at = append(s.at, ev.Time)
		total += len(r.Value)
	}
	s.span = s.at[n-1].Sub(s.at[0]) + time.Second
	s.size = int64(total / n)
	return s
}

// next returns the next event, its time shifted to its lap, and its
// account.
func (s *stageStream) next() (*event.Event, string) {
	k, lap := s.i%len(s.evs), s.i/len(s.evs)
	s.i++
	ev := &s.evs[k]
	ev.Time = s.at[k].Add(time.Duration(lap) * s.span)
	return ev, s.accounts[k]
}

// requireBaselineRules checks that r uses only what the baselines
// implement: no intent, buying group, count, since or surge conditions.
func requireBaselineRules(tb testing.TB, r *Rules) {
	tb.Helper()
	require.False(tb, r.intent.enabled)
	require.False(tb, r.group.enabled)
	require.Empty(tb, r.personas)
	for _, ru := range r.rules {
		c := &ru.when
		require.Zero(tb, c.countMin, ru.name)
		require.False(tb, c.surge, ru.name)
		require.Zero(tb, c.sinceMin+c.sinceMax, ru.name)
	}
}

// stageAccounts feeds one lap of the stream to a State per account, as a
// scoring worker does: Observe, firmographics from group calls, Known once
// a person is linked.
func stageAccounts(r *Rules, s *stageStream, naive *naiveScorer) map[string]*State {
	states := map[string]*State{}
	for range len(s.evs) {
		ev, acct := s.next()
		st := states[acct]
		if st == nil {
			st = &State{}
			states[acct] = st
		}
		r.Observe(st, ev)
		if naive != nil {
			naive.observe(acct, ev)
		}
		if ev.Type == event.TypeGroup {
			mergeFirm(&st.Firm, &ev.Traits)
			if naive != nil {
				f := naive.firm[acct]
				mergeFirm(&f, &ev.Traits)
				naive.firm[acct] = f
			}
		}
		if ev.UserID != "" || ev.Type == event.TypeIdentify && ev.Traits.Email != "" {
			st.Known = true
			if naive != nil {
				naive.known[acct] = true
			}
		}
	}
	return states
}

// mergeFirm is the pipeline's merge of a group call's traits.
func mergeFirm(f *Firmographics, t *event.Traits) {
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

func BenchmarkStageWindow(b *testing.B) {
	r := exampleRules(b)
	s := newStageStream(b, stageSample)
	states := stageAccounts(r, s, nil) // one lap: every account and slice at working size
	b.ReportAllocs()
	b.SetBytes(s.size)
	for b.Loop() {
		ev, acct := s.next()
		r.Observe(states[acct], ev)
	}
}

func BenchmarkStageWindowBaseline(b *testing.B) {
	r := exampleRules(b)
	requireBaselineRules(b, r)
	s := newStageStream(b, stageSample)
	n := newNaiveScorer(r)
	for range len(s.evs) {
		ev, acct := s.next()
		n.observe(acct, ev)
	}
	b.ReportAllocs()
	b.SetBytes(s.size)
	for b.Loop() {
		ev, acct := s.next()
		n.observe(acct, ev)
	}
}

func BenchmarkStageScore(b *testing.B) {
	r := exampleRules(b)
	s := newStageStream(b, stageSample)
	states := stageAccounts(r, s, nil)
	var res Result
	b.ReportAllocs()
	b.SetBytes(s.size)
	i := 0
	for b.Loop() {
		r.Evaluate(states[s.accounts[i%len(s.accounts)]], &res)
		i++
	}
}

func BenchmarkStageScoreBaseline(b *testing.B) {
	r := exampleRules(b)
	requireBaselineRules(b, r)
	s := newStageStream(b, stageSample)
	n := newNaiveScorer(r)
	stageAccounts(r, s, n)
	b.ReportAllocs()
	b.SetBytes(s.size)
	i := 0
	for b.Loop() {
		_ = n.evaluate(s.accounts[i%len(s.accounts)])
		i++
	}
}

// TestStageWindowBaselineAgrees is the oracle check of the window
// baseline: over two laps of the sample, after every event, the account's
// state is the same in both (sums bit for bit, counts, cap windows, as-of).
func TestStageWindowBaselineAgrees(t *testing.T) {
	r := exampleRules(t)
	requireBaselineRules(t, r)
	s := newStageStream(t, 3000)
	n := newNaiveScorer(r)
	states := map[string]*State{}
	matched := 0
	for range 2 * len(s.evs) {
		ev, acct := s.next()
		st := states[acct]
		if st == nil {
			st = &State{}
			states[acct] = st
		}
		r.Observe(st, ev)
		n.observe(acct, ev)
		require.True(t, st.AsOf.Equal(n.asOf[acct]), "%s", acct)
		require.Equal(t, st.CRM, n.crm[acct], "%s", acct)
		for i := range st.Rules {
			id := n.ids[i]
			rs := &st.Rules[i]
			require.Equal(t, rs.Sum, n.sums[acct][id], "%s rule %s", acct, r.rules[i].name)
			require.Equal(t, rs.Count, n.counts[acct][id], "%s rule %s", acct, r.rules[i].name)
			require.Equal(t, nilIfEmpty(rs.window()), nilIfEmpty(n.windows[acct][id]), "%s rule %s", acct, r.rules[i].name)
			if rs.Count > 0 {
				matched++
			}
		}
		if len(st.Rules) == 0 {
			require.Empty(t, n.counts[acct], "%s", acct)
		}
	}
	require.Positive(t, matched)
}

// TestStageScoreBaselineAgrees is the oracle check of the score baseline:
// every account of the sample evaluates to the same result in both.
func TestStageScoreBaselineAgrees(t *testing.T) {
	r := exampleRules(t)
	requireBaselineRules(t, r)
	s := newStageStream(t, 5000)
	n := newNaiveScorer(r)
	states := stageAccounts(r, s, n)
	stages := map[Stage]int{}
	for acct, st := range states {
		var want Result
		r.Evaluate(st, &want)
		got := n.evaluate(acct)
		want.decaying, want.group = 0, 0
		require.Equal(t, want, got, acct)
		stages[want.Stage]++
	}
	require.Greater(t, len(stages), 2, "the sample reaches several stages: %v", stages)
	t.Logf("%d accounts by stage: %v", len(states), stages)
}

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

// naiveScorer is Observe and Evaluate written the obvious way: each
// account's state in maps keyed by the account id, then by the rule id as
// a string; decay by ranging over the account's sums; cap history pruned
// into a fresh slice.
type naiveScorer struct {
	r       *Rules
	ids     []string // rule i's id as a string
	rules   map[string]*rule
	sums    map[string]map[string]float64
	counts  map[string]map[string]uint32
	windows map[string]map[string][]Earned
	asOf    map[string]time.Time
	last    map[string]time.Time
	crm     map[string]Stage
	stage   map[string]Stage
	known   map[string]bool
	firm    map[string]Firmographics
}

func newNaiveScorer(r *Rules) *naiveScorer {
	n := &naiveScorer{
		r: r, rules: map[string]*rule{},
		sums: map[string]map[string]float64{}, counts: map[string]map[string]uint32{},
		windows: map[string]map[string][]Earned{}, asOf: map[string]time.Time{}, last: map[string]time.Time{},
		crm: map[string]Stage{}, stage: map[string]Stage{}, known: map[string]bool{}, firm: map[string]Firmographics{},
	}
	for i := range r.rules {
		id := strconv.FormatUint(r.rules[i].id, 16)
		n.ids = append(n.ids, id)
		n.rules[id] = &r.rules[i]
	}
	return n
}

func (n *naiveScorer) observe(acct string, ev *event.Event) {
	t := ev.Time
	asOf, seen := n.asOf[acct]
	last := n.last[acct]
	if !seen || t.After(asOf) {
		if seen {
			f := math.Exp2(-float64(t.Sub(asOf)) / float64(n.r.halfLife))
			for id, v := range n.sums[acct] {
				n.sums[acct][id] = naiveFlush(v * f)
			}
			for id, w := range n.windows[acct] {
				from := t.Add(-n.rules[id].capPer)
				var kept []Earned
				for _, e := range w {
					if e.At.After(from) {
						kept = append(kept, e)
					}
				}
				n.windows[acct][id] = kept
			}
		}
		asOf = t
		n.asOf[acct] = t
	}
	if t.After(last) {
		n.last[acct] = t
	}
	if ev.Type == event.TypeTrack {
		if to := naiveCRMEvents[strings.ToLower(ev.Event)]; to != StageVisitor && to.rank() > n.crm[acct].rank() {
			n.crm[acct] = to
		}
	}
	var x matchScratch
	for i := range n.r.rules {
		ru := &n.r.rules[i]
		if !ru.when.matchStatic(ev, &x, n.r) {
			continue
		}
		id := n.ids[i]
		if n.sums[acct] == nil {
			n.sums[acct], n.counts[acct], n.windows[acct] = map[string]float64{}, map[string]uint32{}, map[string][]Earned{}
		}
		if n.counts[acct][id] < math.MaxUint32 {
			n.counts[acct][id]++
		}
		p := ru.points
		if ru.capPer > 0 {
			used := 0.0
			for _, e := range n.windows[acct][id] {
				if e.At.After(t.Add(-ru.capPer)) && !e.At.After(t) {
					used += e.Points
				}
			}
			p = min(ru.points, ru.capPoints-used)
			if p <= negligible {
				p = 0
			} else if t.After(asOf.Add(-ru.capPer)) {
				n.windows[acct][id] = append(n.windows[acct][id], Earned{At: t, Points: p})
			}
		}
		if p == 0 {
			continue
		}
		if t.Before(asOf) {
			p *= math.Exp2(-float64(asOf.Sub(t)) / float64(n.r.halfLife))
		}
		n.sums[acct][id] = naiveFlush(n.sums[acct][id] + p)
	}
}

// naiveCRMEvents are the CRM outcome events, lower-cased.
var naiveCRMEvents = map[string]Stage{"opportunity created": StageOpportunity, "deal won": StageCustomer, "deal lost": StageLost}

func naiveFlush(v float64) float64 {
	if math.Abs(v) < 1e-9 {
		return 0
	}
	return v
}

func (n *naiveScorer) evaluate(acct string) Result {
	r := n.r
	var reasons []rows.Reason
	fit := 0.0
	firm := n.firm[acct]
	for i := range r.attrs {
		a := &r.attrs[i]
		p := 0.0
		text := func(v string) (float64, bool) {
			v = strings.ToLower(strings.TrimSpace(v))
			if v == "" {
				return 0, false
			}
			if p, ok := a.values[v]; ok {
				return p, true
			}
			return a.other, a.hasOther
		}
		switch a.field {
		case fieldIndustry:
			p, _ = text(firm.Industry)
		case fieldCountry:
			p, _ = text(firm.Country)
		case fieldEmployees:
			for _, b := range a.bands {
				v := float64(firm.Employees)
				if firm.HasEmployees && (!b.hasMin || v >= b.min) && (!b.hasMax || v <= b.max) {
					p = b.points
					break
				}
			}
		case fieldTechnologies:
			for _, tech := range firm.Technologies {
				if tp, ok := text(tech); ok {
					p = tp
					break
				}
			}
		}
		if p != 0 {
			fit += p
			reasons = append(reasons, rows.Reason{Rule: a.name, Category: categoryFit, Points: p})
		}
	}
	fit = min(max(fit, 0), 100)
	sum := 0.0
	for i := range r.rules {
		id := n.ids[i]
		v := n.sums[acct][id]
		if v == 0 {
			continue
		}
		sum += v
		reasons = append(reasons, rows.Reason{Rule: r.rules[i].name, Category: r.rules[i].category, Points: v, Count: n.counts[acct][id]})
	}
	eng := min(max(sum, 0), 100)
	intent := 0.0
	score := r.wFit*fit + r.wEng*eng + r.wIntent*intent

	stage := n.stage[acct]
	switch crm := n.crm[acct]; {
	case crm.rank() > stage.rank():
		stage = crm
	case stage.rank() >= StageOpportunity.rank():
	case stage == StageMQL && score < r.mqlExit:
		stage = StageLead
	case stage == StageMQL:
	case !n.known[acct]:
	case score >= r.mqlEnter:
		stage = StageMQL
	default:
		stage = StageLead
	}
	n.stage[acct] = stage

	grade := "D"
	for i, th := range r.grades {
		if fit >= th {
			grade = []string{"A", "B", "C"}[i]
			break
		}
	}
	level := 4
	for i, th := range r.levels {
		if eng >= th {
			level = i + 1
			break
		}
	}
	return Result{
		Fit: fit, Engagement: eng, Intent: intent, Score: score,
		Grade: grade, Level: uint8(level), Label: fmt.Sprintf("%s%d", grade, level), Stage: stage,
		Reasons: reasons,
	}
}
