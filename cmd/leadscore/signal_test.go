package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/leadscore/leadscore/internal/generate"
	"github.com/leadscore/leadscore/pipeline"
)

// The test binary doubles as the leadscore binary: with this variable set it
// runs main's command line instead of the tests.
const reexecEnv = "LEADSCORE_TEST_MAIN"

func init() {
	if os.Getenv(reexecEnv) == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
}

// TestSIGTERMStopsCleanly runs `leadscore run` as a real process against a
// broker, sends SIGTERM mid-stream, and expects a clean stop: exit 0, the
// consumed offsets committed, and the state in the changelog for the next
// start.
func TestSIGTERMStopsCleanly(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "leadscore.events", "leadscore.score-changes", "leadscore.dlq"))
	require.NoError(t, err)
	defer cluster.Close()
	brokers := cluster.ListenAddrs()
	ctx := context.Background()
	_, err = pipeline.Produce(ctx, brokers, "leadscore.events", generate.New(generate.Config{Seed: 5, Accounts: 50}), 5000, 0)
	require.NoError(t, err)

	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "leadscore.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte("clickhouse: {disabled: true}\nhttp: {listen: \"\"}\nengine: {state_dir: "+filepath.Join(dir, "state")+"}\n"), 0o644))
	cmd := exec.Command(os.Args[0], "run", "--config", cfgPath, "--brokers", brokers[0])
	cmd.Env = append(os.Environ(), reexecEnv+"=1")
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())

	// Wait until it has committed something, then stop it.
	deadline := time.Now().Add(time.Minute)
	for {
		lag, err := pipeline.GroupLag(ctx, brokers, "leadscore", "leadscore.events")
		if err == nil && lag < 5000 {
			break
		}
		require.True(t, time.Now().Before(deadline), "no commit within a minute: %s", stderr.String())
		time.Sleep(20 * time.Millisecond)
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	err = cmd.Wait()
	require.NoError(t, err, "exit status after SIGTERM: %s", stderr.String())
	require.Contains(t, stderr.String(), "stopped cleanly")
	lag, err := pipeline.GroupLag(ctx, brokers, "leadscore", "leadscore.events")
	require.NoError(t, err)
	require.Less(t, lag, int64(5000))
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	require.NoError(t, err)
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListCommittedOffsets(ctx, "leadscore-changelog")
	require.NoError(t, err)
	var changelog int64
	ends.Each(func(o kadm.ListedOffset) { changelog += o.Offset })
	require.Positive(t, changelog, "the state was saved to the changelog")
}

// lockedBuffer is a bytes.Buffer a child process's output can be copied into
// while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
