package scorer

import (
	"math"
	"strings"
	"time"

	"github.com/leadscore/leadscore/internal/event"
)

// negligible is the magnitude below which points count as zero: a decayed
// tail (a 20-point event after about 35 half-lives) or the rounding residue
// of a cap. Flushing it keeps exhausted rules out of the reasons and keeps
// the sums away from subnormal floats.
const negligible = 1e-9

// The CRM outcome events of CONTRACT section 1 and the stage each moves the
// account to.
const (
	eventOpportunityCreated = "Opportunity Created"
	eventDealWon            = "Deal Won"
	eventDealLost           = "Deal Lost"
)

// Observe applies one event at ev.Time to s.
//
// When ev.Time is newer than s.AsOf, every rule's sum is first decayed to
// ev.Time and AsOf advances, whether or not the event matches anything. Then
// every engagement rule the event matches adds its points, cut by the rule's
// cap; an event older than AsOf (late) adds them decayed to AsOf, so the
// result is the same as if it had arrived in order (up to the cap, which only
// sees the events applied before it). The track events "Opportunity Created",
// "Deal Won" and "Deal Lost" raise s.CRM to opportunity, customer or lost;
// CRM never moves back and customer and lost are final. An "Intent Signal"
// is recorded for its topic when the rules have an intent section.
//
// Observe reports whether the event matched a rule, was a CRM outcome or was
// a recorded intent signal.
func (r *Rules) Observe(s *State, ev *event.Event) bool {
	_, matched := r.observe(s, ev, nil, false)
	return matched
}

// Hit is one engagement rule an event matched and the points it earned for
// it: undecayed, after the rule's cap (0 when the cap was full).
type Hit struct {
	Rule   int // index in the rules file, see [Rules.RuleName]
	Points float64
}

// ObserveHits is Observe that also appends to hits every rule the event
// matched, for the event history of explanations.
func (r *Rules) ObserveHits(s *State, ev *event.Event, hits []Hit) ([]Hit, bool) {
	return r.observe(s, ev, hits, true)
}

// RuleName returns the name of engagement rule i.
func (r *Rules) RuleName(i int) string { return r.rules[i].name }

func (r *Rules) observe(s *State, ev *event.Event, hits []Hit, trace bool) ([]Hit, bool) {
	r.Migrate(s)
	t := ev.Time
	last := s.Last
	if t.After(s.AsOf) || s.AsOf.IsZero() {
		r.advance(s, t)
	}
	if t.After(s.Last) {
		s.Last = t
	}
	matched := observeCRM(s, ev)
	topic := r.observeIntent(s, ev)
	matched = matched || topic >= 0

	var x matchScratch
	for i := range r.rules {
		ru := &r.rules[i]
		c := &ru.when
		if !c.matchStatic(ev, &x, r) || !c.matchSince(t, last) {
			continue
		}
		if c.surge && (topic < 0 || !r.intent.surging(&s.Intent[topic], dayOf(s.AsOf))) {
			continue
		}
		if c.countMin > 0 {
			r.grow(s)
			if s.Rules[i].record(t, s.AsOf, c.countWithin) < c.countMin {
				continue
			}
		}
		matched = true
		r.grow(s)
		rs := &s.Rules[i]
		if rs.Count < math.MaxUint32 {
			rs.Count++
		}
		p := ru.points
		if ru.capPer > 0 {
			p = rs.earn(ru, t, s.AsOf)
		}
		if trace {
			hits = append(hits, Hit{Rule: i, Points: p})
		}
		if p == 0 {
			continue
		}
		if t.Before(s.AsOf) {
			p *= decay(s.AsOf.Sub(t), r.halfLife)
		}
		rs.Sum = flush(rs.Sum + p)
	}
	return hits, matched
}

// Advance moves s forward to t without an event: every rule's points decay
// to t, windows slide, and AsOf becomes t. The pipeline calls it when a
// partition's event time (its watermark) has passed the time at which decay
// alone changes the account's label or stage ([Rules.NextChange]). A t not
// after s.AsOf changes nothing.
func (r *Rules) Advance(s *State, t time.Time) {
	if !t.After(s.AsOf) {
		return
	}
	r.Migrate(s)
	r.advance(s, t)
}

