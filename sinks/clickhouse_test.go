package sinks

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
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

// changeColumnList names the columns of score_changes in the order
// scanChanges scans them.
const changeColumnList = `account_id, contact_id, as_of, score, fit, engagement,
		grade, level, label, stage, previous_label, previous_stage, previous_score,
		reasons_rule, reasons_category, reasons_points, reasons_count, rules_version,
		source_topic, source_partition, source_offset, intent, persona, cause, retracted`

// readChanges returns the rows of score_changes after FINAL, retractions
// included.
func readChanges(t *testing.T, conn driver.Conn) []rows.ScoreChange {
	t.Helper()
	return scanChanges(t, conn, `SELECT `+changeColumnList+` FROM score_changes FINAL`)
}

// readStandingChanges returns the score changes a reader takes as
// standing: FINAL first, then without retracted rows, outside it, as the
// queries leadscore ships read them (deploy/clickhouse/0007_retractions).
func readStandingChanges(t *testing.T, conn driver.Conn) []rows.ScoreChange {
	t.Helper()
	return scanChanges(t, conn, `SELECT `+changeColumnList+`
		FROM (SELECT `+changeColumnList+` FROM score_changes FINAL) WHERE retracted = 0`)
}

func scanChanges(t *testing.T, conn driver.Conn, sql string) []rows.ScoreChange {
	t.Helper()
	rs, err := conn.Query(t.Context(), sql)
	require.NoError(t, err)
	defer rs.Close()
	var out []rows.ScoreChange
	for rs.Next() {
		var (
			c         rows.ScoreChange
			r         reasonArrays
			retracted uint8
		)
		require.NoError(t, rs.Scan(&c.AccountID, &c.ContactID, &c.AsOf, &c.Score, &c.Fit, &c.Engagement,
			&c.Grade, &c.Level, &c.Label, &c.Stage, &c.PreviousLabel, &c.PreviousStage, &c.PreviousScore,
			&r.rule, &r.category, &r.points, &r.count, &c.RulesVersion,
			&c.Source.Topic, &c.Source.Partition, &c.Source.Offset, &c.Intent, &c.Persona, &c.Cause, &retracted))
		c.Reasons = r.zip(t)
		c.Retracted = readFlag(t, retracted)
		out = append(out, c)
	}
	require.NoError(t, rs.Err())
	return out
}

func readScores(t *testing.T, conn driver.Conn) []rows.AccountScore {
	t.Helper()
	rs, err := conn.Query(t.Context(), `SELECT account_id, contact_id, score, fit, engagement,
		grade, level, label, stage, reasons_rule, reasons_category, reasons_points, reasons_count,
		rules_version, as_of, version, intent, persona, best_times
		FROM account_scores FINAL ORDER BY account_id, contact_id`)
	require.NoError(t, err)
	defer rs.Close()
	var out []rows.AccountScore
	for rs.Next() {
		var (
			s rows.AccountScore
			r reasonArrays
		)
		require.NoError(t, rs.Scan(&s.AccountID, &s.ContactID, &s.Score, &s.Fit, &s.Engagement,
			&s.Grade, &s.Level, &s.Label, &s.Stage, &r.rule, &r.category, &r.points, &r.count,
			&s.RulesVersion, &s.AsOf, &s.Version, &s.Intent, &s.Persona, &s.BestTimes))
		s.Reasons = r.zip(t)
		s.AsOf = s.AsOf.UTC()
		s.BestTimes = nilIfEmpty(s.BestTimes)
		out = append(out, s)
	}
	require.NoError(t, rs.Err())
	return out
}

// readFlag reads a UInt8 flag column, which holds 0 or 1 only.
func readFlag(t *testing.T, v uint8) bool {
	t.Helper()
	require.LessOrEqual(t, v, uint8(1), "a flag is 0 or 1")
	return v == 1
}

const handoffColumnList = `account_id, contact_id, at, score, fit, engagement, intent,
		label, stage, persona, title, recommendation, best_times,
		reasons_rule, reasons_category, reasons_points, reasons_count, rules_version,
		source_topic, source_partition, source_offset, retracted`

