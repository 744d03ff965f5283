package pipeline

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/segmentio/encoding/json"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/leadscore/leadscore/features"
	"github.com/leadscore/leadscore/features/hygiene"
	"github.com/leadscore/leadscore/internal/event"
	"github.com/leadscore/leadscore/internal/rows"
	"github.com/leadscore/leadscore/internal/statestore"
	"github.com/leadscore/leadscore/scorer"
)

// account is one account's state in a partition worker.
// versionRecord is what a record adds to an account's (and its contact's)
// version; a decay step or a re-score adds one. So a version orders an
// account's states even across a rebuild (tail.go), which applies one
// record more than the state it replaces and perhaps fewer decay steps;
// and the final version is a function of the account's records.
const versionRecord = 1 << 20

type account struct {
	Score scorer.State `json:"score"`
	// Version counts the events applied; account_scores keeps the row with
	// the highest, and a replay reproduces the same version with the same
	// content.
	Version uint64 `json:"version"`
	// FirstTouch and LastTouch are the first and the latest channel seen
	// for the account (features.Channels.Channel).
	// Both point to the worker's interned campaigns (few distinct ones),
	// nil until the account's first channel: 16 bytes instead of 160.
	FirstTouch *event.Campaign `json:"first_touch"`
	LastTouch  *event.Campaign `json:"last_touch"`
	// The last emitted score change and the decay timer.
	emitted
	// Contacts are the account's known people by contact id.
	Contacts map[string]*contact `json:"contacts,omitempty"`
	// Anon maps anonymous ids to the contact they were identified as.
	Anon map[string]string `json:"anon,omitempty"`
	// Hours is the account's best-time histogram, over all its contacts.
	Hours features.Hours `json:"hours"`
	// Visits are the page views whose IP matched the account.
	Visits *Visits `json:"visits,omitempty"`
	// NextDue is the earliest Due of the account and its contacts: the
	// account's decay timer (zero: none).
	NextDue time.Time `json:"next_due"`

	id    string // the account id, the worker's map key
	dirty bool   // changed since the last account_scores row was written
	used  int64  // when last seen (unix nanoseconds), for eviction
	// RulesVersion is the rules version the account was last scored under,
	// so a sweep after a rules change re-scores each account once.
	RulesVersion string `json:"rules_version"`

	// queued is the due time of the account's entry in the worker's timer
	// heap (zero: none).
	queued time.Time
	// open is the account's open tail (tail.go): its records newer than
	// the watermark and its snapshot before them; nil when none.
	open *tail
}

