package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/encoding/json"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/leadscore/leadscore/internal/chtest"
	"github.com/leadscore/leadscore/sinks"
)

var chServer *chtest.Server

func TestMain(m *testing.M) {
	s, err := chtest.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "start clickhouse:", err)
		os.Exit(1)
	}
	chServer = s
	code := m.Run()
	s.Stop()
	os.Exit(code)
}

// harness is one end-to-end setup: an embedded broker, a ClickHouse
// database with the migrations applied, and a config pointing at both.
type harness struct {
	t       *testing.T
	reg     *prometheus.Registry // of the engine runEngine started last
	cluster *kfake.Cluster
	cfg     Config
	conn    clickhouse.Conn
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Kafka.Embedded.Listen = "127.0.0.1:0"
	cfg.Kafka.Partitions = scenarioPartitions
	cluster, err := StartEmbedded(cfg)
	require.NoError(t, err)
	t.Cleanup(cluster.Close)
	cfg.Kafka.Brokers = cluster.ListenAddrs()
	cfg.ClickHouse.Addr = []string{chServer.Addr}
	cfg.ClickHouse.Database = chtest.NewDatabase(t, chServer)
	cfg.HTTP.Listen = ""
	cfg.Engine.StateDir = t.TempDir()
	cfg.Engine.FlushInterval = Duration(100 * time.Millisecond)
	cfg.Engine.MaxPollRecords = 200 // many small batches: more flush and commit points
	// Longer than any visitor stays anonymous in a scenario, so no event
	// arrives older than the watermark and the oracle can know every decay
	// change.
	cfg.Engine.AllowedLateness = Duration(scenarioLateness)
	// The oracle knows no wall clock: an input partition that goes quiet
	// for a while on a loaded machine must not move the watermark past
	// what the events say (TestIdlePartition covers idleness).
	cfg.Engine.IdlePartitionAfter = 0
	cfg.Log.Level = "warn"
	ctx := context.Background()
	_, err = sinks.Migrate(ctx, cfg.ClickHouse.SinkConfig())
	require.NoError(t, err)
	conn, err := clickhouse.Open(chServer.Options(cfg.ClickHouse.Database))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return &harness{t: t, cluster: cluster, cfg: cfg, conn: conn}
}

// produce writes partitions 0 and 1 with franz-go and 2 and 3 with Debian's
// kcat, an independent client, each record to its own partition in order.
func (h *harness) produce(s *scenario, from, to float64) {
	t := h.t
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(h.cfg.Kafka.Brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	require.NoError(t, err)
	defer cl.Close()
	for p, recs := range s.parts {
		lo, hi := int(from*float64(len(recs))), int(to*float64(len(recs)))
		recs = recs[lo:hi]
		if p < 2 {
			for _, r := range recs {
				res := cl.ProduceSync(context.Background(), &kgo.Record{
					Topic: h.cfg.Kafka.Topics[0], Partition: int32(p), Key: []byte(r.key), Value: r.value,
				})
				require.NoError(t, res.FirstErr())
			}
			continue
		}
		h.kcat(int32(p), recs)
	}
}

// kcat produces records to partition p with kcat, one message per record
// (values may hold newlines or invalid UTF-8, so a delimiter byte that no
// record contains separates them).
func (h *harness) kcat(p int32, recs []*scenarioRecord) {
	t := h.t
	t.Helper()
	if len(recs) == 0 {
		return
	}
	var in bytes.Buffer
	for _, r := range recs {
		require.NotContains(t, string(r.value), "\x1e")
		in.WriteString(r.key)
		in.WriteByte('\x1f')
		in.Write(r.value)
		in.WriteByte('\x1e')
	}
	cmd := exec.Command("kcat", "-P", "-b", h.cfg.Kafka.Brokers[0], "-t", h.cfg.Kafka.Topics[0],
		"-p", strconv.Itoa(int(p)), "-K", "\x1f", "-D", "\x1e", "-X", "message.max.bytes=2000000")
	cmd.Stdin = &in
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "kcat: %s", out)
}

