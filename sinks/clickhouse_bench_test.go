package sinks

import (
	"context"
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/leadscore/leadscore/internal/chtest"
	"github.com/leadscore/leadscore/internal/rows"
)

// sinkBenchFlushRows is the rows of one flush in BenchmarkClickHouseSink:
// what one engine cycle of flush_records (50 000) records writes, as in
// bench/sink.go.
const sinkBenchFlushRows = 150_000

// sinkBenchBatch returns n score changes, n account scores and n score
// events shaped like the engine's (six reasons, ids like the generator's):
// the rows of bench/sink.go.
func sinkBenchBatch(seq, n int) *rows.Batch {
	b := &rows.Batch{}
	at := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	reasons := []rows.Reason{
		{Rule: "industry", Category: "fit", Points: 30}, {Rule: "employees", Category: "fit", Points: 30},
		{Rule: "country", Category: "fit", Points: 20}, {Rule: "pricing page", Category: "strong", Points: 17.4, Count: 3},
		{Rule: "any page", Category: "weak", Points: 6.2, Count: 9}, {Rule: "email open", Category: "weak", Points: 3.9, Count: 2},
	}
	for i := range n {
		acct := fmt.Sprintf("initech-%d.ai", (seq*n+i)%20_000)
		src := rows.Source{Topic: "leadscore.events", Partition: int32(i % 4), Offset: int64(seq*n + i)}
		b.Changes = append(b.Changes, rows.ScoreChange{AccountID: acct, Score: 74.1, Fit: 80, Engagement: 70.1, Grade: "A", Level: 2,
			Label: "A2", Stage: "mql", PreviousLabel: "A3", PreviousStage: "lead", PreviousScore: 68.2, Reasons: reasons,
			RulesVersion: "example-1", AsOf: at, Source: src, Cause: rows.CauseEvent})
		b.Scores = append(b.Scores, rows.AccountScore{AccountID: acct, Score: 74.1, Fit: 80, Engagement: 70.1, Grade: "A", Level: 2,
			Label: "A2", Stage: "mql", Reasons: reasons, RulesVersion: "example-1", AsOf: at, Version: uint64(seq*n + i),
			BestTimes: []string{"Tue 10:00", "Wed 09:00"}, Tags: []string{}})
		b.Events = append(b.Events, rows.ScoreEvent{AccountID: acct, At: at, Type: "page", Path: "/pricing",
			Rules: []string{"pricing page", "any page"}, Points: []float64{20, 1}, Source: src})
	}
	return b
}

// nullDatabase returns a config for a fresh database on the test server
// holding every table of the schema with the Null engine: inserts are
// parsed by the server and dropped.
func nullDatabase(tb testing.TB) ClickHouseConfig {
	tb.Helper()
	s := clickHouseServer(tb)
	schema := ClickHouseConfig{Addr: []string{s.Addr}, Database: chtest.NewDatabase(tb, s)}
	_, err := Migrate(context.Background(), schema)
	require.NoError(tb, err)
	db := chtest.NewDatabase(tb, s)
	conn, err := clickhouse.Open(s.Options(db))
	require.NoError(tb, err)
	defer conn.Close()
	var blk chBlock
	for _, t := range blk.tables() {
		require.NoError(tb, conn.Exec(context.Background(), fmt.Sprintf("CREATE TABLE %s AS %s.%s ENGINE = Null", t.table(), schema.Database, t.table())))
	}
	return ClickHouseConfig{Addr: []string{s.Addr}, Database: db}
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkClickHouseSink is the sink part of the bench harness
// (bench/sink.go) as a benchmark: Write in batches of 1000 score changes,
// account scores and score events each, Flush every 150 000 rows, into
// Null tables. One op is one flush; it reports rows per second (wall), the
// client's CPU-seconds per million rows (getrusage, the whole process) and
// the cores that makes.
func BenchmarkClickHouseSink(b *testing.B) {
	cfg := nullDatabase(b)
	cfg.MaxBufferRows = 4 * sinkBenchFlushRows
	sink, err := NewClickHouse(cfg, nil, nil)
	require.NoError(b, err)
	defer sink.Close(context.Background())
	ctx := context.Background()
	batches := make([]*rows.Batch, 16)
	for i := range batches {
		batches[i] = sinkBenchBatch(i, 1000)
	}
	// Warm up, as a running engine is after its first cycles: the
	// connection, and the capacity of both blocks (the one a flush sends
	// and the one Write fills meanwhile) and of the connection's buffers.
	// The warm-up writes the same batches as the timed loop: ids of other
	// lengths would leave the buffers short, and the first timed flushes
	// would grow them.
	for range 2 {
		for i, n := 0, 0; n < sinkBenchFlushRows; i++ {
			bt := batches[i%len(batches)]
			require.NoError(b, sink.Write(ctx, bt))
			n += bt.Len()
		}
		require.NoError(b, sink.Flush(ctx))
	}
	runtime.GC()
	b.ReportAllocs()
	written, k := 0, 0
	cpu0 := processCPU()
	for b.Loop() {
		for n := 0; n < sinkBenchFlushRows; n += batches[k%len(batches)].Len() {
			bt := batches[k%len(batches)]
			if err := sink.Write(ctx, bt); err != nil {
				b.Fatal(err)
			}
			written += bt.Len()
			k++
		}
		if err := sink.Flush(ctx); err != nil {
			b.Fatal(err)
		}
	}
	cpu := processCPU() - cpu0
	b.ReportMetric(float64(written)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(cpu.Seconds()/float64(written)*1e6, "cpu-s/Mrows")
	b.ReportMetric(cpu.Seconds()/b.Elapsed().Seconds(), "cores")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(written), "ns/row")
}

// BenchmarkClickHouseSinkWrite measures the Write part of
// BenchmarkClickHouseSink: a flush's rows (150 000) copied into the column
// buffers, in batches of 3000. No server is involved.
func BenchmarkClickHouseSinkWrite(b *testing.B) {
	batches := make([]*rows.Batch, 16)
	for i := range batches {
		batches[i] = sinkBenchBatch(i, 1000)
	}
	var blk chBlock
	fill := func() {
		blk.reset()
		for i := range sinkBenchFlushRows / batches[0].Len() {
			blk.add(batches[i%len(batches)])
		}
	}
	fill()
	b.ReportAllocs()
	cpu0 := processCPU()
	for b.Loop() {
		fill()
	}
	// CPU time as well as wall time: the former is steadier on a busy
	// machine.
	b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/float64(b.N*sinkBenchFlushRows), "cpu-ns/row")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*sinkBenchFlushRows), "ns/row")
}