// worker owns one partition's state. Only the poll loop (or a rebalance
// callback, which never runs concurrently with it) touches a worker.
type worker struct {
	topic     string
	partition int32
	// rekeyed: this is a partition of the repartition topic, whose records
	// are resolved events keyed by account (scored here); otherwise an input
	// partition (decoded, de-duplicated and resolved here).
	rekeyed bool
	forward func(account string, pending []features.Pending, r *kgo.Record, m forwardMeta) error

	rules    *scorer.Rules
	limits   event.Limits
	accounts map[string]*account
	spill    *statestore.Namespace // evicted accounts; nil: no store
	links    *statestore.Namespace // evicted person links; nil: no store
	visitors *statestore.Namespace // evicted pending events; nil: no store
	store    *statestore.Store
	// Whether anything was written to each namespace since it was last
	// emptied: while not, a miss in memory is a miss, without a store read.
	accountsSpilled, linksSpilled, visitorsSpilled bool
	storeErr                                       error // a failed store read, seen by process
	now                                            int64 // start of the batch being processed
	identity                                       *features.Identity
	dedup                                          *features.Dedup

	dlq     *deadLetters
	metrics *metrics

	// Scoring workers: contacts per account, whether rule hits are written
	// (score_events), where new rules come from.
	maxContacts int
	scoreEvents bool
	channels    *features.Channels
	latestRules func() *scorer.Rules
	// sweepFrom is where the re-scoring of evicted accounts under new rules
	// resumes; nil: no sweep pending.
	sweepFrom []byte
	// rescoreRestored: accounts were just restored, perhaps under older
	// rules (a restart with a new rules file); re-score them.
	rescoreRestored bool

	// Decay timers (decay.go): the heap of resident accounts' timers, the
	// evicted accounts' timers in the store and the earliest of those, and
	// the partition's event time.
	timers  timerHeap
	timerNS *statestore.Namespace
	// tails queues the accounts with an open tail (tail.go) by the time
	// the watermark closes it; replaying is set during a rebuild, which
	// writes the rows of loud only.
	tails     timerHeap
	replaying bool
	stale     []string // accounts to rebuild at the end of the batch
	maxTail   int      // engine.max_tail_records
	// batchSeq numbers the worker's batches; replayOuts are the rows a
	// rebuild wrote, tombstones the rows left out of the batch
	// (corrections.go).
	batchSeq   uint64
	replayOuts []tailOut
	tombstones int
	freeTails  []freeTail // sealed tails' buffers, for new ones
	// spareTails are tails that closed for good, for new ones.
	spareTails []*tail
	storeNext  time.Time
	watermark  time.Time
	// sources holds each input partition's event time as last heard
	// (forwarded records and heartbeats); inputs is how many there are.
	// The watermark is their minimum once every one has been heard from.
	sources  map[rows.Source]sourceTime
	inputs   int
	lateness time.Duration
	// idleAfter is engine.idle_partition_after (input workers).
	idleAfter time.Duration
	// Input workers: the partition's event time (advanceTime over the
	// records decoded), and the one the last heartbeat carried.
	maxTime, beat time.Time
	// timeSaved is the maxTime the changelog holds.
	timeSaved time.Time
	// Input workers: engine.max_future, engine.max_time_jump and
	// engine.max_account_id_bytes.
	maxFuture, maxJump time.Duration
	maxAccount         int
	// lastRecord is when the input worker last got a record (wall clock);
	// idleSent: its idle heartbeat is out.
	lastRecord time.Time
	idleSent   bool
	// Input workers with an IP matcher: lookups per ip_matches key, those
	// changed since the last rows, and the last match that made an account.
	ip ipLookup
	// Input workers with hygiene: the checker, its verdict (reused), and
	// the person keys of rejected leads, whose events are not scored.
	checker       *hygiene.Checker
	sendLead      func(l hygiene.Lead, at time.Time, r *kgo.Record) error
	lead          hygiene.Lead // the lead an identify that passed makes, sent once resolved
	hasLead       bool
	control       func(key, header string, v []byte) // a decision to the repartition topic
	passed        map[string]passedLead              // person -> its last identify that passed
	leads         *hygiene.DedupIndex                // scoring workers: the leads whose keys they own
	repartitions  int
	verdict       hygiene.Verdict
	rejected      map[string]bool // "u:"/"a:" key of a rejected lead's person
	rejectedDirty map[string]struct{}
	ipCounts      map[ipKey]uint64
	ipDirty       map[ipKey]struct{}
	lastMatch     *ipMatchInfo

	// scratch, reused per record
	fwd   forwarded
	arena rowArena
	// campaigns interns the accounts' first and last touches.
	campaigns map[event.Campaign]*event.Campaign
	// interned holds the other small vocabularies of account state.
	interned interner
	// snapshotMean is the mean size of the last cycle's account snapshots.
	snapshotMean int
	// busyLast: the engine's last processFetches gave the worker records.
	busyLast bool
	ev       event.Event
	res      scorer.Result
	hits     []scorer.Hit
	batch    rows.Batch
}

func newWorker(e *Engine, topic string, partition int32) *worker {
	ec := e.cfg.Engine
	w := &worker{
		topic:     topic,
		partition: partition,
		rekeyed:   topic == e.cfg.repartitionTopic(),
		forward:   e.forward,
		control:   e.sendControl,
		rules:     e.Rules(),
		limits:    event.Limits{MaxBytes: ec.MaxRecordBytes, MaxDepth: ec.MaxDepth, MaxString: ec.MaxStringBytes},
		accounts:  make(map[string]*account),
		spill:     e.spillNamespace(topic, partition, "a"),
		links:     e.spillNamespace(topic, partition, "p"),
		visitors:  e.spillNamespace(topic, partition, "v"),
		store:     e.store,
		identity:  features.NewIdentity(e.ipMatcher, ec.MaxPendingPerVisitor, ec.Freemail),
		dedup:     features.NewDedup(ec.DedupWindow),
		dlq:       e.dlq,
		metrics:   e.metrics,

		maxContacts: ec.MaxContactsPerAccount,
		channels:    &ec.Channels,
		scoreEvents: ec.ScoreEvents,
		latestRules: e.Rules,
		timerNS:     e.spillNamespace(topic, partition, "t"),
		sources:     map[rows.Source]sourceTime{},
		lastRecord:  time.Now(),
		inputs:      e.inputs,
		lateness:    ec.AllowedLateness.D(),
		maxTail:     ec.MaxTailRecords,
		idleAfter:   ec.IdlePartitionAfter.D(),
		maxFuture:   ec.MaxFuture.D(),
		maxJump:     ec.MaxTimeJump.D(),
		maxAccount:  ec.MaxAccountIDBytes,
	}
	if e.ipLookup != nil && !w.rekeyed {
		// Input workers match through the counting adapter (ip_matches).
		w.ip = e.ipLookup
		w.identity = features.NewIdentity(ipLookups{w}, ec.MaxPendingPerVisitor, ec.Freemail)
	}
	w.identity.SetMaxAccountIDBytes(w.maxAccount)
	if w.links != nil {
		w.identity.SetSpill(identitySpill{w})
	}
	w.checker, w.repartitions = e.checker, e.repartitions
	if !w.rekeyed && e.checker != nil {
		parts := newLeadParts(e.repartitions)
		w.sendLead = func(l hygiene.Lead, at time.Time, r *kgo.Record) error { return e.sendLead(l, at, r, parts) }
	}
	return w
}