// runEngine starts an engine and returns a stop function that cancels it
// (a graceful stop, as SIGTERM) and returns Run's error.
func (h *harness) runEngine() func() error {
	h.reg = prometheus.NewRegistry()
	e, err := New(h.cfg, WithRegisterer(h.reg))
	require.NoError(h.t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	return func() error { cancel(); return <-done }
}

// waitCommitted waits until the group has committed at least n records.
func (h *harness) waitCommitted(n int64) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		end, err := endOffsets(h.cfg.Kafka.Brokers, h.cfg.Kafka.Topics[0])
		require.NoError(h.t, err)
		lag, err := GroupLag(ctx, h.cfg.Kafka.Brokers, h.cfg.Kafka.Group, h.cfg.Kafka.Topics...)
		if err == nil && end-lag >= n {
			return
		}
		select {
		case <-ctx.Done():
			h.t.Fatalf("group committed fewer than %d records: %v", n, err)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (h *harness) waitCaughtUp() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	require.NoError(h.t, WaitCaughtUp(ctx, h.cfg.Kafka.Brokers, h.cfg.Kafka.Group, h.cfg.ConsumedTopics()...))
}

func TestEndToEnd(t *testing.T) {
	h := newHarness(t)
	s := newScenario(7, 24)
	ex := s.expect()
	require.NotEmpty(t, ex.changes)

	stop := h.runEngine()
	h.produce(s, 0, 1)
	h.waitCaughtUp()
	require.NoError(t, stop())

	h.checkClickHouse(ex)
	h.checkChangesTopic(ex, false)
	h.checkDeadLetters(s)
	h.checkHandoffsTopic(ex)
	h.checkExplain(ex)
}

// checkHandoffsTopic: every hand-off is on the handoffs topic once.
func (h *harness) checkHandoffsTopic(ex *expected) {
	t := h.t
	t.Helper()
	seen := map[string]bool{}
	for _, r := range h.consumeAll(h.cfg.Kafka.HandoffsTopic) {
		var v struct {
			AccountID string `json:"account_id"`
			ContactID string `json:"contact_id"`
			Label     string `json:"label"`
			Stage     string `json:"stage"`
			Source    struct {
				Topic     string `json:"topic"`
				Partition int32  `json:"partition"`
				Offset    int64  `json:"offset"`
			} `json:"source"`
		}
		require.NoError(t, json.Unmarshal(r.Value, &v), string(r.Value))
		k := oKey(v.AccountID, v.ContactID, v.Source.Topic, v.Source.Partition, v.Source.Offset)
		want, ok := ex.handoffs[k]
		require.True(t, ok, "unexpected hand-off on topic: %s", k)
		require.Equal(t, want.res.label, v.Label, k)
		require.Equal(t, "mql", v.Stage, k)
		require.False(t, seen[k], "hand-off %s twice", k)
		seen[k] = true
	}
	require.Len(t, seen, len(ex.handoffs))
	require.NotEmpty(t, seen)
}

// TestGracefulRestart stops the engine mid-stream (as SIGTERM does) and
// starts a new one, which restores the state from the changelog: the final
// results equal an uninterrupted run's, which the oracle computes, and no
// score change is emitted twice.
func TestGracefulRestart(t *testing.T) {
	h := newHarness(t)
	s := newScenario(11, 24)
	ex := s.expect()

	h.produce(s, 0, 0.5)
	stop := h.runEngine()
	// Stop while records are still arriving: once the engine has committed
	// some of the first half, and while the next quarter is being produced.
	produced := make(chan struct{})
	go func() { defer close(produced); h.produce(s, 0.5, 0.75) }()
	h.waitCommitted(1)
	require.NoError(t, stop())
	<-produced

	stop = h.runEngine()
	h.produce(s, 0.75, 1)
	h.waitCaughtUp()
	require.NoError(t, stop())

	h.checkClickHouse(ex)
	h.checkChangesTopic(ex, false) // exactly once: the outputs are transactional
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-6*math.Max(1, math.Abs(b)) }

func (h *harness) checkClickHouse(ex *expected) {
	t := h.t
	t.Helper()
	ctx := context.Background()

	// account_scores FINAL: one row per account and per contact, equal to
	// the oracle.
	rows, err := h.conn.Query(ctx, `SELECT account_id, contact_id, score, fit, engagement, grade, level, label, stage, as_of, version,
		reasons_rule, reasons_points, best_times FROM account_scores FINAL`)
	require.NoError(t, err)
	got := map[string]bool{}
	contacts := 0
	for rows.Next() {
		var (
			id, cid, grade, label, stage string
			score, fit, eng              float64
			level                        uint8
			asOf                         time.Time
			version                      uint64
			rr, best                     []string
			rp                           []float64
		)
		require.NoError(t, rows.Scan(&id, &cid, &score, &fit, &eng, &grade, &level, &label, &stage, &asOf, &version, &rr, &rp, &best))
		k := id
		want, ok := ex.final[id]
		a := ex.accounts[id]
		if cid != "" {
			k = id + "/" + cid
			want, ok = ex.finalC[k]
			a = ex.contacts[k]
			contacts++
		}
		require.True(t, ok, "unexpected account or contact %s", k)
		require.True(t, near(score, want.score), "%s score %v want %v", k, score, want.score)
		require.True(t, near(fit, want.fit), "%s fit %v want %v", k, fit, want.fit)
		require.True(t, near(eng, want.eng), "%s engagement %v want %v", k, eng, want.eng)
		require.Equal(t, want.label, label, k)
		require.Equal(t, want.grade, grade, k)
		require.Equal(t, want.level, level, k)
		require.Equal(t, want.stage, stage, k)
		require.Equal(t, a.asOf.Unix(), asOf.Unix(), k)
		require.Equal(t, a.bestTimes(), best, "%s best times", k)
		if cid == "" {
			// A contact's row carries the account's version at the commit
			// that wrote it, which depends on how records were batched.
			require.Equal(t, a.version, version, k)
		}
		reasons := map[string]float64{}
		for i := range rr {
			reasons[rr[i]] = rp[i]
		}
		for rule, pts := range want.reasons {
			if math.Abs(pts) > 1e-9 {
				require.True(t, near(reasons[rule], pts), "%s reason %s %v want %v", k, rule, reasons[rule], pts)
			}
		}
		require.False(t, got[k], "duplicate row %s after FINAL", k)
		got[k] = true
	}
	require.NoError(t, rows.Err())
	require.Len(t, got, len(ex.final)+len(ex.finalC))
	require.NotZero(t, contacts, "contacts must be scored on their own")

	// score_changes FINAL: exactly the oracle's changes, no duplicates.
	rows, err = h.conn.Query(ctx, `SELECT account_id, contact_id, source_topic, source_partition, source_offset, as_of, score, label, stage,
		previous_label, previous_stage, previous_score, rules_version, cause FROM score_changes FINAL`)
	require.NoError(t, err)
	seen := map[string]bool{}
	causes := map[string]int{}
	for rows.Next() {
		var (
			id, cid, topic, label, stage, pl, ps, rv, cause string
			part                                            int32
			off                                             int64
			asOf                                            time.Time
			score, prev                                     float64
		)
		require.NoError(t, rows.Scan(&id, &cid, &topic, &part, &off, &asOf, &score, &label, &stage, &pl, &ps, &prev, &rv, &cause))
		k := oKey(id, cid, topic, part, off)
		want, ok := ex.changes[k]
		require.True(t, ok, "unexpected score change %s (%s %v at %s)", k, label, score, asOf)
		require.True(t, near(score, want.res.score), "%s score %v want %v", k, score, want.res.score)
		require.Equal(t, want.res.label, label, k)
		require.Equal(t, want.res.stage, stage, k)
		require.Equal(t, want.prevLabel, pl, k)
		require.Equal(t, want.prevStage, ps, k)
		require.True(t, near(prev, want.prevScore), k)
		require.Equal(t, want.asOf.Unix(), asOf.Unix(), k)
		require.Equal(t, "example-1", rv)
		if topic == "leadscore:decay" {
			require.Equal(t, "decay", cause, k)
		} else {
			require.Equal(t, "event", cause, k)
		}
		causes[cause]++
		require.False(t, seen[k], "duplicate score change %s after FINAL", k)
		seen[k] = true
	}
	require.NoError(t, rows.Err())
	require.Len(t, seen, len(ex.changes))
	require.NotZero(t, causes["decay"], "time passing must re-score cold accounts")

	// funnel_transitions FINAL.
	var n uint64
	require.NoError(t, h.conn.QueryRow(ctx, `SELECT count() FROM funnel_transitions FINAL`).Scan(&n))
	require.Equal(t, uint64(len(ex.transitions)), n)
	var mqls, exits uint64
	require.NoError(t, h.conn.QueryRow(ctx, `SELECT countIf(to_stage = 'mql'), countIf(from_stage = 'mql' AND to_stage = 'lead') FROM funnel_transitions FINAL`).Scan(&mqls, &exits))
	wantMQL, wantExits := 0, 0
	for _, tr := range ex.transitions {
		if tr.to == "mql" {
			wantMQL++
		}
		if tr.from == "mql" && tr.to == "lead" {
			wantExits++
		}
	}
	require.Equal(t, uint64(wantMQL), mqls)
	require.Equal(t, uint64(wantExits), exits)

	// handoffs FINAL: one per entry into mql.
	rows, err = h.conn.Query(ctx, `SELECT account_id, contact_id, source_topic, source_partition, source_offset, label, score, at
		FROM handoffs FINAL`)
	require.NoError(t, err)
	hs := 0
	for rows.Next() {
		var (
			id, cid, topic, label string
			part                  int32
			off                   int64
			score                 float64
			at                    time.Time
		)
		require.NoError(t, rows.Scan(&id, &cid, &topic, &part, &off, &label, &score, &at))
		k := oKey(id, cid, topic, part, off)
		want, ok := ex.handoffs[k]
		require.True(t, ok, "unexpected hand-off %s", k)
		require.Equal(t, want.res.label, label, k)
		require.True(t, near(score, want.res.score), k)
		require.Equal(t, want.asOf.Unix(), at.Unix(), k)
		hs++
	}
	require.NoError(t, rows.Err())
	require.Equal(t, len(ex.handoffs), hs)
	require.Equal(t, wantMQL, hs, "a hand-off for every entry into mql")
}

// checkChangesTopic reads the score-changes topic: every oracle change is
// there with its content; with replays allowed, a change may appear more than
// once but always with the same content.
func (h *harness) checkChangesTopic(ex *expected, replays bool) {
	t := h.t
	t.Helper()
	recs := h.consumeAll(h.cfg.Kafka.ScoreChangesTopic)
	seen := map[string]int{}
	for _, r := range recs {
		var v struct {
			AccountID     string  `json:"account_id"`
			ContactID     string  `json:"contact_id"`
			Score         float64 `json:"score"`
			Label         string  `json:"label"`
			Stage         string  `json:"stage"`
			PreviousLabel string  `json:"previous_label"`
			AsOf          string  `json:"as_of"`
			RulesVersion  string  `json:"rules_version"`
			Reasons       []struct {
				Rule     string  `json:"rule"`
				Category string  `json:"category"`
				Points   float64 `json:"points"`
			} `json:"reasons"`
			Source struct {
				Topic     string `json:"topic"`
				Partition int32  `json:"partition"`
				Offset    int64  `json:"offset"`
			} `json:"source"`
		}
		require.NoError(t, json.Unmarshal(r.Value, &v), string(r.Value))
		k := oKey(v.AccountID, v.ContactID, v.Source.Topic, v.Source.Partition, v.Source.Offset)
		want, ok := ex.changes[k]
		require.True(t, ok, "unexpected change on topic: %s", k)
		require.Equal(t, want.account, string(r.Key))
		require.True(t, near(v.Score, want.res.score), k)
		require.Equal(t, want.res.label, v.Label)
		require.Equal(t, want.res.stage, v.Stage)
		require.Equal(t, want.prevLabel, v.PreviousLabel)
		at, err := time.Parse(time.RFC3339Nano, v.AsOf)
		require.NoError(t, err)
		require.True(t, want.asOf.Equal(at), k)
		for _, rs := range v.Reasons {
			if rs.Category == "fit" {
				continue
			}
			require.True(t, near(rs.Points, want.res.reasons[rs.Rule]), "%s %s", k, rs.Rule)
		}
		seen[k]++
	}
	require.Len(t, seen, len(ex.changes))
	if !replays {
		for k, n := range seen {
			require.Equal(t, 1, n, "change %s emitted %d times", k, n)
		}
	}
}

// checkDeadLetters: every malformed record is on the DLQ, unchanged, with
// its reason and source; nothing else is.
func (h *harness) checkDeadLetters(s *scenario) {
	t := h.t
	t.Helper()
	want := map[string]*scenarioRecord{}
	for _, part := range s.parts {
		for _, r := range part {
			if r.dlqReason != "" {
				want[fmt.Sprintf("%d/%d", r.partition, r.offset)] = r
			}
		}
	}
	got := h.consumeAll(h.cfg.Kafka.DLQTopic)
	require.Len(t, got, len(want))
	for _, r := range got {
		hd := map[string]string{}
		for _, x := range r.Headers {
			hd[x.Key] = string(x.Value)
		}
		require.Equal(t, h.cfg.Kafka.Topics[0], hd[HeaderTopic])
		k := hd[HeaderPartition] + "/" + hd[HeaderOffset]
		w, ok := want[k]
		require.True(t, ok, "unexpected dead letter %s: %v", k, hd)
		require.Equal(t, w.dlqReason, hd[HeaderReason], "record %s: %s", k, hd[HeaderDetail])
		require.NotEmpty(t, hd[HeaderDetail])
		require.True(t, bytes.Equal(w.value, r.Value), "dead letter %s must carry the original bytes", k)
	}
}

// consumeAll reads a topic's committed records (read_committed: aborted
// transactions are not seen) up to its end, skipping transaction markers.
func (h *harness) consumeAll(topic string) []*kgo.Record {
	t := h.t
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(h.cfg.Kafka.Brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxBytes(64<<20),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	require.NoError(t, err)
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(context.Background(), topic)
	require.NoError(t, err)
	need := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			need[o.Partition] = o.Offset - 1 // the last offset, a record or a marker
		}
	})
	var out []*kgo.Record
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for len(need) > 0 {
		f := cl.PollFetches(ctx)
		require.NoError(t, ctx.Err(), "read %s: partitions not read to the end: %v", topic, need)
		f.EachRecord(func(r *kgo.Record) {
			if last, ok := need[r.Partition]; ok && r.Offset >= last {
				delete(need, r.Partition)
			}
			if !r.Attrs.IsControl() {
				out = append(out, r)
			}
		})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Partition != out[j].Partition {
			return out[i].Partition < out[j].Partition
		}
		return out[i].Offset < out[j].Offset
	})
	return out
}

