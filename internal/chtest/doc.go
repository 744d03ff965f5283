// Package chtest runs a private ClickHouse server for tests: the real
// server Debian packages (18.16), not a fake. A test package that needs
// ClickHouse starts one server in TestMain and gives each test its own
// database:
//
//	var server *chtest.Server
//
//	func TestMain(m *testing.M) {
//		s, err := chtest.Start()
//		if err != nil {
//			fmt.Fprintln(os.Stderr, err)
//			os.Exit(1)
//		}
//		server = s
//		code := m.Run()
//		s.Stop()
//		os.Exit(code)
//	}
//
//	func TestX(t *testing.T) {
//		db := chtest.NewDatabase(t, server) // dropped at t.Cleanup
//		...
//	}
//
// With LEADSCORE_CLICKHOUSE_ADDR=host:port set, Start uses that server
// instead of starting one (and Stop leaves it alone); NewDatabase keeps
// tests apart on a shared server. The private server listens on 127.0.0.1
// only, on free ports, and keeps data and logs in a temporary folder that
// Stop removes. Its configuration is deploy/clickhouse's LocalServerConfig,
// the one scripts/clickhouse.sh uses for `make run`.
package chtest
