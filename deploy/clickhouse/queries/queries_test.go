package queries_test

import (
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/stretchr/testify/require"

	chschema "github.com/leadscore/leadscore/deploy/clickhouse"
	"github.com/leadscore/leadscore/deploy/clickhouse/queries"
	"github.com/leadscore/leadscore/deploy/clickhouse/queries/querytest"
	"github.com/leadscore/leadscore/internal/chtest"
)

var server *chtest.Server

func TestMain(m *testing.M) {
	s, err := chtest.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "start clickhouse:", err)
		os.Exit(1)
	}
	server = s
	code := m.Run()
	s.Stop()
	os.Exit(code)
}

// httpAddr is the server's HTTP interface: the private server's, or for
// one given by LEADSCORE_CLICKHOUSE_ADDR, LEADSCORE_CLICKHOUSE_HTTP_ADDR or
// port 8123 of its host.
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

func TestAll(t *testing.T) {
	qs, err := queries.All()
	require.NoError(t, err)
	var names []string
	for _, q := range qs {
		names = append(names, q.Name)
		require.NotEmpty(t, q.Title, q.Name)
		require.True(t, strings.HasPrefix(q.SQL, "SELECT"), "%s: one SELECT", q.Name)
		require.NotContains(t, q.SQL, "--", "%s: comments belong in the header, so panels hold the statement alone", q.Name)
		require.NotContains(t, q.SQL, ";", q.Name)
		got, err := queries.Get(q.Name)
		require.NoError(t, err)
		require.Equal(t, q, got)
	}
	require.Equal(t, []string{queries.ChannelCosts, queries.ChannelDaily, queries.ChannelFunnel, queries.ChannelLastTouch,
		queries.ChannelReturn, queries.FunnelStages, queries.FunnelTimeInStage, queries.FunnelWeekly, queries.ScoreCalibration}, names)
	_, err = queries.Get("missing")
	require.Error(t, err)
}

// TestPortable guards CONTRACT section 2 for the saved queries: nothing
// 18.16 lacks, only the two time-range macros, unqualified tables.
func TestPortable(t *testing.T) {
	forbidden := regexp.MustCompile(`(?i)\b(DateTime64|Map\s*\(|IPv4|IPv6|LowCardinality|JSON\w*|Object\s*\(|WINDOW|OVER\s*\(|QUALIFY|WITH\s+FILL|quantileExactLow|quantileExactHigh|arrayFold|toStartOfInterval|fromUnixTimestamp64\w*)\b`)
	macro := regexp.MustCompile(`\$\w+`)
	qs, err := queries.All()
	require.NoError(t, err)
	for _, q := range qs {
		require.Empty(t, forbidden.FindAllString(q.SQL, -1), "%s: not portable to 18.16", q.Name)
		for _, m := range macro.FindAllString(q.SQL, -1) {
			require.Contains(t, []string{queries.FromTime, queries.ToTime}, m, "%s: only the time-range macros", q.Name)
		}
		require.NotRegexp(t, `(?i)\b(FROM|JOIN)\s+\w+\.\w+`, q.SQL, "%s: table names are unqualified", q.Name)
	}
}

func TestExpand(t *testing.T) {
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("CST", 8*3600))
	to := time.Unix(1767225600, 0)
	require.Equal(t, "at >= toDateTime(1767196800) AND at <= toDateTime(1767225600) OR x = toDateTime(1767196800)",
		queries.Expand("at >= $__fromTime AND at <= $__toTime OR x = $__fromTime", from, to))
}

// TestOn1816 runs every saved query on the ClickHouse 18.16 test server
// over the synthetic data set (with a replay, and rows written before
// 0003's views existed) and compares the rows with the oracle's.
func TestOn1816(t *testing.T) {
	db := chtest.NewDatabase(t, server)
	querytest.RunSuite(t, &querytest.HTTP{Addr: httpAddr(server), Database: db})
}

// TestReplaysAndMergesChangeNothing: the queries give the same answers
// however often the engine's rows are inserted again, and once the parts
// are merged (a merge keeps the last row of each identity, a retraction
// included, as FINAL does).
func TestReplaysAndMergesChangeNothing(t *testing.T) {
	db := chtest.NewDatabase(t, server)
	e := &querytest.HTTP{Addr: httpAddr(server), Database: db}
	ctx := t.Context()
	d, err := querytest.Setup(ctx, e)
	require.NoError(t, err)
	before, err := querytest.Outputs(ctx, e)
	require.NoError(t, err)
	for _, s := range d.Replay() {
		_, err := e.Query(ctx, s)
		require.NoError(t, err)
	}
	conn, err := clickhouse.Open(server.Options(db))
	require.NoError(t, err)
	defer conn.Close()
	after, err := querytest.Outputs(ctx, e)
	require.NoError(t, err)
	require.Equal(t, before, after)
	for _, table := range []string{"funnel_transitions", "score_changes"} {
		require.NoError(t, conn.Exec(ctx, "OPTIMIZE TABLE "+table+" FINAL"))
	}
	merged, err := querytest.Outputs(ctx, e)
	require.NoError(t, err)
	require.Equal(t, before, merged)
}

