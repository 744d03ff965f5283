package pipeline

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

// accountRecords returns the records of accounts [from, to), the shape of
// the bench harness's memory run (bench/memory.go): one group call with
// firmographics and one page view per account.
func accountRecords(topic string, from, to int) []*kgo.Record {
	base := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	var recs []*kgo.Record
	for i := from; i < to; i++ {
		acct := fmt.Sprintf("acct-%d.example", i)
		t := base.Add(time.Duration(i) * time.Millisecond).Format(time.RFC3339Nano)
		recs = append(recs,
			&kgo.Record{Topic: topic, Key: []byte(acct), Offset: int64(2 * i), Value: fmt.Appendf(nil,
				`{"type":"group","messageId":"g-%d","groupId":%q,"timestamp":%q,"traits":{"name":"Acct %d","industry":"software","employees":300,"country":"US","technologies":["hubspot","segment"]}}`, i, acct, t, i)},
			&kgo.Record{Topic: topic, Key: []byte(acct), Offset: int64(2*i + 1), Value: fmt.Appendf(nil,
				`{"type":"page","messageId":"p-%d","anonymousId":"v-%d","timestamp":%q,"context":{"groupId":%q,"page":{"path":"/pricing","url":"https://leadscore.example/pricing"}}}`, i, i, t, acct)})
	}
	return recs
}

// liveHeap returns the live heap after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkAccountMemory reports the live heap per tracked account of
// both workers (input and scoring) in the bench harness's memory shape:
// the heap's growth from n to 2n accounts over n, as the harness measures
// it end to end, without Kafka: go test ./pipeline -run '^$' -bench
// BenchmarkAccountMemory -benchtime 1x (LEADSCORE_HEAP_PROFILE=<file>
// also writes a heap profile at 2n accounts). Only the B/account metric
// means anything. Not a BenchmarkStage*: make test does not run it.
func BenchmarkAccountMemory(b *testing.B) {
	const n = 50_000
	for b.Loop() {
		p := newStagePipeline(b)
		ctx := context.Background()
		feed := func(from, to int) {
			for i, r := range accountRecords(p.e.cfg.Kafka.Topics[0], from, to) {
				p.recs = append(p.recs[:0], r)
				require.NoError(b, p.next(ctx), "record %d", i)
			}
			// The end of a cycle: account_scores rows and clean accounts.
			p.sc.batch.Reset()
			p.sc.scoreRows(&p.sc.batch)
			p.sc.batch.Reset()
		}
		feed(0, n)
		h1 := liveHeap()
		feed(n, 2*n)
		h2 := liveHeap()
		require.Len(b, p.sc.accounts, 2*n)
		b.ReportMetric(float64(h2-h1)/n, "B/account")
		if f := os.Getenv("LEADSCORE_HEAP_PROFILE"); f != "" {
			out, err := os.Create(f)
			require.NoError(b, err)
			require.NoError(b, pprof.Lookup("heap").WriteTo(out, 0))
			require.NoError(b, out.Close())
		}
		runtime.KeepAlive(p)
	}
}
