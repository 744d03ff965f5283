package scorer

import (
	_ "embed"
	"time"
)

//go:embed example.yaml
var example string

// Example returns the example rules file of CONTRACT section 3, byte for
// byte. It returns a fresh copy on each call, so callers may modify it.
func Example() []byte { return []byte(example) }

// Rules is a compiled rules file. It is immutable once [Parse] returns it, so
// one value may be shared by every partition worker.
type Rules struct {
	// Version is the file's version string, written with every score row
	// (rules_version) so a row says which rules produced it.
	Version string

	attrs []attribute
	// grades holds the A, B and C thresholds, strictly descending.
	grades [3]float64
	// levels holds the level 1, 2 and 3 thresholds, strictly descending.
	levels [3]float64
	// labels[g][l] is grade letter g followed by level digit l+1, built once
	// so that Evaluate does not concatenate strings.
	labels [4][4]string

	// personas score a contact's title (fit.persona); empty: none.
	personas []personaPattern

	halfLife time.Duration
	rules    []rule
	group    groupSpec
	intent   intentSpec
	// handoff maps label patterns to the hand-off recommendation.
	handoff []recommendation

	wFit, wEng, wIntent float64
	minDelta            float64
	mqlEnter, mqlExit   float64
}

// rule is one compiled engagement rule.
type rule struct {
	name     string
	category string
	when     cond
	// id identifies what the rule counts (its when and cap), whatever its
	// name, position or points: state carries over a rule change between
	// rules with the same id (see [Rules.Migrate]).
	id     uint64
	points float64
	// capPoints and capPer bound the undecayed points earned in any window
	// (t-capPer, t]. capPer == 0 means the rule is uncapped.
	capPoints float64
	capPer    time.Duration
}

// Grade returns the grade letter of a fit score: "A" at or above the A
// threshold, then "B", "C", and "D" below the C threshold.
func (r *Rules) Grade(fit float64) string { return gradeLetter(r.gradeIndex(fit)) }

// Level returns the level of an engagement score: 1 at or above the level 1
// threshold, then 2, 3, and 4 below the level 3 threshold.
func (r *Rules) Level(engagement float64) uint8 { return uint8(r.levelIndex(engagement) + 1) }

// MinDelta is score.min_delta: the score movement that is worth emitting
// on its own. When the file leaves it out it is 0, which means any change of
// the score emits (see [Rules.ShouldEmit]).
func (r *Rules) MinDelta() float64 { return r.minDelta }

// RuleCount is the number of engagement rules, the length of a fully grown
// State.Rules.
func (r *Rules) RuleCount() int { return len(r.rules) }

func (r *Rules) gradeIndex(fit float64) int {
	for i, threshold := range r.grades {
		if fit >= threshold {
			return i
		}
	}
	return 3
}

func (r *Rules) levelIndex(engagement float64) int {
	for i, threshold := range r.levels {
		if engagement >= threshold {
			return i
		}
	}
	return 3
}

func gradeLetter(i int) string {
	switch i {
	case 0:
		return "A"
	case 1:
		return "B"
	case 2:
		return "C"
	}
	return "D"
}
