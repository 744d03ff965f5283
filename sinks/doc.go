// Package sinks writes the engine's output rows to ClickHouse and Kafka.
//
// It sits at the end of the flow: partition workers Write rows, the committer
// calls Flush on every sink before it commits the offsets of the records the
// rows came from. One file per sink; every sink passes the conformance suite
// in sinks_test.go.
//
// ClickHouse (clickhouse.go) buffers rows per table in columns already laid
// out as the native protocol sends them (clickhouse_columns.go) and inserts
// them at Flush, one INSERT per table, the tables in parallel, each on its
// own ch-go connection (clickhouse_native.go), retrying the same frozen
// block on transient errors until the Flush's context is done; Write blocks when
// MaxBufferRows are waiting, which is how a ClickHouse outage backpressures
// the workers. Migrate (migrate.go) creates the database and applies the
// schema of deploy/clickhouse. Every row has a deterministic identity (the
// tables' ReplacingMergeTree keys), so an insert repeated by a retry or by a
// replay of the input leaves one row per identity after FINAL. The same
// holds for a correction or a retraction (a row's identity written again,
// with new content or with Retracted set): written after the row it
// replaces, it is what FINAL keeps; the sink writes them like any row, the
// retracted column included, and readers skip retracted rows outside FINAL
// (deploy/clickhouse/0007_retractions).
//
// ClickHouse writes five tables: score_changes, account_scores,
// funnel_transitions, handoffs and score_events (every event applied, with
// what each rule earned: the history leadscore explain reads).
//
// Kafka (kafka.go) produces score changes, and handoffs when configured
// (WithHandoffs), as JSON (json.go) with a client the pipeline owns; a
// retraction carries "retracted":true, and consumers keep the latest record
// of an identity, deleting it on a retraction. Flush
// waits for the acknowledgements and reports the records that failed since
// the previous Flush. Score events are not produced to Kafka.
//
// Both sinks report the same metric families, labelled by sink:
// leadscore_sink_rows_total{sink,table}, leadscore_sink_flush_seconds{sink},
// leadscore_sink_errors_total{sink} and leadscore_sink_buffered_rows{sink}.
package sinks
