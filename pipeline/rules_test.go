package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/leadscore/leadscore/scorer"
)

// metricLabelled is the value of a labelled series of the last engine, 0
// when absent.
func (h *harness) metricLabelled(name, label, value string) float64 {
	mfs, err := h.reg.Gather()
	require.NoError(h.t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					if m.GetCounter() != nil {
						return m.GetCounter().GetValue()
					}
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	return 0
}

// TestRulesReloadUnderLoad changes the rules file while events stream in:
// a broken file is rejected and the running rules stay; a valid one is
// swapped in whole. Every row names its rules version and its reasons are
// that version's rules only (v2 renames "any page" to "page view"), so no
// event was scored by a half-loaded rule set; on the topic each scoring
// worker's rows switch version once; at the end every account (resident:
// re-scored at the switch) carries v2.
func TestRulesReloadUnderLoad(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	v1 := string(scorer.Example())
	v2 := strings.NewReplacer(`version: "example-1"`, `version: "example-2"`,
		`{name: any page,`, `{name: page view,`,
		`{name: chat, category: medium, when: {event: Chat Started}, points: 15}`,
		`{name: chat, category: medium, when: {event: Chat Started}, points: 20}`).Replace(v1)
	require.NotEqual(t, v1, v2)
	require.Contains(t, v2, "page view")
	require.NoError(t, os.WriteFile(path, []byte(v1), 0o644))
	h.cfg.Rules = path
	h.cfg.Engine.RulesPollInterval = Duration(20 * time.Millisecond)
	// Room for two accounts per scoring worker: most accounts wait in the
	// state store when the rules change and are re-scored by the sweep.
	h.cfg.Engine.MaxResidentAccounts = 2 * scenarioPartitions

	s := newScenario(21, 24)
	stop := h.runEngine()
	h.produce(s, 0, 0.4)
	h.waitCommitted(int64(s.records() * 3 / 10))

	// A broken file: rejected, v1 stays.
	require.NoError(t, os.WriteFile(path, []byte(strings.Replace(v2, "half_life: 14d", "half_life: 14x", 1)), 0o644))
	require.Eventually(t, func() bool { return h.metricLabelled("leadscore_rules_reloads_total", "result", "rejected") >= 1 },
		10*time.Second, 10*time.Millisecond)
	require.Equal(t, 1.0, h.metricLabelled("leadscore_rules_info", "version", "example-1"))

	// Streaming on while the new rules land.
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.produce(s, 0.4, 1)
	}()
	time.Sleep(30 * time.Millisecond)
	require.NoError(t, os.WriteFile(path, []byte(v2), 0o644))
	<-done
	require.Eventually(t, func() bool { return h.metricLabelled("leadscore_rules_reloads_total", "result", "applied") >= 1 },
		10*time.Second, 10*time.Millisecond)
	h.waitCaughtUp()
	require.Equal(t, 1.0, h.metricLabelled("leadscore_rules_info", "version", "example-2"))

	// An idle engine re-scores too: a third version, no new events.
	v3 := strings.Replace(v2, `version: "example-2"`, `version: "example-3"`, 1)
	v3 = strings.Replace(v3, "mql: {enter: 70, exit: 60}", "mql: {enter: 50, exit: 40}", 1)
	require.NoError(t, os.WriteFile(path, []byte(v3), 0o644))
	require.Eventually(t, func() bool {
		var n uint64
		err := h.conn.QueryRow(context.Background(), `SELECT countIf(rules_version = 'example-3') FROM account_scores FINAL`).Scan(&n)
		return err == nil && n > 0
	}, 20*time.Second, 50*time.Millisecond)
	require.NoError(t, stop())

	// Topic: each row's reasons belong to its version; per scoring worker
	// (the account's repartition partition) and output partition, the
	// versions run v1... then v2..., never back.
	type stream struct{ out, worker int32 }
	last := map[stream]string{}
	switches := map[stream]int{}
	versions := map[string]int{}
	causes := map[string]int{}
	keyed := kgo.StickyKeyPartitioner(nil).ForTopic("x")
	for _, r := range h.consumeAll(h.cfg.Kafka.ScoreChangesTopic) {
		var v struct {
			RulesVersion string `json:"rules_version"`
			Cause        string `json:"cause"`
			Reasons      []struct {
				Rule string `json:"rule"`
			} `json:"reasons"`
		}
		require.NoError(t, json.Unmarshal(r.Value, &v))
		versions[v.RulesVersion]++
		causes[v.Cause]++
		for _, rs := range v.Reasons {
			switch v.RulesVersion {
			case "example-1":
				require.NotEqual(t, "page view", rs.Rule, "a v1 row with a v2 rule")
			case "example-2", "example-3":
				require.NotEqual(t, "any page", rs.Rule, "a v2 row with a v1 rule")
			default:
				t.Fatalf("unknown rules version %q", v.RulesVersion)
			}
		}
		st := stream{r.Partition, int32(keyed.Partition(&kgo.Record{Key: r.Key}, scenarioPartitions))}
		if prev := last[st]; prev != "" && prev != v.RulesVersion {
			require.Less(t, prev, v.RulesVersion, "rows went back from %s to %s on %v", prev, v.RulesVersion, st)
			if prev == "example-1" {
				switches[st]++
			}
		}
		last[st] = v.RulesVersion
	}
	require.NotZero(t, versions["example-1"])
	require.NotZero(t, versions["example-2"])
	require.NotZero(t, causes["rules"], "the switch re-scores accounts whose label changed")
	require.NotZero(t, versions["example-3"], "v3's lower mql line moves accounts without an event")
	for st, n := range switches {
		require.Equal(t, 1, n, "%v switched %d times", st, n)
	}

	// account_scores: every account and contact now under v3, with more
	// mqls than before (the lower entry line) coming from the re-score.
	var old, all uint64
	require.NoError(t, h.conn.QueryRow(context.Background(),
		`SELECT countIf(rules_version != 'example-3'), count() FROM account_scores FINAL`).Scan(&old, &all))
	require.NotZero(t, all)
	require.Zero(t, old, "every account in state is re-scored under the new rules")
}