// TestRetractedRowsWouldCount: without its retractions, the data set's
// provisional rows change the answer of every query over every range, so
// the oracle comparison of TestOn1816 tells a query that takes a retracted
// row as standing.
func TestRetractedRowsWouldCount(t *testing.T) {
	ctx := t.Context()
	outputs := func(retractions bool) map[string]string {
		e := &querytest.HTTP{Addr: httpAddr(server), Database: chtest.NewDatabase(t, server)}
		ms, err := chschema.Migrations()
		require.NoError(t, err)
		require.NoError(t, querytest.Migrate(ctx, e, ms))
		d := querytest.New(querytest.Seed, querytest.Size)
		stmts := d.Statements()
		if !retractions {
			stmts = d.WithoutRetractions()
		}
		for _, s := range stmts {
			_, err := e.Query(ctx, s)
			require.NoError(t, err)
		}
		out, err := querytest.Outputs(ctx, e)
		require.NoError(t, err)
		return out
	}
	with, without := outputs(true), outputs(false)
	require.NotEmpty(t, with)
	for k, v := range with {
		require.NotEqual(t, v, without[k], "%s: the retracted rows change nothing", k)
	}
}

func TestCheckStandingReads(t *testing.T) {
	good := map[string]string{
		"subquery":      "SELECT a FROM (SELECT a, retracted FROM score_changes FINAL) WHERE retracted = 0",
		"key filter":    "SELECT a FROM (SELECT * FROM handoffs FINAL WHERE account_id = ? AND contact_id IN ('', 'x')) WHERE retracted = 0 AND at > now()",
		"array join":    "SELECT s FROM (SELECT to_stage, retracted FROM funnel_transitions FINAL WHERE contact_id = '') ARRAY JOIN [to_stage] AS s WHERE retracted = 0",
		"qualified":     "SELECT count() FROM (SELECT retracted FROM leadscore.score_events FINAL) WHERE retracted = 0",
		"other tables":  "SELECT * FROM account_scores FINAL WHERE score > 1",
		"similar names": "SELECT * FROM score_changes_copy",
	}
	for name, sql := range good {
		require.NoError(t, querytest.CheckStandingReads(sql), name)
	}
	bad := map[string]struct{ sql, says string }{
		"no FINAL":           {"SELECT count() FROM score_changes", "without FINAL"},
		"same SELECT":        {"SELECT * FROM score_changes FINAL WHERE retracted = 0", "not in a subquery"},
		"no filter after":    {"SELECT a FROM (SELECT a, retracted FROM score_changes FINAL) WHERE a > 0", "not followed by WHERE retracted = 0"},
		"nothing after":      {"SELECT a FROM (SELECT a, retracted FROM score_changes FINAL)", "not followed by WHERE retracted = 0"},
		"not selected":       {"SELECT a FROM (SELECT a FROM score_changes FINAL) WHERE retracted = 0", "does not select retracted"},
		"stage inside FINAL": {"SELECT a FROM (SELECT a, retracted FROM score_changes FINAL WHERE stage = 'mql') WHERE retracted = 0", "filters on stage"},
		"GROUP BY inside":    {"SELECT a FROM (SELECT a, retracted FROM score_changes FINAL GROUP BY a, retracted) WHERE retracted = 0", "more than a WHERE"},
	}
	for name, c := range bad {
		require.ErrorContains(t, querytest.CheckStandingReads(c.sql), c.says, name)
	}
}

// TestShippedReadsStand: every query leadscore ships that reads a table
// whose rows may be retracted reads it as 0007_retractions says: the saved
// queries, the views of 0007 and the SQL of README.md (which must also
// run on 18.16).
func TestShippedReadsStand(t *testing.T) {
	qs, err := queries.All()
	require.NoError(t, err)
	for _, q := range qs {
		require.NoError(t, querytest.CheckStandingReads(q.SQL), q.Name)
	}
	ms, err := chschema.Migrations()
	require.NoError(t, err)
	views := 0
	for _, m := range ms {
		if m.Version < 7 { // earlier views are dropped by 0007
			continue
		}
		for _, stmt := range m.Statements() {
			if strings.HasPrefix(stmt, "CREATE VIEW") {
				require.NoError(t, querytest.CheckStandingReads(stmt), "%s: %s", m.Name, stmt)
				views++
			}
		}
	}
	require.Equal(t, 2, views, "funnel_account_stages and account_peak_scores")

	// README's examples for analysts, each also run on 18.16 (the
	// examples name the database leadscore).
	db := chtest.NewDatabase(t, server)
	e := &querytest.HTTP{Addr: httpAddr(server), Database: db}
	require.NoError(t, querytest.Migrate(t.Context(), e, ms))
	readme, err := os.ReadFile("../../../README.md")
	require.NoError(t, err)
	blocks := regexp.MustCompile("(?s)```sql\n(.*?)```").FindAllStringSubmatch(string(readme), -1)
	require.NotEmpty(t, blocks)
	reads := 0
	for _, b := range blocks {
		for _, stmt := range chschema.SplitStatements(b[1]) {
			require.NoError(t, querytest.CheckStandingReads(stmt), "README.md:\n%s", stmt)
			if regexp.MustCompile(`\b(` + strings.Join(querytest.Retractable, "|") + `)\b`).MatchString(stmt) {
				reads++
			}
			_, err := e.Query(t.Context(), strings.ReplaceAll(stmt, "leadscore.", db+"."))
			require.NoError(t, err, "README.md:\n%s", stmt)
		}
	}
	require.NotZero(t, reads, "README reads the tables somewhere")
}
