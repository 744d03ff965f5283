package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/leadscore/leadscore/internal/event"
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

// TestCheckConfigRefusesWhatRunRefuses: settings that run cannot start with
// fail check-config and run alike, with exit 2 and the file and field.
func TestCheckConfigRefusesWhatRunRefuses(t *testing.T) {
	for _, c := range []struct{ name, yaml, field string }{
		{"embedded broker on every interface", "kafka: {embedded: {listen: \"0.0.0.0:19092\"}}", "kafka.embedded.listen"},
		{"embedded broker on a named port", "kafka: {embedded: {listen: \"127.0.0.1:kafka\"}}", "kafka.embedded.listen"},
		{"broker port not a number", "kafka: {brokers: [\"k1:nine\"]}", "kafka.brokers[0]"},
		{"clickhouse port out of range", "clickhouse: {addr: [\"127.0.0.1:90000\"]}", "clickhouse.addr[0]"},
		{"database name", "clickhouse: {database: lead-score}", "clickhouse.database"},
		{"dial timeout", "clickhouse: {dial_timeout: 0s}", "clickhouse.dial_timeout"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "leadscore.yaml")
			require.NoError(t, os.WriteFile(p, []byte(c.yaml+"\nhttp: {listen: \"\"}\nengine: {state_dir: "+filepath.Join(dir, "state")+"}\n"), 0o644))
			for _, cmd := range []string{"check-config", "run"} {
				code, _, stderr := runCmd(t, cmd, "--config", p)
				require.Equal(t, exitUsage, code, "%s: %s", cmd, stderr)
				require.Contains(t, stderr, p+": "+c.field+":", cmd)
			}
		})
	}
}

// TestCheckConfigLoadsWhatRunLoads: a hygiene list that cannot be read
// fails check-config as it fails run.
func TestCheckConfigLoadsWhatRunLoads(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "leadscore.yaml")
	missing := filepath.Join(dir, "no-such-list.txt")
	require.NoError(t, os.WriteFile(p, []byte("hygiene: {blacklist: {emails: {files: ["+missing+"]}}}\nhttp: {listen: \"\"}\n"), 0o644))
	for _, cmd := range []string{"check-config", "run"} {
		code, _, stderr := runCmd(t, cmd, "--config", p)
		require.Equal(t, exitUsage, code, "%s: %s", cmd, stderr)
		require.Contains(t, stderr, missing, cmd)
	}
}
