package pipeline

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

// asnDir is the public ASN dataset (scripts/fetch-asn.sh, run by make).
func asnDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("LEADSCORE_ASN_DIR")
	if dir == "" {
		dir = filepath.Join("..", ".local", "ipdb", "asn")
	}
	if _, err := os.Stat(filepath.Join(dir, "asn-ipv4.csv")); err != nil {
		t.Fatalf("public ASN dataset missing (%v): run scripts/fetch-asn.sh from the repository root", err)
	}
	return dir
}

// TestVisitorCompanies runs anonymous page views from known addresses
// through the engine with the public ASN ranges and an override file:
// visitors from Apple's network and from an overridden range score under
// their company, with visitor_companies rows; visitors from an ISP, a cloud
// and a private address stay anonymous; ip_matches counts every lookup.
func TestVisitorCompanies(t *testing.T) {
	h := newHarness(t)
	dir := asnDir(t)
	overrides := filepath.Join(t.TempDir(), "overrides.csv")
	require.NoError(t, os.WriteFile(overrides, []byte("# our customer's office\n203.0.113.0/24,acme.com,acme.com\n"), 0o644))
	h.cfg.IPMatch.CSV = []string{filepath.Join(dir, "asn-ipv4.csv"), filepath.Join(dir, "asn-ipv6.csv")}
	h.cfg.IPMatch.Overrides = overrides

	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	n := 0
	page := func(anon, ip, path string, at time.Time) []byte {
		n++
		return fmt.Appendf(nil, `{"type":"page","messageId":"v-%d","anonymousId":%q,"timestamp":%q,"context":{"ip":%q,"page":{"path":%q}}}`,
			n, anon, at.Format(time.RFC3339), ip, path)
	}
	recs := [][]byte{
		page("v-apple", "17.0.0.1", "/pricing", t0),
		page("v-apple", "17.0.0.1", "/docs", t0.Add(5*time.Minute)),
		page("v-apple", "17.0.0.1", "/pricing", t0.Add(2*time.Hour)), // a second session
		page("v-acme", "203.0.113.9", "/pricing", t0),
		page("v-acme", "203.0.113.9", "/contact", t0.Add(time.Minute)),
		page("v-home", "73.1.2.3", "/pricing", t0), // Comcast: an ISP
		page("v-home", "73.1.2.3", "/", t0.Add(time.Minute)),
		page("v-cloud", "1.1.1.1", "/", t0), // Cloudflare: hosting
		page("v-lan", "10.1.2.3", "/", t0),  // private: no range
	}
	stop := h.runEngine()
	cl, err := kgo.NewClient(kgo.SeedBrokers(h.cfg.Kafka.Brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	require.NoError(t, err)
	for _, v := range recs {
		require.NoError(t, cl.ProduceSync(context.Background(), &kgo.Record{Topic: h.cfg.Kafka.Topics[0], Partition: 0, Value: v}).FirstErr())
	}
	cl.Close()
	h.waitCaughtUp()
	require.Equal(t, 4.0, h.metricLabelled("leadscore_pipeline_records_total", "result", "parked"), "ISP, cloud and private visitors stay anonymous")
	require.NoError(t, stop())
	ctx := context.Background()

	// Scores: only the two companies, each from its own page views.
	hl := float64(14 * 24 * time.Hour)
	decay := func(d time.Duration) float64 { return math.Pow(0.5, float64(d)/hl) }
	wantEng := map[string]float64{
		// pricing +20 and any page +1 at t0, any page +1 at +5m, pricing
		// +20 and any page +1 at +2h; as of +2h.
		"apple.com": 21*decay(2*time.Hour) + 1*decay(2*time.Hour-5*time.Minute) + 21,
		// pricing +20 and any page +1 at t0, any page +1 at +1m.
		"acme.com": 21*decay(time.Minute) + 1,
	}
	rows, err := h.conn.Query(ctx, `SELECT account_id, engagement, stage FROM account_scores FINAL`)
	require.NoError(t, err)
	got := map[string]float64{}
	for rows.Next() {
		var id, stage string
		var eng float64
		require.NoError(t, rows.Scan(&id, &eng, &stage))
		require.Equal(t, "visitor", stage, id)
		got[id] = eng
	}
	require.NoError(t, rows.Err())
	require.Len(t, got, len(wantEng), "only company visitors make accounts: %v", got)
	for id, want := range wantEng {
		require.InDelta(t, want, got[id], 1e-9, id)
	}

	// visitor_companies.
	type vc struct {
		org             string
		first, last     int64
		sessions, pages uint32
		top             []string
		views           []uint32
		confidence      float64
		source          string
	}
	want := map[string]vc{
		"apple.com": {"Apple Inc.", t0.Unix(), t0.Add(2 * time.Hour).Unix(), 2, 3, []string{"/pricing", "/docs"}, []uint32{2, 1}, 0.5, "csv"},
		"acme.com":  {"", t0.Unix(), t0.Add(time.Minute).Unix(), 1, 2, []string{"/contact", "/pricing"}, []uint32{1, 1}, 1, "override"},
	}
	rows, err = h.conn.Query(ctx, `SELECT account_id, organisation, first_seen, last_seen, sessions, pages, top_pages, top_page_views,
		confidence, match_source FROM visitor_companies FINAL`)
	require.NoError(t, err)
	seen := 0
	for rows.Next() {
		var (
			id string
			v  vc
			f  time.Time
			l  time.Time
		)
		require.NoError(t, rows.Scan(&id, &v.org, &f, &l, &v.sessions, &v.pages, &v.top, &v.views, &v.confidence, &v.source))
		v.first, v.last = f.Unix(), l.Unix()
		w, ok := want[id]
		require.True(t, ok, "unexpected visitor company %s", id)
		if id == "acme.com" {
			w.org = v.org // an override names no organisation; whatever the ranges say is fine
		}
		require.Equal(t, w, v, id)
		seen++
	}
	require.NoError(t, rows.Err())
	require.Equal(t, len(want), seen)

	// ip_matches: one lookup per anonymous page view, by source and class.
	rows, err = h.conn.Query(ctx, `SELECT match_source, class, sum(lookups) FROM ip_matches FINAL
		WHERE day = toDate('2026-03-02') GROUP BY match_source, class`)
	require.NoError(t, err)
	counts := map[string]uint64{}
	for rows.Next() {
		var src, class string
		var n uint64
		require.NoError(t, rows.Scan(&src, &class, &n))
		counts[src+"/"+class] = n
	}
	require.NoError(t, rows.Err())
	require.Equal(t, map[string]uint64{"csv/company": 3, "override/company": 2, "csv/isp": 2, "csv/hosting": 1, "/none": 1}, counts)
}
