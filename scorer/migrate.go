package scorer

// Migrate carries s, built under other rules, over to r; it reports
// whether s changed. Observe, Advance and Evaluate call it, so a state from
// any earlier rules file (a snapshot, an evicted account, the moment of a
// live rule change) is always scored under the current rules.
//
// What carries over, and how exactly:
//   - Fit, persona, grades, levels, weights, stages, hand-off advice: they
//     are computed from the account's attributes at every evaluation, so
//     they are exact under the new rules.
//   - An engagement rule whose when and cap are unchanged (its id; a rename
//     or a move in the file keeps it) keeps its decayed points, count, cap
//     and count history. When only its points changed, its decayed points
//     and cap history are scaled by new/old points: exact for an uncapped
//     rule, an approximation for a capped one.
//   - A rule with a new or changed when or cap starts from nothing: events
//     before the change are not re-read (leadscore keeps no event history),
//     so it counts events from the change on.
//   - A changed half_life applies from the change on to the points already
//     earned.
//   - Intent signals and buying-group members are kept per topic and per
//     contact, whatever the rules; the new windows apply at once.
func (r *Rules) Migrate(s *State) bool {
	if len(s.Rules) == 0 || r.aligned(s) {
		return false
	}
	old := s.Rules
	if len(old) == len(r.rules) && legacy(old) {
		// A state written before rule ids existed: positional, as then.
		r.stamp(s, 0)
		return true
	}
	next := make([]RuleState, len(r.rules))
	used := make([]bool, len(old))
	kept := false
	for i := range r.rules {
		ru := &r.rules[i]
		next[i] = RuleState{ID: ru.id, Points: ru.points}
		for j := range old {
			if used[j] || old[j].ID != ru.id {
				continue
			}
			used[j] = true
			o := old[j]
			if o.Points != ru.points && o.Points != 0 {
				f := ru.points / o.Points
				o.Sum = flush(o.Sum * f)
				if ow := o.window(); len(ow) > 0 {
					w := make([]Earned, len(ow))
					for k, e := range ow {
						w[k] = Earned{At: e.At, Points: e.Points * f}
					}
					o.RuleHist = &RuleHist{Window: w, Times: o.Times}
				}
			}
			o.ID, o.Points = ru.id, ru.points
			next[i] = o
			kept = true
			break
		}
	}
	if kept {
		s.Rules = next
	} else {
		s.Rules = nil
	}
	return true
}

// aligned reports whether s.Rules was built by rules with the same ids and
// points, in the same order, as r.
func (r *Rules) aligned(s *State) bool {
	if len(s.Rules) != len(r.rules) {
		return false
	}
	for i := range s.Rules {
		if s.Rules[i].ID != r.rules[i].id || s.Rules[i].Points != r.rules[i].points {
			return false
		}
	}
	return true
}

// legacy reports whether every entry lacks an id.
func legacy(rs []RuleState) bool {
	for i := range rs {
		if rs[i].ID != 0 {
			return false
		}
	}
	return true
}
