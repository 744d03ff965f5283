package pipeline

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/leadscore/leadscore/internal/rows"
	"github.com/leadscore/leadscore/internal/statestore"
	"github.com/leadscore/leadscore/scorer"
)

// Time that passes. A score decays even when no event arrives, so an
// account (or contact) whose label or stage would change by decay alone has
// a due time ([scorer.Rules.NextChange]); the account's timer is the
// earliest due of the account and its contacts. A timer fires, emitting the
// change as of the due time with cause "decay", when either
//   - the account's next event is later than it (fired before the event is
//     applied), or
//   - the partition's watermark passes it: the oldest of the input
//     partitions' newest event times (each forwarded record and a heartbeat
//     per commit carry them), less engine.allowed_lateness.
//
// Either way the row is the same: it is as of the due time, its source is
// the synthetic {leadscore:decay, -1, due unix seconds}, and what it says
// depends only on the account's own events. The watermark only decides how
// soon it is emitted. So a replay, or a run whose partitions interleave
// differently, emits the same decay rows.
//
// Resident accounts' timers sit in a min-heap; an evicted account's timer
// moves to the state store (namespace "t", keyed by due time then account,
// so it scans in due order), and back to the heap when the account is
// reloaded.

// decaySource is the synthetic source of a decay row.
func decaySource(due time.Time) rows.Source {
	return rows.Source{Topic: "leadscore:decay", Partition: -1, Offset: due.Unix()}
}

// timer is a heap entry: an account's due time, in unix nanoseconds (24
// bytes an entry instead of 40 with a time.Time).
type timer struct {
	due int64
	id  string
}

// timerHeap is a min-heap of timers by due time. It has its own push and
// pop rather than container/heap's, whose any-typed Push boxes every timer
// (one allocation per queued account).
type timerHeap []timer

func (h *timerHeap) push(t timer) {
	*h = append(*h, t)
	s := *h
	for i := len(s) - 1; i > 0; {
		parent := (i - 1) / 2
		if s[parent].due <= s[i].due {
			break
		}
		s[parent], s[i] = s[i], s[parent]
		i = parent
	}
}

func (h *timerHeap) pop() timer {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s[last] = timer{}
	s = s[:last]
	for i := 0; ; {
		least, l, r := i, 2*i+1, 2*i+2
		if l < len(s) && s[l].due < s[least].due {
			least = l
		}
		if r < len(s) && s[r].due < s[least].due {
			least = r
		}
		if least == i {
			break
		}
		s[i], s[least] = s[least], s[i]
		i = least
	}
	*h = s
	return top
}

// schedule recomputes the account's due time and, with all, every
// contact's, else only touched's (nil: none): an event changes the state of
// its account and its own contact only. Then it queues the account's timer.
// w.res must not be needed by the caller any more.
func (w *worker) schedule(id string, a *account, touched *contact, all bool) {
	// Evaluate on copies: only an emitting evaluation may move a stage.
	var res scorer.Result
	res.Reasons = w.res.Reasons[:0]
	as := a.Score
	w.rules.Evaluate(&as, &res)
	a.Due = due(w.rules, &as, &res)
	for _, c := range a.Contacts {
		if c.MergedInto == "" && (all || c == touched) {
			cs := c.Score
			w.rules.EvaluateContact(&cs, &a.Score, &res)
			c.Due = due(w.rules, &cs, &res)
		}
	}
	w.res.Reasons = res.Reasons
	w.retime(id, a)
}

// retime sets the account's timer to the earliest due of the account and
// its contacts, whose Due fields are current, and queues it.
func (w *worker) retime(id string, a *account) {
	next := a.Due
	for _, c := range a.Contacts {
		if c.MergedInto != "" {
			continue // frozen: its engagement moved to the survivor
		}
		if !c.Due.IsZero() && (next.IsZero() || c.Due.Before(next)) {
			next = c.Due
		}
	}
	a.NextDue = next
	w.queue(id, a)
}

