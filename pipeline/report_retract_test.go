package pipeline

import (
	"context"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/leadscore/leadscore/deploy/clickhouse/queries/querytest"
	"github.com/leadscore/leadscore/internal/chtest"
	"github.com/leadscore/leadscore/internal/rows"
	"github.com/leadscore/leadscore/sinks"
)

// TestReportAndExplainReadStanding: the SQL of leadscore report and
// explain reads score_changes and score_events in the shape
// deploy/clickhouse/0007_retractions prescribes (FINAL in a subquery,
// retracted rows skipped outside it).
func TestReportAndExplainReadStanding(t *testing.T) {
	for _, sql := range []string{scoreChangesSQL, explainEventsSQL(false, 5), explainEventsSQL(true, 5)} {
		require.NoError(t, querytest.CheckStandingReads(sql), sql)
	}
}

// retractDB returns a ClickHouse config for a fresh migrated database, a
// sink writing to it and a reading connection. Each write is flushed on
// its own, so that a correction or retraction lands in a part after the
// row it replaces, as the engine writes them, and FINAL must merge them.
func retractDB(t *testing.T) (ClickHouseConfig, func(b *rows.Batch), clickhouse.Conn) {
	t.Helper()
	cfg := DefaultConfig().ClickHouse
	cfg.Addr = []string{chServer.Addr}
	cfg.Database = chtest.NewDatabase(t, chServer)
	_, err := sinks.Migrate(t.Context(), cfg.SinkConfig())
	require.NoError(t, err)
	sink, err := sinks.NewClickHouse(cfg.SinkConfig(), nil, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sink.Close(context.Background()) })
	conn, err := openClickHouse(cfg, cfg.Database)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	write := func(b *rows.Batch) {
		t.Helper()
		require.NoError(t, sink.Write(t.Context(), b))
		require.NoError(t, sink.Flush(t.Context()))
	}
	return cfg, write, conn
}

// TestExplainSkipsRetractedEvents: explain lists the score events that
// stand: a corrected event as corrected, a retracted one not at all,
// whoever's it was.
func TestExplainSkipsRetractedEvents(t *testing.T) {
	_, write, conn := retractDB(t)
	at := time.Date(2026, 3, 10, 6, 0, 0, 0, time.UTC)
	src := func(offset int64) rows.Source {
		return rows.Source{Topic: "leadscore.events", Partition: 1, Offset: offset}
	}
	ev := func(contact string, hours int, offset int64, rule string, points float64) rows.ScoreEvent {
		return rows.ScoreEvent{AccountID: "acme.com", ContactID: contact, At: at.Add(time.Duration(hours) * time.Hour),
			Type: "track", Event: "Email Replied", Rules: []string{rule}, Points: []float64{points}, Source: src(offset)}
	}
	retraction := func(e rows.ScoreEvent) rows.ScoreEvent {
		return rows.ScoreEvent{AccountID: e.AccountID, ContactID: e.ContactID, At: e.At, Source: e.Source, Retracted: true}
	}
	standing := ev("", 0, 1, "email reply", 25)
	retracted := ev("", 1, 2, "email reply", 25)         // the newest event of the account: would head the list
	corrected := ev("u-17", 2, 3, "email reply", 25)     // written first with the points of a cap not yet seen
	retractedC := ev("u-17", 3, 4, "pricing page", 20)   // the contact's newest
	standingC := ev("u-17", -1, 5, "pricing page", 12.5) // the contact's oldest
	write(&rows.Batch{
		Scores: []rows.AccountScore{{AccountID: "acme.com", Score: 50, Label: "B3", Stage: "lead", AsOf: at, Version: 1},
			{AccountID: "acme.com", ContactID: "u-17", Score: 40, Label: "B4", Stage: "lead", AsOf: at, Version: 1}},
		Events: []rows.ScoreEvent{standing, retracted, corrected, retractedC, standingC},
	})
	fixed := corrected
	fixed.Points = []float64{7.5}
	write(&rows.Batch{Events: []rows.ScoreEvent{retraction(retracted), fixed, retraction(retractedC)}})

	got := func(contact string) []ExplainedEvent {
		t.Helper()
		x, err := explain(t.Context(), conn, "acme.com", contact, 10)
		require.NoError(t, err)
		for i := range x.Events {
			x.Events[i].At = x.Events[i].At.UTC()
		}
		return x.Events
	}
	want := func(es ...rows.ScoreEvent) []ExplainedEvent {
		var out []ExplainedEvent
		for _, e := range es {
			out = append(out, ExplainedEvent{At: e.At, Type: e.Type, Event: e.Event, Path: e.Path, Rules: e.Rules, Points: e.Points})
		}
		return out
	}
	require.Equal(t, want(fixed, standing, standingC), got(""), "the account's events that stand, newest first")
	require.Equal(t, want(fixed, standingC), got("u-17"), "the contact's")

	// The retracted rows are there: only the reader skips them.
	var n uint64
	require.NoError(t, conn.QueryRow(t.Context(), "SELECT count() FROM score_events FINAL").Scan(&n))
	require.EqualValues(t, 5, n)
}

// TestReportSkipsRetractedChanges: the demo report counts the score changes
// that stand: a replayed or corrected change once, a retracted one not at
// all.
func TestReportSkipsRetractedChanges(t *testing.T) {
	cfg, write, conn := retractDB(t)
	at := time.Date(2026, 3, 10, 6, 0, 0, 0, time.UTC)
	var changes []rows.ScoreChange
	for i := range 6 {
		changes = append(changes, rows.ScoreChange{AccountID: "acme.com", AsOf: at.Add(time.Duration(i) * time.Hour),
			Score: float64(10 * i), Label: "B3", Stage: "lead", Cause: rows.CauseEvent,
			Source: rows.Source{Topic: "leadscore.events", Offset: int64(i)}})
	}
	write(&rows.Batch{Changes: changes})
	fix := changes[1]
	fix.Cause, fix.Score = rows.CauseCorrection, 12
	var retractions []rows.ScoreChange
	for _, c := range changes[3:5] {
		retractions = append(retractions, rows.ScoreChange{AccountID: c.AccountID, AsOf: c.AsOf, Source: c.Source,
			Cause: rows.CauseRetraction, Retracted: true})
	}
	write(&rows.Batch{Changes: append([]rows.ScoreChange{fix, changes[0]}, retractions...)})

	rep, err := Report(t.Context(), cfg, 5)
	require.NoError(t, err)
	require.EqualValues(t, 4, rep.ScoreChanges, "6 written, 2 retracted")
	var n uint64
	require.NoError(t, conn.QueryRow(t.Context(), "SELECT count() FROM score_changes FINAL").Scan(&n))
	require.EqualValues(t, 6, n, "the retractions are rows: only the reader skips them")
}
