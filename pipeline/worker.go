package pipeline

import (
	"context"
	"errors"
	"strconv"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/leadscore/leadscore/features"
	"github.com/leadscore/leadscore/internal/event"
	"github.com/leadscore/leadscore/internal/rows"
	"github.com/leadscore/leadscore/internal/statestore"
	"github.com/leadscore/leadscore/scorer"
)

// account is one account's state in a partition worker.
type account struct {
	Score scorer.State `json:"score"`
	// Version counts the events applied; account_scores keeps the row with
	// the highest, and a replay reproduces the same version with the same
	// content.
	Version uint64 `json:"version"`
	// FirstTouch is the first UTM campaign seen for the account.
	FirstTouch event.Campaign `json:"first_touch"`
	// The last emitted score change, for previous_* and min_delta.
	Emitted   bool         `json:"emitted"`
	LastScore float64      `json:"last_score"`
	LastLabel string       `json:"last_label"`
	LastStage scorer.Stage `json:"last_stage"`
	// EnteredFunnel: the first funnel transition ("" -> first stage) is written.
	EnteredFunnel bool `json:"entered_funnel"`

	dirty bool  // changed since the last account_scores row was written
	used  int64 // when last seen (unix nanoseconds), for eviction
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
	forward func(account string, pending []features.Pending, r *kgo.Record) error

	rules    *scorer.Rules
	limits   event.Limits
	accounts map[string]*account
	spill    *statestore.Namespace // evicted accounts; nil: no store
	links    *statestore.Namespace // evicted person links; nil: no store
	visitors *statestore.Namespace // evicted pending events; nil: no store
	store    *statestore.Store
	storeErr error // a failed store read, seen by process
	now      int64 // start of the batch being processed
	identity *features.Identity
	dedup    *features.Dedup

	dlq     *deadLetters
	metrics *metrics

	// scratch, reused per record
	ev    event.Event
	res   scorer.Result
	batch rows.Batch
}

func newWorker(e *Engine, topic string, partition int32) *worker {
	ec := e.cfg.Engine
	w := &worker{
		topic:     topic,
		partition: partition,
		rekeyed:   topic == e.cfg.repartitionTopic(),
		forward:   e.forward,
		rules:     e.rules,
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
	}
	if w.links != nil {
		w.identity.SetSpill(identitySpill{w})
	}
	return w
}

