// Package querytest checks the saved queries of package queries on any
// ClickHouse engine, the way net/http/httptest helps test HTTP code: a
// synthetic data set with known answers (New, Dataset.Statements), an
// oracle that computes each query's rows from the generated accounts in Go
// (Dataset.Expected), and a suite that migrates an engine's empty database,
// loads the data set with a replay and compares every query's output with
// the oracle (RunSuite). An Engine is anything that runs SQL and answers in
// TabSeparated: the HTTP interface of a server (HTTP), or chDB in package
// deploy/clickhouse/chdb.
//
// The data set covers what the queries must get right: stages skipped,
// mql falling back to lead and coming back, lost deals, transitions in the
// same second, decay transitions (partition -1), accounts without a
// channel, channel values in mixed case, contact rows (never counted),
// spend on a channel that brought nobody, a cost reloaded with a new value,
// rows written before migrations 0003 and 0007, and rows written and then
// corrected or retracted, chosen so that every answer changes if they
// count (see Dataset.Provisional).
package querytest
