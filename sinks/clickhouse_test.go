package sinks

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/leadscore/leadscore/internal/chtest"
	"github.com/leadscore/leadscore/internal/rows"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// testClickHouseConfig returns a config for a fresh, migrated database on s.
func testClickHouseConfig(t *testing.T, s *chtest.Server) ClickHouseConfig {
	t.Helper()
	cfg := ClickHouseConfig{
		Addr:         []string{s.Addr},
		Database:     chtest.NewDatabase(t, s),
		DialTimeout:  2 * time.Second,
		RetryBackoff: 10 * time.Millisecond,
	}
	_, err := Migrate(t.Context(), cfg)
	require.NoError(t, err)
	return cfg
}

func newTestClickHouse(t *testing.T, cfg ClickHouseConfig, reg prometheus.Registerer) *ClickHouse {
	t.Helper()
	c, err := NewClickHouse(cfg, nil, reg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

// query opens a reading connection to cfg's database.
func query(t *testing.T, cfg ClickHouseConfig) driver.Conn {
	t.Helper()
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr: cfg.Addr,
		Auth: clickhouse.Auth{Database: cfg.Database, Username: "default"},
	})
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return conn
}

func readChanges(t *testing.T, conn driver.Conn) []rows.ScoreChange {
	t.Helper()
	rs, err := conn.Query(t.Context(), `SELECT account_id, contact_id, as_of, score, fit, engagement,
		grade, level, label, stage, previous_label, previous_stage, previous_score,
		reasons_rule, reasons_category, reasons_points, rules_version,
		source_topic, source_partition, source_offset
		FROM score_changes FINAL`)
	require.NoError(t, err)
	defer rs.Close()
	var out []rows.ScoreChange
	for rs.Next() {
		var (
			c              rows.ScoreChange
			rule, category []string
			points         []float64
		)
		require.NoError(t, rs.Scan(&c.AccountID, &c.ContactID, &c.AsOf, &c.Score, &c.Fit, &c.Engagement,
			&c.Grade, &c.Level, &c.Label, &c.Stage, &c.PreviousLabel, &c.PreviousStage, &c.PreviousScore,
			&rule, &category, &points, &c.RulesVersion,
			&c.Source.Topic, &c.Source.Partition, &c.Source.Offset))
		c.Reasons = zipReasons(t, rule, category, points)
		out = append(out, c)
	}
	require.NoError(t, rs.Err())
	return out
}

func readScores(t *testing.T, conn driver.Conn) []rows.AccountScore {
	t.Helper()
	rs, err := conn.Query(t.Context(), `SELECT account_id, contact_id, score, fit, engagement,
		grade, level, label, stage, reasons_rule, reasons_category, reasons_points,
		rules_version, as_of, version
		FROM account_scores FINAL ORDER BY account_id, contact_id`)
	require.NoError(t, err)
	defer rs.Close()
	var out []rows.AccountScore
	for rs.Next() {
		var (
			s              rows.AccountScore
			rule, category []string
			points         []float64
		)
		require.NoError(t, rs.Scan(&s.AccountID, &s.ContactID, &s.Score, &s.Fit, &s.Engagement,
			&s.Grade, &s.Level, &s.Label, &s.Stage, &rule, &category, &points,
			&s.RulesVersion, &s.AsOf, &s.Version))
		s.Reasons = zipReasons(t, rule, category, points)
		s.AsOf = s.AsOf.UTC()
		out = append(out, s)
	}
	require.NoError(t, rs.Err())
	return out
}

func readTransitions(t *testing.T, conn driver.Conn) []rows.FunnelTransition {
	t.Helper()
	rs, err := conn.Query(t.Context(), `SELECT account_id, contact_id, from_stage, to_stage, at,
		source, medium, campaign, source_topic, source_partition, source_offset
		FROM funnel_transitions FINAL ORDER BY account_id, contact_id, at`)
	require.NoError(t, err)
	defer rs.Close()
	var out []rows.FunnelTransition
	for rs.Next() {
		var f rows.FunnelTransition
		require.NoError(t, rs.Scan(&f.AccountID, &f.ContactID, &f.FromStage, &f.ToStage, &f.At,
			&f.Source, &f.Medium, &f.Campaign,
			&f.RecordSource.Topic, &f.RecordSource.Partition, &f.RecordSource.Offset))
		f.At = f.At.UTC()
		out = append(out, f)
	}
	require.NoError(t, rs.Err())
	return out
}

