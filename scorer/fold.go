package scorer

import (
	"slices"
	"time"
)

// Fold adds src's engagement to dst: what a duplicate lead earned moves to
// the lead it was merged into. Both are first carried to the current rules
// and decayed to the later of their two times; then each rule's decayed
// points and event count add up, and the cap and count histories are
// merged in time order, so later events see both leads' history.
//
// For rules without a cap the result is exact: folding two states equals
// observing both leads' events into one state, because decay is linear.
// A capped rule keeps both sums even when together they exceed the cap
// within its window (the cap limits what events earn, and each was earned
// under it); from then on the merged window caps new events.
//
// The person's other attributes: the newer Last counts for since_last, a
// title is kept unless dst has none, Known holds if either held, and the
// CRM stage is the further one. dst's funnel stage is left for Evaluate.
// Intent and buying-group entries belong to accounts and are not folded.
func (r *Rules) Fold(dst, src *State) {
	r.Migrate(dst)
	r.Migrate(src)
	at := dst.AsOf
	if src.AsOf.After(at) {
		at = src.AsOf
	}
	r.Advance(dst, at)
	r.Advance(src, at)
	if len(src.Rules) > 0 {
		r.grow(dst)
		for i := range dst.Rules {
			d, s := &dst.Rules[i], &src.Rules[i]
			d.Sum = flush(d.Sum + s.Sum)
			if c := uint64(d.Count) + uint64(s.Count); c > 1<<32-1 {
				d.Count = 1<<32 - 1
			} else {
				d.Count = uint32(c)
			}
			if w := s.window(); len(w) > 0 {
				h := d.hist()
				h.Window = append(h.Window, w...)
				slices.SortStableFunc(h.Window, func(a, b Earned) int { return a.At.Compare(b.At) })
			}
			if ts := s.times(); len(ts) > 0 {
				h := d.hist()
				h.Times = append(h.Times, ts...)
				slices.SortStableFunc(h.Times, func(a, b time.Time) int { return a.Compare(b) })
			}
		}
	}
	if src.Last.After(dst.Last) {
		dst.Last = src.Last
	}
	if dst.Title == "" {
		dst.Title = src.Title
	}
	dst.Known = dst.Known || src.Known
	if src.CRM.rank() > dst.CRM.rank() {
		dst.CRM = src.CRM
	}
}