// process applies a partition's records in offset order and hands the rows
// they produce to the sinks.
func (w *worker) process(ctx context.Context, recs []*kgo.Record, out rowWriter) error {
	w.batchSeq++
	w.batch.Reset()
	w.arena.reset()
	w.now = nowNano()
	if len(recs) > 0 {
		w.lastRecord = time.Now()
	}
	if w.rekeyed {
		if r := w.latestRules(); r != w.rules {
			w.swapRules(r)
		}
		if w.rescoreRestored {
			w.rescoreRestored = false
			for id, a := range w.accounts {
				w.rescore(id, a)
			}
			if w.spill != nil {
				w.sweepFrom = []byte{}
			}
		}
		if err := w.sweepRules(); err != nil {
			return err
		}
	}
	for _, r := range recs {
		if r.Attrs.IsControl() {
			continue // a transaction marker
		}
		if w.rekeyed {
			switch controlHeader(r) {
			case headerLead:
				w.dedupLead(r)
				continue
			case headerMerge:
				if err := w.applyMerge(r); err != nil {
					return err
				}
				continue
			case headerFold:
				if err := w.applyFold(r); err != nil {
					return err
				}
				continue
			}
			if isHeartbeat(r) {
				var hb heartbeat
				if err := json.Unmarshal(r.Value, &hb); err == nil {
					if err := w.heard(rows.Source{Topic: hb.Topic, Partition: hb.Partition}, hb.Watermark, hb.Idle); err != nil {
						return err
					}
				}
				continue
			}
			if err := w.score(r); err != nil {
				return err
			}
		} else {
			w.ingest(r)
			if w.storeErr != nil {
				return w.storeErr
			}
		}
	}
	if err := w.rebuildStale(); err != nil {
		return err
	}
	w.compact()
	if w.batch.Len() == 0 {
		return nil
	}
	return out.Write(ctx, &w.batch)
}

// Results a record can have, the label of leadscore_pipeline_records_total.
const (
	resultScored     = "scored"
	resultLate       = "late" // scored, with something older than the account's time
	resultParked     = "parked"
	resultIgnored    = "ignored"
	resultDuplicate  = "duplicate"
	resultDeadLetter = "dead_letter"
	resultForwarded  = "forwarded"
)

// ingest runs one input record through decode, the clock and account-id
// guards, de-duplication and identity. A record resolved to an account is
// forwarded, with the anonymous events its link released, to the
// repartition topic keyed by the account, where the account's worker scores
// it.
func (w *worker) ingest(r *kgo.Record) {
	ev := &w.ev
	if err := event.Decode(r.Value, ev, w.limits); err != nil {
		var de *event.DecodeError
		reason := "invalid_record"
		if errors.As(err, &de) {
			reason = string(de.Reason)
		}
		w.deadLetter(r, reason, err.Error())
		return
	}
	// The wall clock of the batch (w.now) bounds the future only: a replay
	// of history is never refused.
	if ahead := time.Duration(ev.Time.UnixNano() - w.now); ahead > w.maxFuture {
		w.deadLetter(r, reasonFutureTimestamp, "event time is "+aheadBy(ahead)+" ahead of the wall clock; engine.max_future is "+w.maxFuture.String())
		return
	}
	if err := features.CheckNamed(ev, w.maxAccount); err != nil {
		w.deadLetter(r, reasonInvalidAccount, err.Error())
		return
	}
	var clamped bool
	if w.maxTime, clamped = advanceTime(w.maxTime, ev.Time, w.maxJump); clamped {
		w.metrics.timeJumps.Inc()
	}
	if ev.MessageID != "" && w.dedup.Seen(ev.MessageID) {
		w.metrics.records.WithLabelValues(resultDuplicate).Inc()
		return
	}
	if ev.Properties.ScoreIgnored {
		w.metrics.scoresIgnored.Inc()
	}
	var tags []string
	w.hasLead = false
	if w.checker != nil {
		var ok bool
		if tags, ok = w.screen(r, ev); !ok {
			return
		}
	}
	id, method := w.identity.Resolve(ev)
	if w.hasLead {
		if method == features.MethodGroup || method == features.MethodPerson {
			w.lead.Account = id
		}
		if err := w.sendLead(w.lead, ev.Time, r); err != nil {
			w.dlq.send(r, reasonForwardFailed, err.Error())
			w.metrics.deadLetters.WithLabelValues(reasonForwardFailed).Inc()
		}
	}
	if w.checker != nil && ev.Type == event.TypeIdentify && method == features.MethodPerson {
		w.jobChange(r, ev, id)
	}
	if method == features.MethodNone {
		if ev.Type == event.TypePage || ev.Type == event.TypeTrack {
			w.identity.Park(ev)
			w.metrics.records.WithLabelValues(resultParked).Inc()
		} else {
			w.metrics.records.WithLabelValues(resultIgnored).Inc()
		}
		return
	}
	pending := w.identity.Link(ev, id, method)
	meta := forwardMeta{watermark: w.maxTime, tags: tags}
	if method == features.MethodIP {
		meta.ip = w.lastMatch
	}
	if err := w.forward(id, pending, r, meta); err != nil {
		// Unreachable for records that decoded; kept as a dead letter so
		// nothing disappears.
		w.deadLetter(r, reasonForwardFailed, err.Error())
		return
	}
	w.metrics.records.WithLabelValues(resultForwarded).Inc()
}