func zipReasons(t *testing.T, rule, category []string, points []float64) []rows.Reason {
	t.Helper()
	require.Len(t, category, len(rule), "reasons arrays are parallel")
	require.Len(t, points, len(rule), "reasons arrays are parallel")
	var out []rows.Reason
	for i := range rule {
		out = append(out, rows.Reason{Rule: rule[i], Category: category[i], Points: points[i]})
	}
	return out
}

func TestClickHouseConformance(t *testing.T) {
	testSinkConformance(t, func(t *testing.T) harness {
		cfg := testClickHouseConfig(t, clickHouseServer(t))
		conn := query(t, cfg)
		return harness{
			sink:             newTestClickHouse(t, cfg, nil),
			read:             func(t *testing.T) []rows.ScoreChange { return readChanges(t, conn) },
			collapsesReplays: true,
		}
	})
}

func testScores(prefix string, n int) []rows.AccountScore {
	out := make([]rows.AccountScore, n)
	for i, c := range testChanges(prefix, n) {
		out[i] = rows.AccountScore{
			AccountID: c.AccountID, ContactID: c.ContactID,
			Score: c.Score, Fit: c.Fit, Engagement: c.Engagement,
			Grade: c.Grade, Level: c.Level, Label: c.Label, Stage: c.Stage,
			Reasons: c.Reasons, RulesVersion: c.RulesVersion, AsOf: c.AsOf,
			Version: uint64(100 + i),
		}
	}
	return out
}

func testTransitions(prefix string, n int) []rows.FunnelTransition {
	out := make([]rows.FunnelTransition, n)
	for i, c := range testChanges(prefix, n) {
		out[i] = rows.FunnelTransition{
			AccountID: c.AccountID, ContactID: c.ContactID,
			FromStage: "lead", ToStage: c.Stage, At: c.AsOf,
			Source: fmt.Sprintf("src%d", i), Medium: fmt.Sprintf("med%d", i), Campaign: fmt.Sprintf("camp%d", i),
			RecordSource: c.Source,
		}
	}
	return out
}

func TestClickHouseAllTables(t *testing.T) {
	cfg := testClickHouseConfig(t, clickHouseServer(t))
	sink := newTestClickHouse(t, cfg, nil)
	b := &rows.Batch{
		Changes:     testChanges("all", 6),
		Scores:      testScores("all", 6),
		Transitions: testTransitions("all", 6),
	}
	require.NoError(t, sink.Write(t.Context(), b))
	require.NoError(t, sink.Write(t.Context(), b)) // a replay
	require.NoError(t, sink.Flush(t.Context()))

	conn := query(t, cfg)
	requireSameChanges(t, b.Changes, readChanges(t, conn))
	for i := range b.Scores {
		if len(b.Scores[i].Reasons) == 0 {
			b.Scores[i].Reasons = nil
		}
	}
	require.Equal(t, b.Scores, readScores(t, conn))
	require.Equal(t, b.Transitions, readTransitions(t, conn))
}