// readHandoffs returns the rows of handoffs after FINAL, retractions
// included.
func readHandoffs(t *testing.T, conn driver.Conn) []rows.Handoff {
	t.Helper()
	return scanHandoffs(t, conn, `SELECT `+handoffColumnList+` FROM handoffs FINAL`)
}

// readStandingHandoffs returns the hand-offs that stand, read as
// readStandingChanges reads score changes.
func readStandingHandoffs(t *testing.T, conn driver.Conn) []rows.Handoff {
	t.Helper()
	return scanHandoffs(t, conn, `SELECT `+handoffColumnList+`
		FROM (SELECT `+handoffColumnList+` FROM handoffs FINAL) WHERE retracted = 0`)
}

func scanHandoffs(t *testing.T, conn driver.Conn, sql string) []rows.Handoff {
	t.Helper()
	rs, err := conn.Query(t.Context(), sql)
	require.NoError(t, err)
	defer rs.Close()
	var out []rows.Handoff
	for rs.Next() {
		var (
			h         rows.Handoff
			r         reasonArrays
			retracted uint8
		)
		require.NoError(t, rs.Scan(&h.AccountID, &h.ContactID, &h.At, &h.Score, &h.Fit, &h.Engagement, &h.Intent,
			&h.Label, &h.Stage, &h.Persona, &h.Title, &h.Recommendation, &h.BestTimes,
			&r.rule, &r.category, &r.points, &r.count, &h.RulesVersion,
			&h.Source.Topic, &h.Source.Partition, &h.Source.Offset, &retracted))
		h.Reasons = r.zip(t)
		h.Retracted = readFlag(t, retracted)
		h.At = h.At.UTC()
		h.BestTimes = nilIfEmpty(h.BestTimes)
		out = append(out, h)
	}
	require.NoError(t, rs.Err())
	return out
}

func readEvents(t *testing.T, conn driver.Conn) []rows.ScoreEvent {
	t.Helper()
	rs, err := conn.Query(t.Context(), `SELECT account_id, contact_id, at, type, event, path, rules, points,
		source_topic, source_partition, source_offset, retracted
		FROM score_events FINAL ORDER BY account_id, contact_id, at, source_offset`)
	require.NoError(t, err)
	defer rs.Close()
	var out []rows.ScoreEvent
	for rs.Next() {
		var (
			e         rows.ScoreEvent
			retracted uint8
		)
		require.NoError(t, rs.Scan(&e.AccountID, &e.ContactID, &e.At, &e.Type, &e.Event, &e.Path, &e.Rules, &e.Points,
			&e.Source.Topic, &e.Source.Partition, &e.Source.Offset, &retracted))
		e.Retracted = readFlag(t, retracted)
		e.At = e.At.UTC()
		e.Rules, e.Points = nilIfEmpty(e.Rules), nilIfEmpty(e.Points)
		out = append(out, e)
	}
	require.NoError(t, rs.Err())
	return out
}

// requireSameEvents compares score events in the order of their identity,
// times in UTC, empty arrays as nil.
func requireSameEvents(t *testing.T, want, got []rows.ScoreEvent) {
	t.Helper()
	norm := func(es []rows.ScoreEvent) []rows.ScoreEvent {
		out := slices.Clone(es)
		for i := range out {
			out[i].At = out[i].At.UTC()
			out[i].Rules, out[i].Points = nilIfEmpty(out[i].Rules), nilIfEmpty(out[i].Points)
		}
		slices.SortFunc(out, func(a, b rows.ScoreEvent) int {
			return cmp.Or(cmp.Compare(a.AccountID, b.AccountID), cmp.Compare(a.ContactID, b.ContactID),
				a.At.Compare(b.At), cmp.Compare(a.Source.Topic, b.Source.Topic),
				cmp.Compare(a.Source.Partition, b.Source.Partition), cmp.Compare(a.Source.Offset, b.Source.Offset))
		})
		return out
	}
	require.Equal(t, norm(want), norm(got))
}

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

