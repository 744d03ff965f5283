package sinks

import (
	"fmt"
	"os"
	"testing"

	"github.com/leadscore/leadscore/internal/chtest"
)

// chServer is the ClickHouse server of this package's tests: a private
// clickhouse-server, or the one LEADSCORE_CLICKHOUSE_ADDR names.
var chServer *chtest.Server

func TestMain(m *testing.M) {
	s, err := chtest.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "sinks tests need ClickHouse:", err)
		os.Exit(1)
	}
	chServer = s
	code := m.Run()
	s.Stop()
	os.Exit(code)
}
