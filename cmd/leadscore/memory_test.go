package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestMemoryBound streams one event for each of many distinct accounts
// through `leadscore run` with a resident cap far below their number, and
// measures the process's peak RSS. Short: 200 000 accounts, 20 000 resident;
// LEADSCORE_SOAK=1: 10 M accounts, 1 M resident, peak RSS under 1.5 GiB.
func TestMemoryBound(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a real process on a large stream")
	}
	const pollRecords = 2000
	accounts, resident, limit := 200_000, 20_000, int64(512<<20)
	if os.Getenv(envSoak) != "" {
		accounts, resident, limit = 10_000_000, 1_000_000, 1536<<20
	}
	if v := os.Getenv("LEADSCORE_MEM_ACCOUNTS"); v != "" { // other sizes, by hand
		n, err := strconv.Atoi(v)
		require.NoError(t, err)
		accounts, resident = n, n/10
	}
	if v := os.Getenv("LEADSCORE_MEM_LIMIT_MIB"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(t, err)
		limit = int64(n) << 20
	}
	bin := buildLeadscore(t)
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, inputTopic),
		kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(partitions))
	require.NoError(t, err)
	defer cluster.Close()
	brokers := cluster.ListenAddrs()

	start := time.Now()
	produceDistinctAccounts(t, brokers, accounts)
	t.Logf("produced %d events, one per account, in %s", accounts, time.Since(start).Round(time.Millisecond))

	dir := t.TempDir()
	cfg := filepath.Join(dir, "leadscore.yaml")
	require.NoError(t, os.WriteFile(cfg, fmt.Appendf(nil, `
kafka: {group: mem, create_topics: true, partitions: %d, transactional_id: mem-a}
clickhouse: {disabled: true}
log: {level: warn}
engine: {max_resident_accounts: %d, max_resident_links: %d, max_poll_records: %d, state_dir: %s}
`, partitions, resident, resident, pollRecords, filepath.Join(dir, "state")), 0o644))
	// The Go heap is kept to three quarters of the limit, as a deployment
	// would set GOMEMLIMIT below its container's limit; the rest is for
	// pebble's cache and memtables (outside the Go heap) and the runtime.
	goLimit := limit / 4 * 3
	s := &scenario{t: t, f: &faultEnv{brokers: brokers, plan: faultPlan{events: accounts}}, topic: inputTopic, name: "mem", bin: bin, cfg: cfg, dir: dir,
		env: []string{"GOMEMLIMIT=" + strconv.FormatInt(goLimit, 10)}, patience: time.Hour}
	start = time.Now()
	p := s.start("a")
	s.waitCommitted(int64(accounts), p)
	elapsed := time.Since(start)
	peak := p.status("VmHWM")
	if dir := os.Getenv("LEADSCORE_MEM_PROFILE"); dir != "" { // by hand: where the memory goes
		_, heap := p.get("/debug/pprof/heap")
		require.NoError(t, os.WriteFile(filepath.Join(dir, "heap.pprof"), []byte(heap), 0o644))
	}
	// The commit that covers the last records is followed by an eviction.
	var metrics string
	var residentNow float64
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		_, metrics = p.get("/metrics")
		if residentNow = metricLine(metrics, "leadscore_pipeline_accounts"); residentNow <= float64(resident) || time.Now().After(deadline) {
			break
		}
	}
	p.stop(t)

	evicted := metricLine(metrics, "leadscore_pipeline_accounts_evicted_total")
	store := metricLine(metrics, "leadscore_pipeline_state_store_bytes")
	t.Logf("%d accounts in %s (%.0f events/s); resident at the end %.0f (cap %d), evicted %.0f, store %.0f MiB; peak RSS %d MiB (limit %d MiB, GOMEMLIMIT %d MiB)",
		accounts, elapsed.Round(time.Millisecond), float64(accounts)/elapsed.Seconds(), residentNow, resident, evicted, store/(1<<20), peak>>20, limit>>20, goLimit>>20)

	// A restart restores every partition from the changelog: the resident
	// share into memory, the rest into the local store.
	start = time.Now()
	p = s.start("a")
	require.Eventually(t, func() bool { code, _ := p.get("/readyz"); return code == 200 }, 30*time.Minute, 100*time.Millisecond)
	ready := time.Since(start)
	_, after := p.get("/metrics")
	restorePeak := p.status("VmHWM")
	p.stop(t)
	t.Logf("restart: ready after %s; restore took %.1f s over %.0f partitions; %.0f accounts resident after it; peak RSS %d MiB",
		ready.Round(time.Millisecond), metricLine(after, "leadscore_pipeline_restore_seconds_sum"),
		metricLine(after, "leadscore_pipeline_restore_seconds_count"), metricLine(after, "leadscore_pipeline_accounts"), restorePeak>>20)
	require.LessOrEqual(t, metricLine(after, "leadscore_pipeline_accounts"), float64(resident))
	require.Less(t, restorePeak, limit, "peak RSS while restoring")

	require.LessOrEqual(t, residentNow, float64(resident))
	require.GreaterOrEqual(t, evicted, float64(accounts-resident))
	require.Less(t, peak, limit, "peak RSS")
}

// produceDistinctAccounts writes n track events, each for its own account.
func produceDistinctAccounts(t *testing.T, brokers []string, n int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(inputTopic),
		kgo.ProducerLinger(5*time.Millisecond), kgo.MaxBufferedRecords(100_000))
	require.NoError(t, err)
	defer cl.Close()
	ctx := context.Background()
	base := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	var failed error
	for i := range n {
		acct := "acct-" + strconv.Itoa(i) + ".example"
		v := fmt.Appendf(nil, `{"type":"track","event":"Pricing Page Viewed","messageId":"m-%d","anonymousId":"v-%d","context":{"groupId":%q},"timestamp":%q}`,
			i, i, acct, base.Add(time.Duration(i)*time.Millisecond).Format(time.RFC3339Nano))
		cl.Produce(ctx, &kgo.Record{Key: []byte(acct), Value: v}, func(_ *kgo.Record, err error) {
			if err != nil {
				failed = err
			}
		})
	}
	require.NoError(t, cl.Flush(ctx))
	require.NoError(t, failed)
}

// metricLine is the value of an unlabelled metric in a Prometheus text page.
func metricLine(page, name string) float64 {
	for line := range strings.Lines(page) {
		if rest, ok := strings.CutPrefix(line, name+" "); ok {
			v, _ := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return v
		}
	}
	return -1
}