func readTransitions(t *testing.T, conn driver.Conn) []rows.FunnelTransition {
	t.Helper()
	rs, err := conn.Query(t.Context(), `SELECT account_id, contact_id, from_stage, to_stage, at,
		source, medium, campaign, last_source, last_medium, last_campaign, source_topic, source_partition, source_offset, retracted
		FROM funnel_transitions FINAL ORDER BY account_id, contact_id, at`)
	require.NoError(t, err)
	defer rs.Close()
	var out []rows.FunnelTransition
	for rs.Next() {
		var (
			f         rows.FunnelTransition
			retracted uint8
		)
		require.NoError(t, rs.Scan(&f.AccountID, &f.ContactID, &f.FromStage, &f.ToStage, &f.At,
			&f.Source, &f.Medium, &f.Campaign, &f.LastSource, &f.LastMedium, &f.LastCampaign,
			&f.RecordSource.Topic, &f.RecordSource.Partition, &f.RecordSource.Offset, &retracted))
		f.Retracted = readFlag(t, retracted)
		f.At = f.At.UTC()
		out = append(out, f)
	}
	require.NoError(t, rs.Err())
	return out
}

// reasonArrays are the reasons_* columns of a row as read.
type reasonArrays struct {
	rule, category []string
	points         []float64
	count          []uint32
}

// zip makes the reasons of the parallel arrays, nil when there are none.
func (r *reasonArrays) zip(t *testing.T) []rows.Reason {
	t.Helper()
	require.Len(t, r.category, len(r.rule), "reasons arrays are parallel")
	require.Len(t, r.points, len(r.rule), "reasons arrays are parallel")
	require.Len(t, r.count, len(r.rule), "reasons arrays are parallel")
	var out []rows.Reason
	for i := range r.rule {
		out = append(out, rows.Reason{Rule: r.rule[i], Category: r.category[i], Points: r.points[i], Count: r.count[i]})
	}
	return out
}

