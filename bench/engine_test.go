package bench

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/leadscore/leadscore/internal/generate"
	"github.com/leadscore/leadscore/pipeline"
)

// BenchmarkEngineKafkaOnly measures the engine end to end on the embedded
// broker with ClickHouse disabled: consume, decode, resolve, score, produce
// score changes and dead letters, commit. Each iteration is a new consumer
// group reading the same pre-produced topic from the start.
func BenchmarkEngineKafkaOnly(b *testing.B) {
	const events = 100_000
	cfg := pipeline.DefaultConfig()
	cfg.Kafka.Embedded.Listen = "127.0.0.1:0"
	cfg.ClickHouse.Disabled = true
	cfg.HTTP.Listen = ""
	cfg.Log.Level = "error"
	cfg.Engine.StateDir = b.TempDir()
	cluster, err := pipeline.StartEmbedded(cfg)
	require.NoError(b, err)
	defer cluster.Close()
	cfg.Kafka.Brokers = cluster.ListenAddrs()
	ctx := context.Background()
	n, err := pipeline.Produce(ctx, cfg.Kafka.Brokers, cfg.Kafka.Topics[0], generate.New(generate.Config{Seed: 1}), events, 0)
	require.NoError(b, err)

	i := 0
	var elapsed time.Duration
	for b.Loop() {
		i++
		cfg.Kafka.Group = fmt.Sprintf("bench-%d", i)
		e, err := pipeline.New(cfg, pipeline.WithLogger(slog.New(slog.DiscardHandler)))
		require.NoError(b, err)
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		start := time.Now()
		go func() { done <- e.Run(runCtx) }()
		require.NoError(b, pipeline.WaitCaughtUp(ctx, cfg.Kafka.Brokers, cfg.Kafka.Group, cfg.ConsumedTopics()...))
		elapsed += time.Since(start)
		cancel()
		require.NoError(b, <-done)
	}
	b.ReportMetric(float64(n*i)/elapsed.Seconds(), "events/s")
	b.ReportMetric(0, "ns/op")
}
