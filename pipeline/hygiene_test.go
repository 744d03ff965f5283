package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestRejectedLeads: identifies that fail hygiene go to rejected_leads and
// the rejected topic with their reasons and original bytes, and their
// person's events are not scored until a valid identify; a free-mail lead is
// kept and tagged; valid leads are unaffected.
func TestRejectedLeads(t *testing.T) {
	h := newHarness(t)
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	n := 0
	identify := func(anon, user, traits string, at time.Time) []byte {
		n++
		return fmt.Appendf(nil, `{"type":"identify","messageId":"h-%d","anonymousId":%q,"userId":%q,"timestamp":%q,"traits":{%s}}`,
			n, anon, user, at.Format(time.RFC3339), traits)
	}
	track := func(user, name string, at time.Time) []byte {
		n++
		return fmt.Appendf(nil, `{"type":"track","messageId":"h-%d","userId":%q,"event":%q,"timestamp":%q,"context":{"groupId":"acme.com"}}`,
			n, user, name, at.Format(time.RFC3339))
	}
	recs := [][]byte{
		identify("a-ok", "u-ok", `"email":"joe@acme.com","title":"CTO"`, t0),
		identify("a-free", "u-free", `"email":"jane.doe@gmail.com","company":{"domain":"acme.com"}`, t0),
		identify("a-bad", "u-bad", `"email":"x@mailinator.com","company":{"domain":"acme.com"}`, t0),
		identify("a-fake", "u-fake", `"email":"li@acme.com","phone":"13800138000"`, t0),
		track("u-ok", "Email Replied", t0.Add(time.Minute)),
		track("u-bad", "Email Replied", t0.Add(time.Minute)),  // not scored: rejected lead
		track("u-fake", "Email Replied", t0.Add(time.Minute)), // not scored
		track("u-free", "Email Replied", t0.Add(time.Minute)),
		identify("a-bad", "u-bad", `"email":"max@acme.com"`, t0.Add(time.Hour)), // fixed: scored from now on
		track("u-bad", "Chat Started", t0.Add(2*time.Hour)),
	}
	rejected := map[int]string{2: "email_disposable", 3: "phone_fake"} // record index -> reason
	stop := h.runEngine()
	cl, err := kgo.NewClient(kgo.SeedBrokers(h.cfg.Kafka.Brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	require.NoError(t, err)
	for _, v := range recs {
		require.NoError(t, cl.ProduceSync(context.Background(), &kgo.Record{Topic: h.cfg.Kafka.Topics[0], Partition: 1, Value: v}).FirstErr())
	}
	cl.Close()
	h.waitCaughtUp()
	require.Equal(t, 4.0, h.metricLabelled("leadscore_pipeline_records_total", "result", "rejected_lead"), "2 identifies, 2 events")
	require.Equal(t, 1.0, h.metricLabelled("leadscore_pipeline_rejected_leads_total", "reason", "email_disposable"))
	require.Equal(t, 1.0, h.metricLabelled("leadscore_pipeline_rejected_leads_total", "reason", "phone_fake"))
	require.NoError(t, stop())
	ctx := context.Background()

	// rejected_leads: both, with their reasons.
	rows, err := h.conn.Query(ctx, `SELECT source_offset, user_id, reasons, fields FROM rejected_leads FINAL ORDER BY source_offset`)
	require.NoError(t, err)
	got := map[int64][]string{}
	for rows.Next() {
		var off int64
		var user string
		var reasons, fields []string
		require.NoError(t, rows.Scan(&off, &user, &reasons, &fields))
		require.Len(t, fields, len(reasons))
		got[off] = reasons
	}
	require.NoError(t, rows.Err())
	require.Len(t, got, len(rejected))
	for i, reason := range rejected {
		require.Contains(t, got[int64(i)], reason, "record %d", i)
	}

	// The rejected topic: the original record and the reasons.
	recsOut := h.consumeAll(h.cfg.Kafka.RejectedTopic)
	require.Len(t, recsOut, len(rejected))
	for _, r := range recsOut {
		var v struct {
			UserID  string `json:"user_id"`
			Reasons []struct {
				Code string `json:"code"`
			} `json:"reasons"`
			Source struct {
				Offset int64 `json:"offset"`
			} `json:"source"`
			Event json.RawMessage `json:"event"`
		}
		require.NoError(t, json.Unmarshal(r.Value, &v))
		require.Equal(t, v.UserID, string(r.Key))
		require.JSONEq(t, string(recs[v.Source.Offset]), string(v.Event), "the original record")
		var codes []string
		for _, rr := range v.Reasons {
			codes = append(codes, rr.Code)
		}
		require.Contains(t, codes, rejected[int(v.Source.Offset)])
	}

	// Scores: the valid leads and the fixed one are contacts of acme.com;
	// the rejected lead's reply never counted, its chat after the fix did.
	rows, err = h.conn.Query(ctx, `SELECT contact_id, engagement, tags FROM account_scores FINAL WHERE account_id = 'acme.com' AND contact_id != ''`)
	require.NoError(t, err)
	eng, tags := map[string]float64{}, map[string][]string{}
	for rows.Next() {
		var cid string
		var e float64
		var tg []string
		require.NoError(t, rows.Scan(&cid, &e, &tg))
		eng[cid], tags[cid] = e, tg
	}
	require.NoError(t, rows.Err())
	ids := make([]string, 0, len(eng))
	for id := range eng {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	require.Equal(t, []string{"u-bad", "u-free", "u-ok"}, ids, "the fake-phone lead is no contact")
	require.InDelta(t, 25, eng["u-ok"], 1e-9)
	require.InDelta(t, 25, eng["u-free"], 1e-9)
	require.InDelta(t, 15, eng["u-bad"], 1e-9, "only the chat after the valid identify")
	require.Equal(t, []string{"email_freemail"}, tags["u-free"])
	require.Empty(t, tags["u-ok"])
	x, err := explain(ctx, h.conn, "acme.com", "u-free", 3)
	require.NoError(t, err)
	require.Equal(t, []string{"email_freemail"}, x.Tags, "a rep sees why the lead is suspicious")
	var acct float64
	require.NoError(t, h.conn.QueryRow(ctx, `SELECT engagement FROM account_scores FINAL WHERE account_id = 'acme.com' AND contact_id = ''`).Scan(&acct))
	// Two replies at +1m decayed to the chat at +2h, and the chat.
	require.InDelta(t, 50*math.Pow(0.5, float64(119*time.Minute)/float64(14*24*time.Hour))+15, acct, 1e-9)
}

// TestJobChanged: a known contact whose identify names another company
// emits job_changed on the contact-changes topic; a switch to free-mail
// says nothing about the company and emits nothing.
func TestJobChanged(t *testing.T) {
	h := newHarness(t)
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	n := 0
	identify := func(user, email string, at time.Time) []byte {
		n++
		return fmt.Appendf(nil, `{"type":"identify","messageId":"j-%d","anonymousId":"a-%s","userId":%q,"timestamp":%q,"traits":{"email":%q}}`,
			n, user, user, at.Format(time.RFC3339), email)
	}
	recs := [][]byte{
		identify("u1", "joe@acme.com", t0),
		identify("u2", "ann@acme.com", t0),
		identify("u1", "joe@globex.com", t0.Add(24*time.Hour)),
		identify("u2", "ann.private@gmail.com", t0.Add(24*time.Hour)),
		identify("u1", "joe@globex.com", t0.Add(48*time.Hour)), // the same company again
	}
	stop := h.runEngine()
	cl, err := kgo.NewClient(kgo.SeedBrokers(h.cfg.Kafka.Brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	require.NoError(t, err)
	for _, v := range recs {
		require.NoError(t, cl.ProduceSync(context.Background(), &kgo.Record{Topic: h.cfg.Kafka.Topics[0], Partition: 2, Value: v}).FirstErr())
	}
	cl.Close()
	h.waitCaughtUp()
	require.NoError(t, stop())

	out := h.consumeAll(h.cfg.Kafka.ContactChangesTopic)
	require.Len(t, out, 1)
	var v struct {
		Kind, UserID, From, To string
		At                     time.Time
	}
	require.NoError(t, json.Unmarshal(out[0].Value, &v))
	require.Equal(t, "u1", string(out[0].Key))
	require.Equal(t, "job_changed", v.Kind)
	require.Equal(t, "acme.com", v.From)
	require.Equal(t, "globex.com", v.To)
	require.True(t, t0.Add(24*time.Hour).Equal(v.At))

	// The contact is scored at its new company from then on.
	var accounts []string
	rows, err := h.conn.Query(context.Background(), `SELECT account_id FROM account_scores FINAL WHERE contact_id = 'u1' ORDER BY account_id`)
	require.NoError(t, err)
	for rows.Next() {
		var a string
		require.NoError(t, rows.Scan(&a))
		accounts = append(accounts, a)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []string{"acme.com", "globex.com"}, accounts, "a contact row at each company it was seen at")
}

// TestLeadDuplicates: duplicates of a lead arriving on other input
// partitions, and after a restart, are found and recorded in lead_merges
// with the policy and rule that matched; distinct leads are not.
func TestLeadDuplicates(t *testing.T) {
	h := newHarness(t)
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	n := 0
	identify := func(user, traits string, at time.Time) []byte {
		n++
		return fmt.Appendf(nil, `{"type":"identify","messageId":"d-%d","userId":%q,"timestamp":%q,"traits":{%s}}`,
			n, user, at.Format(time.RFC3339), traits)
	}
	produce := func(part int32, vals ...[]byte) {
		cl, err := kgo.NewClient(kgo.SeedBrokers(h.cfg.Kafka.Brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
		require.NoError(t, err)
		defer cl.Close()
		for _, v := range vals {
			require.NoError(t, cl.ProduceSync(context.Background(), &kgo.Record{Topic: h.cfg.Kafka.Topics[0], Partition: part, Value: v}).FirstErr())
		}
	}
	stop := h.runEngine()
	produce(0, identify("u-a", `"email":"jane@acme.com"`, t0), identify("u-c", `"email":"li@globex.com","phone":"13901082237"`, t0))
	// The lead seen first survives; let the first two be seen first.
	h.waitCaughtUp()
	produce(3, identify("u-b", `"email":"Jane@ACME.com"`, t0.Add(time.Hour)), // the same e-mail, another partition
		identify("u-d", `"email":"wei@initech.com","phone":"+86 139 0108 2237"`, t0.Add(time.Hour)), // the same phone
		identify("u-x", `"email":"bob@acme.com"`, t0.Add(time.Hour)))                                // a colleague: no duplicate
	h.waitCaughtUp()
	require.NoError(t, stop())

	// After a restart the index comes back from the changelog.
	stop = h.runEngine()
	produce(2, identify("u-e", `"email":"jane+promo@acme.com"`, t0.Add(48*time.Hour)))
	h.waitCaughtUp()
	require.NoError(t, stop())

	rows, err := h.conn.Query(context.Background(), `SELECT lead_id, existing_id, policy, kind, rule, action FROM lead_merges FINAL ORDER BY lead_id`)
	require.NoError(t, err)
	var got []string
	for rows.Next() {
		var lead, existing, policy, kind, rule, action string
		require.NoError(t, rows.Scan(&lead, &existing, &policy, &kind, &rule, &action))
		got = append(got, fmt.Sprintf("%s->%s %s %s %s", lead, existing, policy, rule, action))
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []string{
		"u-b->u-a email email=jane@acme.com merge",
		"u-d->u-c phone phone=+8613901082237 merge",
		"u-e->u-a email email=jane@acme.com merge",
	}, got)
}