// endOffsets sums a topic's end offsets (the topics here start at 0).
func endOffsets(brokers []string, topic string) (int64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(context.Background(), topic)
	if err != nil {
		return 0, err
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n, ends.Error()
}

// TestOperationalEndpoints: /healthz answers, /readyz turns ready once the
// engine consumes, and /metrics counts what happened to the records.
func TestOperationalEndpoints(t *testing.T) {
	h := newHarness(t)
	h.cfg.HTTP.Listen = "127.0.0.1:0"
	s := newScenario(3, 6)
	reg := prometheus.NewRegistry()
	e, err := New(h.cfg, WithRegisterer(reg))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	h.produce(s, 0, 1)
	h.waitCaughtUp()

	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + e.HTTPAddr() + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}
	code, _ := get("/healthz")
	require.Equal(t, http.StatusOK, code)
	code, body := get("/readyz")
	require.Equal(t, http.StatusOK, code, body)
	code, body = get("/metrics")
	require.Equal(t, http.StatusOK, code)

	var dlq, dups int
	for _, p := range s.parts {
		for _, r := range p {
			switch {
			case r.dlqReason != "":
				dlq++
			case r.dup:
				dups++
			}
		}
	}
	require.Contains(t, body, fmt.Sprintf(`leadscore_pipeline_records_total{result="dead_letter"} %d`, dlq))
	require.Contains(t, body, fmt.Sprintf(`leadscore_pipeline_records_total{result="duplicate"} %d`, dups))
	require.Contains(t, body, `leadscore_pipeline_dead_letters_total{reason="invalid_json"} 1`)
	require.Contains(t, body, "leadscore_kafka_", "franz-go metrics through kprom")
	cancel()
	require.NoError(t, <-done)
}

