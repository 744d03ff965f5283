package scorer

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// full is testdata/full.yaml, every part of the rules language.
func full(t testing.TB) string {
	t.Helper()
	data, err := os.ReadFile("testdata/full.yaml")
	require.NoError(t, err)
	return string(data)
}

// TestParseLimits puts each limit just within reach and just beyond it:
// within, the file loads; beyond, it is refused with one line that names
// the file, the place and the limit.
func TestParseLimits(t *testing.T) {
	small := Limits{MaxFileBytes: 1 << 20, MaxRules: 20, MaxStringBytes: 40, MaxVersionBytes: 16}
	fewRules := small
	fewRules.MaxRules = 3
	ex := string(Example())
	fullYAML := full(t)
	// n bytes of text.
	text := func(n int) string { return strings.Repeat("x", n) }
	tests := []struct {
		name string
		lim  Limits
		// make returns the file with the value under test n bytes long
		// (n items, for counts).
		make  func(n int) string
		limit int
		// want is the error at limit+1.
		want string
	}{
		{"version", small, func(n int) string {
			return strings.Replace(ex, `version: "example-1"`, "version: "+text(n), 1)
		}, 16, "x.yaml:1: version: 17 bytes, over rules_limits.max_version_bytes (16)"},
		{"version with the default limits", DefaultLimits(), func(n int) string {
			return strings.Replace(ex, `version: "example-1"`, "version: "+text(n), 1)
		}, 128, "x.yaml:1: version: 129 bytes, over rules_limits.max_version_bytes (128)"},
		{"rule count", fewRules, func(n int) string {
			rules := make([]string, n)
			for i := range rules {
				rules[i] = fmt.Sprintf("{name: r%d, category: weak, when: {type: page}, points: 1}", i)
			}
			return spec{rules: rules}.yaml()
		}, 3, "x.yaml:8: engagement.rules: 4 rules, over rules_limits.max_rules (3)"},
		{"rule name", small, func(n int) string {
			return strings.Replace(ex, "{name: chat,", "{name: "+text(n)+",", 1)
		}, 40, "x.yaml:16: engagement.rules[4].name: 41 bytes, over rules_limits.max_string_bytes (40)"},
		{"event name", small, func(n int) string {
			return strings.Replace(ex, "{event: Chat Started}", "{event: "+text(n)+"}", 1)
		}, 40, "x.yaml:16: engagement.rules[4].when.event: 41 bytes, over rules_limits.max_string_bytes (40)"},
		{"path prefix", small, func(n int) string {
			return strings.Replace(ex, "path_prefix: /pricing", "path_prefix: /"+text(n-1), 1)
		}, 40, "x.yaml:12: engagement.rules[0].when.path_prefix: 41 bytes, over rules_limits.max_string_bytes (40)"},
		{"property value", small, func(n int) string {
			return strings.Replace(fullYAML, "{prefix: partner-}", "{prefix: "+text(n)+"}", 1)
		}, 40, "x.yaml:27: engagement.rules[7].when.properties.ref.prefix: 41 bytes, over rules_limits.max_string_bytes (40)"},
		{"property value in a list", small, func(n int) string {
			return strings.Replace(fullYAML, "{in: [enterprise, scale]}", "{in: [enterprise, "+text(n)+"]}", 1)
		}, 40, "x.yaml:24: engagement.rules[4].when.properties.plan.in[1]: 41 bytes, over rules_limits.max_string_bytes (40)"},
		{"property name", small, func(n int) string {
			return strings.Replace(fullYAML, "properties: {seats:", "properties: {"+text(n)+":", 1)
		}, 40, "x.yaml:25: engagement.rules[5].when.properties: a key of 41 bytes, over rules_limits.max_string_bytes (40)"},
		{"attribute value", small, func(n int) string {
			return strings.Replace(ex, "{software: 30,", "{"+text(n)+": 30,", 1)
		}, 40, "x.yaml:4: fit.attributes.industry.points: a key of 41 bytes, over rules_limits.max_string_bytes (40)"},
		{"utm value", small, func(n int) string {
			return strings.Replace(fullYAML, "utm_medium: paid", "utm_medium: "+text(n), 1)
		}, 40, "x.yaml:23: engagement.rules[3].when.utm_medium: 41 bytes, over rules_limits.max_string_bytes (40)"},
		{"competitor", small, func(n int) string {
			return strings.Replace(fullYAML, "competitors: [marketo, pardot]", "competitors: [marketo, "+text(n)+"]", 1)
		}, 40, "x.yaml:16: intent.competitors[1]: 41 bytes, over rules_limits.max_string_bytes (40)"},
		{"hand-off advice", small, func(n int) string {
			return strings.Replace(fullYAML, `"nurture by e-mail"`, text(n), 1)
		}, 40, `x.yaml:49: handoff.recommendations["*"]: 41 bytes, over rules_limits.max_string_bytes (40)`},
		{"rule name with the default limits", DefaultLimits(), func(n int) string {
			return strings.Replace(ex, "{name: chat,", "{name: "+text(n)+",", 1)
		}, 1024, "x.yaml:16: engagement.rules[4].name: 1025 bytes, over rules_limits.max_string_bytes (1024)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.lim.Parse([]byte(tc.make(tc.limit)), "x.yaml")
			require.NoError(t, err, "at the limit")
			_, err = tc.lim.Parse([]byte(tc.make(tc.limit+1)), "x.yaml")
			require.EqualError(t, err, tc.want)
		})
	}
}

