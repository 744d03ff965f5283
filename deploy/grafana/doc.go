// Package grafana holds leadscore's Grafana dashboards, one JSON file per
// dashboard, for the official ClickHouse data source plugin
// (grafana-clickhouse-datasource, v4):
//
//   - leadscore-funnel.json: where the funnel loses accounts, how many
//     leads, MQLs, opportunities and wins each week, how long accounts sit
//     in each stage;
//   - leadscore-channels.json: which channel brings accounts that convert,
//     what a lead, an MQL and a win cost per channel and month, leads per
//     channel per day, the last touch before conversion;
//   - leadscore-scores.json: whether the score is calibrated (conversion by
//     score band).
//
// Every panel runs one saved query of deploy/clickhouse/queries, its SQL
// the query file's statement exactly (the tests check it), with the
// plugin's $__fromTime and $__toTime macros for the dashboard's time range.
// Import a file in Grafana (Dashboards, New, Import) and pick the ClickHouse
// data source whose default database holds leadscore's tables; the
// dashboards' datasource variable lets you switch it.
//
// The files are generated from the panel list in dashboards_test.go:
// change it and run go test ./deploy/grafana -update.
package grafana