// TestReplayLeavesNoDuplicates reprocesses the whole input a second time (a
// new consumer group with no state, as after losing everything) into the same
// ClickHouse database: after FINAL the tables equal the oracle, once.
func TestReplayLeavesNoDuplicates(t *testing.T) {
	h := newHarness(t)
	s := newScenario(5, 12)
	ex := s.expect()
	h.produce(s, 0, 1)
	for _, group := range []string{"first", "replay"} {
		h.cfg.Kafka.Group = group
		stop := h.runEngine()
		h.waitCaughtUp()
		require.NoError(t, stop())
	}
	var raw, final uint64
	require.NoError(t, h.conn.QueryRow(context.Background(), `SELECT count() FROM score_changes`).Scan(&raw))
	require.NoError(t, h.conn.QueryRow(context.Background(), `SELECT count() FROM score_changes FINAL`).Scan(&final))
	require.Equal(t, uint64(len(ex.changes)), final)
	require.GreaterOrEqual(t, raw, final)
	h.checkClickHouse(ex)
	h.checkChangesTopic(ex, true)
}

// TestRekeyByAccount feeds a stream keyed by visitor, so every account's
// events arrive on several input partitions (its group call on one, its
// person's pages on another, CRM-side e-mail events on a third). Re-keying
// through the repartition topic must bring them into one state: one row per
// account whose fit and event count are the oracle's. Scores that depend on
// the interleaving of partitions (stage history, caps across late events,
// the decay steps between an account's events) are not compared here;
// TestEndToEnd covers them.
func TestRekeyByAccount(t *testing.T) {
	h := newHarness(t)
	base := newScenario(13, 16)
	ex := base.expect()
	s := base.byVisitor()
	spread := 0
	for acct := range ex.accounts {
		parts := map[int32]bool{}
		for _, p := range s.parts {
			for _, r := range p {
				if r.account == acct {
					parts[r.partition] = true
				}
			}
		}
		if len(parts) > 1 {
			spread++
		}
	}
	require.Greater(t, spread, len(ex.accounts)/2, "most accounts must span partitions for this test to mean anything")

	stop := h.runEngine()
	h.produce(s, 0, 1)
	h.waitCaughtUp()
	require.NoError(t, stop())

	// Each account's events (records applied) and newest event time.
	events, last := map[string]uint64{}, map[string]time.Time{}
	seen := map[string]bool{}
	for _, p := range base.parts {
		for _, r := range p {
			if r.dlqReason != "" || r.parked || seen[string(r.value)] {
				continue
			}
			seen[string(r.value)] = true
			events[r.account]++
			if r.ev.at.After(last[r.account]) {
				last[r.account] = r.ev.at
			}
		}
	}
	rows, err := h.conn.Query(context.Background(), `SELECT account_id, fit, version, as_of, grade FROM account_scores FINAL WHERE contact_id = ''`)
	require.NoError(t, err)
	n := 0
	for rows.Next() {
		var (
			id, grade string
			fit       float64
			version   uint64
			asOf      time.Time
		)
		require.NoError(t, rows.Scan(&id, &fit, &version, &asOf, &grade))
		_, ok := ex.accounts[id]
		require.True(t, ok, "unexpected account %s", id)
		require.True(t, near(fit, ex.final[id].fit), "%s fit %v want %v", id, fit, ex.final[id].fit)
		require.Equal(t, ex.final[id].grade, grade, id)
		// The records part of the version counts each record once. The
		// steps part counts the decay steps of the event-time order; the
		// rows of decay steps a rebuild fired again are not written (only
		// the late record's are, see tail.go), so the rows do not tell it.
		require.Equal(t, events[id], version/versionRecord, "%s: every record of the account in one state", id)
		require.False(t, asOf.Before(last[id].Truncate(time.Second)), "%s as of %s, before its newest event %s", id, asOf, last[id])
		n++
	}
	require.NoError(t, rows.Err())
	require.Equal(t, len(ex.accounts), n)
}

