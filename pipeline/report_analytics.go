package pipeline

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/leadscore/leadscore/deploy/clickhouse/queries"
)

// The analytics reports: what `leadscore report funnel|channels|scores`
// prints, read from ClickHouse with the saved queries of
// deploy/clickhouse/queries, the ones the Grafana dashboards run. Each
// covers the time range from Since until queries.EndOfTime.

// FunnelStage is a row of the funnel_stages query: how many accounts of
// the cohort reached a stage, and how many of those went on.
type FunnelStage struct {
	Step          uint8
	Stage         string
	Reached       uint64
	SharePct      *float64 // of the cohort; nil when it is empty
	Converted     uint64   // reached the next stage
	ConversionPct *float64 // nil for the last stage, or when none reached it
	Dropped       int64    // reached the stage and went no further
}

// StageTime is a row of the funnel_time_in_stage query.
type StageTime struct {
	Stage                            string
	Stays                            uint64
	MedianHours, P90Hours, MeanHours float64
}

// WeekCounts is a row of the funnel_weekly query: accounts that first
// reached each stage in the week starting Monday Week.
type WeekCounts struct {
	Week                             time.Time
	Leads, MQLs, Opportunities, Wins uint64
}

// FunnelReport is `leadscore report funnel`.
type FunnelReport struct {
	Since  time.Time
	Stages []FunnelStage
	Times  []StageTime
	Weeks  []WeekCounts
}

// ChannelRow is a row of the channel_funnel query: accounts by first-touch
// channel and how far they got.
type ChannelRow struct {
	Source, Medium                                     string
	Accounts, Leads, MQLs, Opportunities, Wins, Losses uint64
	LeadToMQLPct, LeadToWinPct                         *float64
}

// ChannelCost is a row of the channel_costs query (Month set) or of
// channel_return (Month zero): spend against what it brought.
type ChannelCost struct {
	Month                               time.Time
	Source, Medium                      string
	Cost                                float64
	Currency                            string
	Leads, MQLs, Wins                   uint64
	CostPerLead, CostPerMQL, CostPerWin *float64 // nil when cost or count is 0
}

// LastTouch is a row of the channel_last_touch query.
type LastTouch struct {
	Source, Medium            string
	MQLs, Opportunities, Wins uint64
}

// ChannelReport is `leadscore report channels`.
type ChannelReport struct {
	Since     time.Time
	Channels  []ChannelRow
	Return    []ChannelCost
	Months    []ChannelCost
	LastTouch []LastTouch
}

// ScoreBand is a row of the score_calibration query.
type ScoreBand struct {
	Band                          uint8
	Scores                        string
	Accounts, Opportunities, Wins uint64
	OpportunityPct, WinPct        float64
	MeanPeak                      float64
}

// CalibrationReport is the calibration part of `leadscore report scores`.
type CalibrationReport struct {
	Since time.Time
	Bands []ScoreBand
}

// runSaved runs the saved query name over [since, EndOfTime] and calls
// scan for each row.
func runSaved(ctx context.Context, conn driver.Conn, name string, since time.Time, scan func(driver.Rows) error) error {
	q, err := queries.Get(name)
	if err != nil {
		return err
	}
	rs, err := conn.Query(ctx, q.Expand(since, queries.EndOfTime))
	if err != nil {
		return fmt.Errorf("query %s: %w", name, err)
	}
	defer rs.Close()
	for rs.Next() {
		if err := scan(rs); err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
	}
	if err := rs.Err(); err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	return nil
}

