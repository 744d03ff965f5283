package pipeline

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/leadscore/leadscore/features"
	"github.com/leadscore/leadscore/internal/event"
	"github.com/leadscore/leadscore/internal/rows"
)

// The open tail: event-time order whatever the arrival order.
//
// An account's results are defined over its events sorted by event time
// (ties broken by messageId), whatever order they arrive in. A scoring
// worker therefore keeps, for each account with events newer than its
// watermark, the open tail: the snapshot of the account before those events
// (base) and the forwarded records themselves, sorted by (event time, key).
//
//   - A record that sorts after every open record, and after any decay the
//     watermark has fired since, is applied to the live account at once:
//     the in-order path, as cheap as before.
//   - A record that sorts before an open one (it arrived late) is inserted
//     at its place and the account is rebuilt: the base decoded, every open
//     record applied again in order, and the decay changes the watermark has
//     passed fired again. The late record's own rows are emitted, computed
//     at its place; the other records' rows are not emitted again.
//   - When the watermark passes the newest open record, the live account is
//     exactly the base with the open records applied, so the tail is closed
//     (sealed) by dropping it: no replay. Its keys are kept for
//     engine.allowed_lateness more of event time, so a redelivered
//     messageId is still recognised.
//   - A merge or fold decision seals the tail first: decisions are not
//     ordered by event time (see merge.go).
//
// So an account's state is a function of its records as long as each
// arrives newer than the watermark: the same whatever the interleaving,
// keying, pause or redo. A record older than the watermark when the tail is
// closed is applied to the live account as a late event (decay exact, caps
// against the kept history) and counted in records_total{result="late"}.
// Versions count records in units of versionRecord and decay steps in
// ones, so a rebuilt account (one record more) always outranks the state it
// replaces; a contact the late record did not touch may have had more decay
// steps live than rebuilt, so its version becomes max(rebuilt, live+1).

// tail is an account's open tail; nil when it has none.
type tail struct {
	// buf holds the base, the account's snapshot (without its tail) before
	// the entries, in buf[:base], then each entry's key and record. One
	// buffer, reused from the worker's free list, so that a tail costs no
	// allocation per record once the worker has warmed up.
	buf  []byte
	base int
	// entries are the open records, sorted by (at, key); empty when the
	// tail holds only sealed keys (then buf is nil).
	entries []tailEntry
	// sealed are the keys of records sealed within allowed_lateness of the
	// watermark, for duplicates that arrive after their tail closed.
	sealed []sealedKey
	// fired is the latest due time the watermark fired on the live account
	// while the tail was open (unix nanoseconds): a record before it must
	// rebuild, since the rebuild fires decay only up to the record.
	fired int64
	// queued is the time of the account's entry in the worker's tail heap
	// (unix nanoseconds, 0: none).
	queued int64
	// stale: a record was inserted before others in this batch and the
	// live account waits for its rebuild at the end of the batch (louds
	// are the sources of the records inserted since, whose rows it
	// writes). Until then the account takes no record and no decay.
	stale bool
	louds []rows.Source
	// outs are the rows written while the tail was open (corrections.go).
	outs []tailOut
}

// tailEntry is one open record: its event's time (unix nanoseconds), and
// where its key (messageId, else the input record's source) and its
// forwarded record's value are in the tail's buf.
type tailEntry struct {
	at         int64
	off        uint32
	klen, rlen uint32
}

func (tl *tail) key(e *tailEntry) []byte { return tl.buf[e.off : e.off+e.klen] }
func (tl *tail) rec(e *tailEntry) []byte {
	return tl.buf[e.off+e.klen : e.off+e.klen+e.rlen]
}

// add appends a record to buf and returns its entry.
func (tl *tail) add(at int64, key string, rec []byte) tailEntry {
	e := tailEntry{at: at, off: uint32(len(tl.buf)), klen: uint32(len(key)), rlen: uint32(len(rec))}
	tl.buf = append(append(tl.buf, key...), rec...)
	return e
}

// sealedKey is the hash of a sealed record's key and its time.
type sealedKey struct {
	at int64
	h  uint64
}

// tailKey is what orders records of one time and recognises redeliveries:
// the event's messageId, else its input record's source.
func tailKey(ev *event.Event, src rows.Source) string {
	if ev.MessageID != "" {
		return ev.MessageID
	}
	return src.Topic + "/" + strconv.Itoa(int(src.Partition)) + "/" + strconv.FormatInt(src.Offset, 10)
}

// keyHash is 64-bit FNV-1a: stable across processes, as sealed keys are
// snapshotted.
func keyHash[T string | []byte](s T) uint64 { return fnv1a(fnvOffset, s) }

