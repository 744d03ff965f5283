package sinks

// The ClickHouse stage of issue 8's per-stage benchmarks, against this
// package's test server: score_changes rows (one per scored event that
// moved a score) from the generated stream, written until they are in
// ClickHouse, flushed every stageFlushRows rows as a cycle would.
//
//   - BenchmarkStageClickHouse: the sink, Write (column buffers) then
//     Flush (one native-protocol block per table, LZ4).
//   - BenchmarkStageClickHouseBaseline: database/sql through clickhouse-go's
//     std driver, the same connection options: a transaction, a prepared
//     INSERT and one Exec per row with its []any arguments, Commit per
//     flush.
//
// Both insert into a score_changes table with the Null engine (same columns,
// nothing stored), so the server's merge-tree writes are not measured; what
// is measured is the client's encoding and sending and the server's parsing.
// One op is one row; SetBytes is the mean size of a row in the native
// format. Each side first inserts the sample once, untimed (connections,
// the server's first insert). Rows still buffered when the loop ends (fewer
// than stageFlushRows) are flushed outside the timer, on both sides alike.

import (
	"context"
	"database/sql"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/leadscore/leadscore/internal/chtest"
	"github.com/leadscore/leadscore/internal/event"
	"github.com/leadscore/leadscore/internal/generate"
	"github.com/leadscore/leadscore/internal/rows"
	"github.com/leadscore/leadscore/scorer"
)

const (
	// stageSampleRows is how many rows the benchmarks cycle through.
	stageSampleRows = 2000
	// stageFlushRows is the rows per flush: about one second of events
	// (engine.flush_interval) at 10,000 events/s.
	stageFlushRows = 10_000
)

// stageChanges returns the first n score changes the example rules emit on
// the stream `leadscore generate` writes by default (seed 1, 2000
// accounts), each event applied to its generated account as a scoring
// worker does, and the rows' mean native size.
func stageChanges(tb testing.TB, n int) ([]rows.ScoreChange, int64) {
	tb.Helper()
	r, err := scorer.Parse(scorer.Example(), "example rules")
	require.NoError(tb, err)
	type account struct {
		s    scorer.State
		last scorer.Result
		sent bool
	}
	accounts := map[string]*account{}
	g := generate.New(generate.Config{Seed: 1, Accounts: 2000})
	var res scorer.Result
	out := make([]rows.ScoreChange, 0, n)
	total := 0
	for offset := int64(0); len(out) < n; offset++ {
		rec := g.Next()
		var ev event.Event
		if rec.Malformed || event.Decode(rec.Value, &ev, event.DefaultLimits()) != nil {
			continue
		}
		a := accounts[string(rec.Key)]
		if a == nil {
			a = &account{}
			accounts[string(rec.Key)] = a
		}
		r.Observe(&a.s, &ev)
		if ev.Type == event.TypeGroup {
			f := &a.s.Firm
			f.Industry, f.Country, f.Technologies = ev.Traits.Industry, ev.Traits.Country, ev.Traits.Technologies
			f.Employees, f.HasEmployees = ev.Traits.Employees, ev.Traits.HasEmployees
		}
		if ev.UserID != "" {
			a.s.Known = true
		}
		r.Evaluate(&a.s, &res)
		if !r.ShouldEmit(&a.last, a.sent, &res) {
			continue
		}
		c := rows.ScoreChange{
			AccountID: string(rec.Key), ContactID: ev.UserID, Score: res.Score, Fit: res.Fit, Engagement: res.Engagement,
			Grade: res.Grade, Level: res.Level, Label: res.Label, Stage: res.Stage.String(),
			Reasons:      append([]rows.Reason(nil), res.Reasons...),
			RulesVersion: r.Version, AsOf: a.s.AsOf,
			Source: rows.Source{Topic: "leadscore.events", Offset: offset},
			Intent: res.Intent, Cause: rows.CauseEvent,
		}
		if a.sent {
			c.PreviousLabel, c.PreviousStage, c.PreviousScore = a.last.Label, a.last.Stage.String(), a.last.Score
		}
		a.last, a.sent = res, true
		a.last.Reasons = nil
		out = append(out, c)
		total += nativeSize(&c)
	}
	return out, int64(total / n)
}

// nativeSize is the bytes a score_changes row takes in a native-protocol
// block, uncompressed: strings with their length, fixed-size numbers, and
// per array column an offset plus its elements.
func nativeSize(c *rows.ScoreChange) int {
	str := func(s string) int { return uvarintLen(len(s)) + len(s) }
	n := str(c.AccountID) + str(c.ContactID) + 4 /* as_of */ + 3*8 + str(c.Grade) + 1 + str(c.Label) + str(c.Stage) +
		str(c.PreviousLabel) + str(c.PreviousStage) + 8 + str(c.RulesVersion) + str(c.Source.Topic) + 4 + 8 +
		8 /* intent */ + str(c.Persona) + str(c.Cause)
	n += 4 * 8 // reasons offsets
	for _, r := range c.Reasons {
		n += str(r.Rule) + str(r.Category) + 8 + 4
	}
	return n
}

func uvarintLen(v int) int {
	n := 1
	for ; v >= 0x80; v >>= 7 {
		n++
	}
	return n
}

