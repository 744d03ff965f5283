package sinks

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/stretchr/testify/require"

	chschema "github.com/leadscore/leadscore/deploy/clickhouse"
	"github.com/leadscore/leadscore/internal/chtest"
	"github.com/leadscore/leadscore/internal/rows"
)

func TestMigrateIsIdempotent(t *testing.T) {
	// A database name that does not exist yet: Migrate creates it.
	db := chtest.NewDatabase(t, clickHouseServer(t)) + "_new"
	cfg := ClickHouseConfig{Addr: []string{clickHouseServer(t).Addr}, Database: db}
	conn := query(t, ClickHouseConfig{Addr: cfg.Addr, Database: "default"})
	t.Cleanup(func() { // t.Context() is done by now
		require.NoError(t, conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db))
	})

	all, err := chschema.Migrations()
	require.NoError(t, err)
	var names []string
	for _, m := range all {
		names = append(names, m.Name)
	}

	applied, err := Migrate(t.Context(), cfg)
	require.NoError(t, err)
	require.Equal(t, names, applied)

	applied, err = Migrate(t.Context(), cfg)
	require.NoError(t, err)
	require.Empty(t, applied, "a second run applies nothing")

	var tables []string
	rs, err := conn.Query(t.Context(), "SELECT name FROM system.tables WHERE database = ? ORDER BY name", db)
	require.NoError(t, err)
	for rs.Next() {
		var name string
		require.NoError(t, rs.Scan(&name))
		tables = append(tables, name)
	}
	require.NoError(t, rs.Err())
	require.Equal(t, []string{"account_peak_scores", "account_scores", "channel_costs", "funnel_account_stages",
		"funnel_transitions", "handoffs", "ip_matches", "lead_merges", "rejected_leads", "schema_migrations", "score_changes", "score_events", "visitor_companies"}, tables,
		"0007 replaced 0003's aggregates (funnel_accounts, account_peaks and their views) by views")

	var recorded uint64
	require.NoError(t, conn.QueryRow(t.Context(), "SELECT count() FROM "+db+".schema_migrations").Scan(&recorded))
	require.EqualValues(t, len(all), recorded, "each migration recorded once")
}

// tableColumns returns the columns of table in db and their types, as the
// server reports them.
func tableColumns(t *testing.T, conn driver.Conn, db, table string) map[string]string {
	t.Helper()
	rs, err := conn.Query(t.Context(), "SELECT name, type FROM system.columns WHERE database = ? AND table = ?", db, table)
	require.NoError(t, err)
	defer rs.Close()
	out := map[string]string{}
	for rs.Next() {
		var name, typ string
		require.NoError(t, rs.Scan(&name, &typ))
		out[name] = typ
	}
	require.NoError(t, rs.Err())
	return out
}

// TestMigrateSchemaColumns pins the contract's columns and types (CONTRACT
// section 2) and those of 0002_explanations, as the server reports them.
func TestMigrateSchemaColumns(t *testing.T) {
	cfg := testClickHouseConfig(t, clickHouseServer(t))
	requireSchema(t, query(t, cfg), cfg.Database)
}

