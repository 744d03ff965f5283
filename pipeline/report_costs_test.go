package pipeline

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseCosts(t *testing.T) {
	costs, err := ParseCosts(strings.NewReader("\ufeffCurrency, Cost ,month,source,medium,campaign\n"+
		"usd,1200.50,2026-01,Google,CPC,Brand-Search\n"+
		"\n"+
		"USD,0,2026-02-17,linkedin,social,\n"), "costs.csv")
	require.NoError(t, err)
	require.Equal(t, []Cost{
		{Month: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Source: "google", Medium: "cpc", Campaign: "brand-search", Cost: 1200.5, Currency: "USD"},
		{Month: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), Source: "linkedin", Medium: "social", Cost: 0, Currency: "USD"},
	}, costs)
}

// TestParseCostsErrors: every bad row is reported at once, with its line,
// and nothing is returned.
func TestParseCostsErrors(t *testing.T) {
	cases := map[string]struct {
		csv  string
		want []string
	}{
		"empty":          {"", []string{"costs.csv: empty: want a header month,source,medium,campaign,cost,currency"}},
		"missing column": {"month,source,cost,currency\n", []string{"costs.csv:1: the header lacks medium, campaign"}},
		"no rows":        {"month,source,medium,campaign,cost,currency\n", []string{"costs.csv: no rows after the header"}},
		"bad rows": {
			"month,source,medium,campaign,cost,currency\n" +
				"2026-01,google,cpc,a,100,USD\n" + // line 2: fine
				"January,google,cpc,b,100,USD\n" + // 3
				"2026-01,,cpc,c,100,USD\n" + // 4
				"2026-01,google,cpc,d,\"1,5\",USD\n" + // 5
				"2026-01,google,cpc,e,-3,USD\n" + // 6
				"2026-01,google,cpc,f,1,dollars\n" + // 7
				"2026-01,google,cpc,g,1,EUR\n" + // 8
				"2026-01-31,Google,cpc,A,7,USD\n" + // 9: line 2 again
				"2026-01,google,cpc\n" + // 10
				"2026-01,google,,h,1,USD\n", // 11
			[]string{
				`costs.csv:3: month "January": want a month as 2026-01 or a date as 2026-01-31`,
				`costs.csv:4: source is empty`,
				`costs.csv:5: cost "1,5" is not a number (use a dot for decimals, no thousands separator)`,
				`costs.csv:6: cost -3: must be 0 or more`,
				`costs.csv:7: currency "dollars" is not a three-letter code such as USD`,
				`costs.csv:8: currency EUR, but line 2 has USD: one currency per file, costs are added up`,
				`costs.csv:9: 2026-01 google/cpc campaign "a" again (first on line 2)`,
				`costs.csv:10: 3 fields, the header has 6`,
				`costs.csv:11: medium is empty`,
			},
		},
		"bad quoting": {"month,source,medium,campaign,cost,currency\n2026-01,\"goo\"gle,cpc,,1,USD\n", []string{`costs.csv:2: `}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			costs, err := ParseCosts(strings.NewReader(c.csv), "costs.csv")
			require.Error(t, err)
			require.Nil(t, costs)
			lines := strings.Split(err.Error(), "\n")
			require.Len(t, lines, len(c.want), err.Error())
			for i, w := range c.want {
				require.True(t, strings.HasPrefix(lines[i], w), "line %d: %q, want %q", i, lines[i], w)
			}
		})
	}
}

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 3, 31, 12, 0, 0, 0, time.UTC)
	cases := map[string]time.Time{
		"":                     time.Unix(0, 0).UTC(),
		"2026-01-31":           time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC),
		"2026-01-31T08:00:00Z": time.Date(2026, 1, 31, 8, 0, 0, 0, time.UTC),
		"30d":                  now.AddDate(0, 0, -30),
		"2w":                   now.AddDate(0, 0, -14),
		"36h":                  now.Add(-36 * time.Hour),
	}
	for in, want := range cases {
		got, err := ParseSince(in, now)
		require.NoError(t, err, in)
		require.True(t, want.Equal(got), "%s: %s, want %s", in, got, want)
	}
	for _, bad := range []string{"yesterday", "-3d", "2026-13-01", "d"} {
		_, err := ParseSince(bad, now)
		require.Error(t, err, bad)
	}
}

// TestCostsExample: the example `make run` loads is a valid file.
func TestCostsExample(t *testing.T) {
	f, err := os.Open("../deploy/clickhouse/queries/costs.example.csv")
	require.NoError(t, err)
	defer f.Close()
	costs, err := ParseCosts(f, "costs.example.csv")
	require.NoError(t, err)
	require.NotEmpty(t, costs)
}
