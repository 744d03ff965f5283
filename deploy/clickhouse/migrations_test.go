package clickhouse

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMigrationsOrdered(t *testing.T) {
	ms, err := Migrations()
	require.NoError(t, err)
	require.NotEmpty(t, ms)
	require.Equal(t, "0001_init", ms[0].Name)
	for i, m := range ms {
		require.EqualValues(t, i+1, m.Version, "versions run 1, 2, 3 ... without gaps: %s", m.Name)
		require.NotEmpty(t, m.Statements(), m.Name)
	}
}

// TestMigrationsPortable guards the Portability rule of CONTRACT section 2:
// the DDL runs unchanged on ClickHouse 18.16. The tests of package sinks
// apply it to a real 18.16 server; this catches the usual suspects early
// and names them.
func TestMigrationsPortable(t *testing.T) {
	forbidden := regexp.MustCompile(`(?i)\b(DateTime64|Map\s*\(|IPv4|IPv6|LowCardinality|JSON|Object\s*\(|insert_deduplication_token|async_insert|DELETE\s+FROM|Nullable|CODEC|TTL)\b`)
	ms, err := Migrations()
	require.NoError(t, err)
	for _, m := range ms {
		for _, stmt := range m.Statements() {
			require.Empty(t, forbidden.FindAllString(stmt, -1), "%s: not portable to 18.16:\n%s", m.Name, stmt)
			_, _, addsColumn := AddedColumn(stmt)
			// An INSERT ... SELECT is a backfill of an aggregate table whose
			// states do not change when a row comes twice (0003_funnel).
			require.True(t, addsColumn || regexp.MustCompile(`(?is)^(CREATE (TABLE|DATABASE|VIEW|MATERIALIZED VIEW) IF NOT EXISTS\s|INSERT INTO \w+ \([^)]+\)\s*SELECT\s|DROP TABLE IF EXISTS \w+$)`).MatchString(stmt),
				"%s: statements must be safe to run twice: CREATE ... IF NOT EXISTS, ALTER TABLE t ADD COLUMN c Type (one column, no IF NOT EXISTS, which 18.16 rejects), an idempotent backfill INSERT INTO t (columns) SELECT, or DROP TABLE IF EXISTS t:\n%s", m.Name, stmt)
			require.NotRegexp(t, `(?i)\bCOLUMN\s+IF\b`, stmt, "%s: 18.16 has no ADD/DROP/MODIFY COLUMN IF [NOT] EXISTS", m.Name)
			require.NotRegexp(t, `(?i)\b(CREATE TABLE IF NOT EXISTS)\s+\w+\.`, stmt, "%s: table names are unqualified", m.Name)
		}
	}
}

// TestMigrationsDropOnlyDerived: a migration drops only what earlier
// migrations derived from the engine's rows (a view, a materialized view or
// an aggregate table its view fills), which can be rebuilt from them; never
// a table the engine writes, whose rows exist nowhere else.
func TestMigrationsDropOnlyDerived(t *testing.T) {
	created := regexp.MustCompile(`(?is)^CREATE (TABLE|VIEW|MATERIALIZED VIEW) IF NOT EXISTS (\w+)\b(.*)$`)
	dropped := regexp.MustCompile(`(?is)^DROP TABLE IF EXISTS (\w+)$`)
	derived := map[string]bool{}
	ms, err := Migrations()
	require.NoError(t, err)
	drops := 0
	for _, m := range ms {
		for _, stmt := range m.Statements() {
			if c := created.FindStringSubmatch(stmt); c != nil {
				derived[c[2]] = !strings.EqualFold(c[1], "TABLE") || regexp.MustCompile(`(?i)ENGINE\s*=\s*AggregatingMergeTree`).MatchString(c[3])
			}
			if d := dropped.FindStringSubmatch(stmt); d != nil {
				require.True(t, derived[d[1]], "%s drops %s, which is not a view nor an aggregate an earlier migration created", m.Name, d[1])
				drops++
			}
		}
	}
	require.NotZero(t, drops, "0007 drops the aggregates of 0003")
}

func TestAddedColumn(t *testing.T) {
	cases := map[string]struct {
		stmt          string
		table, column string
	}{
		"plain":            {"ALTER TABLE score_changes ADD COLUMN intent Float64", "score_changes", "intent"},
		"after":            {"ALTER TABLE t ADD COLUMN c Array(UInt32) AFTER b", "t", "c"},
		"lower case, wrap": {"alter table t\n    add column c String", "t", "c"},
		"comma in type":    {"ALTER TABLE t ADD COLUMN c Decimal(10, 2) DEFAULT 0", "t", "c"},
		"if not exists":    {"ALTER TABLE t ADD COLUMN IF NOT EXISTS c String", "", ""},
		"two columns":      {"ALTER TABLE t ADD COLUMN c String, ADD COLUMN d String", "", ""},
		"drop":             {"ALTER TABLE t DROP COLUMN c", "", ""},
		"qualified":        {"ALTER TABLE db.t ADD COLUMN c String", "", ""},
		"create":           {"CREATE TABLE IF NOT EXISTS t (c String) ENGINE = Log", "", ""},
		"no type":          {"ALTER TABLE t ADD COLUMN c", "", ""},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			table, column, ok := AddedColumn(c.stmt)
			require.Equal(t, c.table != "", ok)
			require.Equal(t, c.table, table)
			require.Equal(t, c.column, column)
		})
	}
}

func TestSplitStatements(t *testing.T) {
	cases := map[string]struct {
		sql  string
		want []string
	}{
		"empty":              {"", nil},
		"only comments":      {"-- a; b\n/* c; d */\n;;", nil},
		"two":                {"SELECT 1;\nSELECT 2;", []string{"SELECT 1", "SELECT 2"}},
		"no final semicolon": {"SELECT 1; SELECT 2", []string{"SELECT 1", "SELECT 2"}},
		"line comment":       {"SELECT 1 -- one; two\n, 2;", []string{"SELECT 1 \n, 2"}},
		"block comment":      {"SELECT /* ; */ 1;", []string{"SELECT   1"}},
		"quoted semicolons":  {"SELECT ';', \";\", `;`;", []string{"SELECT ';', \";\", `;`"}},
		"escaped quote":      {`SELECT 'it\'s;', 'a''b;';`, []string{`SELECT 'it\'s;', 'a''b;'`}},
		"comment in string":  {"SELECT '-- not a comment';", []string{"SELECT '-- not a comment'"}},
		"unterminated":       {"SELECT 1 /* open", []string{"SELECT 1"}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			require.Equal(t, c.want, SplitStatements(c.sql))
		})
	}
}

func TestLocalServerConfig(t *testing.T) {
	config, users := LocalServerConfig("/tmp/x/", 19000, 18123)
	for _, f := range []string{string(config), string(users)} {
		require.NotContains(t, f, "@", "every placeholder replaced")
	}
	require.Contains(t, string(config), "<tcp_port>19000</tcp_port>")
	require.Contains(t, string(config), "<http_port>18123</http_port>")
	require.Contains(t, string(config), "<path>/tmp/x/data/</path>")
	require.Contains(t, string(config), "<users_config>/tmp/x/users.xml</users_config>")
	hosts := regexp.MustCompile(`<listen_host>([^<]*)</listen_host>`).FindAllStringSubmatch(string(config), -1)
	require.Len(t, hosts, 1)
	require.Equal(t, "127.0.0.1", hosts[0][1], "the server listens on loopback only")
	require.False(t, strings.Contains(string(config), "interserver_http_port"))
}
