// Package clickhouse holds leadscore's ClickHouse schema as versioned
// migration files, and the minimal server configuration used to run a
// private ClickHouse for tests and local runs.
//
// A migration is a file NNNN_name.sql: statements separated by ';', with
// '--' comments for analysts. Table names are unqualified, so a migration
// applies to the database of the connection that runs it. ClickHouse has no
// transactional DDL, so every statement is safe to run twice: a migration
// that fails half way is simply applied again. A statement is either CREATE
// ... IF NOT EXISTS, an ALTER TABLE t ADD COLUMN c Type [AFTER x] adding
// one column, which the runner skips when the column exists (18.16 has no
// ADD COLUMN IF NOT EXISTS; see AddedColumn), an idempotent backfill INSERT
// ... SELECT, or DROP TABLE IF EXISTS of a view or an aggregate that an
// earlier migration derived from the engine's rows (0007_retractions
// replaces 0003's aggregates by views). The statements run unchanged on
// ClickHouse 18.16 and on current releases.
//
// The engine's tables are ReplacingMergeTree keyed on the rows' identity,
// and since 0007 a row may be corrected (its identity written again) or
// retracted (written again with retracted = 1). Readers apply FINAL first
// and skip retracted rows outside it, in a subquery; 0007_retractions says
// why and shows how.
//
// sinks.Migrate applies the files; this package only parses them.
package clickhouse
