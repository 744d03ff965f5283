package sinks

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	chschema "github.com/leadscore/leadscore/deploy/clickhouse"
	"github.com/leadscore/leadscore/internal/chtest"
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
	require.Equal(t, []string{"account_scores", "funnel_transitions", "schema_migrations", "score_changes"}, tables)

	var recorded uint64
	require.NoError(t, conn.QueryRow(t.Context(), "SELECT count() FROM "+db+".schema_migrations").Scan(&recorded))
	require.EqualValues(t, len(all), recorded, "each migration recorded once")
}

// TestMigrateSchemaColumns pins the contract's columns and types (CONTRACT
// section 2) as the server reports them.
func TestMigrateSchemaColumns(t *testing.T) {
	cfg := testClickHouseConfig(t, clickHouseServer(t))
	conn := query(t, cfg)
	columns := func(table string) map[string]string {
		rs, err := conn.Query(t.Context(), "SELECT name, type FROM system.columns WHERE database = ? AND table = ?", cfg.Database, table)
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
	require.Equal(t, map[string]string{
		"account_id": "String", "contact_id": "String", "as_of": "DateTime",
		"score": "Float64", "fit": "Float64", "engagement": "Float64",
		"grade": "String", "level": "UInt8", "label": "String", "stage": "String",
		"previous_label": "String", "previous_stage": "String", "previous_score": "Float64",
		"reasons_rule": "Array(String)", "reasons_category": "Array(String)", "reasons_points": "Array(Float64)",
		"rules_version": "String", "source_topic": "String", "source_partition": "Int32", "source_offset": "Int64",
	}, columns("score_changes"))
	require.Equal(t, map[string]string{
		"account_id": "String", "contact_id": "String",
		"score": "Float64", "fit": "Float64", "engagement": "Float64",
		"grade": "String", "level": "UInt8", "label": "String", "stage": "String",
		"reasons_rule": "Array(String)", "reasons_category": "Array(String)", "reasons_points": "Array(Float64)",
		"rules_version": "String", "as_of": "DateTime", "version": "UInt64",
	}, columns("account_scores"))
	require.Equal(t, map[string]string{
		"account_id": "String", "contact_id": "String", "from_stage": "String", "to_stage": "String",
		"at": "DateTime", "source": "String", "medium": "String", "campaign": "String",
		"source_topic": "String", "source_partition": "Int32", "source_offset": "Int64",
	}, columns("funnel_transitions"))
}
