package pipeline

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite golden files")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -update to create %s", path)
	require.Equal(t, string(want), string(got))
}

func TestExplanationGolden(t *testing.T) {
	at := time.Date(2026, 3, 10, 6, 18, 51, 0, time.UTC)
	x := &Explanation{
		AccountID: "acme.com", Score: 74.04, Fit: 80, Engagement: 70.07, Grade: "A", Level: 2, Label: "A2",
		Stage: "mql", RulesVersion: "example-1", AsOf: at, BestTimes: []string{"Tue 10:00", "Wed 09:00"},
		Reasons: []ExplainedReason{
			{Category: "fit", Rule: "industry", Points: 30},
			{Category: "fit", Rule: "employees", Points: 30},
			{Category: "fit", Rule: "country", Points: 20},
			{Category: "strong", Rule: "pricing page", Points: 17.43, Count: 3},
			{Category: "strong", Rule: "email reply", Points: 25, Count: 1},
			{Category: "negative", Rule: "spam report", Points: -12.05, Count: 1},
		},
		Events: []ExplainedEvent{
			{At: at, Type: "track", Event: "Email Replied", Rules: []string{"email reply"}, Points: []float64{25}},
			{At: at.Add(-26 * time.Hour), Type: "page", Path: "/pricing", Rules: []string{"pricing page", "any page"}, Points: []float64{20, 1}},
			{At: at.Add(-50 * time.Hour), Type: "track", Event: "Email Marked as Spam", Rules: []string{"spam report"}, Points: []float64{-50}},
		},
	}
	var b bytes.Buffer
	require.NoError(t, x.Write(&b))
	golden(t, "explain_account.golden", b.Bytes())

	c := &Explanation{AccountID: "acme.com", ContactID: "u-17", Persona: "vp*", Tags: []string{"email_freemail"}, Score: 31.2, Fit: 78, Grade: "B",
		Level: 4, Label: "B4", Stage: "lead", RulesVersion: "full-1", AsOf: at,
		Reasons: []ExplainedReason{{Category: "fit", Rule: "persona vp*", Points: 15}}}
	b.Reset()
	require.NoError(t, c.Write(&b))
	golden(t, "explain_contact.golden", b.Bytes())
}

// checkExplain reads explanations back from ClickHouse after a scenario:
// an account's and a contact's reasons are the oracle's, and the events are
// the ones that earned points, newest first.
func (h *harness) checkExplain(ex *expected) {
	t := h.t
	t.Helper()
	ids := sortedKeys(ex.final)
	for _, id := range ids[:3] {
		x, err := explain(context.Background(), h.conn, id, "", 5)
		require.NoError(t, err)
		want := ex.final[id]
		require.True(t, near(x.Score, want.score), id)
		require.Equal(t, want.label, x.Label)
		for _, r := range x.Reasons {
			if r.Category == "fit" {
				continue
			}
			require.True(t, near(r.Points, want.reasons[r.Rule]), "%s %s %v want %v", id, r.Rule, r.Points, want.reasons[r.Rule])
			require.NotZero(t, r.Count, "%s %s: an engagement rule counts its events", id, r.Rule)
		}
		require.NotEmpty(t, x.Events, id)
		require.LessOrEqual(t, len(x.Events), 5)
		require.True(t, sort.SliceIsSorted(x.Events, func(i, j int) bool { return x.Events[i].At.After(x.Events[j].At) }), "newest first")
		// The newest event that earned points is the account's newest
		// event that matched a rule.
		var newest time.Time
		for _, hh := range ex.accounts[id].hits {
			if hh.at.After(newest) {
				newest = hh.at
			}
		}
		require.Equal(t, newest.Unix(), x.Events[0].At.Unix(), id)
		var b bytes.Buffer
		require.NoError(t, x.Write(&b))
		require.Contains(t, b.String(), "Account "+id)
	}
	for k := range ex.finalC {
		acct, contact, _ := bytesCut(k)
		x, err := explain(context.Background(), h.conn, acct, contact, 3)
		require.NoError(t, err)
		require.True(t, near(x.Score, ex.finalC[k].score), k)
		break
	}
	_, err := explain(context.Background(), h.conn, "nobody.example", "", 5)
	require.ErrorIs(t, err, ErrNotScored)
}

func bytesCut(k string) (string, string, bool) {
	i := bytes.IndexByte([]byte(k), '/')
	if i < 0 {
		return k, "", false
	}
	return k[:i], k[i+1:], true
}
