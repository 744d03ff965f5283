// Package queries holds the saved analytics queries of leadscore: one
// SELECT per file, NAME.sql, over the tables of deploy/clickhouse (the
// funnel and score views of 0007_retractions, funnel_transitions and
// channel_costs). They answer the
// analysts' questions (which channel brings accounts that convert, where
// the funnel loses them, how long they sit in a stage, how many MQLs each
// week, what a lead and a win cost per channel, whether the score is
// calibrated), and they are exactly what the Grafana dashboards of
// deploy/grafana and `leadscore report` run.
//
// They count only the rows that stand: a query reads an engine table with
// FINAL in a subquery and skips retracted rows outside it, never in the
// same SELECT as FINAL, where a server may apply the condition before
// FINAL and keep the row a retraction cancels (see 0007_retractions).
//
// A file starts with a comment that says what the query answers and what
// each column means, then holds one statement. Table names are
// unqualified: a query runs in the database of its connection (in Grafana,
// the data source's default database). The time range is given by two
// macros of the Grafana ClickHouse data source plugin, $__fromTime and
// $__toTime, which the plugin replaces with toDateTime(<unix seconds>);
// Expand does the same for every other caller. The queries run unchanged on
// ClickHouse 18.16 and on current releases, and return the same rows on
// both: numbers are rounded half up as floor(x * 10^d + 0.5) / 10^d,
// because round(x, d) breaks ties differently across releases.
//
// Subpackage querytest has a synthetic data set with known answers for the
// tests of every engine that runs these queries.
package queries