// fnvOffset is FNV-1a's 64-bit offset basis.
const fnvOffset = 14695981039346656037

// fnv1a continues the 64-bit FNV-1a hash h over s.
func fnv1a[T string | []byte](h uint64, s T) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// nanos is t in unix nanoseconds, clamped to what int64 holds.
func nanos(t time.Time) int64 {
	switch {
	case t.Before(minNano):
		return minNano.UnixNano()
	case t.After(maxNano):
		return maxNano.UnixNano()
	}
	return t.UnixNano()
}

// has reports whether key is open or recently sealed.
func (tl *tail) has(key string) bool {
	for i := range tl.entries {
		if string(tl.key(&tl.entries[i])) == key {
			return true
		}
	}
	if len(tl.sealed) > 0 {
		h := keyHash(key)
		for _, s := range tl.sealed {
			if s.h == h {
				return true
			}
		}
	}
	return false
}

// scoreRecord applies a forwarded record (rec, already decoded into
// pending, ev and the rest) to its account through the open tail.
func (w *worker) scoreRecord(id string, rec []byte, pending []features.Pending, ev *event.Event, src rows.Source, ip *ipMatchInfo, tags []string) error {
	a, err := w.account(id)
	if err != nil {
		return err
	}
	key := tailKey(ev, src)
	tl := a.open
	if tl != nil && tl.has(key) {
		w.metrics.records.WithLabelValues(resultDuplicate).Inc()
		return nil
	}
	if tl != nil && tl.stale {
		tl.insert(ev.Time, key, rec)
		tl.louds = append(tl.louds, src)
		w.metrics.records.WithLabelValues(resultLate).Inc()
		return nil
	}
	first := ev.Time
	for i := range pending {
		first = minTime(first, pending[i].Time)
	}
	at := nanos(ev.Time)
	result := resultScored
	if first.Before(a.Score.AsOf) {
		result = resultLate
	}
	if tl == nil || len(tl.entries) == 0 {
		if ev.Time.After(w.watermark) {
			// Open the tail: the account as it is now is its base.
			if tl == nil {
				tl = w.newTail()
				a.open = tl
			}
			tl.buf, tl.entries = w.freeTail()
			if tl.buf, err = appendAccountState(tl.buf, a); err != nil {
				return fmt.Errorf("encode account %s: %w", id, err)
			}
			tl.base, tl.fired = len(tl.buf), 0
			tl.entries = append(tl.entries, tl.add(at, key, rec))
			w.queueTail(id, a, at)
		}
		w.scoreEvent(id, a, pending, ev, src, ip, tags)
		w.metrics.records.WithLabelValues(result).Inc()
		return nil
	}
	if i := tl.insert(ev.Time, key, rec); i == len(tl.entries)-1 && nanos(first) >= tl.fired {
		w.scoreEvent(id, a, pending, ev, src, ip, tags)
		w.metrics.records.WithLabelValues(result).Inc()
		if len(tl.entries) > w.tailCap() {
			// Over engine.max_tail_records: the rebuild at the end of the
			// batch makes the oldest half final.
			tl.stale = true
			tl.louds = tl.louds[:0]
			w.stale = append(w.stale, id)
			w.metrics.tailsCut.Inc()
		}
		return nil
	}
	// Late: rebuilt once at the end of the batch, whatever else of the
	// account's the batch holds.
	tl.stale = true
	tl.louds = append(tl.louds[:0], src)
	w.stale = append(w.stale, id)
	w.metrics.records.WithLabelValues(resultLate).Inc()
	return nil
}

// insert puts a record at its place in the entries and returns it.
func (tl *tail) insert(t time.Time, key string, rec []byte) int {
	at := nanos(t)
	i, _ := slices.BinarySearchFunc(tl.entries, at, func(e tailEntry, at int64) int {
		if e.at < at || e.at == at && string(tl.key(&e)) < key {
			return -1
		}
		return 1
	})
	tl.entries = slices.Insert(tl.entries, i, tl.add(at, key, rec))
	return i
}

// tailCap is engine.max_tail_records (512 when unset, as in tests that
// build workers by hand).
func (w *worker) tailCap() int {
	if w.maxTail <= 0 {
		return 512
	}
	return w.maxTail
}

// rebuildStale rebuilds the accounts a batch left stale.
func (w *worker) rebuildStale() error {
	for _, id := range w.stale {
		if a := w.accounts[id]; a != nil && a.open != nil && a.open.stale {
			if err := w.rebuild(id, a); err != nil {
				return err
			}
		}
	}
	clear(w.stale)
	w.stale = w.stale[:0]
	return nil
}

