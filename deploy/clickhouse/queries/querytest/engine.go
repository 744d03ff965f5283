package querytest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	chschema "github.com/leadscore/leadscore/deploy/clickhouse"
	"github.com/leadscore/leadscore/deploy/clickhouse/queries"
)

// Engine runs one SQL statement on a ClickHouse engine, in the database
// under test, and returns its output in the TabSeparated format.
type Engine interface {
	Query(ctx context.Context, sql string) (string, error)
}

// HTTP is an Engine on a ClickHouse server's HTTP interface.
type HTTP struct {
	// Addr is the HTTP interface's host:port.
	Addr string
	// Database is the database statements run in.
	Database string
	Client   *http.Client
}

// Query posts sql, with FORMAT TabSeparated appended to a SELECT that
// names no format.
func (h *HTTP) Query(ctx context.Context, sql string) (string, error) {
	if isSelect(sql) && !hasFormat.MatchString(sql) {
		sql += "\nFORMAT TabSeparated"
	}
	u := "http://" + h.Addr + "/?" + url.Values{"database": {h.Database}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(sql))
	if err != nil {
		return "", err
	}
	client := h.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("query %s: %w", h.Addr, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("query %s: %w", h.Addr, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("query %s: %s: %s", h.Addr, resp.Status, strings.TrimSpace(string(body)))
	}
	return string(body), nil
}

var hasFormat = regexp.MustCompile(`(?i)\sFORMAT\s+\w+\s*$`)

func isSelect(sql string) bool {
	return strings.HasPrefix(strings.ToUpper(strings.TrimSpace(sql)), "SELECT")
}

// Migrate applies migrations' statements on e in order, the way
// sinks.Migrate does: an ALTER adding a column the table has already is
// skipped (18.16 has no ADD COLUMN IF NOT EXISTS).
func Migrate(ctx context.Context, e Engine, migrations []chschema.Migration) error {
	for _, m := range migrations {
		for i, stmt := range m.Statements() {
			if table, column, ok := chschema.AddedColumn(stmt); ok {
				out, err := e.Query(ctx, fmt.Sprintf("SELECT count() FROM system.columns WHERE database = currentDatabase() AND table = '%s' AND name = '%s'", table, column))
				if err != nil {
					return fmt.Errorf("apply %s statement %d: %w", m.Name, i+1, err)
				}
				if strings.TrimSpace(out) != "0" {
					continue
				}
			}
			if _, err := e.Query(ctx, stmt); err != nil {
				return fmt.Errorf("apply %s statement %d: %w", m.Name, i+1, err)
			}
		}
	}
	return nil
}

// Ranges are the time ranges the suites run every query over: everything,
// and February 2026 (a cut through the data set's three months).
var Ranges = []struct {
	Name     string
	From, To time.Time
}{
	{"all", time.Unix(0, 0).UTC(), queries.EndOfTime},
	{"february", time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 2, 28, 23, 59, 59, 0, time.UTC)},
}

// Seed and Size are the data set Setup loads.
const (
	Seed = 7
	Size = 300
)

// Setup prepares e's (empty) database: the migrations before 0003 first,
// then the score changes of New(Seed, Size) but its retractions, then the
// remaining migrations (the rows written before them must count: they read
// retracted = 0), then every statement of the data set, in order, the
// score changes again among them (a replay). It returns the data set.
func Setup(ctx context.Context, e Engine) (*Dataset, error) {
	ms, err := chschema.Migrations()
	if err != nil {
		return nil, err
	}
	split := 0
	for split < len(ms) && ms[split].Version < 3 {
		split++
	}
	if err := Migrate(ctx, e, ms[:split]); err != nil {
		return nil, err
	}
	d := New(Seed, Size)
	stmts := d.Statements()
	var early []string // what 0001 and 0002 have columns for: not retracted (0007)
	for _, s := range stmts {
		if strings.HasPrefix(s, "INSERT INTO score_changes") && !strings.Contains(s, "retracted") {
			early = append(early, s)
		}
	}
	if err := run(ctx, e, early); err != nil {
		return nil, err
	}
	if err := Migrate(ctx, e, ms[split:]); err != nil {
		return nil, err
	}
	// Every migration again: the statements are safe to repeat, the
	// backfill included.
	if err := Migrate(ctx, e, ms); err != nil {
		return nil, fmt.Errorf("migrations run twice: %w", err)
	}
	return d, run(ctx, e, stmts)
}

