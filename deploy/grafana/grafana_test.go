package grafana_test

import (
	"fmt"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/leadscore/leadscore/deploy/clickhouse/queries"
	"github.com/leadscore/leadscore/deploy/clickhouse/queries/querytest"
	"github.com/leadscore/leadscore/deploy/grafana"
	"github.com/leadscore/leadscore/internal/chtest"
)

// savedQuery returns the saved query whose statement is sql.
func savedQuery(t *testing.T, sql string) (queries.Query, bool) {
	t.Helper()
	qs, err := queries.All()
	require.NoError(t, err)
	for _, q := range qs {
		if q.SQL == sql {
			return q, true
		}
	}
	return queries.Query{}, false
}

// TestPanelsRunSavedQueries: every panel's SQL is a saved query's
// statement, exactly (macros included), on the ClickHouse plugin in its
// SQL editor; every saved query is on a dashboard.
func TestPanelsRunSavedQueries(t *testing.T) {
	ds, err := grafana.Dashboards()
	require.NoError(t, err)
	require.Len(t, ds, 3)
	used := map[string]bool{}
	uids := map[string]bool{}
	for _, d := range ds {
		require.NotEmpty(t, d.Title, d.File)
		require.False(t, uids[d.UID], "%s: uid %s twice", d.File, d.UID)
		uids[d.UID] = true
		require.NotEmpty(t, d.Panels, d.File)
		for _, p := range d.Panels {
			name := d.File + ": " + p.Title
			require.NotEmpty(t, p.Description, name)
			require.Len(t, p.Targets, 1, name)
			tg := p.Targets[0]
			require.Equal(t, grafana.PluginID, tg.Datasource.Type, name)
			require.Equal(t, "sql", tg.EditorType, name)
			q, ok := savedQuery(t, tg.RawSQL)
			require.True(t, ok, "%s: the panel's SQL is no saved query's:\n%s", name, tg.RawSQL)
			require.Contains(t, p.Description, q.Name+".sql", name)
			used[q.Name] = true
		}
	}
	qs, err := queries.All()
	require.NoError(t, err)
	for _, q := range qs {
		require.True(t, used[q.Name], "saved query %s is on no dashboard", q.Name)
	}
}

// TestPanelsOn1816: every panel's query, with the time range filled in as
// the plugin does, runs on the ClickHouse 18.16 test server and returns
// the oracle's rows for the synthetic data set.
func TestPanelsOn1816(t *testing.T) {
	s, err := chtest.Start()
	require.NoError(t, err)
	t.Cleanup(s.Stop)
	addr := s.HTTPAddr
	if addr == "" {
		addr = os.Getenv("LEADSCORE_CLICKHOUSE_HTTP_ADDR")
	}
	if addr == "" {
		host, _, _ := net.SplitHostPort(s.Addr)
		addr = net.JoinHostPort(host, "8123")
	}
	e := &querytest.HTTP{Addr: addr, Database: chtest.NewDatabase(t, s)}
	d, err := querytest.Setup(t.Context(), e)
	require.NoError(t, err)
	ds, err := grafana.Dashboards()
	require.NoError(t, err)
	for _, dash := range ds {
		for _, p := range dash.Panels {
			q, ok := savedQuery(t, p.Targets[0].RawSQL)
			require.True(t, ok)
			for _, r := range querytest.Ranges {
				t.Run(fmt.Sprintf("%s/%d/%s", strings.TrimSuffix(dash.File, ".json"), p.ID, r.Name), func(t *testing.T) {
					got, err := e.Query(t.Context(), queries.Expand(p.Targets[0].RawSQL, r.From, r.To))
					require.NoError(t, err)
					want, err := d.Expected(q.Name, r.From, r.To)
					require.NoError(t, err)
					querytest.RequireRows(t, want, got, p.Title)
				})
			}
		}
	}
}
