// Package chdb checks leadscore's ClickHouse schema and saved queries on a
// current ClickHouse release, next to the 18.16 server every other test
// uses: the engine chDB embeds as a shared library (libchdb.so, loaded by
// github.com/chdb-io/chdb-go without cgo).
//
// Its tests carry the build tag chdb, so `go test ./...` never builds them
// and needs no 560 MB library: `make test` runs them on their own, with
// CHDB_LIB_PATH pointing at the copy scripts/fetch-chdb.sh keeps in
// .local/chdb/ (chdb-go panics at start when the library is missing).
// By hand:
//
//	CHDB_LIB_PATH=$(scripts/fetch-chdb.sh) go test -tags chdb ./deploy/clickhouse/chdb
//
// They apply every migration of deploy/clickhouse (twice, the second run a
// no-op, and 0003's backfill after rows were written), load the synthetic
// data set of package querytest with a replay, and run every saved query
// and every Grafana panel's query over each time range of querytest.Ranges
// on both engines: each must run without error, match the oracle, and
// return the same rows, byte for byte, on chDB as on 18.16.
package chdb