func TestParseFileSizeLimit(t *testing.T) {
	ex := string(Example())
	lim := DefaultLimits()
	lim.MaxFileBytes = int64(len(ex)) + 10
	at := ex + "#" + strings.Repeat("x", 8) + "\n"
	require.Len(t, at, int(lim.MaxFileBytes))
	_, err := lim.Parse([]byte(at), "x.yaml")
	require.NoError(t, err)
	_, err = lim.Parse([]byte(at+"\n"), "x.yaml")
	require.EqualError(t, err, fmt.Sprintf("x.yaml: %d bytes, over rules_limits.max_file_bytes (%d)", lim.MaxFileBytes+1, lim.MaxFileBytes))

	// A 50 MB file: refused by its size, at once.
	big := make([]byte, 50<<20)
	copy(big, ex)
	start := time.Now()
	_, err = Parse(big, "rules.yaml")
	require.EqualError(t, err, "rules.yaml: 52428800 bytes, over rules_limits.max_file_bytes (1048576)")
	require.Less(t, time.Since(start), time.Second)
}

// TestParseVersionLimit: a version longer than max_string_bytes too is
// reported once, against its own limit.
func TestParseVersionLimit(t *testing.T) {
	data := strings.Replace(string(Example()), `version: "example-1"`, "version: "+strings.Repeat("v", 70000), 1)
	_, err := Parse([]byte(data), "rules.yaml")
	require.EqualError(t, err, "rules.yaml:1: version: 70000 bytes, over rules_limits.max_version_bytes (128)")
}

// TestParseLimitsAliases checks that anchors and aliases cannot make a file
// within max_file_bytes compile as a much larger one, while ordinary use of
// them stays fine.
func TestParseLimitsAliases(t *testing.T) {
	// Ten levels of doubling: a list of 24 names used 2^10 times.
	xs := "x0: &l0 [a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q, r, s, t, u, v, w, x]\n"
	for i := 1; i <= 10; i++ {
		xs += fmt.Sprintf("x%d: &l%d [*l%d, *l%d]\n", i, i, i-1, i-1)
	}
	doc := strings.Replace(spec{rules: []string{
		"{name: r, category: weak, when: {type: page, utm_source: *l10}, points: 1}",
	}}.yaml(), "version: test\n", "version: test\n"+xs, 1)

	lim := DefaultLimits()
	lim.MaxFileBytes = 10 << 10
	require.Less(t, len(doc), 2<<10)
	_, err := lim.Parse([]byte(doc), "x.yaml")
	require.Error(t, err)
	require.Regexp(t, `^x.yaml: aliases expand the file to about \d+ bytes, over rules_limits.max_file_bytes \(10240\)$`, err.Error())

	// Within the limit, aliases are fine (the unknown x keys aside).
	lim.MaxFileBytes = 1 << 20
	_, err = lim.Parse([]byte(doc), "x.yaml")
	require.ErrorContains(t, err, "x.yaml:2: x0: unknown field")
	require.NotContains(t, err.Error(), "aliases")
}

