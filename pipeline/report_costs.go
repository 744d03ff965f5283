package pipeline

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// Cost is one row of channel_costs: what a channel cost in a month.
type Cost struct {
	Month                    time.Time // the first day of the month, UTC
	Source, Medium, Campaign string    // lower case
	Cost                     float64
	Currency                 string // ISO 4217, upper case
}

// costColumns are the CSV header's names, in any order.
var costColumns = []string{"month", "source", "medium", "campaign", "cost", "currency"}

// ParseCosts reads a channel costs CSV: a header naming the columns month,
// source, medium, campaign, cost and currency (any order, any case), then
// one row per month and channel. month is 2026-01 or a date in the month
// (2026-01-01); source and medium are required, campaign may be empty;
// cost is a number of at least 0 (a dot for decimals, no thousands
// separator); currency is a three-letter code, the same on every row.
// Source, medium and campaign are compared without regard to case, like
// UTM values, and kept in lower case. A month and channel may appear once.
//
// Every problem is reported at once, each with its line: name (the file's
// name) is the errors' prefix, as in costs.csv:4: cost "12,5" is not a
// number.
func ParseCosts(r io.Reader, name string) ([]Cost, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("%s: empty: want a header %s", name, strings.Join(costColumns, ","))
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if _, dup := col[h]; dup {
			return nil, fmt.Errorf("%s:1: column %q twice", name, h)
		}
		col[h] = i
	}
	var missing []string
	for _, c := range costColumns {
		if _, ok := col[c]; !ok {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s:1: the header lacks %s (want %s)", name, strings.Join(missing, ", "), strings.Join(costColumns, ","))
	}

	type key struct {
		month                    time.Time
		source, medium, campaign string
	}
	var (
		out      []Cost
		errs     []error
		seen     = map[key]int{}
		currency string
		curLine  int
	)
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				errs = append(errs, fmt.Errorf("%s:%d: %w", name, pe.Line, pe.Err))
				continue
			}
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // a blank line
		}
		bad := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("%s:%d: "+format, append([]any{name, line}, args...)...))
		}
		if len(rec) != len(header) {
			bad("%d fields, the header has %d", len(rec), len(header))
			continue
		}
		field := func(c string) string { return strings.TrimSpace(rec[col[c]]) }
		c := Cost{
			Source:   strings.ToLower(field("source")),
			Medium:   strings.ToLower(field("medium")),
			Campaign: strings.ToLower(field("campaign")),
			Currency: strings.ToUpper(field("currency")),
		}
		ok := true
		if m, err := parseMonth(field("month")); err != nil {
			bad("month %q: %v", field("month"), err)
			ok = false
		} else {
			c.Month = m
		}
		if c.Source == "" {
			bad("source is empty")
			ok = false
		}
		if c.Medium == "" {
			bad("medium is empty")
			ok = false
		}
		v, err := strconv.ParseFloat(field("cost"), 64)
		switch {
		case err != nil:
			bad("cost %q is not a number (use a dot for decimals, no thousands separator)", field("cost"))
			ok = false
		case v < 0 || math.IsInf(v, 0) || math.IsNaN(v):
			bad("cost %s: must be 0 or more", field("cost"))
			ok = false
		default:
			c.Cost = v
		}
		if !isCurrency(c.Currency) {
			bad("currency %q is not a three-letter code such as USD", field("currency"))
			ok = false
		} else if currency == "" {
			currency, curLine = c.Currency, line
		} else if c.Currency != currency {
			bad("currency %s, but line %d has %s: one currency per file, costs are added up", c.Currency, curLine, currency)
			ok = false
		}
		if !ok {
			continue
		}
		k := key{c.Month, c.Source, c.Medium, c.Campaign}
		if first, dup := seen[k]; dup {
			bad("%s %s/%s campaign %q again (first on line %d)", c.Month.Format("2006-01"), c.Source, c.Medium, c.Campaign, first)
			continue
		}
		seen[k] = line
		out = append(out, c)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no rows after the header", name)
	}
	return out, nil
}

func parseMonth(s string) (time.Time, error) {
	for _, layout := range []string{"2006-01", time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC), nil
		}
	}
	return time.Time{}, errors.New("want a month as 2026-01 or a date as 2026-01-31")
}

func isCurrency(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := range 3 {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

// LoadCosts writes costs to the channel_costs table of c's database. The
// rows get one version, higher than any load's before, so after FINAL each
// replaces the row of the same month, source, medium and campaign that an
// earlier load wrote. The table holds one currency: a load in another one
// is refused.
func LoadCosts(ctx context.Context, c ClickHouseConfig, costs []Cost) error {
	if len(costs) == 0 {
		return nil
	}
	conn, err := openClickHouse(c, c.Database)
	if err != nil {
		return err
	}
	defer conn.Close()
	var (
		have    string
		version uint64
	)
	err = conn.QueryRow(ctx, "SELECT any(currency), max(version) FROM channel_costs FINAL WHERE currency != ''").Scan(&have, &version)
	if err != nil {
		return fmt.Errorf("load costs: read channel_costs (run leadscore migrate first?): %w", err)
	}
	if have != "" && have != costs[0].Currency {
		return fmt.Errorf("load costs: channel_costs holds %s, this file %s: convert it, costs are added up", have, costs[0].Currency)
	}
	// Versions are load times in nanoseconds, above the last one even when
	// clocks go back.
	version = max(version+1, uint64(time.Now().UnixNano()))
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO channel_costs (month, source, medium, campaign, cost, currency, version)")
	if err != nil {
		return fmt.Errorf("load costs: %w", err)
	}
	defer batch.Close()
	for _, x := range costs {
		if err := batch.Append(x.Month, x.Source, x.Medium, x.Campaign, x.Cost, x.Currency, version); err != nil {
			return fmt.Errorf("load costs: %w", err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("load costs: %w", err)
	}
	return nil
}