// requireSchema checks the tables of db after every migration.
func requireSchema(t *testing.T, conn driver.Conn, db string) {
	t.Helper()
	columns := func(table string) map[string]string { return tableColumns(t, conn, db, table) }
	require.Equal(t, map[string]string{
		"account_id": "String", "contact_id": "String", "as_of": "DateTime",
		"score": "Float64", "fit": "Float64", "engagement": "Float64",
		"grade": "String", "level": "UInt8", "label": "String", "stage": "String",
		"previous_label": "String", "previous_stage": "String", "previous_score": "Float64",
		"reasons_rule": "Array(String)", "reasons_category": "Array(String)", "reasons_points": "Array(Float64)",
		"rules_version": "String", "source_topic": "String", "source_partition": "Int32", "source_offset": "Int64",
		"reasons_count": "Array(UInt32)", "intent": "Float64", "persona": "String", "cause": "String",
		"retracted": "UInt8",
	}, columns("score_changes"))
	require.Equal(t, map[string]string{
		"account_id": "String", "contact_id": "String",
		"score": "Float64", "fit": "Float64", "engagement": "Float64",
		"grade": "String", "level": "UInt8", "label": "String", "stage": "String",
		"reasons_rule": "Array(String)", "reasons_category": "Array(String)", "reasons_points": "Array(Float64)",
		"rules_version": "String", "as_of": "DateTime", "version": "UInt64",
		"reasons_count": "Array(UInt32)", "intent": "Float64", "persona": "String", "best_times": "Array(String)",
		"tags": "Array(String)",
	}, columns("account_scores"))
	require.Equal(t, map[string]string{
		"account_id": "String", "contact_id": "String", "from_stage": "String", "to_stage": "String",
		"at": "DateTime", "source": "String", "medium": "String", "campaign": "String",
		"last_source": "String", "last_medium": "String", "last_campaign": "String",
		"source_topic": "String", "source_partition": "Int32", "source_offset": "Int64",
		"retracted": "UInt8",
	}, columns("funnel_transitions"))
	require.Equal(t, map[string]string{
		"account_id": "String", "contact_id": "String", "at": "DateTime",
		"score": "Float64", "fit": "Float64", "engagement": "Float64", "intent": "Float64",
		"label": "String", "stage": "String", "persona": "String", "title": "String", "recommendation": "String",
		"best_times":   "Array(String)",
		"reasons_rule": "Array(String)", "reasons_category": "Array(String)", "reasons_points": "Array(Float64)", "reasons_count": "Array(UInt32)",
		"rules_version": "String", "source_topic": "String", "source_partition": "Int32", "source_offset": "Int64",
		"retracted": "UInt8",
	}, columns("handoffs"))
	require.Equal(t, map[string]string{
		"account_id": "String", "contact_id": "String", "at": "DateTime",
		"type": "String", "event": "String", "path": "String",
		"rules": "Array(String)", "points": "Array(Float64)",
		"source_topic": "String", "source_partition": "Int32", "source_offset": "Int64",
		"retracted": "UInt8",
	}, columns("score_events"))

	// The identities of CONTRACT section 2 and of the brief of 0002: the
	// sorting keys a replay collapses on.
	keys := map[string]string{}
	rs, err := conn.Query(t.Context(), "SELECT name, engine, sorting_key FROM system.tables WHERE database = ? AND name IN ('handoffs', 'score_events')", db)
	require.NoError(t, err)
	defer rs.Close()
	for rs.Next() {
		var name, engine, key string
		require.NoError(t, rs.Scan(&name, &engine, &key))
		require.Equal(t, "ReplacingMergeTree", engine, name)
		keys[name] = key
	}
	require.NoError(t, rs.Err())
	require.Equal(t, map[string]string{
		"handoffs":     "account_id, contact_id, source_topic, source_partition, source_offset",
		"score_events": "account_id, contact_id, at, source_topic, source_partition, source_offset",
	}, keys)
}

// TestMigrateFrom0001 upgrades a database that a release with only
// 0001_init migrated and wrote to: Migrate applies the rest, the old rows
// read the new columns' defaults, and the sink writes the new columns.
func TestMigrateFrom0001(t *testing.T) {
	s := clickHouseServer(t)
	cfg := ClickHouseConfig{Addr: []string{s.Addr}, Database: chtest.NewDatabase(t, s), RetryBackoff: 10 * time.Millisecond}
	all, err := chschema.Migrations()
	require.NoError(t, err)
	require.Greater(t, len(all), 1)

	// What the old release did: its schema_migrations, 0001, and an old row
	// inserted with 0001's columns only.
	conn := query(t, cfg)
	require.NoError(t, conn.Exec(t.Context(), migrationsTable))
	require.NoError(t, applyMigration(t.Context(), conn, all[0]))
	require.NoError(t, recordMigration(t.Context(), conn, all[0]))
	old := testChanges("old", 1)[0]
	insertOld := func(sql string, row ...any) {
		t.Helper()
		batch, err := conn.PrepareBatch(t.Context(), sql)
		require.NoError(t, err)
		defer batch.Close()
		require.NoError(t, batch.Append(row...))
		require.NoError(t, batch.Send())
	}
	insertOld(`INSERT INTO score_changes (account_id, as_of, score, reasons_rule, reasons_category, reasons_points,
		source_topic, source_partition, source_offset)`,
		old.AccountID, old.AsOf, old.Score, []string{"pricing page"}, []string{"strong"}, []float64{40},
		old.Source.Topic, old.Source.Partition, old.Source.Offset)
	insertOld(`INSERT INTO account_scores (account_id, score, reasons_rule, reasons_category, reasons_points, as_of, version)`,
		old.AccountID, old.Score, []string{"pricing page"}, []string{"strong"}, []float64{40}, old.AsOf, uint64(1))

	applied, err := Migrate(t.Context(), cfg)
	require.NoError(t, err)
	var want []string
	for _, m := range all[1:] {
		want = append(want, m.Name)
	}
	require.Equal(t, want, applied, "only the migrations after 0001")
	requireSchema(t, conn, cfg.Database)

	got := readChanges(t, conn)
	require.Len(t, got, 1)
	require.Equal(t, []rows.Reason{{Rule: "pricing page", Category: "strong", Points: 40}}, got[0].Reasons,
		"an old row counts 0 events per reason")
	require.Zero(t, got[0].Intent)
	require.Empty(t, got[0].Persona)
	require.Empty(t, got[0].Cause)
	require.False(t, got[0].Retracted, "a row written before 0007 stands")
	scores := readScores(t, conn)
	require.Len(t, scores, 1)
	require.Nil(t, scores[0].BestTimes)
	require.Equal(t, uint32(0), scores[0].Reasons[0].Count)

	// The sink writes every table and column of the upgraded database.
	sink := newTestClickHouse(t, cfg, nil)
	b := &rows.Batch{Changes: testChanges("new", 4), Scores: testScores("new", 4), Handoffs: testHandoffs("new", 3), Events: testEvents("new", 5)}
	require.NoError(t, sink.Write(t.Context(), b))
	require.NoError(t, sink.Flush(t.Context()))
	requireSameChanges(t, append(b.Changes, got...), readChanges(t, conn))
	requireSameHandoffs(t, b.Handoffs, readHandoffs(t, conn))
	requireSameEvents(t, b.Events, readEvents(t, conn))
	for i := range b.Scores {
		b.Scores[i].Reasons = nilIfEmpty(b.Scores[i].Reasons)
	}
	require.Equal(t, append(b.Scores, scores...), readScores(t, conn), "new-* sorts before old-*")
}