// TestParseLimitsThroughAliases: a value named by an alias is held to the
// limit of the place it is used at.
func TestParseLimitsThroughAliases(t *testing.T) {
	lim := DefaultLimits()
	lim.MaxVersionBytes = 2000
	long := strings.Repeat("v", 1500)
	data := strings.Replace(string(Example()), `version: "example-1"`, "version: &v "+long, 1)
	_, err := lim.Parse([]byte(data), "x.yaml")
	require.NoError(t, err, "a version within max_version_bytes")
	_, err = lim.Parse([]byte(strings.Replace(data, "{name: chat,", "{name: *v,", 1)), "x.yaml")
	require.EqualError(t, err, "x.yaml:16: engagement.rules[4].name: 1500 bytes, over rules_limits.max_string_bytes (1024)")

	// An anchor within max_string_bytes used as the version.
	lim.MaxVersionBytes = 128
	data = "x: &n " + long[:1000] + "\n" + strings.Replace(string(Example()), `version: "example-1"`, "version: *n", 1)
	_, err = lim.Parse([]byte(data), "x.yaml")
	require.EqualError(t, err, "x.yaml:2: version: 1000 bytes, over rules_limits.max_version_bytes (128)")
}

func TestParseProblemsListed(t *testing.T) {
	rules := make([]string, 150)
	for i := range rules {
		rules[i] = fmt.Sprintf("{name: r%d, category: loud, when: {type: page}, points: 1}", i)
	}
	lim := DefaultLimits()
	_, err := lim.Parse([]byte(spec{rules: rules}.yaml()), "x.yaml")
	require.Error(t, err)
	lines := strings.Split(err.Error(), "\n")
	require.Len(t, lines, maxProblems+1)
	require.Equal(t, "x.yaml: 50 more problems not listed", lines[maxProblems])
	require.Contains(t, lines[0], "engagement.rules[0].category: unknown category")
}

func TestLimitsValidate(t *testing.T) {
	require.Empty(t, DefaultLimits().Validate())
	var msgs []string
	for _, err := range (Limits{MaxFileBytes: -1}).Validate() {
		msgs = append(msgs, err.Error())
	}
	require.Equal(t, []string{
		"rules_limits.max_file_bytes: must be at least 1, got -1",
		"rules_limits.max_rules: must be at least 1, got 0",
		"rules_limits.max_string_bytes: must be at least 1, got 0",
		"rules_limits.max_version_bytes: must be at least 1, got 0",
	}, msgs)
}

// TestReadFileLimit checks that a file over max_file_bytes is refused from
// its size, without reading it: a sparse file of 4 GiB fails at once.
func TestReadFileLimit(t *testing.T) {
	dir := t.TempDir()
	lim := DefaultLimits()
	lim.MaxFileBytes = int64(len(Example()))

	at := filepath.Join(dir, "at.yaml")
	require.NoError(t, os.WriteFile(at, Example(), 0o600))
	r, err := lim.Load(at)
	require.NoError(t, err)
	require.Equal(t, "example-1", r.Version)

	over := filepath.Join(dir, "over.yaml")
	require.NoError(t, os.WriteFile(over, append(Example(), '\n'), 0o600))
	_, err = lim.Load(over)
	require.EqualError(t, err, fmt.Sprintf("%s: %d bytes, over rules_limits.max_file_bytes (%d)", over, lim.MaxFileBytes+1, lim.MaxFileBytes))

	huge := filepath.Join(dir, "huge.yaml")
	f, err := os.Create(huge)
	require.NoError(t, err)
	require.NoError(t, f.Truncate(4<<30))
	require.NoError(t, f.Close())
	start := time.Now()
	_, err = Load(huge)
	require.EqualError(t, err, huge+": 4294967296 bytes, over rules_limits.max_file_bytes (1048576)")
	require.Less(t, time.Since(start), time.Second)
}