// stageDatabase returns a config for a fresh migrated database on the test
// server; with null, for a fresh database holding only a score_changes
// table with the migrated columns and the Null engine.
func stageDatabase(tb testing.TB, null bool) ClickHouseConfig {
	tb.Helper()
	s := clickHouseServer(tb)
	cfg := ClickHouseConfig{Addr: []string{s.Addr}, Database: chtest.NewDatabase(tb, s)}
	_, err := Migrate(context.Background(), cfg)
	require.NoError(tb, err)
	if !null {
		return cfg
	}
	db := chtest.NewDatabase(tb, s)
	conn, err := clickhouse.Open(s.Options(db))
	require.NoError(tb, err)
	defer conn.Close()
	require.NoError(tb, conn.Exec(context.Background(), "CREATE TABLE score_changes AS "+cfg.Database+".score_changes ENGINE = Null"))
	cfg.Database = db
	return cfg
}

// naiveInserter is the database/sql way to insert rows: a transaction, a
// prepared INSERT, an Exec per row, Commit.
type naiveInserter struct {
	db   *sql.DB
	tx   *sql.Tx
	stmt *sql.Stmt
	sql  string
}

func newNaiveInserter(tb testing.TB, cfg ClickHouseConfig) *naiveInserter {
	tb.Helper()
	db := clickhouse.OpenDB(&clickhouse.Options{
		Addr:        cfg.Addr,
		Auth:        clickhouse.Auth{Database: cfg.Database, Username: "default"},
		Compression: &clickhouse.Compression{Method: clickhouse.CompressionLZ4},
	})
	tb.Cleanup(func() { db.Close() })
	var cc changeColumns
	return &naiveInserter{db: db, sql: insertSQL(cc.table(), cc.columns())}
}

func (n *naiveInserter) insert(c *rows.ScoreChange) error {
	if n.stmt == nil {
		tx, err := n.db.Begin()
		if err != nil {
			return err
		}
		if n.stmt, err = tx.Prepare(n.sql); err != nil {
			return err
		}
		n.tx = tx
	}
	var (
		rule, category []string
		points         []float64
		count          []uint32
	)
	for _, r := range c.Reasons {
		rule = append(rule, r.Rule)
		category = append(category, r.Category)
		points = append(points, r.Points)
		count = append(count, r.Count)
	}
	_, err := n.stmt.Exec(c.AccountID, c.ContactID, c.AsOf, c.Score, c.Fit, c.Engagement, c.Grade, c.Level, c.Label, c.Stage,
		c.PreviousLabel, c.PreviousStage, c.PreviousScore, rule, category, points, count,
		c.RulesVersion, c.Source.Topic, c.Source.Partition, c.Source.Offset, c.Intent, c.Persona, c.Cause, uint8Flag(c.Retracted))
	return err
}

func (n *naiveInserter) commit() error {
	if n.tx == nil {
		return nil
	}
	err := n.tx.Commit()
	n.tx, n.stmt = nil, nil
	return err
}

func BenchmarkStageClickHouse(b *testing.B) {
	rs, size := stageChanges(b, stageSampleRows)
	sink, err := NewClickHouse(stageDatabase(b, true), nil, nil)
	require.NoError(b, err)
	defer sink.Close(context.Background())
	ctx := context.Background()
	// Warm up (connection, the server's first insert), out of the timing.
	require.NoError(b, sink.Write(ctx, &rows.Batch{Changes: rs}))
	require.NoError(b, sink.Flush(ctx))
	var batch rows.Batch
	b.ReportAllocs()
	b.SetBytes(size)
	i := 0
	for b.Loop() {
		k := i % len(rs)
		batch.Changes = rs[k : k+1]
		if err := sink.Write(ctx, &batch); err != nil {
			b.Fatal(err)
		}
		if i++; i%stageFlushRows == 0 {
			if err := sink.Flush(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	require.NoError(b, sink.Flush(ctx))
}

func BenchmarkStageClickHouseBaseline(b *testing.B) {
	rs, size := stageChanges(b, stageSampleRows)
	n := newNaiveInserter(b, stageDatabase(b, true))
	for i := range rs { // warm up, as the sink's benchmark does
		require.NoError(b, n.insert(&rs[i]))
	}
	require.NoError(b, n.commit())
	b.ReportAllocs()
	b.SetBytes(size)
	i := 0
	for b.Loop() {
		if err := n.insert(&rs[i%len(rs)]); err != nil {
			b.Fatal(err)
		}
		if i++; i%stageFlushRows == 0 {
			if err := n.commit(); err != nil {
				b.Fatal(err)
			}
		}
	}
	require.NoError(b, n.commit())
}

// TestStageClickHouseBaselineAgrees is the oracle check that the baseline
// is honest: the same rows inserted by the sink and by database/sql read
// back the same.
func TestStageClickHouseBaselineAgrees(t *testing.T) {
	rs, _ := stageChanges(t, 300)
	engine, naive := stageDatabase(t, false), stageDatabase(t, false)
	sink := newTestClickHouse(t, engine, nil)
	require.NoError(t, sink.Write(t.Context(), &rows.Batch{Changes: rs}))
	require.NoError(t, sink.Flush(t.Context()))
	n := newNaiveInserter(t, naive)
	for i := range rs {
		require.NoError(t, n.insert(&rs[i]))
	}
	require.NoError(t, n.commit())
	want := readChanges(t, query(t, engine))
	require.Len(t, want, len(rs))
	requireSameChanges(t, want, readChanges(t, query(t, naive)))
}
