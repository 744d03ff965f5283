package querytest

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/leadscore/leadscore/deploy/clickhouse/queries"
)

// The oracle: what each saved query must return for a data set, computed
// from the generated accounts directly, in Go, from the definitions in the
// queries' comments and in 0003_funnel (it reads no table and no SQL).
// Rows are TabSeparated cells: numbers as ClickHouse prints them, NULL as
// \N, dates as 2006-01-02.

// Null is a NULL cell.
const Null = `\N`

// stageRank orders the funnel stages; lost is past opportunity, not
// customer.
var stageRank = map[string]int{"visitor": 0, "lead": 1, "mql": 2, "opportunity": 3, "lost": 3, "customer": 4}

// facts is what the oracle knows of an account.
type facts struct {
	source, medium string // first touch, lower case; "" without one
	seen           time.Time
	reached        map[string]time.Time // lead, mql, opportunity, customer, lost
	peak           float64
	hasPeak        bool
}

func (a *Account) facts() facts {
	f := facts{reached: map[string]time.Time{}}
	if a.Touched < len(a.Transitions) {
		f.source, f.medium = strings.ToLower(a.Source), strings.ToLower(a.Medium)
	}
	f.seen = a.Transitions[0].At
	first := func(stage string, ok func(to string) bool) {
		for _, t := range a.Transitions {
			if ok(t.To) && (f.reached[stage].IsZero() || t.At.Before(f.reached[stage])) {
				f.reached[stage] = t.At
			}
		}
	}
	for _, s := range []string{"lead", "mql", "opportunity"} {
		first(s, func(to string) bool { return stageRank[to] >= stageRank[s] })
	}
	first("customer", func(to string) bool { return to == "customer" })
	first("lost", func(to string) bool { return to == "lost" })
	for _, t := range a.Transitions {
		if t.At.Before(f.seen) {
			f.seen = t.At
		}
	}
	for _, s := range a.Scores {
		if s.Contact == "" && (s.Stage == "visitor" || s.Stage == "lead" || s.Stage == "mql") {
			if !f.hasPeak || s.Score > f.peak {
				f.peak = s.Score
			}
			f.hasPeak = true
		}
	}
	return f
}

func in(t, from, to time.Time) bool { return !t.IsZero() && !t.Before(from) && !t.After(to) }

func none(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func num(v uint64) string { return strconv.FormatUint(v, 10) }

// dec formats v rounded to d decimals, as ClickHouse prints round(x, d).
func dec(v float64, d int) string {
	p := math.Pow(10, float64(d))
	return strconv.FormatFloat(math.Round(v*p)/p, 'f', -1, 64)
}

// pct is round(100 * a / b, 1), NULL when ok is false.
func pct(a, b uint64, ok bool) string {
	if !ok {
		return Null
	}
	return dec(100*float64(a)/float64(b), 1)
}

func monthOf(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

func dayOf(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

func mondayOf(t time.Time) time.Time {
	d := dayOf(t)
	return d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7))
}

func date(t time.Time) string { return t.Format(time.DateOnly) }

// Expected returns the rows the saved query name must return for d over
// the time range [from, to] (the values of $__fromTime and $__toTime).
func (d *Dataset) Expected(name string, from, to time.Time) ([][]string, error) {
	fs := make([]facts, len(d.Accounts))
	for i, a := range d.Accounts {
		fs[i] = a.facts()
	}
	switch name {
	case queries.FunnelStages:
		return funnelStages(fs, from, to), nil
	case queries.FunnelWeekly:
		return funnelWeekly(fs, from, to), nil
	case queries.FunnelTimeInStage:
		return timeInStage(d.Accounts, from, to), nil
	case queries.ChannelFunnel:
		return channelFunnel(fs, from, to), nil
	case queries.ChannelDaily:
		return channelDaily(fs, from, to), nil
	case queries.ChannelCosts:
		return channelCosts(fs, d.Costs, from, to, true), nil
	case queries.ChannelReturn:
		return channelCosts(fs, d.Costs, from, to, false), nil
	case queries.ChannelLastTouch:
		return lastTouch(d.Accounts, from, to), nil
	case queries.ScoreCalibration:
		return calibration(fs, from, to), nil
	}
	return nil, fmt.Errorf("oracle: no expectation for query %s", name)
}

func funnelStages(fs []facts, from, to time.Time) [][]string {
	stages := []string{"visitor", "lead", "mql", "opportunity", "customer"}
	reached := make([]uint64, len(stages))
	for _, f := range fs {
		if !in(f.seen, from, to) {
			continue
		}
		reached[0]++
		for i, s := range stages[1:] {
			if !f.reached[s].IsZero() {
				reached[i+1]++
			}
		}
	}
	var out [][]string
	for i, s := range stages {
		conv := reached[min(i+1, len(stages)-1)]
		out = append(out, []string{
			strconv.Itoa(i + 1), s, num(reached[i]),
			pct(reached[i], reached[0], reached[0] > 0),
			num(conv),
			pct(conv, reached[i], i < len(stages)-1 && reached[i] > 0),
			num(reached[i] - conv),
		})
	}
	return out
}

var reachStages = []string{"lead", "mql", "opportunity", "customer"}

func funnelWeekly(fs []facts, from, to time.Time) [][]string {
	counts := map[time.Time]*[4]uint64{}
	for _, f := range fs {
		for i, s := range reachStages {
			if t := f.reached[s]; in(t, from, to) {
				w := mondayOf(t)
				if counts[w] == nil {
					counts[w] = new([4]uint64)
				}
				counts[w][i]++
			}
		}
	}
	var out [][]string
	for _, w := range sortedKeys(counts, func(a, b time.Time) int { return a.Compare(b) }) {
		c := counts[w]
		out = append(out, []string{date(w), num(c[0]), num(c[1]), num(c[2]), num(c[3])})
	}
	return out
}

func sortedKeys[K comparable, V any](m map[K]V, compare func(a, b K) int) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compare)
	return keys
}

