package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"

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
// broker, sends SIGTERM mid-stream, and expects a clean stop: exit 0, every
// consumed offset committed, and the state saved for the next start.
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
	require.NoError(t, os.WriteFile(cfgPath, []byte("clickhouse: {disabled: true}\nhttp: {listen: \"\"}\nstate_dir: "+dir+"/state\n"), 0o644))
	cmd := exec.Command(os.Args[0], "run", "--config", cfgPath, "--brokers", brokers[0])
	cmd.Env = append(os.Environ(), reexecEnv+"=1")
	var stderr bytes.Buffer
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
	snaps, err := filepath.Glob(filepath.Join(dir, "state", "leadscore", "*.json"))
	require.NoError(t, err)
	require.Len(t, snaps, 2, "one snapshot per owned partition")
}
