package scorer

// recommendation is one entry of handoff.recommendations: a label pattern
// and the advice sales gets with a hand-off of that label.
type recommendation struct {
	// grade is 0..3 for A..D, -1 for any; level is 0..3 for 1..4, -1 for any.
	grade, level int
	text         string
}

// specificity orders patterns: an exact label (A1) beats one with a
// wildcard (A* or *1), which beats "*".
func (rc *recommendation) specificity() int {
	n := 0
	if rc.grade >= 0 {
		n++
	}
	if rc.level >= 0 {
		n++
	}
	return n
}

// Recommendation returns the hand-off advice configured for a label (e.g.
// "A1: call within 24 hours" for A1): the most specific pattern of
// handoff.recommendations that matches (A1, then A* or *1 in file order,
// then *), or "" when none does.
func (r *Rules) Recommendation(label string) string {
	g, l, ok := parseLabel(label)
	if !ok {
		return ""
	}
	best, bestSpec := "", -1
	for i := range r.handoff {
		rc := &r.handoff[i]
		if (rc.grade >= 0 && rc.grade != g) || (rc.level >= 0 && rc.level != l) {
			continue
		}
		if s := rc.specificity(); s > bestSpec {
			best, bestSpec = rc.text, s
		}
	}
	return best
}

// parseLabel splits a label such as "B2" into grade and level indexes.
func parseLabel(label string) (grade, level int, ok bool) {
	if len(label) != 2 {
		return 0, 0, false
	}
	grade, level = int(label[0]-'A'), int(label[1]-'1')
	if grade < 0 || grade > 3 || level < 0 || level > 3 {
		return 0, 0, false
	}
	return grade, level, true
}

// parseLabelPattern reads a recommendation key: a label (A1), a grade with
// any level (A*), any grade with a level (*1), or * for every label.
func parseLabelPattern(s string) (grade, level int, ok bool) {
	if s == "*" {
		return -1, -1, true
	}
	if len(s) != 2 {
		return 0, 0, false
	}
	grade, level = -1, -1
	if s[0] != '*' {
		grade = int(s[0] - 'A')
		if grade < 0 || grade > 3 {
			return 0, 0, false
		}
	}
	if s[1] != '*' {
		level = int(s[1] - '1')
		if level < 0 || level > 3 {
			return 0, 0, false
		}
	}
	return grade, level, true
}
