package scorer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/leadscore/leadscore/internal/event"
)

func TestExampleParses(t *testing.T) {
	r, err := Parse(Example(), "example.yaml")
	require.NoError(t, err)
	require.Equal(t, "example-1", r.Version)
	require.Equal(t, 7, r.RuleCount())
	require.Equal(t, 5.0, r.MinDelta())

	// Example returns a copy: scribbling on it does not change the next one.
	b := Example()
	b[0] = '#'
	require.Equal(t, byte('v'), Example()[0])
}

func TestGradeLevel(t *testing.T) {
	r := exampleRules(t)
	// The seed example of CONTRACT section 3.
	require.Equal(t, "B", r.Grade(67.3))
	require.Equal(t, uint8(1), r.Level(85))

	for fit, want := range map[float64]string{100: "A", 80: "A", 79.99: "B", 60: "B", 59.99: "C", 40: "C", 39.99: "D", 0: "D"} {
		require.Equal(t, want, r.Grade(fit), "fit %v", fit)
	}
	for eng, want := range map[float64]uint8{100: 1, 80: 1, 79.99: 2, 50: 2, 49.99: 3, 20: 3, 19.99: 4, 0: 4} {
		require.Equal(t, want, r.Level(eng), "engagement %v", eng)
	}
}

func TestParseErrors(t *testing.T) {
	example := string(Example())
	tests := []struct {
		name     string
		old, new string // replace old by new in the example; old "" appends new
		want     []string
	}{
		{name: "unknown top-level key", new: "extra: 1\n",
			want: []string{"example.yaml:25: extra: unknown field (want one of version, fit, engagement, score, stages, intent, handoff)"}},
		{name: "misspelled nested key", old: "half_life: 14d", new: "halflife: 14d",
			want: []string{"example.yaml:10: engagement.halflife: unknown field", "engagement.half_life: is required"}},
		{name: "invalid cap duration", old: "{points: 6, per: 7d}", new: "{points: 6, per: 7x}",
			want: []string{`example.yaml:15: engagement.rules[3].cap.per: invalid duration "7x"`}},
		{name: "cap without per", old: "{points: 40, per: 7d}", new: "{points: 40}",
			want: []string{"example.yaml:12: engagement.rules[0].cap.per: is required"}},
		{name: "cap without points", old: "{points: 40, per: 7d}", new: "{per: 7d}",
			want: []string{"example.yaml:12: engagement.rules[0].cap.points: is required"}},
		{name: "cap zero points", old: "{points: 40, per: 7d}", new: "{points: 0, per: 7d}",
			want: []string{"engagement.rules[0].cap.points: must be > 0, got 0"}},
		{name: "cap on a negative rule", old: "points: -50}", new: "points: -50, cap: {points: 5, per: 1d}}",
			want: []string{"example.yaml:18: engagement.rules[6].cap: a cap is only allowed on rules with positive points"}},
		{name: "unknown attribute", old: "    country:", new: "    region:",
			want: []string{"example.yaml:6: fit.attributes.region: unknown attribute (want one of industry, employees, country, technologies)"}},
		{name: "bands on a text attribute", old: "industry: {points: {software: 30, fintech: 25, \"*\": 5}}", new: "industry: {bands: [{min: 1, points: 3}]}",
			want: []string{"fit.attributes.industry.bands: bands need a numeric attribute; industry is text"}},
		{name: "points map on a number", old: "employees: {bands: [{min: 200, max: 5000, points: 30}, {min: 50, max: 199, points: 15}]}", new: "employees: {points: {10: 5}}",
			want: []string{"fit.attributes.employees.points: a points map needs a text attribute; employees is a number, use bands"}},
		{name: "points map on a list", old: "technologies: {any_of: [salesforce, hubspot], points: 20}", new: "technologies: {points: {salesforce: 20}}",
			want: []string{"fit.attributes.technologies.points: a points map needs a single-valued attribute"}},
		{name: "any_of without points", old: "any_of: [salesforce, hubspot], points: 20}", new: "any_of: [salesforce, hubspot]}",
			want: []string{"example.yaml:7: fit.attributes.technologies.points: is required"}},
		{name: "empty spec", old: "technologies: {any_of: [salesforce, hubspot], points: 20}", new: "technologies: {}",
			want: []string{"fit.attributes.technologies: needs one of points (a map), bands or any_of"}},
		{name: "duplicate map value", old: "{CN: 20, US: 20, DE: 15}", new: "{CN: 20, cn: 20, DE: 15}",
			want: []string{`fit.attributes.country.points.cn: duplicate value (values match case-insensitively: same as "CN")`}},
		{name: "band min above max", old: "{min: 50, max: 199, points: 15}", new: "{min: 500, max: 199, points: 15}",
			want: []string{"fit.attributes.employees.bands[1]: min 500 is above max 199"}},
		{name: "grades not descending", old: "{A: 80, B: 60, C: 40}", new: "{A: 80, B: 60, C: 60}",
			want: []string{"example.yaml:8: fit.grades: thresholds must be strictly descending: A 80 > B 60 > C 60"}},
		{name: "grade missing", old: "{A: 80, B: 60, C: 40}", new: "{A: 80, B: 60}",
			want: []string{"fit.grades.C: is required"}},
		{name: "levels not descending", old: "{1: 80, 2: 50, 3: 20}", new: "{1: 50, 2: 50, 3: 20}",
			want: []string{"engagement.levels: thresholds must be strictly descending: 1 50 > 2 50 > 3 20"}},
		{name: "half-life zero", old: "half_life: 14d", new: "half_life: 0s",
			want: []string{`example.yaml:10: engagement.half_life: duration "0s" must be > 0`}},
		{name: "half-life without unit", old: "half_life: 14d", new: "half_life: 14",
			want: []string{`engagement.half_life: invalid duration "14"`}},
		{name: "unknown category", old: "category: weak, when: {type: page}", new: "category: low, when: {type: page}",
			want: []string{`engagement.rules[1].category: unknown category "low" (want one of strong, medium, weak, negative, intent)`}},
		{name: "unknown type", old: "when: {type: page}", new: "when: {type: click}",
			want: []string{`engagement.rules[1].when.type: unknown type "click"`}},
		{name: "event on a page rule", old: "when: {event: Email Replied}", new: "when: {type: page, event: Email Replied}",
			want: []string{"engagement.rules[2].when.event: an event name needs type track, not page"}},
		{name: "empty when", old: "when: {event: Chat Started}", new: "when: {}",
			want: []string{"example.yaml:16: engagement.rules[4].when: needs at least one condition"}},
		{name: "empty path prefix", old: "path_prefix: /pricing", new: `path_prefix: ""`,
			want: []string{"engagement.rules[0].when.path_prefix: must not be empty"}},
		{name: "zero points", old: "Chat Started}, points: 15}", new: "Chat Started}, points: 0}",
			want: []string{"engagement.rules[4].points: must not be 0"}},
		{name: "NaN points", old: "Event Attended}, points: 30}", new: "Event Attended}, points: .nan}",
			want: []string{`engagement.rules[5].points: must be a finite number, got ".nan"`}},
		{name: "duplicate rule name", old: "name: chat", new: "name: email reply",
			want: []string{`example.yaml:16: engagement.rules[4].name: duplicate rule name "email reply" (also rules[2])`}},
		{name: "rule without name", old: "{name: chat, ", new: "{",
			want: []string{"example.yaml:16: engagement.rules[4].name: is required"}},
		{name: "weights both zero", old: "{fit: 0.4, engagement: 0.6}", new: "{fit: 0, engagement: 0}",
			want: []string{"example.yaml:21: score.weights: fit and engagement must not both be 0"}},
		{name: "negative weight", old: "{fit: 0.4, engagement: 0.6}", new: "{fit: -0.4, engagement: 0.6}",
			want: []string{"score.weights.fit: must be >= 0, got -0.4"}},
		{name: "weight not a number", old: "{fit: 0.4, engagement: 0.6}", new: "{fit: high, engagement: 0.6}",
			want: []string{`score.weights.fit: expected a number, got "high"`}},
		{name: "negative min_delta", old: "min_delta: 5", new: "min_delta: -5",
			want: []string{"example.yaml:22: score.min_delta: must be >= 0, got -5"}},
		{name: "enter below exit", old: "{enter: 70, exit: 60}", new: "{enter: 60, exit: 70}",
			want: []string{"example.yaml:24: stages.mql: exit 70 is above enter 60: hysteresis needs enter >= exit"}},
		{name: "duplicate yaml key", new: "version: again\n",
			want: []string{"example.yaml:25: version: duplicate field"}},
		{name: "missing version", old: "version: \"example-1\"\n", new: "",
			want: []string{"version: is required"}},
		{name: "syntax error", old: "{A: 80, B: 60, C: 40}", new: "{A: 80, B: 60, C: 40",
			want: []string{"example.yaml: parse yaml: yaml: line"}},
		{name: "two documents", new: "---\nversion: x\n",
			want: []string{"example.yaml:25: more than one yaml document"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := example + tc.new
			if tc.old != "" {
				require.Contains(t, example, tc.old)
				data = strings.Replace(example, tc.old, tc.new, 1)
			}
			r, err := Parse([]byte(data), "example.yaml")
			require.Error(t, err)
			require.Nil(t, r)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				require.True(t, strings.HasPrefix(line, "example.yaml"), "line %q does not name the file", line)
			}
		})
	}
}