func run(ctx context.Context, e Engine, stmts []string) error {
	for _, s := range stmts {
		if _, err := e.Query(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// Outputs runs every saved query over every range of Ranges and returns
// the raw outputs by "query@range".
func Outputs(ctx context.Context, e Engine) (map[string]string, error) {
	qs, err := queries.All()
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	var errs []error
	for _, q := range qs {
		for _, r := range Ranges {
			got, err := e.Query(ctx, q.Expand(r.From, r.To))
			if err != nil {
				errs = append(errs, fmt.Errorf("%s@%s: %w", q.Name, r.Name, err))
				continue
			}
			out[q.Name+"@"+r.Name] = got
		}
	}
	return out, errors.Join(errs...)
}

// ParseTSV splits TabSeparated output into rows of cells.
func ParseTSV(s string) [][]string {
	var out [][]string
	for _, line := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		if line == "" {
			continue
		}
		out = append(out, strings.Split(line, "\t"))
	}
	return out
}

// RequireRows fails t unless got (TabSeparated output) has want's rows in
// want's order. Cells equal as text, or as numbers within tolerance: the
// rounding of round(x, d) in the last decimal is the engine's.
func RequireRows(t testing.TB, want [][]string, got string, msgAndArgs ...any) {
	t.Helper()
	rows := ParseTSV(got)
	ctx := fmt.Sprint(msgAndArgs...)
	if len(rows) != len(want) {
		t.Fatalf("%s: %d rows, want %d\ngot:\n%s\nwant:\n%s", ctx, len(rows), len(want), got, format(want))
	}
	for i := range want {
		if len(rows[i]) != len(want[i]) {
			t.Fatalf("%s: row %d has %d cells, want %d\ngot:\n%s\nwant:\n%s", ctx, i+1, len(rows[i]), len(want[i]), got, format(want))
		}
		for j := range want[i] {
			if !sameCell(want[i][j], rows[i][j]) {
				t.Fatalf("%s: row %d cell %d is %q, want %q\ngot:\n%s\nwant:\n%s", ctx, i+1, j+1, rows[i][j], want[i][j], got, format(want))
			}
		}
	}
}

// sameCell compares a cell as text, or as a rounded number: when either
// side has decimals, within one unit of the last decimal shown (round(x, d)
// may round a tie either way). Integers, the counts, must be equal.
func sameCell(want, got string) bool {
	if want == got {
		return true
	}
	w, err1 := strconv.ParseFloat(want, 64)
	g, err2 := strconv.ParseFloat(got, 64)
	d := max(decimals(want), decimals(got))
	if err1 != nil || err2 != nil || d == 0 {
		return false
	}
	return math.Abs(w-g) <= 1.0001*math.Pow(10, -float64(d))
}

func decimals(s string) int {
	_, frac, ok := strings.Cut(s, ".")
	if !ok {
		return 0
	}
	return len(frac)
}

func format(rows [][]string) string {
	var b strings.Builder
	for _, r := range rows {
		b.WriteString(strings.Join(r, "\t"))
		b.WriteByte('\n')
	}
	return b.String()
}

// RunSuite sets up e with Setup and checks every saved query over every
// range of Ranges against the oracle. Each engine's tests call it.
func RunSuite(t *testing.T, e Engine) {
	t.Helper()
	ctx := context.Background()
	d, err := Setup(ctx, e)
	if err != nil {
		t.Fatalf("set up the data set: %v", err)
	}
	qs, err := queries.All()
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range qs {
		for _, r := range Ranges {
			t.Run(q.Name+"/"+r.Name, func(t *testing.T) {
				want, err := d.Expected(q.Name, r.From, r.To)
				if err != nil {
					t.Fatal(err)
				}
				got, err := e.Query(ctx, q.Expand(r.From, r.To))
				if err != nil {
					t.Fatalf("run %s: %v", q.Name, err)
				}
				if len(want) == 0 {
					t.Fatalf("the data set gives %s over %s no rows: it tests nothing", q.Name, r.Name)
				}
				RequireRows(t, want, got, q.Name, "@", r.Name)
			})
		}
	}
}