// quantileExact is ClickHouse's: the element at level*n of the sorted
// values (the last for level 1).
func quantileExact(sorted []float64, level float64) float64 {
	i := int(level * float64(len(sorted)))
	return sorted[min(i, len(sorted)-1)]
}

// ordered returns an account's transitions in the order of their time,
// then their input record.
func ordered(a *Account) []Transition {
	trs := slices.Clone(a.Transitions)
	slices.SortStableFunc(trs, func(x, y Transition) int {
		return cmp.Or(x.At.Compare(y.At), cmp.Compare(x.Partition, y.Partition), cmp.Compare(x.Offset, y.Offset), strings.Compare(x.From, y.From))
	})
	return trs
}

func timeInStage(accounts []*Account, from, to time.Time) [][]string {
	hours := map[string][]float64{}
	for _, a := range accounts {
		trs := ordered(a)
		for i := 1; i < len(trs); i++ {
			if in(trs[i].At, from, to) {
				hours[trs[i].From] = append(hours[trs[i].From], trs[i].At.Sub(trs[i-1].At).Hours())
			}
		}
	}
	var out [][]string
	for _, s := range []string{"visitor", "lead", "mql", "opportunity", "customer", "lost"} {
		h := hours[s]
		if len(h) == 0 {
			continue
		}
		slices.Sort(h)
		sum := 0.0
		for _, x := range h {
			sum += x
		}
		out = append(out, []string{s, strconv.Itoa(len(h)), dec(quantileExact(h, 0.5), 1), dec(quantileExact(h, 0.9), 1), dec(sum/float64(len(h)), 1)})
	}
	return out
}

type channelKey struct{ source, medium string }

func compareChannel(a, b channelKey) int {
	return cmp.Or(strings.Compare(a.source, b.source), strings.Compare(a.medium, b.medium))
}

func channelFunnel(fs []facts, from, to time.Time) [][]string {
	type row struct{ accounts, leads, mqls, opps, wins, losses uint64 }
	rows := map[channelKey]*row{}
	for _, f := range fs {
		if !in(f.seen, from, to) {
			continue
		}
		k := channelKey{none(f.source), none(f.medium)}
		r := rows[k]
		if r == nil {
			r = &row{}
			rows[k] = r
		}
		r.accounts++
		for s, n := range map[string]*uint64{"lead": &r.leads, "mql": &r.mqls, "opportunity": &r.opps, "customer": &r.wins, "lost": &r.losses} {
			if !f.reached[s].IsZero() {
				*n++
			}
		}
	}
	keys := sortedKeys(rows, func(a, b channelKey) int {
		return cmp.Or(-cmp.Compare(rows[a].wins, rows[b].wins), -cmp.Compare(rows[a].leads, rows[b].leads), compareChannel(a, b))
	})
	var out [][]string
	for _, k := range keys {
		r := rows[k]
		out = append(out, []string{k.source, k.medium, num(r.accounts), num(r.leads), num(r.mqls), num(r.opps), num(r.wins), num(r.losses),
			pct(r.mqls, r.leads, r.leads > 0), pct(r.wins, r.leads, r.leads > 0)})
	}
	return out
}

func channelDaily(fs []facts, from, to time.Time) [][]string {
	type key struct {
		day     time.Time
		channel string
	}
	counts := map[key]*[4]uint64{}
	for _, f := range fs {
		for i, s := range reachStages {
			if t := f.reached[s]; in(t, from, to) {
				k := key{dayOf(t), none(f.source) + " / " + none(f.medium)}
				if counts[k] == nil {
					counts[k] = new([4]uint64)
				}
				counts[k][i]++
			}
		}
	}
	var out [][]string
	for _, k := range sortedKeys(counts, func(a, b key) int {
		return cmp.Or(a.day.Compare(b.day), strings.Compare(a.channel, b.channel))
	}) {
		c := counts[k]
		out = append(out, []string{date(k.day), k.channel, num(c[0]), num(c[1]), num(c[2]), num(c[3])})
	}
	return out
}

