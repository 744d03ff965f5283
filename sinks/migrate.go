package sinks

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	chschema "github.com/leadscore/leadscore/deploy/clickhouse"
)

// migrationsTable records the applied migrations, one row per version.
// MergeTree rather than TinyLog: it tolerates concurrent readers and writers
// (two instances starting at once) and its DDL is the same on 18.16 and on
// current releases.
const migrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations
(
    version    UInt32,
    name       String,
    applied_at DateTime
)
ENGINE = MergeTree
ORDER BY version`

// Migrate creates cfg's database when missing and applies, in version order,
// the migrations of deploy/clickhouse that its schema_migrations table does
// not record yet. It returns the names of the migrations it applied: none
// on a second run.
//
// ClickHouse has no transactional DDL: a migration is recorded after all its
// statements ran, and its statements are safe to run again (CREATE ... IF
// NOT EXISTS; an ADD COLUMN is skipped when the table has the column), so a
// Migrate that fails half way is fixed by running it again. Two instances
// migrating at once both apply the pending files, which those statements
// make harmless.
func Migrate(ctx context.Context, cfg ClickHouseConfig) ([]string, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("migrate clickhouse: %w", err)
	}
	cfg = cfg.withDefaults()
	migrations, err := chschema.Migrations()
	if err != nil {
		return nil, fmt.Errorf("migrate clickhouse: %w", err)
	}

	// The database may not exist yet, and a connection cannot name a
	// missing database: create it over a connection to the default one.
	server, err := cfg.open("")
	if err != nil {
		return nil, fmt.Errorf("migrate clickhouse: %w", err)
	}
	err = server.Exec(ctx, "CREATE DATABASE IF NOT EXISTS `"+cfg.Database+"`")
	server.Close()
	if err != nil {
		return nil, fmt.Errorf("migrate clickhouse: create database %s: %w", cfg.Database, err)
	}

	conn, err := cfg.open(cfg.Database)
	if err != nil {
		return nil, fmt.Errorf("migrate clickhouse: %w", err)
	}
	defer conn.Close()
	if err := conn.Exec(ctx, migrationsTable); err != nil {
		return nil, fmt.Errorf("migrate clickhouse: create schema_migrations: %w", err)
	}
	applied := make(map[uint32]bool)
	rs, err := conn.Query(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("migrate clickhouse: read schema_migrations: %w", err)
	}
	for rs.Next() {
		var v uint32
		if err := rs.Scan(&v); err != nil {
			rs.Close()
			return nil, fmt.Errorf("migrate clickhouse: read schema_migrations: %w", err)
		}
		applied[v] = true
	}
	if err := errors.Join(rs.Err(), rs.Close()); err != nil {
		return nil, fmt.Errorf("migrate clickhouse: read schema_migrations: %w", err)
	}

	var names []string
	for _, m := range migrations {
		if applied[m.Version] {
			continue
		}
		if err := applyMigration(ctx, conn, m); err != nil {
			return names, fmt.Errorf("migrate clickhouse: %w", err)
		}
		if err := recordMigration(ctx, conn, m); err != nil {
			return names, fmt.Errorf("migrate clickhouse: record %s: %w", m.Name, err)
		}
		names = append(names, m.Name)
	}
	return names, nil
}

// applyMigration runs m's statements in order. An ALTER adding one column
// (chschema.AddedColumn) is skipped when the table has that column already:
// 18.16 has no ADD COLUMN IF NOT EXISTS, and the migration may have been
// applied in part by a run that failed, or by another instance migrating at
// the same time. That instance can also add the column between the check
// and the ALTER, so the ALTER's failure is forgiven when the column exists
// afterwards.
func applyMigration(ctx context.Context, conn driver.Conn, m chschema.Migration) error {
	for i, stmt := range m.Statements() {
		table, column, adds := chschema.AddedColumn(stmt)
		if adds {
			has, err := hasColumn(ctx, conn, table, column)
			if err != nil {
				return fmt.Errorf("apply %s statement %d: %w", m.Name, i+1, err)
			}
			if has {
				continue
			}
		}
		err := conn.Exec(ctx, stmt)
		if err != nil && adds {
			if has, herr := hasColumn(ctx, conn, table, column); herr == nil && has {
				err = nil
			}
		}
		if err != nil {
			return fmt.Errorf("apply %s statement %d: %w", m.Name, i+1, err)
		}
	}
	return nil
}

// hasColumn tells whether table of the connection's database has column.
func hasColumn(ctx context.Context, conn driver.Conn, table, column string) (bool, error) {
	var n uint64
	err := conn.QueryRow(ctx, "SELECT count() FROM system.columns WHERE database = currentDatabase() AND table = ? AND name = ?",
		table, column).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("look up column %s.%s: %w", table, column, err)
	}
	return n > 0, nil
}

func recordMigration(ctx context.Context, conn driver.Conn, m chschema.Migration) error {
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO schema_migrations (version, name, applied_at)")
	if err != nil {
		return err
	}
	defer batch.Close()
	if err := batch.Append(m.Version, m.Name, time.Now().UTC()); err != nil {
		return err
	}
	return batch.Send()
}
