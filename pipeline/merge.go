package pipeline

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/segmentio/encoding/json"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/leadscore/leadscore/features"
	"github.com/leadscore/leadscore/features/hygiene"
	"github.com/leadscore/leadscore/internal/rows"
	"github.com/leadscore/leadscore/scorer"
)

// Acting on duplicates. The worker that finds a duplicate (leads.go) owns a
// blocking key, not the leads' state: that lives with each lead's account.
// So a decision travels, like events, through the repartition topic:
//
//  1. The finder sends a merge record keyed by the duplicate's account.
//  2. That account's worker retires the duplicate's contact: its state is
//     frozen (the row stays as it was, tagged merged; no more decay), later
//     events of the duplicate (its userId, its anonymous ids) count for the
//     survivor, and a "merged" notice with the owner to keep and the one to
//     notify goes to the contact-changes topic. When the survivor is in
//     the same account its engagement is folded in at once; otherwise a
//     fold record carries it, keyed by the survivor's account.
//  3. The survivor's worker folds the engagement into the survivor's
//     contact (scorer.Rules.Fold) and emits the change with cause merge.
//
// The duplicate's account worker is the single owner of its state, so a
// duplicate found twice (through two keys on two partitions) moves once:
// the second merge record finds the contact retired. A tag-only policy
// marks the contact (tag duplicate) and sends a "duplicate" notice. A
// survivor with no account (a consumer lead with only a free-mail address)
// has no state to fold into: the duplicate keeps its score and is tagged.

// Record headers of the decisions on the repartition topic.
const (
	headerMerge = "leadscore.merge"
	headerFold  = "leadscore.fold"
)

// Tags of merged and duplicate contacts' account_scores rows.
const (
	tagMerged    = "merged"
	tagDuplicate = "duplicate"
)

// Kinds of the contact-changes records de-duplication writes.
const (
	noticeMerged    = "merged"
	noticeDuplicate = "duplicate"
)

// mergeRecord is a de-duplication decision, sent to the duplicate's account.
type mergeRecord struct {
	Lead        string         `json:"lead"`
	Into        string         `json:"into"`
	IntoAccount string         `json:"into_account,omitempty"`
	Action      hygiene.Action `json:"action"`
	Policy      string         `json:"policy"`
	Rule        string         `json:"rule"`
	Owner       string         `json:"owner,omitempty"`
	NotifyOwner string         `json:"notify_owner,omitempty"`
	At          time.Time      `json:"at"`
	Source      rows.Source    `json:"source"`
}

// foldRecord carries a merged duplicate's engagement to its survivor's
// account.
type foldRecord struct {
	Into        string         `json:"into"`
	From        string         `json:"from"`
	FromAccount string         `json:"from_account"`
	State       scorer.State   `json:"state"`
	Hours       features.Hours `json:"hours"`
	Source      rows.Source    `json:"source"`
}

// controlHeader is the header naming a repartition record that is not an
// event (lead, merge, fold, heartbeat), or "".
func controlHeader(r *kgo.Record) string {
	if len(r.Headers) == 1 {
		return r.Headers[0].Key
	}
	return ""
}

// invalidControl dead-letters a lead, merge or fold record that does not
// decode: a bug (or a record of an incompatible version), counted and
// logged once as forwardBug does. Such a record is a decision, not an
// input record, so it is itself what the DLQ gets, with the repartition
// topic as its source.
func (w *worker) invalidControl(r *kgo.Record, detail string) {
	kind := strings.TrimPrefix(controlHeader(r), "leadscore.")
	w.metrics.forwardBugs.WithLabelValues(kind).Inc()
	w.dlq.bug(kind, r, nil, errors.New(detail))
	w.dlq.send(r, reasonInvalidForward, detail)
	w.metrics.deadLetters.WithLabelValues(reasonInvalidForward).Inc()
}

// sendControl produces a decision to the repartition topic keyed by key.
func (e *Engine) sendControl(key, header string, v []byte) {
	e.produce(&kgo.Record{Topic: e.cfg.Kafka.RepartitionTopic, Key: []byte(key), Value: v,
		Headers: []kgo.RecordHeader{{Key: header}}}, e.controlled)
}

// onControlled is the promise of the records sendControl produces.
func (e *Engine) onControlled(r *kgo.Record, err error) {
	if err != nil {
		e.dlq.fail(fmt.Errorf("produce %s record to repartition topic: %w", controlHeader(r), err))
	}
}

// actOn sends the decision on a duplicate to its account's worker, or,
// when the duplicate has no account (no state anywhere), only the notice.
func (w *worker) actOn(l *hygiene.Lead, m *hygiene.Merge, lr *leadRecord) {
	mr := mergeRecord{
		Lead: l.ID, Into: m.ExistingID, IntoAccount: m.ExistingAccount, Action: m.Action,
		Policy: m.Policy, Rule: m.Rule, Owner: m.Owner, NotifyOwner: m.NotifyOwner, At: lr.At, Source: lr.Source,
	}
	if l.Account == "" {
		w.batch.Contacts = append(w.batch.Contacts, mr.notice("", ""))
		return
	}
	v, err := json.Marshal(mr)
	if err != nil { // unreachable: plain fields
		w.dlq.fail(fmt.Errorf("encode merge record: %w", err))
		return
	}
	w.control(l.Account, headerMerge, v)
}

