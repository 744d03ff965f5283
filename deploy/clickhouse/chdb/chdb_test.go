//go:build chdb

package chdb_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"testing"

	chdbpurego "github.com/chdb-io/chdb-go/chdb-purego"
	"github.com/stretchr/testify/require"

	"github.com/leadscore/leadscore/deploy/clickhouse/queries"
	"github.com/leadscore/leadscore/deploy/clickhouse/queries/querytest"
	"github.com/leadscore/leadscore/deploy/grafana"
	"github.com/leadscore/leadscore/internal/chtest"
)

var (
	server  *chtest.Server
	session chdbpurego.ChdbConn
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "leadscore-chdb-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// chDB holds one session per process; its data lives in dir.
	session, err = chdbpurego.NewConnectionFromConnString(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "start chdb:", err)
		os.Exit(1)
	}
	server, err = chtest.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "start clickhouse:", err)
		os.Exit(1)
	}
	code := m.Run()
	server.Stop()
	session.Close()
	os.RemoveAll(dir)
	os.Exit(code)
}

// engine runs statements on the chDB session in its own database.
type engine struct {
	db string
}

var sessionMu sync.Mutex

func newEngine(t *testing.T, name string) *engine {
	t.Helper()
	e := &engine{db: name}
	_, err := e.exec("DROP DATABASE IF EXISTS " + name)
	require.NoError(t, err)
	_, err = e.exec("CREATE DATABASE " + name)
	require.NoError(t, err)
	return e
}

func (e *engine) exec(sql string) (string, error) {
	r, err := session.Query(sql, "TabSeparated")
	if err != nil {
		return "", err
	}
	defer r.Free()
	if err := r.Error(); err != nil {
		return "", err
	}
	return string(r.Buf()), nil
}

// Query runs sql in e's database, in UTC as the test server's
// configuration has it.
func (e *engine) Query(_ context.Context, sql string) (string, error) {
	sessionMu.Lock()
	defer sessionMu.Unlock()
	if _, err := e.exec("USE " + e.db); err != nil {
		return "", err
	}
	out, err := e.exec(sql)
	if err != nil {
		return "", fmt.Errorf("chdb: %w", err)
	}
	return out, nil
}

func httpAddr(s *chtest.Server) string {
	if s.HTTPAddr != "" {
		return s.HTTPAddr
	}
	if a := os.Getenv("LEADSCORE_CLICKHOUSE_HTTP_ADDR"); a != "" {
		return a
	}
	host, _, _ := net.SplitHostPort(s.Addr)
	return net.JoinHostPort(host, "8123")
}

func TestVersions(t *testing.T) {
	e := newEngine(t, "versions")
	v, err := e.Query(t.Context(), "SELECT version()")
	require.NoError(t, err)
	old := &querytest.HTTP{Addr: httpAddr(server), Database: "default"}
	v18, err := old.Query(t.Context(), "SELECT version()")
	require.NoError(t, err)
	t.Logf("chDB's ClickHouse %s; test server ClickHouse %s", strings.TrimSpace(v), strings.TrimSpace(v18))
	require.False(t, strings.HasPrefix(v, "18."), "chDB must be a current release")
	// Days, weeks and months are the server's: the test server runs in
	// UTC, and so must chDB (it takes the process's zone).
	offset, err := e.Query(t.Context(), "SELECT toUnixTimestamp(toDateTime('2026-07-01 00:00:00'))")
	require.NoError(t, err)
	require.Equal(t, "1782864000\n", offset, "run the chDB tests in UTC (TZ=UTC)")
}

// TestSuite: every migration and saved query on chDB's engine, against
// the oracle.
func TestSuite(t *testing.T) {
	querytest.RunSuite(t, newEngine(t, "suite"))
}

// TestSameRowsOnBothEngines: the same data set, loaded the same way, gives
// the same output from every saved query on chDB as on 18.16.
func TestSameRowsOnBothEngines(t *testing.T) {
	ctx := t.Context()
	engines := map[string]querytest.Engine{
		"chdb":  newEngine(t, "compare"),
		"18.16": &querytest.HTTP{Addr: httpAddr(server), Database: chtest.NewDatabase(t, server)},
	}
	outputs := map[string]map[string]string{}
	for name, e := range engines {
		_, err := querytest.Setup(ctx, e)
		require.NoError(t, err, name)
		out, err := querytest.Outputs(ctx, e)
		require.NoError(t, err, name)
		outputs[name] = out
	}
	require.NotEmpty(t, outputs["18.16"])
	for k, want := range outputs["18.16"] {
		require.NotEmpty(t, want, k)
		require.Equal(t, want, outputs["chdb"][k], "%s: chDB's rows differ from 18.16's", k)
	}
	require.Len(t, outputs["chdb"], len(outputs["18.16"]))

	// The same column names and types, so a client scanning typed values
	// (leadscore report) reads either.
	qs, err := queries.All()
	require.NoError(t, err)
	for _, q := range qs {
		sql := q.Expand(querytest.Ranges[0].From, querytest.Ranges[0].To) + "\nFORMAT TSVWithNamesAndTypes"
		var headers []string
		for _, name := range []string{"18.16", "chdb"} {
			out, err := engines[name].Query(ctx, sql)
			require.NoError(t, err, "%s on %s", q.Name, name)
			lines := strings.SplitN(out, "\n", 3)
			require.GreaterOrEqual(t, len(lines), 2, q.Name)
			headers = append(headers, lines[0]+"\n"+lines[1])
		}
		require.Equal(t, headers[0], headers[1], "%s: column names and types differ between 18.16 and chDB", q.Name)
	}

	// Every Grafana panel's query, with the time range as the plugin fills
	// it in.
	ds, err := grafana.Dashboards()
	require.NoError(t, err)
	panels := 0
	for _, d := range ds {
		for _, p := range d.Panels {
			for _, tg := range p.Targets {
				for _, r := range querytest.Ranges {
					sql := queries.Expand(tg.RawSQL, r.From, r.To)
					want, err := engines["18.16"].Query(ctx, sql)
					require.NoError(t, err, "%s %q on 18.16", d.File, p.Title)
					got, err := engines["chdb"].Query(ctx, sql)
					require.NoError(t, err, "%s %q on chDB", d.File, p.Title)
					require.NotEmpty(t, want, "%s %q", d.File, p.Title)
					require.Equal(t, want, got, "%s %q over %s: chDB's rows differ from 18.16's", d.File, p.Title, r.Name)
				}
				panels++
			}
		}
	}
	t.Logf("%d saved query runs and %d panels over %d time ranges: the same rows on both engines", len(outputs["chdb"]), panels, len(querytest.Ranges))
}