func TestParseErrorsWhole(t *testing.T) {
	tests := []struct {
		name, data, want string
	}{
		{"empty", "", "x.yaml: empty rules file"},
		{"only a comment", "# nothing\n", "x.yaml: empty rules file"},
		{"a list", "- a\n", "x.yaml:1: expected a mapping, got a list"},
		{"null", "~\n", "x.yaml:1: expected a mapping, got null"},
		{"only a version", "version: v\n", "x.yaml:1: fit: is required\nx.yaml:1: engagement: is required\nx.yaml:1: score: is required\nx.yaml:1: stages: is required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.data), "x.yaml")
			require.EqualError(t, err, tc.want)
		})
	}
	t.Run("rules not a list", func(t *testing.T) {
		_, err := Parse([]byte(strings.Replace(spec{}.yaml(), "rules: []", "rules: {a: 1}", 1)), "x.yaml")
		require.EqualError(t, err, "x.yaml:7: engagement.rules: expected a list, got a mapping")
	})
}

// TestParseReportsEveryProblem checks that one bad file reports all of its
// problems at once, each with file, line and field path.
func TestParseReportsEveryProblem(t *testing.T) {
	const bad = `version: ""
fit:
  attributes:
    industry: {bands: [{min: 1, max: 2, points: 3}]}
    revenue: {points: {a: 1}}
  grades: {A: 60, B: 60, C: 40}
engagement:
  half_life: 0d
  rules:
    - {name: a, category: strong, when: {type: page}, points: 20}
    - {name: a, category: loud, when: {type: click}, points: 0}
    - {name: c, category: weak, when: {event: X}, points: 2, cap: {points: 6, per: 7x}}
    - {name: d, category: negative, when: {event: Y}, points: -5, cap: {points: 5, per: 1d}, colour: red}
  levels: {1: 80, 2: 50, 3: 20}
score:
  weights: {fit: 0, engagement: 0}
  min_delta: -1
stages:
  mql: {enter: 60, exit: 70}
`
	r, err := Parse([]byte(bad), "bad.yaml")
	require.Nil(t, r)
	require.Error(t, err)
	require.ElementsMatch(t, []string{
		`bad.yaml:1: version: must not be empty`,
		`bad.yaml:4: fit.attributes.industry.bands: bands need a numeric attribute; industry is text, use points or any_of`,
		`bad.yaml:5: fit.attributes.revenue: unknown attribute (want one of industry, employees, country, technologies)`,
		`bad.yaml:6: fit.grades: thresholds must be strictly descending: A 60 > B 60 > C 40`,
		`bad.yaml:8: engagement.half_life: duration "0d" must be > 0`,
		`bad.yaml:11: engagement.rules[1].name: duplicate rule name "a" (also rules[0])`,
		`bad.yaml:11: engagement.rules[1].category: unknown category "loud" (want one of strong, medium, weak, negative, intent)`,
		`bad.yaml:11: engagement.rules[1].when.type: unknown type "click" (want one of page, track, identify, group, alias)`,
		`bad.yaml:11: engagement.rules[1].points: must not be 0`,
		`bad.yaml:12: engagement.rules[2].cap.per: invalid duration "7x"`,
		`bad.yaml:13: engagement.rules[3].colour: unknown field (want one of name, category, when, points, cap)`,
		`bad.yaml:13: engagement.rules[3].cap: a cap is only allowed on rules with positive points`,
		`bad.yaml:16: score.weights: fit and engagement must not both be 0`,
		`bad.yaml:17: score.min_delta: must be >= 0, got -1`,
		`bad.yaml:19: stages.mql: exit 70 is above enter 60: hysteresis needs enter >= exit`,
	}, strings.Split(err.Error(), "\n"))
}