func channelCosts(fs []facts, costs []Cost, from, to time.Time, byMonth bool) [][]string {
	type key struct {
		month time.Time
		channelKey
	}
	type row struct {
		cost              float64
		currency          string
		leads, mqls, wins uint64
	}
	rows := map[key]*row{}
	get := func(k key) *row {
		if !byMonth {
			k.month = time.Time{}
		}
		if rows[k] == nil {
			rows[k] = &row{}
		}
		return rows[k]
	}
	for _, c := range costs {
		if c.Month.Before(monthOf(from)) || c.Month.After(dayOf(to)) {
			continue
		}
		r := get(key{c.Month, channelKey{c.Source, c.Medium}})
		r.cost += c.Cost
		r.currency = max(r.currency, c.Currency)
	}
	for _, f := range fs {
		for s, field := range map[string]func(*row) *uint64{
			"lead":     func(r *row) *uint64 { return &r.leads },
			"mql":      func(r *row) *uint64 { return &r.mqls },
			"customer": func(r *row) *uint64 { return &r.wins },
		} {
			t := f.reached[s]
			if t.IsZero() || monthOf(t).Before(monthOf(from)) || t.After(to) {
				continue
			}
			*field(get(key{monthOf(t), channelKey{none(f.source), none(f.medium)}}))++
		}
	}
	per := func(cost float64, n uint64) string {
		if n == 0 || cost <= 0 {
			return Null
		}
		return dec(cost/float64(n), 2)
	}
	keys := sortedKeys(rows, func(a, b key) int {
		ra, rb := rows[a], rows[b]
		return cmp.Or(a.month.Compare(b.month), -cmp.Compare(math.Round(ra.cost*100), math.Round(rb.cost*100)),
			-cmp.Compare(ra.wins, rb.wins)*boolInt(!byMonth), -cmp.Compare(ra.leads, rb.leads)*boolInt(!byMonth),
			compareChannel(a.channelKey, b.channelKey))
	})
	var out [][]string
	for _, k := range keys {
		r := rows[k]
		cost := math.Round(r.cost*100) / 100
		line := []string{k.source, k.medium, dec(cost, 2), r.currency, num(r.leads), num(r.mqls), num(r.wins),
			per(cost, r.leads), per(cost, r.mqls), per(cost, r.wins)}
		if byMonth {
			line = append([]string{date(k.month)}, line...)
		} else {
			line = append([]string{k.source + " / " + k.medium}, line...)
		}
		out = append(out, line)
	}
	return out
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func lastTouch(accounts []*Account, from, to time.Time) [][]string {
	implied := map[string]func(to string) bool{
		"mql":         func(to string) bool { return to == "mql" || to == "opportunity" || to == "lost" || to == "customer" },
		"opportunity": func(to string) bool { return to == "opportunity" || to == "lost" || to == "customer" },
		"customer":    func(to string) bool { return to == "customer" },
	}
	counts := map[channelKey]*[3]uint64{}
	for _, a := range accounts {
		trs := ordered(a)
		for i, s := range []string{"mql", "opportunity", "customer"} {
			for _, t := range trs {
				if !implied[s](t.To) {
					continue
				}
				if in(t.At, from, to) {
					k := channelKey{none(strings.ToLower(t.LastSource)), none(strings.ToLower(t.LastMedium))}
					if counts[k] == nil {
						counts[k] = new([3]uint64)
					}
					counts[k][i]++
				}
				break
			}
		}
	}
	keys := sortedKeys(counts, func(a, b channelKey) int {
		ca, cb := counts[a], counts[b]
		return cmp.Or(-cmp.Compare(ca[2], cb[2]), -cmp.Compare(ca[1], cb[1]), -cmp.Compare(ca[0], cb[0]), compareChannel(a, b))
	})
	var out [][]string
	for _, k := range keys {
		c := counts[k]
		out = append(out, []string{k.source, k.medium, num(c[0]), num(c[1]), num(c[2])})
	}
	return out
}

func calibration(fs []facts, from, to time.Time) [][]string {
	type row struct {
		accounts, opps, wins uint64
		sum                  float64
	}
	bands := map[int]*row{}
	for _, f := range fs {
		if !f.hasPeak || !in(f.seen, from, to) {
			continue
		}
		b := min(max(int(math.Floor(f.peak/10)), 0), 9) * 10
		r := bands[b]
		if r == nil {
			r = &row{}
			bands[b] = r
		}
		r.accounts++
		r.sum += f.peak
		if !f.reached["opportunity"].IsZero() {
			r.opps++
		}
		if !f.reached["customer"].IsZero() {
			r.wins++
		}
	}
	var out [][]string
	for _, b := range sortedKeys(bands, cmp.Compare[int]) {
		r := bands[b]
		top := b + 9
		if b == 90 {
			top = 100
		}
		out = append(out, []string{strconv.Itoa(b), fmt.Sprintf("%d-%d", b, top), num(r.accounts), num(r.opps), num(r.wins),
			pct(r.opps, r.accounts, true), pct(r.wins, r.accounts, true), dec(r.sum/float64(r.accounts), 1)})
	}
	return out
}