// TestRulesFilePoll checks that the poller reads the rules file only when
// it may have changed: not at all while its stat is unchanged and old
// enough to trust, again when its size, time or identity change, and again
// (comparing bytes) while its time is within racyWindow of the last read,
// where a second write may have kept both size and time.
func TestRulesFilePoll(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	v1 := scorer.Example()
	// v1b is v1 with another version of the same length.
	v1b := []byte(strings.Replace(string(v1), `"example-1"`, `"example-X"`, 1))
	require.Len(t, v1b, len(v1))
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	write := func(data []byte, mtime time.Time) {
		t.Helper()
		require.NoError(t, os.WriteFile(path, data, 0o644))
		require.NoError(t, os.Chtimes(path, mtime, mtime))
	}
	cfg := DefaultConfig()
	cfg.Rules = path

	// Loaded at base + 1h, an hour after its last change: trusted.
	write(v1, base)
	r, f, err := loadRules(cfg, base.Add(time.Hour))
	require.NoError(t, err)
	require.Equal(t, "example-1", r.Version)
	require.Equal(t, 1, f.reads)
	for i := range 5 {
		data, changed, err := f.poll(base.Add(time.Hour + time.Duration(i)*time.Second))
		require.NoError(t, err)
		require.False(t, changed)
		require.Nil(t, data)
	}
	require.Equal(t, 1, f.reads, "an unchanged file is not read again")

	// A new modification time: read, and found changed.
	now := base.Add(2 * time.Hour)
	write(v1b, now)
	data, changed, err := f.poll(now)
	require.NoError(t, err)
	require.True(t, changed)
	require.Equal(t, v1b, data)
	require.Equal(t, 2, f.reads)

	// A second write within the same timestamp: same size, same time. The
	// time is within racyWindow of the last read, so the file is read again
	// and the bytes tell.
	write(v1, now)
	data, changed, err = f.poll(now.Add(time.Second))
	require.NoError(t, err)
	require.True(t, changed, "a racy stat is not trusted")
	require.Equal(t, v1, data)
	// Read racyWindow after its time the file is trusted from then on.
	_, changed, err = f.poll(now.Add(racyWindow + time.Second))
	require.NoError(t, err)
	require.False(t, changed)
	reads := f.reads
	_, changed, err = f.poll(now.Add(time.Minute))
	require.NoError(t, err)
	require.False(t, changed)
	require.Equal(t, reads, f.reads)

	// Another file renamed over it, with the same size and time: read.
	other := filepath.Join(dir, "rules.yaml.new")
	require.NoError(t, os.WriteFile(other, v1b, 0o644))
	require.NoError(t, os.Chtimes(other, now, now))
	require.NoError(t, os.Rename(other, path))
	data, changed, err = f.poll(now.Add(2 * time.Minute))
	require.NoError(t, err)
	require.True(t, changed, "a new file (another inode) is read")
	require.Equal(t, v1b, data)

	// Over max_file_bytes: refused from its size; the content last read stays.
	f.lim.MaxFileBytes = int64(len(v1))
	write(append(bytes.Clone(v1), '\n'), now.Add(time.Hour))
	_, changed, err = f.poll(now.Add(2 * time.Hour))
	require.EqualError(t, err, fmt.Sprintf("%s: %d bytes, over rules_limits.max_file_bytes (%d)", path, len(v1)+1, len(v1)))
	require.False(t, changed)
	require.Equal(t, v1b, f.data)
	// ... and not read again while unchanged.
	reads = f.reads
	_, _, err = f.poll(now.Add(3 * time.Hour))
	require.NoError(t, err)
	require.Equal(t, reads, f.reads)
}