func due(r *scorer.Rules, s *scorer.State, res *scorer.Result) time.Time {
	t, ok := r.NextChange(s, res)
	if !ok {
		return time.Time{}
	}
	return t
}

// queue puts a resident account's timer in the heap unless an entry at or
// before it is there already (a later entry fires, finds the account not
// due, and queues the current due).
func (w *worker) queue(id string, a *account) {
	if w.replaying {
		return // a rebuilt account is queued once it replaces the live one
	}
	if a.NextDue.IsZero() || (!a.queued.IsZero() && !a.NextDue.Before(a.queued)) {
		return
	}
	w.timers.push(timer{due: a.NextDue.UnixNano(), id: id})
	a.queued = a.NextDue
}

// fireDue emits every decay change of the account due at or before upTo,
// earliest first, each as of its own due time, and returns the last due it
// fired (zero: none).
func (w *worker) fireDue(id string, a *account, upTo time.Time) (last time.Time) {
	for !a.NextDue.IsZero() && !a.NextDue.After(upTo) {
		at := a.NextDue
		last = at
		src := decaySource(at)
		if !a.Due.IsZero() && !a.Due.After(at) {
			stage := a.Score.Stage
			w.rules.Advance(&a.Score, at)
			w.rules.Evaluate(&a.Score, &w.res)
			w.emit(id, "", a, &a.Score, &a.emitted, stage, &w.res, src, rows.CauseDecay)
		}
		for cid, c := range a.Contacts {
			if c.Due.IsZero() || c.Due.After(at) {
				continue
			}
			stage := c.Score.Stage
			w.rules.Advance(&c.Score, at)
			w.rules.EvaluateContact(&c.Score, &a.Score, &w.res)
			w.emit(id, cid, a, &c.Score, &c.emitted, stage, &w.res, src, rows.CauseDecay)
			c.touchStep()
		}
		a.Version++
		a.dirty = true
		if !w.replaying {
			w.metrics.decayChanges.Inc()
		}
		w.schedule(id, a, nil, true)
	}
	return last
}

// heard records an input partition's event time (and whether it is idle)
// and moves the watermark to the minimum over the active input partitions,
// less engine.allowed_lateness, once each has been heard from.
func (w *worker) heard(src rows.Source, t time.Time, idle bool) error {
	old, known := w.sources[src]
	if known && old.idle == idle && !t.After(old.at) {
		return nil
	}
	if t.Before(old.at) {
		t = old.at
	}
	w.sources[src] = sourceTime{at: t, idle: idle}
	if len(w.sources) < w.inputs {
		return nil
	}
	// The oldest active input holds the watermark back; idle ones do not
	// (all idle: the newest).
	var low, high time.Time
	for _, s := range w.sources {
		if s.at.After(high) {
			high = s.at
		}
		if !s.idle && (low.IsZero() || s.at.Before(low)) {
			low = s.at
		}
	}
	if low.IsZero() {
		low = high
	}
	if low.IsZero() {
		return nil
	}
	return w.advanceWatermark(low.Add(-w.lateness))
}

// sourceTime is what a scoring worker last heard from an input partition.
type sourceTime struct {
	at   time.Time
	idle bool
}

// advanceWatermark moves the partition's event time to t and fires every
// timer due at or before it: those of resident accounts, and those of
// evicted accounts, which are reloaded first.
func (w *worker) advanceWatermark(t time.Time) error {
	if !t.After(w.watermark) {
		return nil
	}
	w.watermark = t
	if w.timerNS != nil && !w.storeNext.IsZero() && !w.storeNext.After(t) {
		if err := w.reloadDue(t); err != nil {
			return err
		}
	}
	for tn := t.UnixNano(); len(w.timers) > 0 && w.timers[0].due <= tn; {
		tm := w.timers.pop()
		a := w.accounts[tm.id]
		if a == nil || a.queued.IsZero() || a.queued.UnixNano() != tm.due {
			continue // evicted (its timer is in the store) or superseded
		}
		a.queued = time.Time{}
		a.used = w.now
		if a.open != nil && a.open.stale {
			continue // its rebuild fires and queues what is due
		}
		if last := w.fireDue(tm.id, a, t); a.open != nil && !last.IsZero() {
			a.open.fired = max(a.open.fired, nanos(last))
		}
		w.queue(tm.id, a)
	}
	w.sealTails(t)
	return nil
}

