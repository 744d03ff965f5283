package queries

import (
	"embed"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"time"

	chschema "github.com/leadscore/leadscore/deploy/clickhouse"
)

//go:embed *.sql
var files embed.FS

// The saved queries' names (their file names without .sql).
const (
	FunnelStages      = "funnel_stages"
	FunnelWeekly      = "funnel_weekly"
	FunnelTimeInStage = "funnel_time_in_stage"
	ChannelFunnel     = "channel_funnel"
	ChannelDaily      = "channel_daily"
	ChannelCosts      = "channel_costs"
	ChannelReturn     = "channel_return"
	ChannelLastTouch  = "channel_last_touch"
	ScoreCalibration  = "score_calibration"
)

// The Grafana ClickHouse data source's macros for the dashboard's time
// range, the only ones the saved queries use. The plugin replaces each with
// toDateTime(<unix seconds>).
const (
	FromTime = "$__fromTime"
	ToTime   = "$__toTime"
)

// EndOfTime is the latest end of a time range to give the queries for
// "until now and later": the last second of 2037. ClickHouse 18.16's date
// tables end with that year (toDate of a later DateTime is garbage there),
// so a later bound would make the queries' month and day filters wrong on
// it.
var EndOfTime = time.Date(2037, 12, 31, 23, 59, 59, 0, time.UTC)

// Query is one saved query.
type Query struct {
	// Name is the file name without .sql, e.g. "funnel_stages".
	Name string
	// Title is the first paragraph of the file's comment: the question
	// the query answers.
	Title string
	// Doc is the file's leading comment without the comment markers: what
	// the query answers and what its columns mean.
	Doc string
	// SQL is the statement: the file without its comments, trimmed. A
	// Grafana panel built on the query holds exactly this text.
	SQL string
}

// Expand returns q's SQL with the time-range macros replaced as the Grafana
// plugin replaces them: FromTime by toDateTime(from's unix seconds), ToTime
// by toDateTime(to's).
func (q Query) Expand(from, to time.Time) string { return Expand(q.SQL, from, to) }

// Expand replaces the time-range macros of sql (see Query.Expand).
func Expand(sql string, from, to time.Time) string {
	return strings.NewReplacer(
		FromTime, "toDateTime("+strconv.FormatInt(from.Unix(), 10)+")",
		ToTime, "toDateTime("+strconv.FormatInt(to.Unix(), 10)+")",
	).Replace(sql)
}

// All returns the saved queries ordered by name. It fails when a file does
// not hold exactly one statement or has no leading comment.
func All() ([]Query, error) {
	names, err := fs.Glob(files, "*.sql")
	if err != nil {
		return nil, fmt.Errorf("list saved queries: %w", err)
	}
	out := make([]Query, 0, len(names))
	for _, file := range names {
		text, err := files.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("read saved query %s: %w", file, err)
		}
		q, err := parse(strings.TrimSuffix(file, ".sql"), string(text))
		if err != nil {
			return nil, err
		}
		out = append(out, q)
	}
	slices.SortFunc(out, func(a, b Query) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Get returns the saved query name.
func Get(name string) (Query, error) {
	text, err := files.ReadFile(name + ".sql")
	if err != nil {
		return Query{}, fmt.Errorf("read saved query %s: %w", name, err)
	}
	return parse(name, string(text))
}

func parse(name, text string) (Query, error) {
	stmts := chschema.SplitStatements(text)
	if len(stmts) != 1 {
		return Query{}, fmt.Errorf("parse saved query %s: %d statements, want one", name, len(stmts))
	}
	var doc []string
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "--") {
			break
		}
		doc = append(doc, strings.TrimPrefix(strings.TrimPrefix(line, "--"), " "))
	}
	if len(doc) == 0 || doc[0] == "" {
		return Query{}, fmt.Errorf("parse saved query %s: no leading comment saying what it answers", name)
	}
	title, _, _ := strings.Cut(strings.Join(doc, "\n"), "\n\n")
	return Query{Name: name, Title: strings.ReplaceAll(title, "\n", " "), Doc: strings.Join(doc, "\n"), SQL: stmts[0]}, nil
}
