package pipeline

import (
	"math"
	"slices"
	"time"

	"github.com/leadscore/leadscore/internal/rows"
)

// Corrections. While an account's tail is open (tail.go), every row it
// writes for its records and decay (score changes, funnel transitions,
// hand-offs, score events) is noted in the tail as an out: the row's
// identity and a digest of its content. A rebuild writes every row of the
// replay to the batch and compares: a row the tail already holds unchanged
// is dropped (it was written); a changed one stays, a score change with
// cause correction; a new one stays (cause correction unless it belongs to
// a record that made the account stale, which was never written); an out
// the replay does not write again is retracted: a row of its identity with
// Retracted set. So once every record has arrived, what the tables hold
// after FINAL, retracted rows left out, is what event-time order writes.
//
// ClickHouse replaces rows of one identity only within a partition (the
// month of as_of or at), so a corrected row whose time moved is written as
// a retraction of the old and the new row.

// Kinds of out.
const (
	outChange = iota + 1
	outTransition
	outHandoff
	outEvent
)

// tailOut is a row written while the tail was open.
type tailOut struct {
	kind    uint8
	contact uint64 // keyHash of the contact id, 0 for the account
	src     rows.Source
	// at is the row's time, its ClickHouse partition: as_of or at.
	at int64
	// from and to are a transition's stages, part of its identity.
	from, to string
	digest   uint64
	// batch is the worker batch that wrote the row and idx its index in
	// that batch's rows of its kind: a row of the current batch is not
	// written yet, so a rebuild drops it instead of correcting it.
	batch uint64
	idx   int32
}

// sameRow reports whether o and p name the same row, whatever its time.
func (o *tailOut) sameRow(p *tailOut) bool {
	if o.kind != p.kind || o.contact != p.contact || o.src != p.src {
		return false
	}
	switch o.kind {
	case outTransition:
		return o.at == p.at && o.from == p.from && o.to == p.to
	case outEvent:
		return o.at == p.at
	}
	return true
}

// contactHash is the contact's key in outs: 0 for the account's rows.
func contactHash(cid string) uint64 {
	if cid == "" {
		return 0
	}
	return keyHash(cid) | 1
}

// noteOut records the row of kind just appended to the batch for account
// a, when a has an open tail (or is being rebuilt).
func (w *worker) noteOut(a *account, kind uint8) {
	if !w.replaying && (a.open == nil || len(a.open.entries) == 0) {
		return
	}
	o := tailOut{kind: kind, batch: w.batchSeq}
	b := &w.batch
	switch kind {
	case outChange:
		r := &b.Changes[len(b.Changes)-1]
		o.idx, o.contact, o.src, o.at, o.digest = int32(len(b.Changes)-1), contactHash(r.ContactID), r.Source, nanos(r.AsOf), digestChange(r)
	case outTransition:
		r := &b.Transitions[len(b.Transitions)-1]
		o.idx, o.contact, o.src, o.at, o.digest = int32(len(b.Transitions)-1), contactHash(r.ContactID), r.RecordSource, nanos(r.At), digestTransition(r)
		o.from, o.to = r.FromStage, r.ToStage
	case outHandoff:
		r := &b.Handoffs[len(b.Handoffs)-1]
		o.idx, o.contact, o.src, o.at, o.digest = int32(len(b.Handoffs)-1), contactHash(r.ContactID), r.Source, nanos(r.At), digestHandoff(r)
	case outEvent:
		r := &b.Events[len(b.Events)-1]
		o.idx, o.contact, o.src, o.at, o.digest = int32(len(b.Events)-1), contactHash(r.ContactID), r.Source, nanos(r.At), digestEvent(r)
	}
	if w.replaying {
		w.replayOuts = append(w.replayOuts, o)
		return
	}
	a.open.outs = append(a.open.outs, o)
}

// unwritten tombstones the rows of the current batch that a's tail noted
// (a rebuild writes them again, or not) and forgets their outs.
func (w *worker) unwritten(a *account) {
	tl := a.open
	tl.outs = slices.DeleteFunc(tl.outs, func(o tailOut) bool {
		if o.batch != w.batchSeq {
			return false
		}
		w.tombstone(o.kind, o.idx)
		if !slices.Contains(tl.louds, o.src) {
			tl.louds = append(tl.louds, o.src) // written first by the rebuild: not a correction
		}
		return true
	})
}

