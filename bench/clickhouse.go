package bench

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/leadscore/leadscore/internal/chtest"
	"github.com/leadscore/leadscore/sinks"
)

// The databases of the run: the engine's schema, migrated as `leadscore
// migrate` would, and a copy of each of its tables with ENGINE = Null, which
// accepts and parses every insert and stores nothing. The engine and the
// baseline write to the copy, so the figures measure the client and the
// protocol, not the server's merges (nor the materialized views, which are
// not copied). Their names carry the harness's process id, so that two runs
// sharing a server (LEADSCORE_CLICKHOUSE_ADDR) keep apart.
var (
	schemaDB = fmt.Sprintf("leadbench_schema_%d", os.Getpid())
	nullDB   = fmt.Sprintf("leadbench_null_%d", os.Getpid())
)

func (h *harness) startClickHouse(ctx context.Context) error {
	s, err := chtest.Start()
	if err != nil {
		return err
	}
	h.ch = s
	h.nullDB = nullDB
	h.res.ClickHouseAddr = s.Addr
	conn, err := clickhouse.Open(s.Options(""))
	if err != nil {
		return fmt.Errorf("open clickhouse: %w", err)
	}
	defer conn.Close()
	var version string
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&version); err != nil {
		return fmt.Errorf("clickhouse version: %w", err)
	}
	h.res.ClickHouseVersion = version
	for _, db := range []string{schemaDB, nullDB} {
		if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+db); err != nil {
			return fmt.Errorf("drop %s: %w", db, err)
		}
	}
	if _, err := sinks.Migrate(ctx, sinks.ClickHouseConfig{Addr: []string{s.Addr}, Database: schemaDB}); err != nil {
		return err
	}
	if err := conn.Exec(ctx, "CREATE DATABASE "+nullDB); err != nil {
		return fmt.Errorf("create %s: %w", nullDB, err)
	}
	rs, err := conn.Query(ctx, "SELECT name FROM system.tables WHERE database = ? AND engine LIKE '%MergeTree' AND name NOT LIKE '.inner%' AND name != 'schema_migrations'", schemaDB)
	if err != nil {
		return fmt.Errorf("list tables: %w", err)
	}
	var tables []string
	for rs.Next() {
		var name string
		if err := rs.Scan(&name); err != nil {
			rs.Close()
			return fmt.Errorf("list tables: %w", err)
		}
		tables = append(tables, name)
	}
	rs.Close()
	for _, t := range tables {
		if err := conn.Exec(ctx, fmt.Sprintf("CREATE TABLE %s.%s AS %s.%s ENGINE = Null", nullDB, t, schemaDB, t)); err != nil {
			return fmt.Errorf("create null table %s: %w", t, err)
		}
	}
	h.res.NullTables = tables
	h.logf("   clickhouse %s at %s: %d Null tables in %s", version, s.Addr, len(tables), nullDB)
	return nil
}

func (h *harness) dropNullDB() {
	conn, err := clickhouse.Open(h.ch.Options(""))
	if err != nil {
		return
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, db := range []string{schemaDB, nullDB} {
		_ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+db)
	}
}