func TestParseOptionalAndFlexible(t *testing.T) {
	// min_delta may be left out (0: any change emits); anchors and aliases
	// work; a version may be a number; bands may be open-ended.
	data := strings.Replace(spec{
		attrs: `{employees: {bands: [{min: 1000, points: 40}, {max: 999, points: 10}]}}`,
		rules: []string{
			`{name: p, category: weak, when: &page {type: page}, points: 1}`,
			`{name: q, category: weak, when: *page, points: 2}`,
		},
	}.yaml(), "  min_delta: 5\n", "", 1)
	data = strings.Replace(data, "version: test", "version: 3", 1)
	r := mustParse(t, data)
	require.Equal(t, "3", r.Version)
	require.Equal(t, 0.0, r.MinDelta())
	require.Equal(t, 2, r.RuleCount())

	s := State{Firm: Firmographics{Employees: 5000, HasEmployees: true}}
	require.True(t, r.Observe(&s, page(t0, "/")))
	res := evaluate(r, &s)
	require.Equal(t, 40.0, res.Fit)
	require.Equal(t, 3.0, res.Engagement)
	s.Firm.Employees = 3
	require.Equal(t, 10.0, evaluate(r, &s).Fit)
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"14d": 14 * day, "7d": 7 * day, "1d": day, "12h": 12 * time.Hour, "1w": 7 * day,
		"1d12h": 36 * time.Hour, "1.5d": 36 * time.Hour, "90m": 90 * time.Minute, "2w1d": 15 * day, "1ms": time.Millisecond,
	} {
		got, err := parseDuration(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "7x", "d", "14", "-1d", "+1d", "1dd", "1..5d", " 1d", "0d", "0s", "100000000w", "1d-1h"} {
		_, err := parseDuration(in)
		require.Error(t, err, in)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "rules.yaml")
	require.NoError(t, os.WriteFile(good, Example(), 0o600))
	r, err := Load(good)
	require.NoError(t, err)
	require.Equal(t, "example-1", r.Version)

	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("version: x\nbogus: 1\n"), 0o600))
	_, err = Load(bad)
	require.ErrorContains(t, err, bad+":2: bogus: unknown field")

	_, err = Load(filepath.Join(dir, "missing.yaml"))
	require.ErrorIs(t, err, os.ErrNotExist)
	require.ErrorContains(t, err, "read rules: ")
}

