package pipeline

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/leadscore/leadscore/internal/chtest"
	"github.com/leadscore/leadscore/sinks"
)

// TestReadyzFollowsProbes kills ClickHouse under an idle engine whose loop
// holds its mutex, as it does across a whole flush: /readyz turns 503
// naming the sink, and leadscore_pipeline_sink_down 1, long before
// clickhouse.flush_timeout would have passed, and both come back when the
// server does. Without the prober nothing notices until a flush gives up.
func TestReadyzFollowsProbes(t *testing.T) {
	s, err := chtest.StartPrivate() // never kill a shared server
	require.NoError(t, err)
	t.Cleanup(s.Stop)
	cfg := DefaultConfig()
	cfg.Kafka.Embedded.Listen = "127.0.0.1:0"
	cluster, err := StartEmbedded(cfg)
	require.NoError(t, err)
	t.Cleanup(cluster.Close)
	cfg.Kafka.Brokers = cluster.ListenAddrs()
	cfg.ClickHouse.Addr = []string{s.Addr}
	cfg.ClickHouse.Database = chtest.NewDatabase(t, s)
	cfg.ClickHouse.FlushTimeout = Duration(30 * time.Second)
	cfg.ClickHouse.ProbeInterval = Duration(200 * time.Millisecond)
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Engine.StateDir = t.TempDir()
	cfg.Engine.FlushInterval = Duration(100 * time.Millisecond)
	_, err = sinks.Migrate(t.Context(), cfg.ClickHouse.SinkConfig())
	require.NoError(t, err)

	reg := prometheus.NewRegistry()
	e, err := New(cfg, WithRegisterer(reg), WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + e.HTTPAddr() + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	sinkDown := func() string {
		_, body := get("/metrics")
		for l := range strings.Lines(body) {
			if strings.HasPrefix(l, "leadscore_pipeline_sink_down ") {
				return strings.TrimSpace(strings.TrimPrefix(l, "leadscore_pipeline_sink_down "))
			}
		}
		return ""
	}
	require.Eventually(t, func() bool { code, _ := get("/readyz"); return code == http.StatusOK }, time.Minute, 50*time.Millisecond)
	require.Equal(t, "0", sinkDown())

	// Well under flush_timeout (30 s), however slow the machine.
	const deadline = 10 * time.Second
	e.mu.Lock() // the loop's lock, as a flush holds it
	require.NoError(t, s.Kill())
	var body string
	require.Eventually(t, func() bool {
		var code int
		code, body = get("/readyz")
		return code == http.StatusServiceUnavailable
	}, deadline, 20*time.Millisecond, "/readyz still ready %s after ClickHouse died", deadline)
	require.Contains(t, body, "not ready: sink: ping clickhouse")
	require.Equal(t, "1", sinkDown())
	require.False(t, e.Ready())
	e.mu.Unlock()

	require.NoError(t, s.Restart())
	require.Eventually(t, func() bool { code, _ := get("/readyz"); return code == http.StatusOK }, time.Minute, 50*time.Millisecond)
	require.Equal(t, "0", sinkDown())
	cancel()
	require.NoError(t, <-done)
}

// TestRunChecksBrokers: Run does not start against brokers that do not
// answer; it gives up after its wait with an ErrStartCheck naming them. A
// disabled ClickHouse is not checked, whatever its address.
func TestRunChecksBrokers(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())

	cfg := DefaultConfig()
	cfg.Kafka.Brokers = []string{addr}
	cfg.ClickHouse.Disabled = true
	cfg.ClickHouse.Addr = []string{"127.0.0.1:1"}
	cfg.HTTP.Listen = ""
	cfg.Engine.StateDir = t.TempDir()
	e, err := New(cfg, WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	e.brokerWait = 2 * time.Second
	err = e.Run(t.Context())
	require.ErrorIs(t, err, ErrStartCheck)
	require.ErrorContains(t, err, "no answer within 2s: check kafka brokers "+addr+": ")
	require.ErrorContains(t, err, "connection refused")
	require.NotContains(t, err.Error(), "clickhouse")
}