// TestMigrationsRunTwice: every migration's statements are safe to run
// again, as after a Migrate that failed half way (the migration is applied
// but not recorded) or two instances migrating at once.
func TestMigrationsRunTwice(t *testing.T) {
	s := clickHouseServer(t)
	cfg := ClickHouseConfig{Addr: []string{s.Addr}, Database: chtest.NewDatabase(t, s)}
	conn := query(t, cfg)
	all, err := chschema.Migrations()
	require.NoError(t, err)
	for _, m := range all {
		require.NoError(t, applyMigration(t.Context(), conn, m), m.Name)
		require.NoError(t, applyMigration(t.Context(), conn, m), "%s applied again", m.Name)
	}
	// Half of a migration applied, then all of it (a run that failed in
	// the middle, then the next run).
	for _, m := range all {
		stmts := m.Statements()
		half := chschema.Migration{Version: m.Version, Name: m.Name, SQL: strings.Join(stmts[:len(stmts)/2], ";\n")}
		require.NoError(t, applyMigration(t.Context(), conn, half), m.Name)
	}
	requireSchema(t, conn, cfg.Database)

}

// TestMigrateConcurrentAddColumn: migrators racing on the same ADD COLUMN
// statements all succeed. Whoever loses a race between the column check
// and the ALTER gets an error from the server, forgiven because the column
// is there.
func TestMigrateConcurrentAddColumn(t *testing.T) {
	s := clickHouseServer(t)
	cfg := ClickHouseConfig{Addr: []string{s.Addr}, Database: chtest.NewDatabase(t, s)}
	conn := query(t, cfg)
	require.NoError(t, conn.Exec(t.Context(), "CREATE TABLE race (k String) ENGINE = MergeTree ORDER BY k"))
	var sql strings.Builder
	const columns = 20
	for i := range columns {
		fmt.Fprintf(&sql, "ALTER TABLE race ADD COLUMN c%d Array(UInt32);\n", i)
	}
	m := chschema.Migration{Version: 99, Name: "0099_race", SQL: sql.String()}
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Go(func() { errs[i] = applyMigration(t.Context(), conn, m) })
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...))
	require.Len(t, tableColumns(t, conn, cfg.Database, "race"), 1+columns)
}

// TestMigrateAddColumnErrorsStillFail: forgiving a failed ADD COLUMN only
// when the column exists afterwards must not hide a real error.
func TestMigrateAddColumnErrorsStillFail(t *testing.T) {
	s := clickHouseServer(t)
	cfg := ClickHouseConfig{Addr: []string{s.Addr}, Database: chtest.NewDatabase(t, s)}
	conn := query(t, cfg)
	bad := chschema.Migration{Version: 99, Name: "0099_bad", SQL: "ALTER TABLE missing_table ADD COLUMN c String;"}
	err := applyMigration(t.Context(), conn, bad)
	require.ErrorContains(t, err, "apply 0099_bad statement 1")
	var ex *clickhouse.Exception
	require.ErrorAs(t, err, &ex)
	require.EqualValues(t, 60, ex.Code) // UNKNOWN_TABLE
}
