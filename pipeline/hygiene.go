package pipeline

import (
	"strconv"
	"strings"

	"github.com/cespare/xxhash/v2"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/leadscore/leadscore/features/hygiene"
	"github.com/leadscore/leadscore/internal/event"
	"github.com/leadscore/leadscore/internal/rows"
)

// Lead hygiene, in the input worker before identity: an identify (a lead's
// contact data) is checked (features/hygiene); a rejected one goes to the
// rejected topic and rejected_leads with every reason and is not linked,
// and the events of its person are not scored until an identify of that
// person passes; a suspicious one is kept and its tags travel with it to
// the contact.

// resultRejected is the records_total result of events of rejected leads.
const resultRejected = "rejected_lead"

// screen checks ev and reports whether it goes on to identity, with the
// suspicious tags of an identify.
func (w *worker) screen(r *kgo.Record, ev *event.Event) ([]string, bool) {
	if ev.Type != event.TypeIdentify {
		if w.isRejected(ev) {
			w.metrics.records.WithLabelValues(resultRejected).Inc()
			return nil, false
		}
		return nil, true
	}
	// Segment re-sends a person's traits with every identify: a person whose
	// contact data did not change since its last identify that passed keeps
	// that verdict, without parsing its phone again.
	key := traitsKey(ev)
	pk := ev.UserID
	if pk == "" {
		pk = ev.AnonymousID
	}
	if m, ok := w.passed[pk]; ok && m.key == key {
		return m.tags, true
	}
	in := hygiene.InputFromEvent(ev)
	v := &w.verdict
	w.checker.Check(&in, v)
	if v.Rejected {
		w.reject(r, ev, v)
		w.markRejected(ev, true)
		w.metrics.records.WithLabelValues(resultRejected).Inc()
		return nil, false
	}
	w.markRejected(ev, false)
	if w.sendLead != nil {
		// The lead goes to de-duplication once identity resolved its
		// account (ingest), where a merge finds its state.
		if id := leadID(ev); id != "" {
			w.lead = hygiene.Lead{ID: id, Source: r.Topic + "/" + strconv.Itoa(int(r.Partition)) + "/" + strconv.FormatInt(r.Offset, 10), Contact: v.Contact}
			w.lead.Owner, _ = ev.Trait("owner")
			w.hasLead = true
		}
	}
	var tags []string
	if len(v.Tags) > 0 {
		tags = make([]string, len(v.Tags))
		for i, t := range v.Tags {
			tags[i] = string(t)
		}
	}
	if pk != "" {
		if w.passed == nil || len(w.passed) >= maxPassed {
			w.passed = make(map[string]passedLead, 1024) // start over: a cache, not state
		}
		w.passed[strings.Clone(pk)] = passedLead{key: key, tags: tags} // not pinning the event's strings
	}
	return tags, true
}

// maxPassed bounds the remembered verdicts of an input worker.
const maxPassed = 100_000

// passedLead is the verdict of a person's last identify that passed.
type passedLead struct {
	key  uint64
	tags []string
}

// traitsKey hashes what hygiene reads of an identify.
func traitsKey(ev *event.Event) uint64 {
	t := &ev.Traits
	var d xxhash.Digest
	d.Reset()
	for _, s := range [...]string{t.Email, t.Phone, t.Name, t.Title, t.Wechat, t.Company.Name, t.Company.Domain, t.Company.Country, ev.Context.IP} {
		_, _ = d.WriteString(s)
		_, _ = d.WriteString("\x00")
	}
	return d.Sum64()
}

// personKeys are the identity keys of an event's person.
func personKeys(ev *event.Event) (keys [2]string) {
	if ev.UserID != "" {
		keys[0] = "u:" + ev.UserID
	}
	if ev.AnonymousID != "" {
		keys[1] = "a:" + ev.AnonymousID
	}
	return keys
}

func (w *worker) isRejected(ev *event.Event) bool {
	if len(w.rejected) == 0 {
		return false
	}
	for _, k := range personKeys(ev) {
		if k != "" && w.rejected[k] {
			return true
		}
	}
	return false
}

// markRejected records (or clears) the rejection of ev's person.
func (w *worker) markRejected(ev *event.Event, rejected bool) {
	for _, k := range personKeys(ev) {
		if k == "" || w.rejected[k] == rejected {
			continue
		}
		if w.rejected == nil {
			w.rejected = map[string]bool{}
			w.rejectedDirty = map[string]struct{}{}
		}
		if rejected {
			w.rejected[k] = true
		} else {
			delete(w.rejected, k)
		}
		w.rejectedDirty[k] = struct{}{}
	}
}

// reject writes the rejected lead's rows.
func (w *worker) reject(r *kgo.Record, ev *event.Event, v *hygiene.Verdict) {
	rl := rows.RejectedLead{
		At: ev.Time, UserID: ev.UserID, AnonymousID: ev.AnonymousID,
		Email: ev.Traits.Email, Phone: ev.Traits.Phone, Company: ev.Traits.Company.Name,
		Source: rows.Source{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset},
		Raw:    r.Value,
	}
	for _, f := range v.Findings {
		if f.Severity == hygiene.SeverityOff {
			continue
		}
		rl.Reasons = append(rl.Reasons, string(f.Code))
		rl.Fields = append(rl.Fields, f.Field)
		rl.Values = append(rl.Values, f.Value)
		rl.Details = append(rl.Details, f.Detail)
		if f.Severity == hygiene.SeverityReject {
			w.metrics.rejectedLeads.WithLabelValues(string(f.Code)).Inc()
		}
	}
	w.batch.Rejected = append(w.batch.Rejected, rl)
}

// jobChange emits a job_changed record when a known contact's identify
// names another company than the one it is linked to (free-mail on either
// side says nothing). The link then moves to the new company.
func (w *worker) jobChange(r *kgo.Record, ev *event.Event, account string) {
	old, ok := w.identity.Linked(ev)
	if !ok || old == account {
		return
	}
	if _, changed := w.checker.JobChange(old, account); !changed {
		return
	}
	w.batch.Contacts = append(w.batch.Contacts, rows.ContactChange{
		Kind: string(hygiene.CodeJobChanged), UserID: ev.UserID, AnonymousID: ev.AnonymousID,
		Email: ev.Traits.Email, From: old, To: account, At: ev.Time,
		Source: rows.Source{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset},
	})
	w.metrics.jobChanges.Inc()
}