// tombstone marks a row of the batch to be left out of it (its account id
// cleared); compact removes such rows before the batch is written.
func (w *worker) tombstone(kind uint8, idx int32) {
	b := &w.batch
	switch kind {
	case outChange:
		b.Changes[idx].AccountID = ""
	case outTransition:
		b.Transitions[idx].AccountID = ""
	case outHandoff:
		b.Handoffs[idx].AccountID = ""
	case outEvent:
		b.Events[idx].AccountID = ""
	}
	w.tombstones++
}

// compact removes the tombstoned rows from the batch.
func (w *worker) compact() {
	if w.tombstones == 0 {
		return
	}
	b := &w.batch
	b.Changes = slices.DeleteFunc(b.Changes, func(r rows.ScoreChange) bool { return r.AccountID == "" })
	b.Transitions = slices.DeleteFunc(b.Transitions, func(r rows.FunnelTransition) bool { return r.AccountID == "" })
	b.Handoffs = slices.DeleteFunc(b.Handoffs, func(r rows.Handoff) bool { return r.AccountID == "" })
	b.Events = slices.DeleteFunc(b.Events, func(r rows.ScoreEvent) bool { return r.AccountID == "" })
	w.tombstones = 0
}

// correct compares what a rebuild wrote (w.replayOuts) with what the tail
// held (a.open.outs): unchanged rows are tombstoned, changed and new ones
// become corrections, and what is not written again is retracted. keep is
// how many of the replay's outs became final (rebased): the rest are the
// tail's outs from now on.
func (w *worker) correct(id string, a *account, keep int) {
	tl := a.open
	old := tl.outs
	matched := make([]bool, len(old))
	for i := range w.replayOuts {
		n := &w.replayOuts[i]
		j := slices.IndexFunc(old, func(o tailOut) bool { return o.sameRow(n) })
		if j >= 0 && !matched[j] {
			matched[j] = true
			o := &old[j]
			if o.digest == n.digest && o.at == n.at {
				w.tombstone(n.kind, n.idx) // written before, as it is
				n.batch, n.idx = o.batch, -1
				continue
			}
			if o.at != n.at {
				// Another ClickHouse partition, where the old row would
				// stay: retract it, then write the row again after it,
				// so that a reader of the topic folding by identity
				// keeps the new one.
				w.retract(id, a, o)
				w.moveLast(n)
			}
			w.corrected(n)
			continue
		}
		if !slices.Contains(tl.louds, n.src) {
			w.corrected(n) // a row event-time order writes that arrival order did not
		}
	}
	for j := range old {
		if !matched[j] {
			w.retract(id, a, &old[j])
		}
	}
	tl.outs = append(tl.outs[:0], w.replayOuts[keep:]...)
	w.replayOuts = w.replayOuts[:0]
}

// moveLast moves n's row to the end of the batch.
func (w *worker) moveLast(n *tailOut) {
	b := &w.batch
	old := n.idx
	switch n.kind {
	case outChange:
		b.Changes = append(b.Changes, b.Changes[old])
		n.idx = int32(len(b.Changes) - 1)
	case outTransition:
		b.Transitions = append(b.Transitions, b.Transitions[old])
		n.idx = int32(len(b.Transitions) - 1)
	case outHandoff:
		b.Handoffs = append(b.Handoffs, b.Handoffs[old])
		n.idx = int32(len(b.Handoffs) - 1)
	case outEvent:
		b.Events = append(b.Events, b.Events[old])
		n.idx = int32(len(b.Events) - 1)
	}
	w.tombstone(n.kind, old)
}

// corrected marks a replayed row as a correction.
func (w *worker) corrected(n *tailOut) {
	w.metrics.corrections.WithLabelValues(outKindName(n.kind)).Inc()
	if n.kind == outChange {
		w.batch.Changes[n.idx].Cause = rows.CauseCorrection
	}
}

