package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/leadscore/leadscore/internal/event"
	"github.com/leadscore/leadscore/scorer"
)

func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestUsage(t *testing.T) {
	code, _, stderr := runCmd(t)
	require.Equal(t, exitUsage, code)
	require.Contains(t, stderr, "usage: leadscore")
	code, _, stderr = runCmd(t, "frobnicate")
	require.Equal(t, exitUsage, code)
	require.Contains(t, stderr, `unknown command "frobnicate"`)
}

func TestCheckConfig(t *testing.T) {
	code, stdout, _ := runCmd(t, "check-config")
	require.Equal(t, exitOK, code)
	require.Contains(t, stdout, "valid")

	p := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(p, []byte("kafka:\n  group: \"\"\nengine:\n  max_depth: 0\n"), 0o644))
	code, _, stderr := runCmd(t, "check-config", "--config", p)
	require.Equal(t, exitUsage, code)
	require.Contains(t, stderr, p+": kafka.group:")
	require.Contains(t, stderr, p+": engine.max_depth:")
}

// TestCheckConfigRulesLimits: a rules file over rules_limits is a
// configuration error, as it stops run.
func TestCheckConfigRulesLimits(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.yaml")
	require.NoError(t, os.WriteFile(rules, []byte(strings.Replace(string(scorer.Example()), `"example-1"`, strings.Repeat("v", 300), 1)), 0o644))
	cfg := filepath.Join(dir, "leadscore.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("rules: "+rules+"\nrules_limits: {max_version_bytes: 300}\n"), 0o644))
	code, stdout, _ := runCmd(t, "check-config", "--config", cfg)
	require.Equal(t, exitOK, code)
	require.Contains(t, stdout, "valid")

	require.NoError(t, os.WriteFile(cfg, []byte("rules: "+rules+"\nrules_limits: {max_version_bytes: 299}\n"), 0o644))
	code, _, stderr := runCmd(t, "check-config", "--config", cfg)
	require.Equal(t, exitUsage, code)
	require.Equal(t, rules+":1: version: 300 bytes, over rules_limits.max_version_bytes (299)\n", stderr)
}

func TestCheckRules(t *testing.T) {
	code, stdout, _ := runCmd(t, "check-rules")
	require.Equal(t, exitOK, code)
	require.Contains(t, stdout, `"example-1"`)
	require.Contains(t, stdout, "7 engagement rules")

	p := filepath.Join(t.TempDir(), "rules.yaml")
	require.NoError(t, os.WriteFile(p, []byte("version: x\nfit: {grades: {A: 1, B: 2, C: 3}}\n"), 0o644))
	code, _, stderr := runCmd(t, "check-rules", p)
	require.Equal(t, exitUsage, code)
	require.Contains(t, stderr, "rules.yaml")
}

func TestGenerateToStdout(t *testing.T) {
	code, stdout, _ := runCmd(t, "generate", "-n", "500", "-seed", "3", "-malformed", "0")
	require.Equal(t, exitOK, code)
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	require.Len(t, lines, 500)
	var ev event.Event
	for _, l := range lines {
		require.NoError(t, event.Decode([]byte(l), &ev, event.DefaultLimits()), l)
	}
	_, again, _ := runCmd(t, "generate", "-n", "500", "-seed", "3", "-malformed", "0")
	require.Equal(t, stdout, again, "the same seed gives the same events")
}
