package scorer

import (
	"math"

	"github.com/leadscore/leadscore/internal/rows"
)

// The reason categories besides the engagement rules' own.
const (
	categoryFit    = "fit"          // fit attributes and a contact's persona
	categoryGroup  = "buying_group" // buying-group breadth
	categoryIntent = "intent"       // the intent component
)

// Result is an account's (or contact's) score as of State.AsOf, as Evaluate
// computes it.
type Result struct {
	// Fit is the sum of attribute points (and, for a contact, its persona's
	// points), clamped to 0..100.
	Fit float64
	// Engagement is the sum of the decayed rule contributions and the
	// buying-group points, clamped to 0..100.
	Engagement float64
	// Intent is the intent component, 0..100: the highest recent mean score
	// over the account's intent topics; 0 without an intent section.
	Intent float64
	// Score is the weighted sum of Fit, Engagement and Intent.
	Score float64
	// Grade is Fit's letter, "A".."D".
	Grade string
	// Level is Engagement's level, 1..4.
	Level uint8
	// Label is Grade followed by the Level digit, e.g. "B1".
	Label string
	// Stage is the account's stage after this evaluation.
	Stage Stage
	// Reasons lists every fit attribute that scored (Category "fit", Rule
	// the attribute name, Points its points) in file order, a contact's
	// persona ("persona <pattern>"), then every engagement rule with a
	// current contribution (Rule its name, Category its category, Points
	// its decayed, unclamped sum, Count the events it counted) in file
	// order, the buying group (Category "buying_group", Count the distinct
	// contacts or personas) and the intent component (Category "intent",
	// Rule "intent <topic>", when score.weights.intent is set). The next
	// Evaluate into the same Result overwrites it in place: copy the slice
	// to keep it.
	Reasons []rows.Reason

	// decaying is the unclamped sum of the rule contributions, group the
	// buying-group points: what NextChange extrapolates.
	decaying, group float64
}

// Evaluate computes account state s's score as of s.AsOf into res and
// advances s.Stage. It reuses the capacity of res.Reasons and does not
// allocate once that has grown to the number of attributes and rules.
//
// The stage follows CONTRACT section 3: a CRM outcome (s.CRM) moves the
// stage up to it; otherwise an mql stays mql until the score falls below
// stages.mql.exit and then becomes a lead; an account with a known person
// becomes mql when the score reaches stages.mql.enter and is a lead below
// it; an account without one stays a visitor. No stage moves back except
// mql -> lead.
func (r *Rules) Evaluate(s *State, res *Result) {
	r.evaluate(s, s, "", true, res)
}

// EvaluateContact computes contact state c's score as of c.AsOf into res
// and advances c.Stage. A contact's fit is its account's attribute points
// (from acct.Firm) plus its persona's points (from c.Title); its engagement
// is its own events' decayed points; its intent is the account's. A contact
// is a known person: it is a lead or an mql by its own score. CRM stages
// belong to accounts.
func (r *Rules) EvaluateContact(c, acct *State, res *Result) {
	c.Known = true
	r.evaluate(c, acct, c.Title, false, res)
}

func (r *Rules) evaluate(s, acct *State, title string, account bool, res *Result) {
	r.Migrate(s)
	reasons := res.Reasons[:0]

	fit := 0.0
	for i := range r.attrs {
		a := &r.attrs[i]
		if p := a.score(&acct.Firm); p != 0 {
			fit += p
			reasons = append(reasons, rows.Reason{Rule: a.name, Category: categoryFit, Points: p})
		}
	}
	if !account {
		if i := r.persona(title); i >= 0 && r.personas[i].points != 0 {
			pp := &r.personas[i]
			fit += pp.points
			reasons = append(reasons, rows.Reason{Rule: pp.reason, Category: categoryFit, Points: pp.points})
		}
	}
	fit = clamp100(fit)

	sum := 0.0
	n := min(len(s.Rules), len(r.rules))
	for i := range n {
		rs := &s.Rules[i]
		if rs.Sum == 0 {
			continue
		}
		sum += rs.Sum
		ru := &r.rules[i]
		reasons = append(reasons, rows.Reason{Rule: ru.name, Category: ru.category, Points: rs.Sum, Count: rs.Count})
	}
	group := 0.0
	if account && r.group.enabled {
		nc, np := r.groupCounts(s, s.AsOf)
		if p := stepPoints(r.group.contacts, nc); p != 0 {
			group += p
			reasons = append(reasons, rows.Reason{Rule: "buying group contacts", Category: categoryGroup, Points: p, Count: uint32(nc)})
		}
		if p := stepPoints(r.group.personas, np); p != 0 {
			group += p
			reasons = append(reasons, rows.Reason{Rule: "buying group personas", Category: categoryGroup, Points: p, Count: uint32(np)})
		}
	}
	eng := clamp100(sum + group)

	intent := 0.0
	if r.intent.enabled {
		var topic int
		intent, topic = r.intent.component(acct, dayOf(acct.AsOf))
		if r.wIntent != 0 && topic >= 0 {
			reasons = append(reasons, rows.Reason{Rule: "intent " + acct.Intent[topic].Topic, Category: categoryIntent, Points: intent})
		}
	}

	score := r.wFit*fit + r.wEng*eng + r.wIntent*intent
	s.Stage = r.nextStage(s, score)
	g, l := r.gradeIndex(fit), r.levelIndex(eng)
	*res = Result{
		Fit:        fit,
		Engagement: eng,
		Intent:     intent,
		Score:      score,
		Grade:      gradeLetter(g),
		Level:      uint8(l + 1),
		Label:      r.labels[g][l],
		Stage:      s.Stage,
		Reasons:    reasons,
		decaying:   sum,
		group:      group,
	}
}

// nextStage is s's stage given its current score.
func (r *Rules) nextStage(s *State, score float64) Stage {
	cur := s.Stage
	switch {
	case s.CRM.rank() > cur.rank():
		return s.CRM
	case cur.rank() >= StageOpportunity.rank():
		return cur // CRM stages only move by CRM events
	case cur == StageMQL:
		if score < r.mqlExit {
			return StageLead
		}
		return StageMQL
	case !s.Known:
		// MQL needs a known person; a lead whose person went away (the
		// pipeline never does that) stays a lead rather than move back.
		return cur
	case score >= r.mqlEnter:
		return StageMQL
	}
	return StageLead
}

// ShouldEmit reports whether cur is worth a score-change row after prev, the
// last one emitted (hasPrev false: nothing emitted yet, prev is ignored). It
// is when there is no previous row, the label or stage changed, or the score
// moved by at least min_delta. With min_delta 0 (or absent) any movement of
// the score emits, but an unchanged score does not.
func (r *Rules) ShouldEmit(prev *Result, hasPrev bool, cur *Result) bool {
	if !hasPrev || prev.Label != cur.Label || prev.Stage != cur.Stage {
		return true
	}
	d := math.Abs(cur.Score - prev.Score)
	if r.minDelta == 0 {
		return d > 0
	}
	return d >= r.minDelta
}

func clamp100(v float64) float64 { return min(max(v, 0), 100) }