// retract appends the retraction of the row o names.
func (w *worker) retract(id string, a *account, o *tailOut) {
	w.metrics.retractions.WithLabelValues(outKindName(o.kind)).Inc()
	cid := contactByHash(a, o.contact)
	at := unixNano(o.at)
	b := &w.batch
	switch o.kind {
	case outChange:
		b.Changes = append(b.Changes, rows.ScoreChange{AccountID: id, ContactID: cid, AsOf: at, Source: o.src,
			Cause: rows.CauseRetraction, Retracted: true, RulesVersion: w.rules.Version})
	case outTransition:
		b.Transitions = append(b.Transitions, rows.FunnelTransition{AccountID: id, ContactID: cid, At: at,
			FromStage: o.from, ToStage: o.to, RecordSource: o.src, Retracted: true})
	case outHandoff:
		b.Handoffs = append(b.Handoffs, rows.Handoff{AccountID: id, ContactID: cid, At: at, Source: o.src,
			Retracted: true, RulesVersion: w.rules.Version})
	case outEvent:
		b.Events = append(b.Events, rows.ScoreEvent{AccountID: id, ContactID: cid, At: at, Source: o.src, Retracted: true})
	}
}

// contactByHash finds the contact id whose hash is h: contacts are never
// removed from an account, so every out's contact is there.
func contactByHash(a *account, h uint64) string {
	if h == 0 {
		return ""
	}
	for cid := range a.Contacts {
		if contactHash(cid) == h {
			return cid
		}
	}
	return ""
}

func outKindName(k uint8) string {
	switch k {
	case outChange:
		return "score_changes"
	case outTransition:
		return "funnel_transitions"
	case outHandoff:
		return "handoffs"
	}
	return "score_events"
}

// digester is 64-bit FNV-1a over a row's fields.
type digester uint64

func newDigester() digester { return fnvOffset }

func (d *digester) str(s string) {
	h := fnv1a(uint64(*d), s)
	h ^= 0xff // separates "ab","c" from "a","bc"
	h *= 1099511628211
	*d = digester(h)
}

func (d *digester) u64(v uint64) {
	h := uint64(*d)
	for range 8 {
		h ^= v & 0xff
		h *= 1099511628211
		v >>= 8
	}
	*d = digester(h)
}

func (d *digester) f64(v float64) { d.u64(math.Float64bits(v)) }

func (d *digester) reasons(rs []rows.Reason) {
	d.u64(uint64(len(rs)))
	for _, r := range rs {
		d.str(r.Rule)
		d.str(r.Category)
		d.f64(r.Points)
		d.u64(uint64(r.Count))
	}
}

// digestChange covers what a score change says, its cause aside.
func digestChange(r *rows.ScoreChange) uint64 {
	d := newDigester()
	d.f64(r.Score)
	d.f64(r.Fit)
	d.f64(r.Engagement)
	d.f64(r.Intent)
	d.str(r.Grade)
	d.u64(uint64(r.Level))
	d.str(r.Label)
	d.str(r.Stage)
	d.str(r.PreviousLabel)
	d.str(r.PreviousStage)
	d.f64(r.PreviousScore)
	d.str(r.Persona)
	d.str(r.RulesVersion)
	d.reasons(r.Reasons)
	return uint64(d)
}

func digestTransition(r *rows.FunnelTransition) uint64 {
	d := newDigester()
	for _, s := range [...]string{r.Source, r.Medium, r.Campaign, r.LastSource, r.LastMedium, r.LastCampaign} {
		d.str(s)
	}
	return uint64(d)
}

func digestHandoff(r *rows.Handoff) uint64 {
	d := newDigester()
	d.f64(r.Score)
	d.f64(r.Fit)
	d.f64(r.Engagement)
	d.f64(r.Intent)
	for _, s := range [...]string{r.Label, r.Stage, r.Persona, r.Title, r.Recommendation, r.RulesVersion} {
		d.str(s)
	}
	d.u64(uint64(len(r.BestTimes)))
	for _, s := range r.BestTimes {
		d.str(s)
	}
	d.reasons(r.Reasons)
	return uint64(d)
}

func digestEvent(r *rows.ScoreEvent) uint64 {
	d := newDigester()
	d.str(r.Type)
	d.str(r.Event)
	d.str(r.Path)
	d.u64(uint64(len(r.Rules)))
	for i, s := range r.Rules {
		d.str(s)
		d.f64(r.Points[i])
	}
	return uint64(d)
}

func unixNano(n int64) time.Time { return time.Unix(0, n).UTC() }
