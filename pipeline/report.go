package pipeline

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// AccountRow is one account in a report.
type AccountRow struct {
	AccountID  string
	Label      string
	Stage      string
	Score      float64
	Fit        float64
	Engagement float64
	Reasons    []string // the largest contributions, "rule +points"
}

// ScoreReport is what the demo prints: the top accounts, the stage counts
// and the throughput.
type ScoreReport struct {
	Top          []AccountRow
	Stages       map[string]uint64
	Accounts     uint64
	ScoreChanges uint64
	Events       int
	Produced     time.Duration
	Elapsed      time.Duration
}

// openClickHouse opens a native connection for queries.
func openClickHouse(c ClickHouseConfig, database string) (clickhouse.Conn, error) {
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr:        c.Addr,
		Auth:        clickhouse.Auth{Database: database, Username: c.Username, Password: c.Password},
		DialTimeout: c.DialTimeout.D(),
	})
	if err != nil {
		return nil, fmt.Errorf("open clickhouse: %w", err)
	}
	return conn, nil
}

// resetDatabase drops and recreates c.Database (the demo's own).
func resetDatabase(ctx context.Context, c ClickHouseConfig) error {
	conn, err := openClickHouse(c, "default")
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+c.Database); err != nil {
		return fmt.Errorf("reset database %s: %w", c.Database, err)
	}
	return nil
}

// Report reads the latest scores from ClickHouse.
func Report(ctx context.Context, c ClickHouseConfig, top int) (*ScoreReport, error) {
	conn, err := openClickHouse(c, c.Database)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	rep := &ScoreReport{Stages: map[string]uint64{}}
	rs, err := conn.Query(ctx, `SELECT account_id, label, stage, score, fit, engagement, reasons_rule, reasons_points
		FROM account_scores FINAL WHERE contact_id = '' ORDER BY score DESC, account_id LIMIT ?`, top)
	if err != nil {
		return nil, fmt.Errorf("query top accounts: %w", err)
	}
	for rs.Next() {
		var (
			r      AccountRow
			rules  []string
			points []float64
		)
		if err := rs.Scan(&r.AccountID, &r.Label, &r.Stage, &r.Score, &r.Fit, &r.Engagement, &rules, &points); err != nil {
			rs.Close()
			return nil, fmt.Errorf("read top accounts: %w", err)
		}
		r.Reasons = topReasons(rules, points, 3)
		rep.Top = append(rep.Top, r)
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("read top accounts: %w", err)
	}
	rs, err = conn.Query(ctx, `SELECT stage, count() FROM account_scores FINAL WHERE contact_id = '' GROUP BY stage`)
	if err != nil {
		return nil, fmt.Errorf("query stages: %w", err)
	}
	for rs.Next() {
		var (
			stage string
			n     uint64
		)
		if err := rs.Scan(&stage, &n); err != nil {
			rs.Close()
			return nil, fmt.Errorf("read stages: %w", err)
		}
		rep.Stages[stage] = n
		rep.Accounts += n
	}
	rs.Close()
	if err := conn.QueryRow(ctx, scoreChangesSQL).Scan(&rep.ScoreChanges); err != nil {
		return nil, fmt.Errorf("count score changes: %w", err)
	}
	return rep, nil
}

// scoreChangesSQL counts the score changes that stand: FINAL (a replayed
// or corrected row counts once), then without retracted rows, outside the
// FINAL subquery (deploy/clickhouse/0007_retractions says why).
const scoreChangesSQL = `SELECT count() FROM (SELECT retracted FROM score_changes FINAL) WHERE retracted = 0`

// topReasons returns the n largest contributions by absolute points.
func topReasons(rules []string, points []float64, n int) []string {
	idx := make([]int, len(rules))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return abs(points[idx[a]]) > abs(points[idx[b]]) })
	var out []string
	for _, i := range idx {
		if len(out) == n {
			break
		}
		out = append(out, fmt.Sprintf("%s %+.1f", rules[i], points[i]))
	}
	return out
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

// Print writes the report as aligned text.
func (r *ScoreReport) Print(w io.Writer) {
	fmt.Fprintf(w, "\nTop %d accounts (account_scores FINAL):\n", len(r.Top))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ACCOUNT\tLABEL\tSTAGE\tSCORE\tFIT\tENGAGEMENT\tTOP REASONS")
	for _, a := range r.Top {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.1f\t%.1f\t%.1f\t%s\n", a.AccountID, a.Label, a.Stage, a.Score, a.Fit, a.Engagement, strings.Join(a.Reasons, ", "))
	}
	tw.Flush()
	fmt.Fprintf(w, "\nStages (%d accounts):\n", r.Accounts)
	for _, s := range []string{"visitor", "lead", "mql", "opportunity", "customer", "lost"} {
		fmt.Fprintf(w, "  %-12s %d\n", s, r.Stages[s])
	}
	fmt.Fprintf(w, "\nScore changes: %d\n", r.ScoreChanges)
	if r.Elapsed > 0 {
		fmt.Fprintf(w, "Throughput: %d events in %.2fs end to end (produce, consume, score, ClickHouse and Kafka writes, commit) = %.0f events/s\n",
			r.Events, r.Elapsed.Seconds(), float64(r.Events)/r.Elapsed.Seconds())
	}
}