// notice is the contact-changes record of a decision on a duplicate in
// account from.
func (mr *mergeRecord) notice(kind, from string) rows.ContactChange {
	if kind == "" {
		kind = noticeMerged
		if mr.Action == hygiene.ActionTag {
			kind = noticeDuplicate
		}
	}
	return rows.ContactChange{
		Kind: kind, UserID: mr.Lead, From: from, To: mr.IntoAccount, Into: mr.Into,
		Policy: mr.Policy, Rule: mr.Rule, Owner: mr.Owner, NotifyOwner: mr.NotifyOwner,
		At: mr.At, Source: mr.Source,
	}
}

// applyMerge carries out a decision on a duplicate of this worker's
// account r.Key.
func (w *worker) applyMerge(r *kgo.Record) error {
	var mr mergeRecord
	if err := json.Unmarshal(r.Value, &mr); err != nil || mr.Lead == "" || mr.Into == "" {
		w.invalidControl(r, fmt.Sprintf("decode merge record: %v", err))
		return nil
	}
	id := string(r.Key)
	a, err := w.account(id)
	if err != nil {
		return err
	}
	if err := w.closeTail(id, a); err != nil {
		return err
	}
	c := a.Contacts[mr.Lead]
	if c != nil && c.MergedInto != "" {
		return nil // merged already, found through another key
	}
	if mr.Action == hygiene.ActionTag || mr.IntoAccount == "" {
		result := "tagged"
		if mr.Action != hygiene.ActionTag {
			result = "unmerged"
		}
		if c != nil && c.DuplicateOf == "" {
			c.DuplicateOf = mr.Into
			c.touch()
			a.dirty = true
		}
		w.batch.Contacts = append(w.batch.Contacts, mr.notice(noticeDuplicate, id))
		w.metrics.mergesApplied.WithLabelValues(result).Inc()
		return nil
	}
	if c == nil {
		// Nothing scored for it here (yet): remember the merge, so its
		// events count for the survivor.
		if c = w.contact(a, mr.Lead); c == nil {
			w.batch.Contacts = append(w.batch.Contacts, mr.notice("", id))
			return nil
		}
	}
	moved, hours := cloneState(&c.Score), c.Hours
	hours.Slots = slices.Clone(hours.Slots)
	c.MergedInto = mr.Into
	if mr.IntoAccount != id {
		c.IntoAccount = mr.IntoAccount
	}
	c.Due = time.Time{}
	c.touch()
	a.dirty = true
	w.batch.Contacts = append(w.batch.Contacts, mr.notice("", id))
	if mr.IntoAccount == id {
		w.foldInto(id, a, mr.Into, &moved, &hours, mr.Source)
		w.metrics.mergesApplied.WithLabelValues("merged").Inc()
	} else {
		v, err := json.Marshal(foldRecord{Into: mr.Into, From: mr.Lead, FromAccount: id, State: moved, Hours: hours, Source: mr.Source})
		if err != nil {
			return fmt.Errorf("encode fold record: %w", err)
		}
		w.control(mr.IntoAccount, headerFold, v)
		w.metrics.mergesApplied.WithLabelValues("moved").Inc()
	}
	w.schedule(id, a, nil, false)
	return nil
}

// applyFold folds a duplicate's engagement, sent from its account, into
// its survivor in this worker's account r.Key.
func (w *worker) applyFold(r *kgo.Record) error {
	var fr foldRecord
	if err := json.Unmarshal(r.Value, &fr); err != nil || fr.Into == "" {
		w.invalidControl(r, fmt.Sprintf("decode fold record: %v", err))
		return nil
	}
	id := string(r.Key)
	a, err := w.account(id)
	if err != nil {
		return err
	}
	if err := w.closeTail(id, a); err != nil {
		return err
	}
	w.foldInto(id, a, fr.Into, &fr.State, &fr.Hours, fr.Source)
	w.metrics.mergesApplied.WithLabelValues("folded").Inc()
	return nil
}

// foldInto adds a duplicate's engagement and touch hours to the contact
// into of account a (created when new), then evaluates and emits it with
// cause merge.
func (w *worker) foldInto(id string, a *account, into string, st *scorer.State, hours *features.Hours, src rows.Source) {
	if into = survivorOf(a, into); into == "" {
		return // the survivor itself went to another account since
	}
	at := st.AsOf
	if a.Score.AsOf.After(at) {
		at = a.Score.AsOf
	}
	w.fireDue(id, a, at)
	c := w.contact(a, into)
	if c == nil {
		return // the account is at max_contacts_per_account
	}
	stage := c.Score.Stage
	w.rules.Fold(&c.Score, st)
	c.Hours.Merge(hours)
	c.touch()
	a.dirty = true
	w.rules.EvaluateContact(&c.Score, &a.Score, &w.res)
	w.emit(id, into, a, &c.Score, &c.emitted, stage, &w.res, src, rows.CauseMerge)
	w.schedule(id, a, c, false)
}

// survivorOf follows merges within account a from contact id: the contact
// its events count for, or "" when it was merged into another account's.
func survivorOf(a *account, id string) string {
	for range 8 { // chains are short; the bound guards against a cycle
		c := a.Contacts[id]
		if c == nil || c.MergedInto == "" {
			return id
		}
		if c.IntoAccount != "" {
			return ""
		}
		id = c.MergedInto
	}
	return id
}

// cloneState copies s deep enough that folding the copy leaves s as it was.
func cloneState(s *scorer.State) scorer.State {
	c := *s
	c.Rules = slices.Clone(s.Rules)
	for i := range c.Rules {
		if h := c.Rules[i].RuleHist; h != nil {
			c.Rules[i].RuleHist = &scorer.RuleHist{Window: slices.Clone(h.Window), Times: slices.Clone(h.Times)}
		}
	}
	return c
}
