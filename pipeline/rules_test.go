package pipeline

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
