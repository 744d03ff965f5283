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

// TestViewsIgnoreReplays: the aggregate tables keep the same answer
// however often rows are inserted again, with or without merges.
func TestViewsIgnoreReplays(t *testing.T) {
	db := chtest.NewDatabase(t, server)
	e := &querytest.HTTP{Addr: httpAddr(server), Database: db}
	ctx := t.Context()
	d, err := querytest.Setup(ctx, e)
	require.NoError(t, err)
	before, err := querytest.Outputs(ctx, e)
	require.NoError(t, err)
	for _, s := range d.Statements() {
		if !strings.HasPrefix(s, "INSERT INTO channel_costs") {
			_, err := e.Query(ctx, s)
			require.NoError(t, err)
		}
	}
	conn, err := clickhouse.Open(server.Options(db))
	require.NoError(t, err)
	defer conn.Close()
	after, err := querytest.Outputs(ctx, e)
	require.NoError(t, err)
	require.Equal(t, before, after)
	for _, table := range []string{"funnel_accounts", "account_peaks", "funnel_transitions", "score_changes"} {
		require.NoError(t, conn.Exec(ctx, "OPTIMIZE TABLE "+table+" FINAL"))
	}
	merged, err := querytest.Outputs(ctx, e)
	require.NoError(t, err)
	require.Equal(t, before, merged)
}
