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
// CRM never moves back and customer and lost are final.
//
// Observe reports whether the event matched a rule or was a CRM outcome.
func (r *Rules) Observe(s *State, ev *event.Event) bool {
	t := ev.Time
	if t.After(s.AsOf) || s.AsOf.IsZero() {
		r.advance(s, t)
	}
	matched := observeCRM(s, ev)

	var path string
	pathDone := false
	for i := range r.rules {
		ru := &r.rules[i]
		if ru.typ != event.TypeUnknown && ev.Type != ru.typ {
			continue
		}
		if ru.event != "" && !strings.EqualFold(ev.Event, ru.event) {
			continue
		}
		if ru.pathPrefix != "" {
			if !pathDone {
				path, pathDone = ev.PagePath(), true
			}
			if !strings.HasPrefix(path, ru.pathPrefix) {
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
		if p == 0 {
			continue
		}
		if t.Before(s.AsOf) {
			p *= decay(s.AsOf.Sub(t), r.halfLife)
		}
		rs.Sum = flush(rs.Sum + p)
	}
	return matched
}

// advance decays every sum from s.AsOf to t, drops cap history that left the
// window, and moves AsOf to t.
func (r *Rules) advance(s *State, t time.Time) {
	if !s.AsOf.IsZero() {
		f := decay(t.Sub(s.AsOf), r.halfLife)
		n := min(len(s.Rules), len(r.rules))
		for i := range n {
			rs := &s.Rules[i]
			rs.Sum = flush(rs.Sum * f)
			if per := r.rules[i].capPer; per > 0 {
				rs.prune(t.Add(-per))
			}
		}
	}
	s.AsOf = t
}

// grow sizes s.Rules to the rule count. It allocates once per account; a
// state from rules with another rule count (which the pipeline avoids by
// dropping snapshots of another Rules.Version) is cut or padded with fresh
// entries rather than indexed out of range.
func (r *Rules) grow(s *State) {
	n := len(r.rules)
	if len(s.Rules) == n {
		return
	}
	if len(s.Rules) > n {
		clear(s.Rules[n:])
		s.Rules = s.Rules[:n]
		return
	}
	old := len(s.Rules)
	if cap(s.Rules) >= n {
		s.Rules = s.Rules[:n]
		clear(s.Rules[old:])
		return
	}
	grown := make([]RuleState, n)
	copy(grown, s.Rules)
	s.Rules = grown
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
	for _, e := range rs.Window {
		if e.At.After(from) && !e.At.After(t) {
			used += e.Points
		}
	}
	p := min(ru.points, ru.capPoints-used)
	if p <= negligible {
		return 0
	}
	if t.After(asOf.Add(-ru.capPer)) {
		rs.Window = append(rs.Window, Earned{At: t, Points: p})
	}
	return p
}

// prune drops cap history at or before from, in place so the capacity is
// reused. Most calls find nothing to drop and do not write.
func (rs *RuleState) prune(from time.Time) {
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