// process applies a partition's records in offset order and hands the rows
// they produce to the sinks.
func (w *worker) process(ctx context.Context, recs []*kgo.Record, out rowWriter) error {
	w.batch.Reset()
	w.now = nowNano()
	for _, r := range recs {
		if r.Attrs.IsControl() {
			continue // a transaction marker
		}
		if w.rekeyed {
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
	if w.batch.Len() == 0 {
		return nil
	}
	return out.Write(ctx, &w.batch)
}

// Results a record can have, the label of leadscore_pipeline_records_total.
const (
	resultScored     = "scored"
	resultParked     = "parked"
	resultIgnored    = "ignored"
	resultDuplicate  = "duplicate"
	resultDeadLetter = "dead_letter"
	resultForwarded  = "forwarded"
)

// ingest runs one input record through decode, de-duplication and identity.
// A record resolved to an account is forwarded, with the anonymous events its
// link released, to the repartition topic keyed by the account, where the
// account's worker scores it.
func (w *worker) ingest(r *kgo.Record) {
	ev := &w.ev
	if err := event.Decode(r.Value, ev, w.limits); err != nil {
		var de *event.DecodeError
		reason := "invalid_record"
		if errors.As(err, &de) {
			reason = string(de.Reason)
		}
		w.dlq.send(r, reason, err.Error())
		w.metrics.records.WithLabelValues(resultDeadLetter).Inc()
		w.metrics.deadLetters.WithLabelValues(reason).Inc()
		return
	}
	if ev.MessageID != "" && w.dedup.Seen(ev.MessageID) {
		w.metrics.records.WithLabelValues(resultDuplicate).Inc()
		return
	}
	id, method := w.identity.Resolve(ev)
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
	if err := w.forward(id, pending, r); err != nil {
		// Unreachable for records that decoded; kept as a dead letter so
		// nothing disappears.
		w.dlq.send(r, "forward_failed", err.Error())
		w.metrics.records.WithLabelValues(resultDeadLetter).Inc()
		w.metrics.deadLetters.WithLabelValues("forward_failed").Inc()
		return
	}
	w.metrics.records.WithLabelValues(resultForwarded).Inc()
}

// score applies a forwarded event to its account: the released anonymous
// events first, then the event itself, then one evaluation.
func (w *worker) score(r *kgo.Record) error {
	f, err := decodeForward(r)
	if err == nil {
		err = event.Decode(f.Raw, &w.ev, w.limits)
	}
	if err != nil {
		w.dlq.send(r, "invalid_forward", err.Error())
		w.metrics.records.WithLabelValues(resultDeadLetter).Inc()
		w.metrics.deadLetters.WithLabelValues("invalid_forward").Inc()
		return nil
	}
	return w.scoreEvent(string(r.Key), f.Pending, &w.ev, f.Source)
}

func (w *worker) scoreEvent(id string, pending []features.Pending, ev *event.Event, src rows.Source) error {
	a, err := w.account(id)
	if err != nil {
		return err
	}
	stageBefore := a.Score.Stage
	for i := range pending {
		var pev event.Event
		pending[i].Restore(&pev)
		w.observe(a, &pev)
	}
	w.observe(a, ev)
	if ev.Type == event.TypeGroup {
		mergeFirmographics(&a.Score.Firm, &ev.Traits)
	}
	if ev.UserID != "" || (ev.Type == event.TypeIdentify && ev.Traits.Email != "") {
		a.Score.Known = true
	}
	a.Version++
	a.dirty = true

	w.rules.Evaluate(&a.Score, &w.res)
	res := &w.res
	if !a.EnteredFunnel || res.Stage != stageBefore {
		from := stageBefore.String()
		if !a.EnteredFunnel {
			from = ""
			a.EnteredFunnel = true
		}
		w.batch.Transitions = append(w.batch.Transitions, rows.FunnelTransition{
			AccountID: id, FromStage: from, ToStage: res.Stage.String(), At: a.Score.AsOf,
			Source: a.FirstTouch.Source, Medium: a.FirstTouch.Medium, Campaign: a.FirstTouch.Name,
			RecordSource: src,
		})
	}
	prev := scorer.Result{Score: a.LastScore, Label: a.LastLabel, Stage: a.LastStage}
	if w.rules.ShouldEmit(&prev, a.Emitted, res) {
		prevStage := ""
		if a.Emitted {
			prevStage = a.LastStage.String()
		}
		w.batch.Changes = append(w.batch.Changes, rows.ScoreChange{
			AccountID: id, Score: res.Score, Fit: res.Fit, Engagement: res.Engagement,
			Grade: res.Grade, Level: res.Level, Label: res.Label, Stage: res.Stage.String(),
			PreviousLabel: a.LastLabel, PreviousStage: prevStage, PreviousScore: a.LastScore,
			Reasons:      append([]rows.Reason(nil), res.Reasons...),
			RulesVersion: w.rules.Version, AsOf: a.Score.AsOf, Source: src,
		})
		a.Emitted, a.LastScore, a.LastLabel, a.LastStage = true, res.Score, res.Label, res.Stage
		w.metrics.changes.Inc()
	}
	w.metrics.records.WithLabelValues(resultScored).Inc()
	return nil
}

// observe applies one event to the account's scoring state and channel.
func (w *worker) observe(a *account, ev *event.Event) {
	w.rules.Observe(&a.Score, ev)
	if a.FirstTouch == (event.Campaign{}) {
		c := ev.Context.Campaign
		if c.Source != "" || c.Medium != "" || c.Name != "" {
			a.FirstTouch = c
		}
	}
}

// mergeFirmographics upserts a group call's traits into the account's
// firmographics: traits present in the call replace, absent ones stay, as
// Segment merges traits.
func mergeFirmographics(f *scorer.Firmographics, t *event.Traits) {
	if t.Industry != "" {
		f.Industry = t.Industry
	}
	if t.HasEmployees {
		f.Employees, f.HasEmployees = t.Employees, true
	}
	if t.Country != "" {
		f.Country = t.Country
	}
	if t.Technologies != nil {
		f.Technologies = append(f.Technologies[:0:0], t.Technologies...)
	}
}

// scoreRows appends an account_scores row for every account changed since
// the last call, marks them clean and returns their ids.
func (w *worker) scoreRows(b *rows.Batch) []string {
	var changed []string
	for id, a := range w.accounts {
		if !a.dirty {
			continue
		}
		w.rules.Evaluate(&a.Score, &w.res)
		res := &w.res
		b.Scores = append(b.Scores, rows.AccountScore{
			AccountID: id, Score: res.Score, Fit: res.Fit, Engagement: res.Engagement,
			Grade: res.Grade, Level: res.Level, Label: res.Label, Stage: res.Stage.String(),
			Reasons:      append([]rows.Reason(nil), res.Reasons...),
			RulesVersion: w.rules.Version, AsOf: a.Score.AsOf, Version: a.Version,
		})
		a.dirty = false
		changed = append(changed, id)
	}
	return changed
}

// rowWriter is what a worker writes rows to: every sink at once.
type rowWriter interface {
	Write(ctx context.Context, b *rows.Batch) error
}

func (w *worker) key() string { return w.topic + "/" + strconv.Itoa(int(w.partition)) }