// metric is the value of an unlabelled counter or gauge of the last engine.
func (h *harness) metric(name string) float64 {
	mfs, err := h.reg.Gather()
	require.NoError(h.t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			m := mf.GetMetric()[0]
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	h.t.Fatalf("no metric %s", name)
	return 0
}

// TestEvictionIsTransparent runs the scenario with room for one account per
// scoring worker and one person link per input worker: they keep moving to
// the local state store and back, and the results equal the oracle's, which
// keeps everything in memory.
func TestEvictionIsTransparent(t *testing.T) {
	h := newHarness(t)
	h.cfg.Engine.MaxResidentAccounts = scenarioPartitions
	h.cfg.Engine.MaxResidentLinks = scenarioPartitions
	h.cfg.Engine.MaxResidentVisitors = scenarioPartitions
	h.cfg.Engine.MaxPollRecords = 10 // many cycles, each ending with an eviction
	h.cfg.Engine.FlushRecords = 10
	s := newScenario(11, 24)
	ex := s.expect()

	stop := h.runEngine()
	h.produce(s, 0, 1)
	h.waitCaughtUp()
	evicted, reloaded := h.metric("leadscore_pipeline_accounts_evicted_total"), h.metric("leadscore_pipeline_accounts_reloaded_total")
	links := h.metric("leadscore_pipeline_links_evicted_total")
	visitors := h.metric("leadscore_pipeline_visitors_evicted_total")
	resident := h.metric("leadscore_pipeline_accounts")
	require.NoError(t, stop())

	t.Logf("%d accounts, %.0f evictions, %.0f reloads, %.0f resident at the end; %.0f person links and %.0f visitors evicted", len(ex.accounts), evicted, reloaded, resident, links, visitors)
	require.Positive(t, evicted)
	require.Positive(t, visitors)
	require.Positive(t, links)
	require.Positive(t, reloaded)
	require.LessOrEqual(t, resident, float64(scenarioPartitions))
	h.checkClickHouse(ex)
	h.checkChangesTopic(ex, false)
}

// TestSessionRestartAfterFailedCommit: the broker fails a transaction's
// commit once (EndTxn answers INVALID_TXN_STATE, the transaction stays
// open). The engine replaces its session, which fences the old producer
// and aborts that transaction, restores from the changelog and carries on:
// the results equal the oracle's, nothing twice.
func TestSessionRestartAfterFailedCommit(t *testing.T) {
	h := newHarness(t)
	s := newScenario(13, 24)
	ex := s.expect()
	var failed atomic.Bool
	h.cluster.ControlKey(kmsg.EndTxn.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		r := req.(*kmsg.EndTxnRequest)
		if !r.Commit || failed.Swap(true) {
			return nil, nil, false
		}
		resp := r.ResponseKind().(*kmsg.EndTxnResponse)
		resp.ErrorCode = kerr.InvalidTxnState.Code
		return resp, nil, true
	})
	stop := h.runEngine()
	h.produce(s, 0, 1)
	h.waitCaughtUp()
	restarts := h.metric("leadscore_pipeline_session_restarts_total")
	require.NoError(t, stop())
	require.True(t, failed.Load(), "a commit was failed")
	require.Equal(t, 1.0, restarts)
	h.checkClickHouse(ex)
	h.checkChangesTopic(ex, false)
}