// maxFreeTails bounds the tail buffers a worker keeps for reuse, and
// maxFreeTailBytes the size of one kept.
const (
	maxFreeTails     = 4096
	maxFreeTailBytes = 64 << 10
)

// freeTail returns an empty buffer and entry slice for a new tail.
func (w *worker) freeTail() ([]byte, []tailEntry) {
	n := len(w.freeTails)
	if n == 0 {
		return nil, nil
	}
	f := w.freeTails[n-1]
	w.freeTails[n-1] = freeTail{}
	w.freeTails = w.freeTails[:n-1]
	return f.buf[:0], f.entries[:0]
}

// newTail returns an empty tail, a spare one when the worker has one.
func (w *worker) newTail() *tail {
	n := len(w.spareTails)
	if n == 0 {
		return &tail{}
	}
	tl := w.spareTails[n-1]
	w.spareTails[n-1] = nil
	w.spareTails = w.spareTails[:n-1]
	*tl = tail{sealed: tl.sealed[:0], outs: tl.outs[:0], louds: tl.louds[:0]}
	return tl
}

// freeTail is a sealed tail's buffers, kept for the next tail.
type freeTail struct {
	buf     []byte
	entries []tailEntry
}

// rebuild replaces the live account a with its base and every open record
// applied in order, then the decay changes up to the watermark, and writes
// what that changes in the rows written so far (corrections.go).
func (w *worker) rebuild(id string, a *account) error {
	tl := a.open
	tl.stale = false
	r := &account{}
	if err := decodeAccount(tl.buf[:tl.base], r); err != nil {
		return fmt.Errorf("rebuild account %s: %w", id, err)
	}
	r.id = id
	w.internRestored(r)
	w.unwritten(a)
	w.replaying = true
	defer func() { w.replaying = false }()
	var f forwarded
	var ev event.Event
	rec := kgo.Record{Key: []byte(id)}
	// The records the watermark has passed are final: the account after
	// them becomes the new base (before the next record's decay, which
	// its own application fires), so tails stay within the lateness.
	final, _ := slices.BinarySearchFunc(tl.entries, nanos(w.watermark), func(e tailEntry, wm int64) int {
		if e.at <= wm {
			return -1
		}
		return 1
	})
	if n, limit := len(tl.entries), w.tailCap(); n > limit {
		final = max(final, n-limit/2)
	}
	var base []byte
	keep := 0
	for i := range tl.entries {
		if i == final && final > 0 {
			var err error
			if base, err = appendAccountState(nil, r); err != nil {
				return fmt.Errorf("rebuild account %s: %w", id, err)
			}
			keep = len(w.replayOuts) // the rows of final records are final
		}
		rec.Value = tl.rec(&tl.entries[i])
		if err := decodeForward(&rec, &f); err != nil {
			return fmt.Errorf("rebuild account %s: %w", id, err)
		}
		if err := event.Decode(f.Raw, &ev, w.limits); err != nil {
			return fmt.Errorf("rebuild account %s: %w", id, err)
		}
		w.scoreEvent(id, r, f.Pending, &ev, f.Source, f.IP, f.Tags)
	}
	tl.fired = 0
	if last := w.fireDue(id, r, w.watermark); !last.IsZero() {
		tl.fired = nanos(last)
	}
	w.replaying = false
	w.correct(id, a, keep)
	tl.louds = tl.louds[:0]
	if base != nil {
		tl.rebase(base, final)
	}
	w.metrics.rebuilds.Inc()
	a.replaceWith(r)
	w.queue(id, a)
	return nil
}

// replaceWith makes a the rebuilt account r, keeping what is not state
// (its id, use time, timer entry, tail) and keeping versions monotonic.
func (a *account) replaceWith(r *account) {
	r.id, r.used, r.queued, r.open = a.id, a.used, a.queued, a.open
	r.Version = max(r.Version, a.Version) // the rebuilt: a record more, or (a cut) the same
	for cid, c := range r.Contacts {
		if old := a.Contacts[cid]; old != nil {
			c.Version = max(c.Version, old.Version+1)
		}
		c.dirty = true
	}
	if r.Visits != nil {
		r.Visits.dirty = true
	}
	*a = *r
	a.dirty = true
}