func TestClickHouseConformance(t *testing.T) {
	testSinkConformance(t, func(t *testing.T) harness {
		cfg := testClickHouseConfig(t, clickHouseServer(t))
		conn := query(t, cfg)
		return harness{
			sink:         newTestClickHouse(t, cfg, nil),
			read:         func(t *testing.T) []rows.ScoreChange { return readChanges(t, conn) },
			readHandoffs: func(t *testing.T) []rows.Handoff { return readHandoffs(t, conn) },
			standing: func(t *testing.T) ([]rows.ScoreChange, []rows.Handoff) {
				return readStandingChanges(t, conn), readStandingHandoffs(t, conn)
			},
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
			Intent:  c.Intent + 1, Persona: c.Persona,
			BestTimes: [][]string{nil, {"Tue 10:00"}, {"Wed 09:00", "Thu 16:00", "Mon 11:00"}}[i%3],
		}
	}
	return out
}

// testEvents returns n score events of account prefix-<i>: every type,
// with none to three matched rules, the rules parallel to their points.
func testEvents(prefix string, n int) []rows.ScoreEvent {
	base := time.Date(2026, 4, 2, 11, 12, 13, 0, time.UTC)
	out := make([]rows.ScoreEvent, n)
	for i := range out {
		e := rows.ScoreEvent{
			AccountID: fmt.Sprintf("%s-%03d.example.com", prefix, i/3), // several events per account
			ContactID: []string{"", fmt.Sprintf("user-%d@%s.example.com", i, prefix)}[i%2],
			At:        base.Add(time.Duration(i) * 29 * time.Hour),
			Type:      []string{"page", "track", "identify", "group", "alias"}[i%5],
			Source:    rows.Source{Topic: "leadscore.events", Partition: int32(i % 3), Offset: 9000 + int64(i)},
		}
		switch e.Type {
		case "page":
			e.Path = fmt.Sprintf("/pricing/%d?plan='x'", i)
		case "track":
			e.Event = fmt.Sprintf("Demo Requested %d", i)
		}
		for j := range i % 4 {
			e.Rules = append(e.Rules, fmt.Sprintf("rule %d.%d", i, j))
			e.Points = append(e.Points, []float64{12.5, float64(i) / 4, 0 /* a full cap */}[j])
		}
		out[i] = e
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
			LastSource: fmt.Sprintf("last-src%d", i), LastMedium: fmt.Sprintf("last-med%d", i), LastCampaign: fmt.Sprintf("last-camp%d", i),
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
		Handoffs:    testHandoffs("all", 6),
		Events:      testEvents("all", 12),
	}
	require.NoError(t, sink.Write(t.Context(), b))
	require.NoError(t, sink.Write(t.Context(), b)) // a replay
	require.NoError(t, sink.Flush(t.Context()))

	conn := query(t, cfg)
	requireSameChanges(t, b.Changes, readChanges(t, conn))
	for i := range b.Scores {
		b.Scores[i].Reasons = nilIfEmpty(b.Scores[i].Reasons)
	}
	require.Equal(t, b.Scores, readScores(t, conn))
	require.Equal(t, b.Transitions, readTransitions(t, conn))
	requireSameHandoffs(t, b.Handoffs, readHandoffs(t, conn))
	requireSameEvents(t, b.Events, readEvents(t, conn))
}

// TestClickHouseEmptyArrays: rows whose arrays are all empty, next to rows
// whose arrays are not, keep them apart (no values slip into a neighbour).
func TestClickHouseEmptyArrays(t *testing.T) {
	cfg := testClickHouseConfig(t, clickHouseServer(t))
	sink := newTestClickHouse(t, cfg, nil)
	at := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	events := []rows.ScoreEvent{
		{AccountID: "a", At: at, Type: "page", Source: rows.Source{Offset: 1}},
		{AccountID: "a", At: at, Type: "track", Rules: []string{"x", "y"}, Points: []float64{1, 0}, Source: rows.Source{Offset: 2}},
		{AccountID: "a", At: at, Type: "page", Source: rows.Source{Offset: 3}},
	}
	handoffs := []rows.Handoff{
		{AccountID: "a", At: at, BestTimes: []string{}, Reasons: []rows.Reason{}},
		{AccountID: "b", At: at, BestTimes: []string{"Fri 15:00"}, Reasons: []rows.Reason{{Rule: "r", Count: 2}}},
		{AccountID: "c", At: at},
	}
	require.NoError(t, sink.Write(t.Context(), &rows.Batch{Events: events, Handoffs: handoffs}))
	require.NoError(t, sink.Flush(t.Context()))
	conn := query(t, cfg)
	requireSameEvents(t, events, readEvents(t, conn))
	requireSameHandoffs(t, handoffs, readHandoffs(t, conn))
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
	require.NoError(t, sink.Write(t.Context(), &rows.Batch{
		Changes: testChanges("frozen", 3), Handoffs: testHandoffs("frozen", 2), Events: testEvents("frozen", 4),
	}))
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	require.Error(t, sink.Flush(ctx))
	require.NoError(t, sink.Write(t.Context(), &rows.Batch{
		Changes: testChanges("open", 2), Handoffs: testHandoffs("open", 3), Events: testEvents("open", 5),
	}))
	sink.Discard(t.Context())
	require.Zero(t, metricValue(t, sink.m.buffered))
	require.NoError(t, s.Restart())
	after := &rows.Batch{Changes: testChanges("after", 4), Handoffs: testHandoffs("after", 3), Events: testEvents("after", 6)}
	require.NoError(t, sink.Write(t.Context(), after))
	require.NoError(t, sink.Flush(t.Context()))
	conn := query(t, cfg)
	requireSameChanges(t, after.Changes, readChanges(t, conn))
	requireSameHandoffs(t, after.Handoffs, readHandoffs(t, conn))
	requireSameEvents(t, after.Events, readEvents(t, conn))
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

	b := &rows.Batch{Changes: testChanges("m", 4), Scores: testScores("m", 3), Transitions: testTransitions("m", 2),
		Handoffs: testHandoffs("m", 5), Events: testEvents("m", 6)}
	require.NoError(t, sink.Write(t.Context(), b))
	require.Equal(t, 20.0, metricValue(t, sink.m.buffered))
	require.NoError(t, sink.Flush(t.Context()))

	for table, n := range map[string]float64{"score_changes": 4, "account_scores": 3, "funnel_transitions": 2, "handoffs": 5, "score_events": 6} {
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

// TestCheckClickHouse: the start-up check passes on a migrated database;
// a refused user, an unknown database or a missing table is permanent and
// named, with no password in the error; an unreachable server is not
// permanent.
func TestCheckClickHouse(t *testing.T) {
	s := clickHouseServer(t)
	cfg := testClickHouseConfig(t, s)
	require.NoError(t, CheckClickHouse(t.Context(), cfg))

	permanent := func(cfg ClickHouseConfig, want string) {
		t.Helper()
		err := CheckClickHouse(t.Context(), cfg)
		require.ErrorIs(t, err, ErrPermanent)
		require.ErrorContains(t, err, "check clickhouse "+s.Addr+" (user ")
		require.ErrorContains(t, err, want)
		if cfg.Password != "" {
			require.NotContains(t, err.Error(), cfg.Password)
		}
	}
	wrong := cfg
	wrong.Password = "hunter2-not-it"
	permanent(wrong, "user default, database "+cfg.Database+"): code: ")
	nobody := cfg
	nobody.Username = "nobody"
	permanent(nobody, "user nobody")
	missingDB := cfg
	missingDB.Database = "no_such_database"
	permanent(missingDB, "code: 81")
	// A database an older release migrated: a table and a column short.
	require.NoError(t, query(t, cfg).Exec(t.Context(), "ALTER TABLE handoffs DROP COLUMN retracted"))
	permanent(cfg, "columns missing: handoffs.retracted (run leadscore migrate)")
	require.NoError(t, query(t, cfg).Exec(t.Context(), "DROP TABLE lead_merges"))
	permanent(cfg, "tables missing: lead_merges; columns missing: handoffs.retracted (run leadscore migrate)")

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	err := CheckClickHouse(ctx, ClickHouseConfig{Addr: []string{"127.0.0.1:1"}, DialTimeout: time.Second})
	require.ErrorContains(t, err, "check clickhouse 127.0.0.1:1 (user default, database leadscore): ")
	require.NotErrorIs(t, err, ErrPermanent)
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
	batch := &rows.Batch{Changes: testChanges("bench", 100), Scores: testScores("bench", 100), Transitions: testTransitions("bench", 100),
		Handoffs: testHandoffs("bench", 10), Events: testEvents("bench", 300)}
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
	blk.add(&rows.Batch{Changes: testChanges("bench", 10_000), Scores: testScores("bench", 10_000), Transitions: testTransitions("bench", 10_000),
		Handoffs: testHandoffs("bench", 1000), Events: testEvents("bench", 30_000)})
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
	batch := &rows.Batch{Changes: testChanges("bench", 1000), Scores: testScores("bench", 1000), Transitions: testTransitions("bench", 1000),
		Handoffs: testHandoffs("bench", 100), Events: testEvents("bench", 3000)}
	// A flush's rows come from the last few seconds of events: one month,
	// one partition (testChanges spreads over years, a part per month).
	at := time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)
	for i := range batch.Changes {
		batch.Changes[i].AsOf, batch.Scores[i].AsOf, batch.Transitions[i].At = at, at, at
	}
	for i := range batch.Handoffs {
		batch.Handoffs[i].At = at
	}
	for i := range batch.Events {
		batch.Events[i].At = at.Add(time.Duration(i%60) * time.Second)
	}
	b.ReportAllocs()
	for b.Loop() {
		require.NoError(b, sink.Write(b.Context(), batch))
		require.NoError(b, sink.Flush(b.Context()))
	}
	b.ReportMetric(float64(b.N*batch.Len())/b.Elapsed().Seconds(), "rows/s")
}