// Funnel reads the funnel report of the accounts first seen since since.
func Funnel(ctx context.Context, c ClickHouseConfig, since time.Time) (*FunnelReport, error) {
	conn, err := openClickHouse(c, c.Database)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	r := &FunnelReport{Since: since}
	err = runSaved(ctx, conn, queries.FunnelStages, since, func(rs driver.Rows) error {
		var s FunnelStage
		err := rs.Scan(&s.Step, &s.Stage, &s.Reached, &s.SharePct, &s.Converted, &s.ConversionPct, &s.Dropped)
		r.Stages = append(r.Stages, s)
		return err
	})
	if err != nil {
		return nil, err
	}
	err = runSaved(ctx, conn, queries.FunnelTimeInStage, since, func(rs driver.Rows) error {
		var s StageTime
		err := rs.Scan(&s.Stage, &s.Stays, &s.MedianHours, &s.P90Hours, &s.MeanHours)
		r.Times = append(r.Times, s)
		return err
	})
	if err != nil {
		return nil, err
	}
	err = runSaved(ctx, conn, queries.FunnelWeekly, since, func(rs driver.Rows) error {
		var w WeekCounts
		err := rs.Scan(&w.Week, &w.Leads, &w.MQLs, &w.Opportunities, &w.Wins)
		w.Week = w.Week.UTC()
		r.Weeks = append(r.Weeks, w)
		return err
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// Channels reads the channel report since since.
func Channels(ctx context.Context, c ClickHouseConfig, since time.Time) (*ChannelReport, error) {
	conn, err := openClickHouse(c, c.Database)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	r := &ChannelReport{Since: since}
	err = runSaved(ctx, conn, queries.ChannelFunnel, since, func(rs driver.Rows) error {
		var x ChannelRow
		err := rs.Scan(&x.Source, &x.Medium, &x.Accounts, &x.Leads, &x.MQLs, &x.Opportunities, &x.Wins, &x.Losses,
			&x.LeadToMQLPct, &x.LeadToWinPct)
		r.Channels = append(r.Channels, x)
		return err
	})
	if err != nil {
		return nil, err
	}
	err = runSaved(ctx, conn, queries.ChannelReturn, since, func(rs driver.Rows) error {
		var (
			x       ChannelCost
			channel string
		)
		err := rs.Scan(&channel, &x.Source, &x.Medium, &x.Cost, &x.Currency, &x.Leads, &x.MQLs, &x.Wins,
			&x.CostPerLead, &x.CostPerMQL, &x.CostPerWin)
		r.Return = append(r.Return, x)
		return err
	})
	if err != nil {
		return nil, err
	}
	err = runSaved(ctx, conn, queries.ChannelCosts, since, func(rs driver.Rows) error {
		var x ChannelCost
		err := rs.Scan(&x.Month, &x.Source, &x.Medium, &x.Cost, &x.Currency, &x.Leads, &x.MQLs, &x.Wins,
			&x.CostPerLead, &x.CostPerMQL, &x.CostPerWin)
		x.Month = x.Month.UTC()
		r.Months = append(r.Months, x)
		return err
	})
	if err != nil {
		return nil, err
	}
	err = runSaved(ctx, conn, queries.ChannelLastTouch, since, func(rs driver.Rows) error {
		var x LastTouch
		err := rs.Scan(&x.Source, &x.Medium, &x.MQLs, &x.Opportunities, &x.Wins)
		r.LastTouch = append(r.LastTouch, x)
		return err
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// Calibration reads the score calibration of the accounts first seen since
// since.
func Calibration(ctx context.Context, c ClickHouseConfig, since time.Time) (*CalibrationReport, error) {
	conn, err := openClickHouse(c, c.Database)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	r := &CalibrationReport{Since: since}
	err = runSaved(ctx, conn, queries.ScoreCalibration, since, func(rs driver.Rows) error {
		var b ScoreBand
		err := rs.Scan(&b.Band, &b.Scores, &b.Accounts, &b.Opportunities, &b.Wins, &b.OpportunityPct, &b.WinPct, &b.MeanPeak)
		r.Bands = append(r.Bands, b)
		return err
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// ParseSince reads a report's --since: a date (2026-01-31, UTC), an RFC
// 3339 time, or how long ago (a Go duration, or whole days as 30d or weeks
// as 12w) from now. Empty is the start of time.
func ParseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Unix(0, 0).UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if n := len(s); n > 1 && (s[n-1] == 'd' || s[n-1] == 'w') {
		if k, err := strconv.Atoi(s[:n-1]); err == nil && k >= 0 {
			unit := 24 * time.Hour
			if s[n-1] == 'w' {
				unit *= 7
			}
			return now.Add(-time.Duration(k) * unit), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q is neither a date (2026-01-31), a time (RFC 3339) nor a duration (30d, 12w, 48h)", s)
}

func sinceText(since time.Time) string {
	if since.Unix() <= 0 {
		return "all time"
	}
	return "since " + since.UTC().Format(time.DateOnly)
}

// opt formats an optional number, "-" for none.
func opt(v *float64, format string) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf(format, *v)
}

// Print writes the funnel report as aligned text.
func (r *FunnelReport) Print(w io.Writer) error {
	ew := &errWriter{w: w}
	fmt.Fprintf(ew, "\nFunnel: accounts first seen %s, by the furthest stage they reached\n", sinceText(r.Since))
	tw := tabwriter.NewWriter(ew, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "STAGE\tREACHED\tOF ALL\tWENT ON\tCONVERSION\tDROPPED\t")
	var worst *FunnelStage
	for i, s := range r.Stages {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s\t%d\t\n", s.Stage, s.Reached, opt(s.SharePct, "%.1f%%"), s.Converted, opt(s.ConversionPct, "%.1f%%"), s.Dropped)
		if s.Dropped > 0 && (worst == nil || s.Dropped > worst.Dropped) {
			worst = &r.Stages[i]
		}
	}
	tw.Flush()
	if worst != nil {
		fmt.Fprintf(ew, "Most accounts stop at %s: %d of %d went no further.\n", worst.Stage, worst.Dropped, worst.Reached)
	}

	ended := ""
	if r.Since.Unix() > 0 {
		ended = " that ended " + sinceText(r.Since)
	}
	fmt.Fprintf(ew, "\nTime in stage (completed stays%s, hours)\n", ended)
	tw = tabwriter.NewWriter(ew, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "STAGE\tSTAYS\tMEDIAN\tP90\tMEAN\t")
	for _, s := range r.Times {
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.1f\t%.1f\t\n", s.Stage, s.Stays, s.MedianHours, s.P90Hours, s.MeanHours)
	}
	tw.Flush()

	fmt.Fprintln(ew, "\nPer week (accounts that first reached the stage)")
	tw = tabwriter.NewWriter(ew, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "WEEK\tLEADS\tMQLS\tOPPORTUNITIES\tWINS\t")
	for _, x := range r.Weeks {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t\n", x.Week.Format(time.DateOnly), x.Leads, x.MQLs, x.Opportunities, x.Wins)
	}
	tw.Flush()
	return ew.err
}

// Print writes the channel report as aligned text.
func (r *ChannelReport) Print(w io.Writer) error {
	ew := &errWriter{w: w}
	fmt.Fprintf(ew, "\nChannels: accounts first seen %s, by first-touch channel\n", sinceText(r.Since))
	tw := tabwriter.NewWriter(ew, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "SOURCE\tMEDIUM\tACCOUNTS\tLEADS\tMQLS\tOPPS\tWINS\tLOST\tLEAD>MQL\tLEAD>WIN\t")
	for _, c := range r.Channels {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t\n", c.Source, c.Medium, c.Accounts, c.Leads, c.MQLs, c.Opportunities,
			c.Wins, c.Losses, opt(c.LeadToMQLPct, "%.1f%%"), opt(c.LeadToWinPct, "%.1f%%"))
	}
	tw.Flush()

	fmt.Fprintf(ew, "\nReturn on spend (whole months %s; stages first reached in them)\n", sinceText(r.Since))
	printCosts(ew, r.Return, false)
	fmt.Fprintln(ew, "\nBy month")
	printCosts(ew, r.Months, true)

	fmt.Fprintln(ew, "\nLast touch before the stage")
	tw = tabwriter.NewWriter(ew, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "SOURCE\tMEDIUM\tMQLS\tOPPS\tWINS\t")
	for _, l := range r.LastTouch {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t\n", l.Source, l.Medium, l.MQLs, l.Opportunities, l.Wins)
	}
	tw.Flush()
	return ew.err
}

func printCosts(w io.Writer, rows []ChannelCost, months bool) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	head := "SOURCE\tMEDIUM\tCOST\tLEADS\tMQLS\tWINS\tPER LEAD\tPER MQL\tPER WIN\t"
	if months {
		head = "MONTH\t" + head
	}
	fmt.Fprintln(tw, head)
	for _, c := range rows {
		if months {
			fmt.Fprintf(tw, "%s\t", c.Month.Format("2006-01"))
		}
		cost := fmt.Sprintf("%.2f %s", c.Cost, c.Currency)
		if c.Currency == "" {
			cost = fmt.Sprintf("%.2f", c.Cost)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\t%s\t\n", c.Source, c.Medium, cost, c.Leads, c.MQLs, c.Wins,
			opt(c.CostPerLead, "%.2f"), opt(c.CostPerMQL, "%.2f"), opt(c.CostPerWin, "%.2f"))
	}
	tw.Flush()
}

// Print writes the calibration as aligned text.
func (r *CalibrationReport) Print(w io.Writer) error {
	ew := &errWriter{w: w}
	fmt.Fprintf(ew, "\nScore calibration: accounts first seen %s, by their highest score before opportunity\n", sinceText(r.Since))
	tw := tabwriter.NewWriter(ew, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "SCORE\tACCOUNTS\tOPPS\tWINS\tOPP RATE\tWIN RATE\tMEAN PEAK\t")
	for _, b := range r.Bands {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.1f%%\t%.1f%%\t%.1f\t\n", b.Scores, b.Accounts, b.Opportunities, b.Wins, b.OpportunityPct, b.WinPct, b.MeanPeak)
	}
	tw.Flush()
	return ew.err
}

// errWriter keeps the first write error, so a report printed in many
// writes reports a failed one (a closed pipe) once, at the end.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return len(p), nil
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}