func FuzzParse(f *testing.F) {
	example := string(Example())
	f.Add(example)
	f.Add("")
	f.Add("version: x\n")
	f.Add(strings.Replace(example, "per: 7d", "per: 7x", 1))
	f.Add(strings.Replace(example, "{A: 80, B: 60, C: 40}", "{A: 80, B: 60, C: 40", 1))
	f.Add(strings.Replace(example, "weights:", "weight:", 1))
	f.Add(strings.Replace(example, "half_life: 14d", "half_life: &h 14d\n  x: *h", 1))
	f.Add(example + "---\n" + example)
	f.Add(spec{rules: []string{`{name: a, category: weak, when: {path_prefix: /}, points: 1e308, cap: {points: 1e308, per: 1ns}}`}}.yaml())
	f.Add("a: &a [*a]\n")
	// Over the limits: a long version, a long rule name, aliases that expand.
	f.Add(strings.Replace(example, `version: "example-1"`, "version: "+strings.Repeat("v", 129), 1))
	f.Add(strings.Replace(example, "{name: chat,", "{name: "+strings.Repeat("n", 1025)+",", 1))
	f.Add("a: &a [x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b]\n" +
		"d: &d [*c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e]\n" +
		"g: [*f, *f, *f, *f, *f, *f, *f, *f]\n")
	if full, err := os.ReadFile("testdata/full.yaml"); err == nil {
		f.Add(string(full))
		f.Add(strings.Replace(string(full), "'^/docs/(api|sdk)/'", "'(x{1000}){1000}'", 1))
		f.Add(strings.Replace(string(full), "intent: surge", "intent: calm", 1))
	}
	f.Fuzz(func(t *testing.T, data string) {
		r, err := Parse([]byte(data), "fuzz.yaml")
		if err != nil {
			require.Nil(t, r)
			for _, line := range strings.Split(err.Error(), "\n") {
				require.True(t, strings.HasPrefix(line, "fuzz.yaml"), "line %q does not name the file", line)
			}
			return
		}
		require.NotNil(t, r)
		require.NotEmpty(t, r.Version)
		require.Equal(t, "A", r.Grade(1e308))
		require.Equal(t, "D", r.Grade(-1e308))
		require.Equal(t, uint8(1), r.Level(1e308))
		require.Equal(t, uint8(4), r.Level(-1e308))
		require.GreaterOrEqual(t, r.MinDelta(), 0.0)

		// Whatever the rules, scoring stays in range and does not panic.
		s := State{Known: true, Firm: Firmographics{Industry: "Software", Country: "US", Employees: 100, HasEmployees: true, Technologies: []string{"hubspot"}}}
		evs := []*event.Event{page(t0, "/pricing"), track(t0.Add(time.Hour), "Email Opened"), identify(t0.Add(-day)), track(t0.Add(2*day), "Deal Won")}
		var res Result
		for _, ev := range evs {
			r.Observe(&s, ev)
			r.Evaluate(&s, &res)
			require.GreaterOrEqual(t, res.Fit, 0.0)
			require.LessOrEqual(t, res.Fit, 100.0)
			require.GreaterOrEqual(t, res.Engagement, 0.0)
			require.LessOrEqual(t, res.Engagement, 100.0)
			require.Len(t, res.Label, 2)
		}
		require.Equal(t, StageCustomer, res.Stage)
	})
}