// advance decays every sum from s.AsOf to t, drops cap and count history
// that left its window, and moves AsOf to t.
func (r *Rules) advance(s *State, t time.Time) {
	if !s.AsOf.IsZero() {
		f := decay(t.Sub(s.AsOf), r.halfLife)
		n := min(len(s.Rules), len(r.rules))
		for i := range n {
			rs := &s.Rules[i]
			rs.Sum = flush(rs.Sum * f)
			per, within := r.rules[i].capPer, r.rules[i].when.countWithin
			if per > 0 {
				rs.prune(t.Add(-per))
			}
			if within > 0 {
				rs.pruneTimes(t.Add(-within))
			}
			if per == 0 && within == 0 {
				rs.compact()
			}
		}
	}
	s.AsOf = t
	if r.intent.enabled {
		r.pruneIntent(s, dayOf(t))
	}
	if r.group.enabled {
		r.pruneGroup(s, t)
	}
}

// record adds an event at t to a count condition's history and returns how
// many recorded events fall in (t-within, t]. History is kept only while it
// can still count for the window of asOf.
func (rs *RuleState) record(t, asOf time.Time, within time.Duration) int {
	if t.After(asOf.Add(-within)) {
		h := rs.hist()
		h.Times = append(h.Times, t)
	}
	from := t.Add(-within)
	n := 0
	for _, at := range rs.times() {
		if at.After(from) && !at.After(t) {
			n++
		}
	}
	if !t.After(asOf.Add(-within)) {
		n++ // this event, too old to keep, still counts for itself
	}
	return n
}

// pruneTimes drops count history at or before from.
func (rs *RuleState) pruneTimes(from time.Time) {
	if rs.RuleHist == nil {
		return
	}
	out := rs.Times[:0]
	for _, at := range rs.Times {
		if at.After(from) {
			out = append(out, at)
		}
	}
	clear(rs.Times[len(out):])
	rs.Times = out
}

// grow allocates s.Rules the first time a rule matches, so accounts that
// never engage cost nothing. Migrate has already aligned a non-empty
// s.Rules with r.
func (r *Rules) grow(s *State) {
	n := len(r.rules)
	if len(s.Rules) == n {
		return
	}
	if cap(s.Rules) >= n {
		s.Rules = s.Rules[:n]
		clear(s.Rules)
	} else {
		s.Rules = make([]RuleState, n)
	}
	r.stamp(s, 0)
}

// stamp writes the rules' ids and points into s.Rules[from:].
func (r *Rules) stamp(s *State, from int) {
	for i := from; i < len(s.Rules); i++ {
		s.Rules[i].ID, s.Rules[i].Points = r.rules[i].id, r.rules[i].points
	}
}

// observeCRM raises s.CRM on a CRM outcome event and reports whether ev was
// one.
func observeCRM(s *State, ev *event.Event) bool {
	if ev.Type != event.TypeTrack {
		return false
	}
	var to Stage
	switch {
	case strings.EqualFold(ev.Event, eventOpportunityCreated):
		to = StageOpportunity
	case strings.EqualFold(ev.Event, eventDealWon):
		to = StageCustomer
	case strings.EqualFold(ev.Event, eventDealLost):
		to = StageLost
	default:
		return false
	}
	if to.rank() > s.CRM.rank() {
		s.CRM = to
	}
	return true
}

// earn returns the undecayed points an event at t earns for capped rule ru:
// its points cut so that the rule's points earned in (t-per, t] by the
// events applied before, plus this one, stay within the cap. What it earns
// is recorded in the window while it can still matter, that is while t is
// inside the window of asOf.
func (rs *RuleState) earn(ru *rule, t, asOf time.Time) float64 {
	from := t.Add(-ru.capPer)
	used := 0.0
	for _, e := range rs.window() {
		if e.At.After(from) && !e.At.After(t) {
			used += e.Points
		}
	}
	p := min(ru.points, ru.capPoints-used)
	if p <= negligible {
		return 0
	}
	if t.After(asOf.Add(-ru.capPer)) {
		h := rs.hist()
		h.Window = append(h.Window, Earned{At: t, Points: p})
	}
	return p
}

// prune drops cap history at or before from, in place so the capacity is
// reused. Most calls find nothing to drop and do not write.
func (rs *RuleState) prune(from time.Time) {
	if rs.RuleHist == nil {
		return
	}
	i := 0
	for i < len(rs.Window) && rs.Window[i].At.After(from) {
		i++
	}
	if i == len(rs.Window) {
		return
	}
	w := rs.Window[:i]
	for _, e := range rs.Window[i+1:] {
		if e.At.After(from) {
			w = append(w, e)
		}
	}
	clear(rs.Window[len(w):])
	rs.Window = w
}

// decay is the factor 0.5^(d/halfLife).
func decay(d, halfLife time.Duration) float64 {
	return math.Exp2(-float64(d) / float64(halfLife))
}

// flush returns 0 for a negligible v, v otherwise.
func flush(v float64) float64 {
	if math.Abs(v) < negligible {
		return 0
	}
	return v
}
