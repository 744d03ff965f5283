package pipeline

import (
	"fmt"
	"slices"
	"time"

	"github.com/segmentio/encoding/json"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/leadscore/leadscore/features/hygiene"
	"github.com/leadscore/leadscore/internal/rows"
)

// Lead de-duplication across partitions. Duplicates of one lead arrive on
// any input partition, so an input worker sends each lead that passed
// hygiene through the repartition topic once per scoring partition that
// owns one of its blocking keys (hygiene.Checker.Keys: the normalised
// phone, e-mail, WeChat id and company core), keyed "lead|<key>". The
// scoring worker of that partition keeps a hygiene.DedupIndex of the leads
// whose keys it owns, in its changelog ("l:" keys), so duplicates meet in
// one place across partitions and restarts. Each match is a lead_merges
// row with the policy and rule that matched and the action to take; the
// same pair found through two keys on two partitions is one row after
// FINAL.

// headerLead marks a lead record on the repartition topic.
const headerLead = "leadscore.lead"

// leadRecord is a lead record's value.
type leadRecord struct {
	Lead   hygiene.Lead `json:"lead"`
	At     time.Time    `json:"at"`
	Source rows.Source  `json:"source"`
}

// leadParts finds the repartition partition that owns a blocking key:
// where the producer's key partitioner sends the record keyed
// "lead|<key>". A partitioner is not safe for concurrent use, so each
// worker has its own; the record and its key are scratch, reused.
type leadParts struct {
	p    kgo.TopicPartitioner
	rec  kgo.Record
	n    int
	sent []int32 // sendLead's scratch: the partitions sent to
}

// newLeadParts returns the partitioner of n repartition partitions.
func newLeadParts(n int) *leadParts {
	return &leadParts{p: kgo.StickyKeyPartitioner(nil).ForTopic(""), n: n}
}

// of returns the partition that owns key.
func (lp *leadParts) of(key string) int32 {
	lp.rec.Key = append(append(lp.rec.Key[:0], "lead|"...), key...)
	return int32(lp.p.Partition(&lp.rec, lp.n))
}

// sendLead forwards a lead that passed hygiene to the scoring partitions
// owning its keys, once per partition; parts is the calling worker's.
func (e *Engine) sendLead(l hygiene.Lead, at time.Time, r *kgo.Record, parts *leadParts) error {
	keys := e.checker.Keys(&l)
	if len(keys) == 0 {
		return nil
	}
	v, err := json.Marshal(leadRecord{Lead: l, At: at, Source: rows.Source{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset}})
	if err != nil {
		return fmt.Errorf("encode lead: %w", err)
	}
	parts.sent = parts.sent[:0]
	for _, k := range keys {
		p := parts.of(k)
		if slices.Contains(parts.sent, p) {
			continue
		}
		parts.sent = append(parts.sent, p)
		e.sendControl("lead|"+k, headerLead, v)
	}
	return nil
}

// leadIndex is the scoring worker's de-duplication index, made on first use.
func (w *worker) leadIndex() *hygiene.DedupIndex {
	if w.leads == nil {
		p, parts := w.partition, newLeadParts(w.repartitions)
		w.leads = w.checker.NewDedupIndex(func(k string) bool { return parts.of(k) == p })
	}
	return w.leads
}

// dedupLead matches a lead record against the leads this partition owns,
// writes a lead_merges row for a duplicate, and remembers the lead.
func (w *worker) dedupLead(r *kgo.Record) {
	var lr leadRecord
	if err := json.Unmarshal(r.Value, &lr); err != nil || w.checker == nil {
		w.invalidControl(r, fmt.Sprintf("decode lead record: %v", err))
		return
	}
	x := w.leadIndex()
	l := lr.Lead
	if m, ok := x.Match(&l, lr.At); ok {
		w.batch.Merges = append(w.batch.Merges, rows.LeadMerge{
			At: lr.At, LeadID: m.LeadID, ExistingID: m.ExistingID, MatchedID: m.MatchedID,
			Policy: m.Policy, Kind: m.Kind, Rule: m.Rule, Score: m.Score, Action: m.Action.String(),
			Owner: m.Owner, NotifyOwner: m.NotifyOwner, LeadSource: m.Source, ExistingAt: m.ExistingAt,
			Source: lr.Source,
		})
		w.metrics.leadMerges.WithLabelValues(m.Kind).Inc()
		w.actOn(&l, &m, &lr)
		if m.Action == hygiene.ActionMerge || m.Action == hygiene.ActionReassign {
			l.MergedInto, l.IntoAccount = m.ExistingID, m.ExistingAccount
		}
	}
	x.Add(l, lr.At)
}
