package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/leadscore/leadscore/internal/chtest"
	"github.com/leadscore/leadscore/internal/event"
	"github.com/leadscore/leadscore/scorer"
	"github.com/leadscore/leadscore/sinks"
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

// writeConfig writes a config file for run's start-up tests: the embedded
// broker on a free port, no HTTP endpoint, state under the test's folder.
func writeConfig(t *testing.T, clickhouse string) string {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "leadscore.yaml")
	body := "kafka: {embedded: {listen: \"127.0.0.1:0\"}}\nhttp: {listen: \"\"}\nengine: {state_dir: " + filepath.Join(dir, "state") + "}\nclickhouse: " + clickhouse + "\n"
	require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	return p
}

// TestRunChecksClickHouseFirst: run refuses at start, with exit 1 and one
// line naming the address and the cause, a ClickHouse that refuses the
// user, lacks the database or its tables, and after clickhouse.dial_timeout
// one that does not answer; the password never shows.
func TestRunChecksClickHouseFirst(t *testing.T) {
	s, err := chtest.Start()
	require.NoError(t, err)
	t.Cleanup(s.Stop)
	migrated := chtest.NewDatabase(t, s)
	_, err = sinks.Migrate(t.Context(), sinks.ClickHouseConfig{Addr: []string{s.Addr}, Database: migrated})
	require.NoError(t, err)
	empty := chtest.NewDatabase(t, s)
	const password = "not-the-password-3141"

	refused := func(name, clickhouse string, want ...string) {
		t.Run(name, func(t *testing.T) {
			code, _, stderr := runCmd(t, "run", "--config", writeConfig(t, clickhouse))
			require.Equal(t, exitFailure, code, stderr)
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			require.Len(t, lines, 1, "one line, and nothing started before it:\n%s", stderr)
			require.True(t, strings.HasPrefix(lines[0], "leadscore: check clickhouse "+s.Addr+" "), lines[0])
			for _, w := range want {
				require.Regexp(t, w, lines[0])
			}
			require.NotContains(t, stderr, password)
		})
	}
	refused("wrong password", fmt.Sprintf("{addr: [%s], database: %s, password: %s}", s.Addr, migrated, password),
		`user default`, `code: (193|516)`) // WRONG_PASSWORD on 18.16, AUTHENTICATION_FAILED later
	refused("unknown user", fmt.Sprintf("{addr: [%s], database: %s, username: nobody}", s.Addr, migrated),
		`user nobody`, `code: (192|516)`)
	refused("unknown database", fmt.Sprintf("{addr: [%s], database: no_such_database}", s.Addr),
		`database no_such_database`, `code: 81`)
	refused("tables missing", fmt.Sprintf("{addr: [%s], database: %s}", s.Addr, empty),
		`database `+empty, `tables missing: score_changes, account_scores, .*run leadscore migrate`)

	t.Run("no answer", func(t *testing.T) {
		addr := closedPort(t)
		code, _, stderr := runCmd(t, "run", "--config",
			writeConfig(t, fmt.Sprintf("{addr: [%s], database: %s, dial_timeout: 1s, probe_interval: 200ms}", addr, migrated)))
		require.Equal(t, exitFailure, code, stderr)
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		require.Greater(t, len(lines), 1, "each failed attempt is logged while it waits:\n%s", stderr)
		require.Contains(t, lines[0], "waiting for clickhouse to answer")
		last := lines[len(lines)-1]
		require.True(t, strings.HasPrefix(last, "leadscore: no answer within 1s (clickhouse.dial_timeout): check clickhouse "+addr+" "), last)
		require.Contains(t, last, "connection refused", stderr)
	})
}

// closedPort is a 127.0.0.1 address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
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
