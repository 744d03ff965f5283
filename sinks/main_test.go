package sinks

import (
	"os"
	"sync"
	"testing"

	"github.com/leadscore/leadscore/internal/chtest"
)

// clickHouseServer returns the ClickHouse server of this package's tests: a private
// clickhouse-server, or the one LEADSCORE_CLICKHOUSE_ADDR names. It starts
// on first use, so tests that need no server (and fuzz workers) start none.
var (
	chServerOnce = sync.OnceValues(chtest.Start)
	chStarted    bool
	chMu         sync.Mutex
)

func clickHouseServer(t testing.TB) *chtest.Server {
	t.Helper()
	chMu.Lock()
	chStarted = true
	chMu.Unlock()
	s, err := chServerOnce()
	if err != nil {
		t.Fatalf("sinks tests need ClickHouse: %v", err)
	}
	return s
}

func TestMain(m *testing.M) {
	code := m.Run()
	chMu.Lock()
	started := chStarted
	chMu.Unlock()
	if started {
		if s, err := chServerOnce(); err == nil {
			s.Stop()
		}
	}
	os.Exit(code)
}