func TestClickHouseNewestScoreVersionWins(t *testing.T) {
	cfg := testClickHouseConfig(t, clickHouseServer(t))
	sink := newTestClickHouse(t, cfg, nil)
	v := func(version uint64, score float64) rows.AccountScore {
		return rows.AccountScore{AccountID: "acme.com", Score: score, Label: "B1", Version: version,
			AsOf: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	}
	for _, s := range []rows.AccountScore{v(1, 10), v(3, 30), v(2, 20), v(1, 10) /* a replay of an old row */} {
		require.NoError(t, sink.Write(t.Context(), &rows.Batch{Scores: []rows.AccountScore{s}}))
		require.NoError(t, sink.Flush(t.Context())) // separate parts: FINAL must merge them
	}
	got := readScores(t, query(t, cfg))
	require.Equal(t, []rows.AccountScore{v(3, 30)}, got)
}

func TestClickHouseTimesAreUTCSeconds(t *testing.T) {
	cfg := testClickHouseConfig(t, clickHouseServer(t))
	sink := newTestClickHouse(t, cfg, nil)
	shanghai := time.FixedZone("CST", 8*3600)
	at := time.Date(2026, 5, 1, 7, 30, 15, 987654321, shanghai) // 2026-04-30T23:30:15Z
	tr := func(at time.Time, offset int64) rows.FunnelTransition {
		return rows.FunnelTransition{AccountID: "acme.com", FromStage: "lead", ToStage: "mql", At: at,
			RecordSource: rows.Source{Topic: "t", Offset: offset}}
	}
	require.NoError(t, sink.Write(t.Context(), &rows.Batch{Transitions: []rows.FunnelTransition{
		tr(at, 1),
		tr(time.Time{}, 2), // before DateTime's range: clamped to its start
	}}))
	require.NoError(t, sink.Flush(t.Context()))
	got := readTransitions(t, query(t, cfg))
	require.Len(t, got, 2)
	require.Equal(t, time.Unix(0, 0).UTC(), got[0].At)
	require.Equal(t, time.Date(2026, 4, 30, 23, 30, 15, 0, time.UTC), got[1].At)
}

func TestClickHouseWriteBlocksWhenBufferFull(t *testing.T) {
	cfg := testClickHouseConfig(t, clickHouseServer(t))
	cfg.MaxBufferRows = 4
	sink := newTestClickHouse(t, cfg, nil)
	changes := testChanges("full", 9)

	require.NoError(t, sink.Write(t.Context(), &rows.Batch{Changes: changes[:3]}))
	require.NoError(t, sink.Write(t.Context(), &rows.Batch{Changes: changes[3:5]})) // 5 buffered: over the line
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	err := sink.Write(ctx, &rows.Batch{Changes: changes[5:6]})
	require.ErrorIs(t, err, context.DeadlineExceeded)

	// A Flush makes room; the blocked writer proceeds.
	written := make(chan error, 1)
	go func() { written <- sink.Write(t.Context(), &rows.Batch{Changes: changes[5:]}) }()
	require.NoError(t, sink.Flush(t.Context()))
	require.NoError(t, <-written)
	require.NoError(t, sink.Flush(t.Context()))
	requireSameChanges(t, changes, readChanges(t, query(t, cfg)))

	// Close wakes a blocked writer, which then fails.
	require.NoError(t, sink.Write(t.Context(), &rows.Batch{Changes: changes[:4]}))
	go func() { written <- sink.Write(t.Context(), &rows.Batch{Changes: testChanges("late", 1)}) }()
	require.NoError(t, sink.Close(t.Context()))
	require.ErrorIs(t, <-written, ErrClosed)
}

// TestClickHouseOutage kills the server under a sink: Flush keeps the rows
// and retries until its context ends, and a later Flush delivers them once
// the server is back.
func TestClickHouseOutage(t *testing.T) {
	s, err := chtest.StartPrivate() // never kill a shared server
	require.NoError(t, err)
	t.Cleanup(s.Stop)
	cfg := testClickHouseConfig(t, s)
	reg := prometheus.NewPedanticRegistry()
	sink := newTestClickHouse(t, cfg, reg)

	before, during := testChanges("before", 5), testChanges("during", 7)
	require.NoError(t, sink.Write(t.Context(), &rows.Batch{Changes: before}))
	require.NoError(t, sink.Flush(t.Context()))
	require.NoError(t, sink.Ping(t.Context()))

	require.NoError(t, s.Kill())
	require.NoError(t, sink.Write(t.Context(), &rows.Batch{Changes: during}))
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	err = sink.Flush(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.NotErrorIs(t, err, ErrPermanent, "an outage is transient")
	require.Error(t, sink.Ping(ctx))
	require.Equal(t, float64(len(during)), metricValue(t, sink.m.buffered), "rows kept for the next Flush")
	require.Greater(t, metricValue(t, sink.m.errors), 1.0, "attempts were retried")

	// Flush while the server comes back: it retries until an insert works.
	flushed := make(chan error, 1)
	go func() { flushed <- sink.Flush(t.Context()) }()
	require.NoError(t, s.Restart())
	require.NoError(t, <-flushed)
	require.Zero(t, metricValue(t, sink.m.buffered))
	requireSameChanges(t, append(before, during...), readChanges(t, query(t, cfg)))
}

// TestClickHouseDiscard: rows not yet durable, in a frozen block that an
// outage kept or written since, are dropped by Discard; rows written after
// it are delivered.
func TestClickHouseDiscard(t *testing.T) {
	s, err := chtest.StartPrivate()
	require.NoError(t, err)
	t.Cleanup(s.Stop)
	cfg := testClickHouseConfig(t, s)
	sink := newTestClickHouse(t, cfg, nil)
	require.NoError(t, s.Kill())
	require.NoError(t, sink.Write(t.Context(), &rows.Batch{Changes: testChanges("frozen", 3)}))
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	require.Error(t, sink.Flush(ctx))
	require.NoError(t, sink.Write(t.Context(), &rows.Batch{Changes: testChanges("open", 2)}))
	sink.Discard(t.Context())
	require.Zero(t, metricValue(t, sink.m.buffered))
	require.NoError(t, s.Restart())
	after := testChanges("after", 4)
	require.NoError(t, sink.Write(t.Context(), &rows.Batch{Changes: after}))
	require.NoError(t, sink.Flush(t.Context()))
	requireSameChanges(t, after, readChanges(t, query(t, cfg)))
}

// TestClickHouseMissingTableIsPermanent: a schema problem fails Flush at
// once instead of retrying until the deadline, and the rows stay buffered,
// so a Flush after the fix delivers them.
func TestClickHouseMissingTableIsPermanent(t *testing.T) {
	cfg := ClickHouseConfig{
		Addr:         []string{clickHouseServer(t).Addr},
		Database:     chtest.NewDatabase(t, clickHouseServer(t)), // not migrated
		RetryBackoff: 10 * time.Millisecond,
	}
	sink := newTestClickHouse(t, cfg, nil)
	want := testChanges("schema", 3)
	require.NoError(t, sink.Write(t.Context(), &rows.Batch{Changes: want}))
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	err := sink.Flush(ctx)
	require.Error(t, err)
	require.NoError(t, ctx.Err(), "a permanent error must not be retried until the deadline")
	require.ErrorIs(t, err, ErrPermanent)
	var ex *clickhouse.Exception
	require.ErrorAs(t, err, &ex)
	require.EqualValues(t, 60, ex.Code) // UNKNOWN_TABLE

	_, err = Migrate(t.Context(), cfg)
	require.NoError(t, err)
	require.NoError(t, sink.Flush(t.Context()))
	requireSameChanges(t, want, readChanges(t, query(t, cfg)))
}

func TestClickHouseMetrics(t *testing.T) {
	cfg := testClickHouseConfig(t, clickHouseServer(t))
	reg := prometheus.NewPedanticRegistry()
	sink := newTestClickHouse(t, cfg, reg)
	_ = NewKafka(nil, "leadscore.score-changes", reg) // both sinks share the families

	b := &rows.Batch{Changes: testChanges("m", 4), Scores: testScores("m", 3), Transitions: testTransitions("m", 2)}
	require.NoError(t, sink.Write(t.Context(), b))
	require.Equal(t, 9.0, metricValue(t, sink.m.buffered))
	require.NoError(t, sink.Flush(t.Context()))

	for table, n := range map[string]float64{"score_changes": 4, "account_scores": 3, "funnel_transitions": 2} {
		require.Equal(t, n, gatheredValue(t, reg, "leadscore_sink_rows_total", "clickhouse", table), table)
	}
	require.Zero(t, gatheredValue(t, reg, "leadscore_sink_buffered_rows", "clickhouse", ""))
	require.Zero(t, gatheredValue(t, reg, "leadscore_sink_buffered_rows", "kafka", ""))
	require.Zero(t, gatheredValue(t, reg, "leadscore_sink_errors_total", "clickhouse", ""))
	require.EqualValues(t, 1, gatheredValue(t, reg, "leadscore_sink_flush_seconds", "clickhouse", ""), "one flush observed")

}

func TestClickHouseConfigValidate(t *testing.T) {
	require.NoError(t, ClickHouseConfig{}.Validate())
	require.NoError(t, DefaultClickHouseConfig().Validate())
	err := ClickHouseConfig{
		Addr:          []string{""},
		Database:      "lead-score; DROP",
		DialTimeout:   -1,
		MaxBufferRows: -1,
		RetryBackoff:  -1,
	}.Validate()
	require.Error(t, err)
	for _, want := range []string{"empty address", "database", "dial_timeout", "max_buffer_rows", "retry_backoff"} {
		require.ErrorContains(t, err, want)
	}
	_, err = NewClickHouse(ClickHouseConfig{Database: "a b"}, nil, nil)
	require.Error(t, err)
	_, err = Migrate(t.Context(), ClickHouseConfig{Database: "a b"})
	require.Error(t, err)
}

func TestClickHousePingUnreachable(t *testing.T) {
	sink := newTestClickHouse(t, ClickHouseConfig{Addr: []string{"127.0.0.1:1"}, DialTimeout: time.Second}, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	require.Error(t, sink.Ping(ctx))
}

func TestInsertSQLGolden(t *testing.T) {
	var blk chBlock
	var b strings.Builder
	for _, tbl := range blk.tables() {
		b.WriteString(insertSQL(tbl.table(), tbl.columns()))
		b.WriteString(";\n")
	}
	golden := filepath.Join("testdata", "insert.sql")
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(golden, []byte(b.String()), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err, "run go test -run TestInsertSQLGolden -update")
	require.Equal(t, string(want), b.String())
}

// BenchmarkClickHouseWrite measures what a worker pays per Write: copying a
// batch of rows into the column buffers. No server is involved.
func BenchmarkClickHouseWrite(b *testing.B) {
	sink, err := NewClickHouse(ClickHouseConfig{Addr: []string{"127.0.0.1:1"}, MaxBufferRows: 1 << 30}, nil, nil)
	require.NoError(b, err)
	batch := &rows.Batch{Changes: testChanges("bench", 100), Scores: testScores("bench", 100), Transitions: testTransitions("bench", 100)}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if err := sink.Write(b.Context(), batch); err != nil {
			b.Fatal(err)
		}
		if n++; n%100 == 0 { // keep the buffer bounded, as Flush would
			sink.mu.Lock()
			sink.cur.reset()
			sink.buffered = 0
			sink.mu.Unlock()
		}
	}
	b.ReportMetric(float64(b.N*batch.Len())/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkClickHouseBlock measures building the insert columns of a frozen
// block of 10,000 rows per table, the work Flush does before sending.
func BenchmarkClickHouseBlock(b *testing.B) {
	var blk chBlock
	blk.add(&rows.Batch{Changes: testChanges("bench", 10_000), Scores: testScores("bench", 10_000), Transitions: testTransitions("bench", 10_000)})
	b.ReportAllocs()
	for b.Loop() {
		for _, t := range blk.tables() {
			_ = t.columns()
		}
	}
}

// BenchmarkClickHouseFlush measures Write and Flush of 1,000 rows per table
// against the test server.
func BenchmarkClickHouseFlush(b *testing.B) {
	cfg := ClickHouseConfig{Addr: []string{clickHouseServer(b).Addr}, Database: chtest.NewDatabase(b, clickHouseServer(b))}
	_, err := Migrate(b.Context(), cfg)
	require.NoError(b, err)
	sink, err := NewClickHouse(cfg, nil, nil)
	require.NoError(b, err)
	defer sink.Close(context.Background())
	batch := &rows.Batch{Changes: testChanges("bench", 1000), Scores: testScores("bench", 1000), Transitions: testTransitions("bench", 1000)}
	// A flush's rows come from the last few seconds of events: one month,
	// one partition (testChanges spreads over years, a part per month).
	at := time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)
	for i := range batch.Changes {
		batch.Changes[i].AsOf, batch.Scores[i].AsOf, batch.Transitions[i].At = at, at, at
	}
	b.ReportAllocs()
	for b.Loop() {
		require.NoError(b, sink.Write(b.Context(), batch))
		require.NoError(b, sink.Flush(b.Context()))
	}
	b.ReportMetric(float64(b.N*batch.Len())/b.Elapsed().Seconds(), "rows/s")
}