// rebase makes base the tail's base in place of its first n entries, whose
// keys are kept as sealed.
func (tl *tail) rebase(base []byte, n int) {
	old := tl.buf
	for i := range tl.entries[:n] {
		e := &tl.entries[i]
		tl.sealed = append(tl.sealed, sealedKey{at: e.at, h: keyHash(tl.key(e))})
	}
	rest := tl.entries[n:]
	tl.buf = append(make([]byte, 0, len(base)+len(old)-tl.base), base...)
	tl.base = len(base)
	for i := range rest {
		e := &rest[i]
		k, r := old[e.off:e.off+e.klen], old[e.off+e.klen:e.off+e.klen+e.rlen]
		*e = tailEntry{at: e.at, off: uint32(len(tl.buf)), klen: e.klen, rlen: e.rlen}
		tl.buf = append(append(tl.buf, k...), r...)
	}
	tl.entries = append(tl.entries[:0], rest...)
}

// sealTail closes a's tail: the live account is its base with every open
// record applied, so the base and records go; their keys are kept for
// engine.allowed_lateness of event time.
func (w *worker) sealTail(id string, a *account) {
	tl := a.open
	if tl == nil {
		return
	}
	for i := range tl.entries {
		e := &tl.entries[i]
		tl.sealed = append(tl.sealed, sealedKey{at: e.at, h: keyHash(tl.key(e))})
	}
	if len(w.freeTails) < maxFreeTails && cap(tl.buf) <= maxFreeTailBytes {
		w.freeTails = append(w.freeTails, freeTail{tl.buf[:0], tl.entries[:0]})
	}
	tl.buf, tl.base, tl.entries, tl.fired, tl.outs = nil, 0, nil, 0, tl.outs[:0]
	w.pruneSealed(id, a)
}

// pruneSealed forgets sealed keys older than the watermark less the
// allowed lateness, drops an empty tail, and queues the tail for its next
// pruning otherwise.
func (w *worker) pruneSealed(id string, a *account) {
	tl := a.open
	if w.watermark.IsZero() {
		w.queueTail(id, a, newestSealed(tl)+int64(w.lateness))
		return
	}
	from := nanos(w.watermark.Add(-w.lateness))
	tl.sealed = slices.DeleteFunc(tl.sealed, func(s sealedKey) bool { return s.at <= from })
	if len(tl.sealed) == 0 {
		if len(tl.entries) == 0 {
			a.open = nil
			if len(w.spareTails) < maxFreeTails {
				w.spareTails = append(w.spareTails, tl)
			}
		}
		return
	}
	w.queueTail(id, a, newestSealed(tl)+int64(w.lateness))
}

func newestSealed(tl *tail) int64 {
	var n int64
	for _, s := range tl.sealed {
		n = max(n, s.at)
	}
	return n
}

// queueTail puts the account in the tail heap at time at unless it is
// there at or before it: popped, an entry re-queues at the tail's current
// newest time.
func (w *worker) queueTail(id string, a *account, at int64) {
	tl := a.open
	if tl == nil || tl.queued != 0 && tl.queued <= at {
		return
	}
	w.tails.push(timer{due: at, id: id})
	tl.queued = at
}

// sealTails closes the tails whose newest record the watermark t has
// passed, and prunes sealed keys.
func (w *worker) sealTails(t time.Time) {
	tn := nanos(t)
	var stale []string
	for len(w.tails) > 0 && w.tails[0].due <= tn {
		tm := w.tails.pop()
		a := w.accounts[tm.id]
		if a == nil || a.open == nil || a.open.queued != tm.due {
			continue // evicted (queued again when reloaded) or superseded
		}
		tl := a.open
		tl.queued = 0
		if tl.stale {
			stale = append(stale, tm.id) // the live account is not its tail yet
			continue
		}
		if n := len(tl.entries); n > 0 {
			if newest := tl.entries[n-1].at; newest > tn {
				w.queueTail(tm.id, a, newest)
				continue
			}
			w.sealTail(tm.id, a)
			continue
		}
		w.pruneSealed(tm.id, a)
	}
	for _, id := range stale {
		a := w.accounts[id]
		w.queueTail(id, a, a.open.entries[len(a.open.entries)-1].at)
	}
}

// trackTail queues a restored or reloaded account's tail.
func (w *worker) trackTail(id string, a *account) {
	tl := a.open
	if tl == nil {
		return
	}
	tl.queued = 0
	if n := len(tl.entries); n > 0 {
		w.queueTail(id, a, tl.entries[n-1].at)
		return
	}
	w.queueTail(id, a, newestSealed(tl)+int64(w.lateness))
}

// closeTail seals a's tail before a decision that is not ordered by event
// time (a merge or a fold) changes it.
func (w *worker) closeTail(id string, a *account) error {
	if a.open == nil || len(a.open.entries) == 0 {
		return nil
	}
	if a.open.stale {
		if err := w.rebuild(id, a); err != nil {
			return err
		}
	}
	w.sealTail(id, a)
	return nil
}