// TestSessionRestartAfterFailedRestore: the first restore cannot read the
// changelog's end (the broker refuses one ListOffsets). The engine must
// neither score that partition without its state nor commit its offsets: it
// replaces the session, restores again and carries on, equal to the oracle.
func TestSessionRestartAfterFailedRestore(t *testing.T) {
	h := newHarness(t)
	s := newScenario(17, 24)
	ex := s.expect()
	var failed atomic.Bool
	h.cluster.ControlKey(kmsg.ListOffsets.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		r := req.(*kmsg.ListOffsetsRequest)
		// The restore asks for the high watermark (read_uncommitted); the
		// consumer reads committed.
		if r.IsolationLevel != 0 || failed.Swap(true) {
			return nil, nil, false
		}
		resp := r.ResponseKind().(*kmsg.ListOffsetsResponse)
		for _, rt := range r.Topics {
			st := kmsg.NewListOffsetsResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewListOffsetsResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.TopicAuthorizationFailed.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	stop := h.runEngine()
	h.produce(s, 0, 1)
	h.waitCaughtUp()
	restarts := h.metric("leadscore_pipeline_session_restarts_total")
	require.NoError(t, stop())
	require.True(t, failed.Load(), "a restore was failed")
	require.Equal(t, 1.0, restarts)
	h.checkClickHouse(ex)
	h.checkChangesTopic(ex, false)
}