// timerKey is a store timer's key: the due time (big-endian unix seconds,
// so keys sort by time) then the account id.
func timerKey(due time.Time, id string) []byte {
	k := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(id)), uint64(due.Unix()))
	return append(k, id...)
}

// errStopScan ends a store scan early.
var errStopScan = errors.New("stop scan")

// reloadDue reloads the evicted accounts whose timers are due at or before
// t (their timers move to the heap), and notes the next store timer.
func (w *worker) reloadDue(t time.Time) error {
	// One scan: the accounts due and their keys, stale keys of older
	// snapshots included, deleted together; the reloaded accounts queue
	// their current timers in the heap.
	var ids []string
	next := time.Time{}
	b := w.store.NewBatch()
	defer b.Close()
	err := w.timerNS.Scan(func(k, _ []byte) error {
		if len(k) < 8 {
			return nil
		}
		at := time.Unix(int64(binary.BigEndian.Uint64(k[:8])), 0).UTC()
		if at.After(t) {
			next = at
			return errStopScan
		}
		ids = append(ids, string(k[8:]))
		b.Delete(w.timerNS, append([]byte(nil), k...))
		return nil
	})
	if err != nil && !errors.Is(err, errStopScan) {
		return fmt.Errorf("scan decay timers of %s: %w", w.key(), err)
	}
	if len(ids) > 0 {
		if err := b.Commit(); err != nil {
			return fmt.Errorf("delete decay timers of %s: %w", w.key(), err)
		}
	}
	for _, id := range ids {
		if _, err := w.account(id); err != nil {
			return err
		}
	}
	w.storeNext = next
	return nil
}

// rebuildTimers queues every resident account's timer afresh, after a
// restore.
func (w *worker) rebuildTimers() {
	w.timers, w.tails = w.timers[:0], w.tails[:0]
	for id, a := range w.accounts {
		a.queued = time.Time{}
		w.queue(id, a)
		w.trackTail(id, a)
	}
}

// spillTimer records an evicted account's timer in the store.
func (w *worker) spillTimer(b *statestore.Batch, id string, a *account) error {
	if w.timerNS == nil || a.NextDue.IsZero() {
		return nil
	}
	if w.storeNext.IsZero() || a.NextDue.Before(w.storeNext) {
		w.storeNext = a.NextDue
	}
	return spillSet(b, w.timerNS, string(timerKey(a.NextDue, id)), nil)
}

// spillTimerOf records the timer of an account restored straight to the
// store, read from its snapshot.
func (w *worker) spillTimerOf(b *statestore.Batch, id string, snapshot []byte) error {
	if w.timerNS == nil {
		return nil
	}
	due, _, err := snapshotHead(snapshot)
	if err != nil {
		return fmt.Errorf("decode account %s: %w", id, err)
	}
	return w.spillTimer(b, id, &account{NextDue: due})
}

// unspillTimer removes a reloaded account's timer from the store and
// queues it in the heap.
func (w *worker) unspillTimer(id string, a *account) error {
	if w.timerNS != nil && !a.NextDue.IsZero() {
		b := w.store.NewBatch()
		b.Delete(w.timerNS, timerKey(a.NextDue, id))
		err := b.Commit()
		b.Close()
		if err != nil {
			return fmt.Errorf("delete decay timer of %s: %w", id, err)
		}
	}
	w.queue(id, a)
	return nil
}
