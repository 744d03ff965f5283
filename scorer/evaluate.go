package scorer

import (
	"math"

	"github.com/leadscore/leadscore/internal/rows"
)

// categoryFit is the reason category of fit attributes.
const categoryFit = "fit"

// Result is an account's score as of State.AsOf, as Evaluate computes it.
type Result struct {
	// Fit is the sum of attribute points, clamped to 0..100.
	Fit float64
	// Engagement is the sum of the decayed rule contributions, clamped to
	// 0..100.
	Engagement float64
	// Score is the weighted sum of Fit and Engagement.
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
	// the attribute name, Points its points), in file order, then every
	// engagement rule with a current contribution (Rule its name, Category
	// its category, Points its decayed, unclamped sum), in file order. The
	// next Evaluate into the same Result overwrites it in place: copy the
	// slice to keep it.
	Reasons []rows.Reason
}

// Evaluate computes s's score as of s.AsOf into res and advances s.Stage. It
// reuses the capacity of res.Reasons and does not allocate once that has
// grown to the number of attributes and rules.
//
// The stage follows CONTRACT section 3: a CRM outcome (s.CRM) moves the
// stage up to it; otherwise an mql stays mql until the score falls below
// stages.mql.exit and then becomes a lead; an account with a known person
// becomes mql when the score reaches stages.mql.enter and is a lead below
// it; an account without one stays a visitor. No stage moves back except
// mql -> lead.
func (r *Rules) Evaluate(s *State, res *Result) {
	reasons := res.Reasons[:0]

	fit := 0.0
	for i := range r.attrs {
		a := &r.attrs[i]
		if p := a.score(&s.Firm); p != 0 {
			fit += p
			reasons = append(reasons, rows.Reason{Rule: a.name, Category: categoryFit, Points: p})
		}
	}
	fit = clamp100(fit)

	eng := 0.0
	n := min(len(s.Rules), len(r.rules))
	for i := range n {
		sum := s.Rules[i].Sum
		if sum == 0 {
			continue
		}
		eng += sum
		ru := &r.rules[i]
		reasons = append(reasons, rows.Reason{Rule: ru.name, Category: ru.category, Points: sum})
	}
	eng = clamp100(eng)

	score := r.wFit*fit + r.wEng*eng
	s.Stage = r.nextStage(s, score)
	g, l := r.gradeIndex(fit), r.levelIndex(eng)
	*res = Result{
		Fit:        fit,
		Engagement: eng,
		Score:      score,
		Grade:      gradeLetter(g),
		Level:      uint8(l + 1),
		Label:      r.labels[g][l],
		Stage:      s.Stage,
		Reasons:    reasons,
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
