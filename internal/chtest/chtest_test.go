package chtest

import (
	"context"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/stretchr/testify/require"
)

func ping(t *testing.T, s *Server, database string) error {
	t.Helper()
	conn, err := clickhouse.Open(s.Options(database))
	require.NoError(t, err)
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return conn.Ping(ctx)
}

func TestPrivateServerKillRestartStop(t *testing.T) {
	s, err := StartPrivate()
	require.NoError(t, err)
	t.Cleanup(s.Stop)

	db := NewDatabase(t, s)
	conn, err := clickhouse.Open(s.Options(db))
	require.NoError(t, err)
	defer conn.Close()
	ctx := context.Background()
	var version, tz string
	require.NoError(t, conn.QueryRow(ctx, "SELECT version(), timezone()").Scan(&version, &tz))
	t.Logf("clickhouse %s, time zone %s, native %s, http %s", version, tz, s.Addr, s.HTTPAddr)
	require.Contains(t, []string{"UTC", "Etc/UTC"}, tz)
	require.NoError(t, conn.Exec(ctx, "CREATE TABLE t (x UInt8) ENGINE = MergeTree ORDER BY x"))

	require.Error(t, s.Restart(), "restart of a running server")
	require.NoError(t, s.Kill())
	require.Error(t, ping(t, s, db), "a killed server answered")
	require.NoError(t, s.Kill(), "a second kill is a no-op")

	require.NoError(t, s.Restart())
	require.NoError(t, ping(t, s, db))
	var n uint64
	require.NoError(t, conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = ? AND name = 't'", db).Scan(&n))
	require.EqualValues(t, 1, n, "data survives a restart")
}

func TestStopRemovesFolder(t *testing.T) {
	s, err := StartPrivate()
	require.NoError(t, err)
	dir := s.dir
	require.DirExists(t, dir)
	s.Stop()
	s.Stop()
	require.NoDirExists(t, dir)
	require.Error(t, s.Restart())
}

func TestStartUsesExternalServer(t *testing.T) {
	t.Setenv(EnvAddr, "127.0.0.1:1")
	s, err := Start()
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:1", s.Addr)
	require.Error(t, s.Kill())
	require.Error(t, s.Restart())
	s.Stop()
	require.Empty(t, s.dir)
}

func TestSanitize(t *testing.T) {
	require.Equal(t, "TestX_sub_case_1", sanitize("TestX/sub case#1"))
	require.Len(t, sanitize(string(make([]byte, 100))), 40)
}
