package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/leadscore/leadscore/features/hygiene"
)

// TestLeadMergesApplied: a duplicate lead found on another input partition
// is merged into the lead seen first. Its engagement moves to the survivor
// (in the same account at once, in another account through a fold record),
// its row stays, tagged merged, its later events count for the survivor
// (for its own account only when the survivor is in another), a notice
// names the owner to keep and the one to notify, and finding the same
// duplicate again after a restart moves nothing twice. A tag-only policy
// moves nothing and tags the duplicate.
//
// The oracle is the decay formula: an e-mail reply is worth 25 points
// (example rules), halving every 14 days of event time, uncapped.
func TestLeadMergesApplied(t *testing.T) {
	h := newHarness(t)
	// The phone policy reassigns and notifies the previous owner.
	pol := h.cfg.Hygiene.Dedup.Policies
	require.Equal(t, hygiene.KindPhone, pol[0].Kind)
	pol[0].Action, pol[0].Notify = "reassign", true
	// The e-mail policy only tags.
	require.Equal(t, hygiene.KindEmail, pol[1].Kind)
	pol[1].Action = "tag"

	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	n := 0
	identify := func(user, traits string, at time.Time) []byte {
		n++
		return fmt.Appendf(nil, `{"type":"identify","messageId":"m-%d","userId":%q,"timestamp":%q,"traits":{%s}}`,
			n, user, at.Format(time.RFC3339), traits)
	}
	reply := func(user string, at time.Time) []byte {
		n++
		return fmt.Appendf(nil, `{"type":"track","messageId":"m-%d","userId":%q,"event":"Email Replied","timestamp":%q}`,
			n, user, at.Format(time.RFC3339))
	}
	produce := func(part int32, vals ...[]byte) []int64 {
		cl, err := kgo.NewClient(kgo.SeedBrokers(h.cfg.Kafka.Brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
		require.NoError(t, err)
		defer cl.Close()
		var offs []int64
		for _, v := range vals {
			r, err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: h.cfg.Kafka.Topics[0], Partition: part, Value: v}).First()
			require.NoError(t, err)
			offs = append(offs, r.Offset)
		}
		return offs
	}
	m := time.Minute
	stop := h.runEngine()
	// The survivors, first: u-a at acme.com, u-c at globex.com.
	produce(0,
		identify("u-a", `"email":"a@acme.com","phone":"13901082237","owner":"rep-1","title":"CTO"`, t0),
		reply("u-a", t0.Add(m)),
		identify("u-c", `"email":"c@globex.com","phone":"13988107321","owner":"rep-3"`, t0),
		identify("u-f", `"email":"f@initech.com"`, t0))
	h.waitCaughtUp()
	// Their duplicates, on another partition: a reply before the identify
	// waits for it (an unknown person) and is scored with it, before the
	// decision, so it is what the merge moves.
	offs := produce(3,
		reply("u-b", t0.Add(30*m)),
		identify("u-b", `"email":"b@acme.com","phone":"+86 139 0108 2237","owner":"rep-2"`, t0.Add(60*m)),
		reply("u-d", t0.Add(30*m)),
		identify("u-d", `"email":"d@initech.com","phone":"+86 139 8810 7321"`, t0.Add(60*m)),
		identify("u-g", `"email":"F@initech.com"`, t0.Add(60*m)))
	h.waitCaughtUp()
	// After the merge: u-b's reply counts for u-a; u-d's for initech.com
	// only.
	produce(3, reply("u-b", t0.Add(180*m)), reply("u-d", t0.Add(180*m)))
	h.waitCaughtUp()
	require.Equal(t, 1.0, h.metricLabelled("leadscore_pipeline_lead_merges_applied_total", "result", "merged"))
	require.Equal(t, 1.0, h.metricLabelled("leadscore_pipeline_lead_merges_applied_total", "result", "moved"))
	require.Equal(t, 1.0, h.metricLabelled("leadscore_pipeline_lead_merges_applied_total", "result", "folded"))
	require.Equal(t, 1.0, h.metricLabelled("leadscore_pipeline_lead_merges_applied_total", "result", "tagged"))
	require.NoError(t, stop())

	// After a restart u-b is found again (the same phone): nothing moves
	// twice, and its identify counts for u-a.
	stop = h.runEngine()
	produce(3, identify("u-b", `"email":"b@acme.com","phone":"+86 139 0108 2237","owner":"rep-2"`, t0.Add(240*m)))
	h.waitCaughtUp()
	require.Zero(t, h.metricLabelled("leadscore_pipeline_lead_merges_applied_total", "result", "merged"))
	require.NoError(t, stop())

	d := func(age time.Duration) float64 { return 25 * math.Pow(0.5, float64(age)/float64(14*24*time.Hour)) }
	ctx := context.Background()
	type row struct {
		engagement float64
		tags       []string
		asOf       time.Time
	}
	get := func(account, contact string) row {
		var r row
		require.NoError(t, h.conn.QueryRow(ctx, `SELECT engagement, tags, as_of FROM account_scores FINAL WHERE account_id = ? AND contact_id = ?`,
			account, contact).Scan(&r.engagement, &r.tags, &r.asOf))
		return r
	}
	at4h := t0.Add(240 * m)
	// u-a: its reply, u-b's folded reply and u-b's reply after the merge,
	// as of u-b's last identify.
	a := get("acme.com", "u-a")
	require.True(t, at4h.Equal(a.asOf), "as of %v", a.asOf)
	require.InDelta(t, d(at4h.Sub(t0.Add(m)))+d(at4h.Sub(t0.Add(30*m)))+d(at4h.Sub(t0.Add(180*m))), a.engagement, 1e-9)
	require.NotContains(t, a.tags, tagMerged)
	// u-b: frozen as merged, with what it had then.
	b := get("acme.com", "u-b")
	require.Equal(t, []string{tagMerged}, b.tags)
	require.InDelta(t, d(30*m), b.engagement, 1e-9)
	// The account is the sum of its people's events whatever the merges.
	acct := get("acme.com", "")
	require.InDelta(t, a.engagement, acct.engagement, 1e-9)

	// u-c, in another account, got u-d's reply as of u-d's identify.
	c := get("globex.com", "u-c")
	require.InDelta(t, d(30*m), c.engagement, 1e-9)
	require.True(t, t0.Add(60*m).Equal(c.asOf))
	dd := get("initech.com", "u-d")
	require.Equal(t, []string{tagMerged}, dd.tags)
	require.InDelta(t, d(30*m), dd.engagement, 1e-9)
	require.Equal(t, []string{tagDuplicate}, get("initech.com", "u-g").tags)
	require.Empty(t, get("initech.com", "u-f").tags)
	ini := get("initech.com", "")
	require.InDelta(t, d(150*m)+d(0), ini.engagement, 1e-9)

	// The notices: the owner to keep and the one to notify.
	type notice struct {
		Kind        string `json:"kind"`
		UserID      string `json:"user_id"`
		Into        string `json:"into"`
		From        string `json:"from"`
		To          string `json:"to"`
		Policy      string `json:"policy"`
		Rule        string `json:"rule"`
		Owner       string `json:"owner"`
		NotifyOwner string `json:"notify_owner"`
	}
	var notices []notice
	for _, r := range h.consumeAll(h.cfg.Kafka.ContactChangesTopic) {
		var v notice
		require.NoError(t, json.Unmarshal(r.Value, &v))
		require.Equal(t, v.UserID, string(r.Key))
		notices = append(notices, v)
	}
	slices.SortFunc(notices, func(x, y notice) int { return strings.Compare(x.UserID, y.UserID) })
	require.Equal(t, []notice{
		{Kind: "merged", UserID: "u-b", Into: "u-a", From: "acme.com", To: "acme.com", Policy: "phone", Rule: "phone=+8613901082237", Owner: "rep-2", NotifyOwner: "rep-1"},
		{Kind: "merged", UserID: "u-d", Into: "u-c", From: "initech.com", To: "globex.com", Policy: "phone", Rule: "phone=+8613988107321", Owner: "rep-3"},
		{Kind: "duplicate", UserID: "u-g", Into: "u-f", From: "initech.com", To: "initech.com", Policy: "email", Rule: "email=f@initech.com"},
	}, notices)

	// The survivors' score changes with cause merge name the duplicate's
	// identify as their source.
	var merges []string
	for _, r := range h.consumeAll(h.cfg.Kafka.ScoreChangesTopic) {
		var v struct {
			AccountID string `json:"account_id"`
			ContactID string `json:"contact_id"`
			Cause     string `json:"cause"`
			Source    struct {
				Partition int32 `json:"partition"`
				Offset    int64 `json:"offset"`
			} `json:"source"`
		}
		require.NoError(t, json.Unmarshal(r.Value, &v))
		if v.Cause == "merge" {
			merges = append(merges, fmt.Sprintf("%s/%s p%d@%d", v.AccountID, v.ContactID, v.Source.Partition, v.Source.Offset))
		}
	}
	slices.Sort(merges)
	require.Equal(t, []string{
		fmt.Sprintf("acme.com/u-a p3@%d", offs[1]),
		fmt.Sprintf("globex.com/u-c p3@%d", offs[3]),
	}, merges)
}