// TestPollRulesRejects drives the engine's rules poll through rejected
// files: each keeps the running rules, counts once and logs one line that
// names the file and the limit, without the file's content, and is not
// logged again while the file stays as it is.
func TestPollRulesRejects(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	v1 := scorer.Example()
	require.NoError(t, os.WriteFile(path, v1, 0o644))
	cfg := DefaultConfig()
	cfg.Rules = path
	cfg.Hygiene.Enabled = false
	cfg.RulesLimits.MaxFileBytes = 4 << 10
	cfg.RulesLimits.MaxVersionBytes = 64
	var logs bytes.Buffer
	h := &harness{t: t, reg: prometheus.NewRegistry()}
	e, err := New(cfg, WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))), WithRegisterer(h.reg))
	require.NoError(t, err)
	rejected := func() float64 { return h.metricLabelled("leadscore_rules_reloads_total", "result", "rejected") }
	logLines := func() []string { return strings.Split(strings.TrimSuffix(logs.String(), "\n"), "\n") }

	now := time.Now()
	// The file's content is never logged; "secret" stands for it.
	tooBig := append(bytes.Clone(v1), []byte("# secret\n"+strings.Repeat("#\n", 4<<10))...)
	require.NoError(t, os.WriteFile(path, tooBig, 0o644))
	e.pollRules(now)
	require.Equal(t, "example-1", e.Rules().Version)
	require.Equal(t, 1.0, rejected())
	require.Len(t, logLines(), 1)
	require.Contains(t, logLines()[0], fmt.Sprintf("%s: %d bytes, over rules_limits.max_file_bytes (4096)", path, len(tooBig)))
	require.Contains(t, logLines()[0], `"running":"example-1"`)
	require.NotContains(t, logs.String(), "secret")
	// Polled again within racyWindow it is read again: the same problem
	// is neither counted nor logged twice.
	e.pollRules(now.Add(time.Second))
	e.pollRules(now.Add(time.Minute))
	require.Equal(t, 1.0, rejected())
	require.Len(t, logLines(), 1)

	// A version over max_version_bytes (within the default).
	longVersion := strings.Replace(string(v1), `"example-1"`, strings.Repeat("v", 100)+" # secret", 1)
	require.NoError(t, os.WriteFile(path, []byte(longVersion), 0o644))
	e.pollRules(now.Add(2 * time.Minute))
	require.Equal(t, "example-1", e.Rules().Version)
	require.Equal(t, 2.0, rejected())
	require.Len(t, logLines(), 2)
	require.Contains(t, logLines()[1], path+":1: version: 100 bytes, over rules_limits.max_version_bytes (64)")
	require.NotContains(t, logs.String(), "secret")

	// Back to the rules in force: nothing to do, nothing rejected.
	require.NoError(t, os.WriteFile(path, v1, 0o644))
	e.pollRules(now.Add(3 * time.Minute))
	require.Equal(t, 2.0, rejected())
	require.Len(t, logLines(), 2)

	// A valid new version is applied.
	v2 := strings.Replace(string(v1), `"example-1"`, `"example-2"`, 1)
	require.NoError(t, os.WriteFile(path, []byte(v2), 0o644))
	e.pollRules(now.Add(4 * time.Minute))
	require.Equal(t, "example-2", e.Rules().Version)
	require.Equal(t, 2.0, rejected())
	require.Equal(t, 1.0, h.metricLabelled("leadscore_rules_reloads_total", "result", "applied"))
}

// TestRulesLimitsConfig: the rules_limits section reads strictly from the
// file, each limit is validated by name, and a rules file over a limit
// stops the engine from starting.
func TestRulesLimitsConfig(t *testing.T) {
	rules := writeFile(t, "rules.yaml", string(scorer.Example()))
	p := writeFile(t, "leadscore.yaml", "rules: "+rules+"\nrules_limits: {max_rules: 5, max_version_bytes: 0}\n")
	cfg, err := LoadConfig(p)
	require.NoError(t, err)
	require.Equal(t, scorer.Limits{MaxFileBytes: 1 << 20, MaxRules: 5, MaxStringBytes: 1 << 10, MaxVersionBytes: 0}, cfg.RulesLimits)
	require.EqualError(t, cfg.Validate(), p+": rules_limits.max_version_bytes: must be at least 1, got 0")

	cfg.RulesLimits.MaxVersionBytes = 128
	cfg.Hygiene.Enabled = false
	_, err = New(cfg, WithRegisterer(prometheus.NewRegistry()))
	require.EqualError(t, err, rules+":12: engagement.rules: 7 rules, over rules_limits.max_rules (5)")

	_, err = LoadConfig(writeFile(t, "bad.yaml", "rules_limits: {max_rulez: 5}\n"))
	require.ErrorContains(t, err, "max_rulez")
}
