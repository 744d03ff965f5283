package scorer

import (
	"math"
	"time"
)

// NextChange returns the earliest time after s.AsOf at which decay alone
// would change the label or the stage of res, Evaluate's (or
// EvaluateContact's) result for s, and false when no amount of decay can:
// the pipeline advances the state to that time once its partition's event
// time passes it ([Rules.Advance]) and emits the change, so a cold mql
// leaves the mql stage without waiting for its next event.
//
// Every rule decays with the same half-life, so the engagement at T is
// clamp(D * 0.5^((T-AsOf)/half_life) + G), D being the decaying sum and G
// the buying-group points. The level changes when it falls below the
// current level's threshold; an mql becomes a lead when the score falls
// below stages.mql.exit. Nothing else moves by decay alone: grade, CRM
// stages and entering mql need new events. The time is rounded up to the
// next whole second, the resolution of the rows; buying-group members and
// intent signals leaving their windows are not foreseen (they change the
// score at the next event or watermark step).
func (r *Rules) NextChange(s *State, res *Result) (time.Time, bool) {
	d := res.decaying
	if d <= 0 || s.AsOf.IsZero() {
		return time.Time{}, false
	}
	best := math.Inf(1)
	try := func(target float64) {
		// D f + G < target, with f = 0.5^(dt/half_life).
		need := target - res.group
		if need <= 0 {
			return // the group points alone keep it above
		}
		if need >= d {
			best = 0 // already there: evaluate at once
			return
		}
		dt := float64(r.halfLife) * math.Log2(d/need)
		best = min(best, dt)
	}
	if l := int(res.Level) - 1; l < 3 {
		try(r.levels[l])
	}
	if res.Stage == StageMQL && r.wEng > 0 {
		try((r.mqlExit - r.wFit*res.Fit - r.wIntent*res.Intent) / r.wEng)
	}
	if math.IsInf(best, 1) || best > float64(100*365*24*time.Hour) {
		return time.Time{}, false
	}
	t := s.AsOf.Add(time.Duration(best)).Truncate(time.Second).Add(time.Second)
	return t, true
}