// deadLetter sends an input record the worker refuses to the DLQ, as it
// came, and counts it.
func (w *worker) deadLetter(r *kgo.Record, reason, detail string) {
	w.dlq.send(r, reason, detail)
	w.metrics.records.WithLabelValues(resultDeadLetter).Inc()
	w.metrics.deadLetters.WithLabelValues(reason).Inc()
}

// advanceTime is an input partition's event time after a record dated t,
// when it was p: the first record (p zero) sets it; later ones move it
// forward, to t but by at most jump (0: unbounded); older ones leave it.
// So one record with a wrong clock moves the partition's time, and every
// watermark that follows it, by at most jump, and a real jump is confirmed
// by the records after it, each moving the time by up to jump. The
// result depends only on the partition's records, in their order. clamped
// reports that t was further ahead than jump.
func advanceTime(p, t time.Time, jump time.Duration) (next time.Time, clamped bool) {
	switch {
	case p.IsZero():
		return t, false
	case !t.After(p):
		return p, false
	case jump > 0 && t.Sub(p) > jump:
		return p.Add(jump), true
	}
	return t, false
}

// aheadBy says how far ahead of the clock an event is, in the unit a
// reader of the DLQ thinks in.
func aheadBy(d time.Duration) string {
	if d >= 72*time.Hour {
		return strconv.FormatFloat(d.Hours()/24, 'f', 1, 64) + " days"
	}
	return d.Round(time.Second).String()
}

// score applies a forwarded event to its account: the released anonymous
// events first, then the event itself, then one evaluation.
func (w *worker) score(r *kgo.Record) error {
	f := &w.fwd
	err := decodeForward(r, f)
	if err == nil {
		err = event.Decode(f.Raw, &w.ev, w.limits)
	}
	if err != nil {
		w.forwardBug(r, f, err)
		return nil
	}
	var id string
	if a := w.accounts[string(r.Key)]; a != nil {
		id = a.id // resident: its id without a copy of the key
	} else {
		id = string(r.Key)
	}
	if err := w.scoreRecord(id, r.Value, f.Pending, &w.ev, f.Source, f.IP, f.Tags); err != nil {
		return err
	}
	return w.heard(rows.Source{Topic: f.Source.Topic, Partition: f.Source.Partition}, f.Watermark, false)
}

// forwardBug handles a forwarded event the scoring worker cannot read. The
// input worker forwards only records that decoded, with a valid account,
// in a format this version reads, so this is a bug (or a record of an
// incompatible version): it is counted and logged once, and the original
// input record (bytes, key, headers, source) goes to the DLQ as
// invalid_forward; only when not even the envelope reads does the
// repartition record itself go.
func (w *worker) forwardBug(r *kgo.Record, f *forwarded, err error) {
	orig := r
	if len(f.Raw) > 0 {
		orig = f.original()
	}
	w.metrics.forwardBugs.WithLabelValues("event").Inc()
	w.dlq.bug("event", r, orig, err)
	w.deadLetter(orig, reasonInvalidForward, err.Error())
}

// rowWriter is what a worker writes rows to: every sink at once.
type rowWriter interface {
	Write(ctx context.Context, b *rows.Batch) error
}

func (w *worker) key() string { return w.topic + "/" + strconv.Itoa(int(w.partition)) }
