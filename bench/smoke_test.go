package bench

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestHarnessSmoke runs the whole harness at a tiny size: the programs are
// built, every run happens and the results render. The figures mean
// nothing at this size; that they exist does.
func TestHarnessSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs three programs, Kafka and ClickHouse")
	}
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	out := filepath.Join(t.TempDir(), "RESULTS.md")
	stages := filepath.Join(t.TempDir(), "stages.txt")
	require.NoError(t, os.WriteFile(stages, []byte(`pkg: github.com/leadscore/leadscore/internal/event
BenchmarkStageDecode-2           	  100000	      2000 ns/op	 150.00 MB/s	     512 B/op	       3 allocs/op
BenchmarkStageDecodeBaseline-2   	   20000	      9000 ns/op	  33.30 MB/s	    4096 B/op	      60 allocs/op
pkg: github.com/leadscore/leadscore/pipeline
BenchmarkStagePipeline-2   	   10000	     11491 ns/op	  30.89 MB/s	         0.8043 rows/op	    1643 B/op	      23 allocs/op
`), 0o644))
	opts := Options{
		Root: root, Out: out, Quick: true, Seed: 3, Events: 3000, Accounts: 300,
		FlushInterval: 100 * time.Millisecond, LatencyFractions: []float64{0.5}, LatencyDuration: time.Second,
		MemAccounts: 1000, SinkRows: 9000, Stages: stages, Log: testWriter{t}, BinDir: t.TempDir(),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := Run(ctx, opts)
	require.NoError(t, err)
	for _, k := range []string{"decode", "engine-ch", "engine-discard", "naive-ch", "naive-discard"} {
		require.Contains(t, res.Throughput, k)
		require.Positive(t, res.Throughput[k].PerSecond(), k)
	}
	require.Len(t, res.Latency, 2)
	for _, l := range res.Latency {
		require.Positive(t, l.Samples, "latency samples of %s", l.Program)
	}
	// At this size the slope is noise; that the heap was read is the point.
	require.Positive(t, res.Memory["engine"].Heap2)
	require.Positive(t, res.Memory["naive"].Heap2)
	require.Positive(t, res.Sink["engine"].Rows)
	require.Len(t, res.Stages, 2)
	md, err := os.ReadFile(out)
	require.NoError(t, err)
	for _, want := range []string{"## Targets", "events per CPU-second", "| internal/event | Decode |"} {
		require.True(t, strings.Contains(string(md), want), "results lack %q:\n%s", want, md)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
