package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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

const crashEvents = 20_000

// TestCrashRecovery kills `leadscore run` with SIGKILL at three points of a
// stream and restarts it each time; the score-change topic (read committed)
// must equal one clean run's: nothing lost, nothing twice. The same scenario
// on a deliberately broken build (restore skipped) must differ, which shows
// the comparison would catch a recovery bug.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills real processes")
	}
	cluster, brokers := crashCluster(t)
	defer cluster.Close()

	clean := runScenario(t, os.Args[0], brokers, "clean", nil)
	require.NotEmpty(t, clean)
	crashed := runScenario(t, os.Args[0], brokers, "crash", []float64{0.25, 0.5, 0.75})
	require.Equal(t, clean, crashed, "after three SIGKILLs the committed score changes equal a clean run's")

	broken := filepath.Join(t.TempDir(), "leadscore-broken")
	out, err := exec.Command("go", "build", "-tags", "leadscore_broken_restore", "-o", broken, ".").CombinedOutput()
	require.NoError(t, err, "%s", out)
	bad := runScenario(t, broken, brokers, "broken", []float64{0.5})
	require.NotEqual(t, clean, bad, "a build that does not restore state must be caught")
}

func crashCluster(t *testing.T) (*kfake.Cluster, []string) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, "leadscore.events"), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(4))
	require.NoError(t, err)
	brokers := c.ListenAddrs()
	_, err = pipeline.Produce(context.Background(), brokers, "leadscore.events",
		generate.New(generate.Config{Seed: 9, Accounts: 300}), crashEvents, 0)
	require.NoError(t, err)
	return c, brokers
}

// runScenario runs the binary in its own group and output topics, killing it
// with SIGKILL once each fraction of the input is committed and restarting
// it, then stops it with SIGTERM once everything is committed. It returns the
// committed score-change records, as "key value" strings with their counts.
func runScenario(t *testing.T, bin string, brokers []string, name string, killAt []float64) map[string]int {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "leadscore.yaml")
	require.NoError(t, os.WriteFile(cfg, fmt.Appendf(nil, `
kafka:
  group: %[1]s
  score_changes_topic: %[1]s.score-changes
  dlq_topic: %[1]s.dlq
  transactional_id: %[1]s-instance
  instance_id: %[1]s-instance
  create_topics: true
clickhouse: {disabled: true}
http: {listen: ""}
engine: {flush_interval: 50ms, max_poll_records: 500}
`, name), 0o644))
	ctx := context.Background()
	start := func() (*exec.Cmd, *lockedBuffer) {
		cmd := exec.Command(bin, "run", "--config", cfg, "--brokers", brokers[0])
		cmd.Env = append(os.Environ(), reexecEnv+"=1")
		var stderr lockedBuffer
		cmd.Stderr = &stderr
		require.NoError(t, cmd.Start())
		return cmd, &stderr
	}
	waitCommitted := func(cmd *exec.Cmd, stderr *lockedBuffer, n int64) {
		deadline := time.Now().Add(2 * time.Minute)
		for {
			lag, err := pipeline.GroupLag(ctx, brokers, name, "leadscore.events", name+"-repartition")
			if err == nil && crashEvents-lag >= n {
				return
			}
			require.True(t, time.Now().Before(deadline), "%s: %d records not committed in time: %s", name, n, stderr.String())
			time.Sleep(20 * time.Millisecond)
		}
	}
	cmd, stderr := start()
	for _, f := range killAt {
		waitCommitted(cmd, stderr, int64(f*crashEvents))
		require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
		_ = cmd.Wait()
		cmd, stderr = start()
	}
	waitCommitted(cmd, stderr, crashEvents)
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, cmd.Wait(), "%s: %s", name, stderr.String())
	return committedRecords(t, brokers, name+".score-changes")
}

// committedRecords reads a topic with read_committed to its end.
func committedRecords(t *testing.T, brokers []string, topic string) map[string]int {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	require.NoError(t, err)
	need := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			need[o.Partition] = o.Offset - 1
		}
	})
	out := map[string]int{}
	for len(need) > 0 {
		f := cl.PollFetches(ctx)
		require.NoError(t, ctx.Err(), "read %s", topic)
		f.EachRecord(func(r *kgo.Record) {
			if last, ok := need[r.Partition]; ok && r.Offset >= last {
				delete(need, r.Partition)
			}
			if !r.Attrs.IsControl() {
				out[string(r.Key)+" "+string(r.Value)]++
			}
		})
	}
	return out
}
