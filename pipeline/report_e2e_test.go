package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"math"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/leadscore/leadscore/internal/rows"
	"github.com/leadscore/leadscore/sinks"
)

// The analytics end to end: a stream whose funnel is known by construction
// (every account's channel and the event that moves it to each stage), run
// through the engine into ClickHouse, then read back by the reports, which
// must equal what this file computes from the input alone. The score only
// matters for mql: an account with fit 100 (40 points) reaches the line of
// 70 with its second big engagement event (an offline event, 30 points,
// then an e-mail reply, 25: 0.4*100 + 0.6*56 = 73.6, where one alone makes
// 58.6); everyone else stays far below it.

// rpChannel is how an account first arrives.
type rpChannel struct {
	utmSource, utmMedium, utmCampaign string
	referrer                          string
	noPage                            bool // no page at all: the account starts with a group call
	source, medium                    string
}

var rpChannels = []rpChannel{
	{utmSource: "google", utmMedium: "cpc", utmCampaign: "brand-search", source: "google", medium: "cpc"},
	{utmSource: "LinkedIn", utmMedium: "Social", utmCampaign: "ABM-Q1", source: "linkedin", medium: "social"},
	{referrer: "https://www.google.com/search?q=lead+scoring", source: "google.com", medium: "search"},
	{source: "(direct)", medium: "direct"},
	{noPage: true, source: "(none)", medium: "(none)"},
}

// The paths through the funnel, each a list of (stage, hours after the
// account's first event).
type rpStep struct {
	stage string
	hours float64
}

var rpPaths = [][]rpStep{
	{{"visitor", 0}},
	{{"visitor", 0}, {"lead", 1}},
	{{"visitor", 0}, {"lead", 1}, {"mql", 3}},
	{{"visitor", 0}, {"lead", 1}, {"mql", 3}, {"opportunity", 5}, {"customer", 9}},
	{{"visitor", 0}, {"lead", 1}, {"opportunity", 4}, {"lost", 7}}, // sales opened the deal before mql
	{{"visitor", 0}, {"opportunity", 3}, {"customer", 6}},          // no known person ever
}

type rpAccount struct {
	id      string
	channel rpChannel
	path    []rpStep
	t0      time.Time
}

func (a *rpAccount) at(hours float64) time.Time {
	return a.t0.Add(time.Duration(hours * float64(time.Hour)))
}

// reached is when the account first reached stage or passed it, zero when
// it never did (lost passes opportunity, not customer).
func (a *rpAccount) reached(stage string) time.Time {
	rank := map[string]int{"visitor": 0, "lead": 1, "mql": 2, "opportunity": 3, "lost": 3, "customer": 4}
	for _, s := range a.path {
		if s.stage == stage || (stage != "lost" && stage != "customer" && rank[s.stage] >= rank[stage]) {
			return a.at(s.hours)
		}
	}
	return time.Time{}
}

// newReportScenario lays out 30 accounts, every channel with every path,
// starting between 2026-02-27 and 2026-03-01, so that stages fall in two
// months and two weeks.
func newReportScenario() (*scenario, []*rpAccount) {
	base := time.Date(2026, 2, 27, 9, 0, 0, 0, time.UTC)
	type timed struct {
		at  time.Time
		rec *scenarioRecord
	}
	var (
		all      []timed
		accounts []*rpAccount
		msg      = 100000
	)
	add := func(a *rpAccount, hours float64, value func(msg int, t time.Time) []byte) {
		msg++
		t := a.at(hours)
		all = append(all, timed{t, &scenarioRecord{account: a.id, value: value(msg, t)}})
	}
	fit100 := oFirm{industry: "software", employees: 1000, country: "US", techs: []string{"salesforce"}}
	for i := range len(rpChannels) * len(rpPaths) {
		a := &rpAccount{
			id:      fmt.Sprintf("rep%02d.com", i),
			channel: rpChannels[i%len(rpChannels)],
			path:    rpPaths[i/len(rpChannels)],
			t0:      base.Add(time.Duration(i)*2*time.Hour + time.Duration(i%7)*13*time.Minute),
		}
		accounts = append(accounts, a)
		p := i / len(rpChannels)
		scored := p == 2 || p == 3 // to mql by score
		firm := oFirm{}
		if scored {
			firm = fit100
		}
		if a.channel.noPage {
			add(a, 0, func(m int, t time.Time) []byte { return groupJSON(m, a.id, t, firm) })
		} else {
			add(a, 0, func(m int, t time.Time) []byte { return rpPageJSON(m, a, t) })
			if scored {
				add(a, 0.5, func(m int, t time.Time) []byte { return groupJSON(m, a.id, t, firm) })
			}
		}
		if p >= 1 && p <= 4 {
			add(a, 1, func(m int, t time.Time) []byte {
				return identifyJSON(m, "anon-"+a.id, "user-"+a.id, "jane@"+a.id, t)
			})
		}
		track := func(hours float64, name string) {
			add(a, hours, func(m int, t time.Time) []byte { return trackJSON(m, "", "", a.id, name, t) })
		}
		switch p {
		case 2, 3:
			track(2, "Event Attended")
			track(3, "Email Replied")
			if p == 3 {
				track(5, "Opportunity Created")
				track(9, "Deal Won")
			}
		case 4:
			track(4, "Opportunity Created")
			track(7, "Deal Lost")
		case 5:
			track(3, "Opportunity Created")
			track(6, "Deal Won")
		}
	}
	sort.SliceStable(all, func(x, y int) bool { return all[x].at.Before(all[y].at) })
	s := &scenario{}
	for _, x := range all {
		r := x.rec
		r.key = r.account
		r.partition = partitionOf(r.account)
		r.offset = int64(len(s.parts[r.partition]))
		s.push(r)
	}
	return s, accounts
}

// rpPageJSON is the account's first page view: with its UTM campaign or
// referrer, attributed to the account by context.groupId.
func rpPageJSON(msg int, a *rpAccount, t time.Time) []byte {
	c := a.channel
	page := `"path":"/","url":"https://example.com/"`
	if c.referrer != "" {
		page += fmt.Sprintf(`,"referrer":%q`, c.referrer)
	}
	campaign := ""
	if c.utmSource != "" {
		campaign = fmt.Sprintf(`,"campaign":{"source":%q,"medium":%q,"name":%q}`, c.utmSource, c.utmMedium, c.utmCampaign)
	}
	return fmt.Appendf(nil, `{"type":"page","messageId":"m-%d","anonymousId":%q,"timestamp":%q,"context":{"ip":"198.51.100.7","groupId":%q,"page":{%s}%s},"properties":{"path":"/"}}`,
		msg, "anon-"+a.id, ts(t), a.id, page, campaign)
}

// The costs, loaded twice: the second file corrects LinkedIn's March.
const (
	rpCosts = `month,source,medium,campaign,cost,currency
2026-02,google,cpc,brand-search,1200,USD
2026-03,google,cpc,brand-search,900.50,USD
2026-02,LinkedIn,Social,ABM-Q1,2000,usd
2026-03,linkedin,social,abm-q1,1000,USD
2026-03,bing,cpc,,300,USD
`
	rpCostsFix = "Month,Source,Medium,Campaign,Cost,Currency\n2026-03,linkedin,social,abm-q1,1500,USD\n"
)

// rpCost is the spend the two files leave, per month and channel.
var rpCost = map[string]float64{
	"2026-02 google/cpc": 1200, "2026-03 google/cpc": 900.5,
	"2026-02 linkedin/social": 2000, "2026-03 linkedin/social": 1500,
	"2026-03 bing/cpc": 300,
}

func rpPct(a, b int) *float64 {
	if b == 0 {
		return nil
	}
	v := 100 * float64(a) / float64(b)
	return &v
}

func requirePct(t *testing.T, want, got *float64, msg string) {
	t.Helper()
	if want == nil {
		require.Nil(t, got, msg)
		return
	}
	require.NotNil(t, got, msg)
	require.InDelta(t, *want, *got, 0.051, msg)
}

// checkFunnel compares the funnel report with the accounts first seen
// since since.
func checkFunnel(t *testing.T, accounts []*rpAccount, r *FunnelReport, since time.Time) {
	t.Helper()
	stages := []string{"visitor", "lead", "mql", "opportunity", "customer"}
	reached := make([]int, len(stages))
	for _, a := range accounts {
		if a.t0.Before(since) {
			continue
		}
		for i, s := range stages {
			if !a.reached(s).IsZero() {
				reached[i]++
			}
		}
	}
	require.NotZero(t, reached[0])
	require.Len(t, r.Stages, len(stages))
	for i, s := range r.Stages {
		msg := "stage " + s.Stage
		require.Equal(t, stages[i], s.Stage)
		require.EqualValues(t, reached[i], s.Reached, msg)
		requirePct(t, rpPct(reached[i], reached[0]), s.SharePct, msg)
		next := reached[min(i+1, len(stages)-1)]
		require.EqualValues(t, next, s.Converted, msg)
		require.EqualValues(t, reached[i]-next, s.Dropped, msg)
		if i == len(stages)-1 {
			require.Nil(t, s.ConversionPct, msg)
		} else {
			requirePct(t, rpPct(next, reached[i]), s.ConversionPct, msg)
		}
	}

	// Time in stage: every completed stay, by stage.
	hours := map[string][]float64{}
	for _, a := range accounts {
		for k := 1; k < len(a.path); k++ {
			if !a.at(a.path[k].hours).Before(since) {
				hours[a.path[k-1].stage] = append(hours[a.path[k-1].stage], a.path[k].hours-a.path[k-1].hours)
			}
		}
	}
	var times []StageTime
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
		q := func(level float64) float64 { return h[min(int(level*float64(len(h))), len(h)-1)] }
		times = append(times, StageTime{Stage: s, Stays: uint64(len(h)), MedianHours: q(0.5), P90Hours: q(0.9),
			MeanHours: math.Round(10*sum/float64(len(h))) / 10})
	}
	require.Len(t, r.Times, len(times))
	for i := range times {
		require.Equal(t, times[i].Stage, r.Times[i].Stage)
		require.Equal(t, times[i].Stays, r.Times[i].Stays, times[i].Stage)
		require.InDelta(t, times[i].MedianHours, r.Times[i].MedianHours, 0.051, times[i].Stage)
		require.InDelta(t, times[i].P90Hours, r.Times[i].P90Hours, 0.051, times[i].Stage)
		require.InDelta(t, times[i].MeanHours, r.Times[i].MeanHours, 0.051, times[i].Stage)
	}

	// Per week: accounts by the Monday of the week they reached a stage.
	weeks := map[time.Time]*WeekCounts{}
	for _, a := range accounts {
		for _, s := range []string{"lead", "mql", "opportunity", "customer"} {
			at := a.reached(s)
			if at.IsZero() || at.Before(since) {
				continue
			}
			d := time.Date(at.Year(), at.Month(), at.Day(), 0, 0, 0, 0, time.UTC)
			monday := d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7))
			w := weeks[monday]
			if w == nil {
				w = &WeekCounts{Week: monday}
				weeks[monday] = w
			}
			*map[string]*uint64{"lead": &w.Leads, "mql": &w.MQLs, "opportunity": &w.Opportunities, "customer": &w.Wins}[s]++
		}
	}
	var want []WeekCounts
	for _, w := range weeks {
		want = append(want, *w)
	}
	slices.SortFunc(want, func(a, b WeekCounts) int { return a.Week.Compare(b.Week) })
	require.Equal(t, want, r.Weeks)
}

// checkChannels compares the channel report with the accounts and costs.
func checkChannels(t *testing.T, accounts []*rpAccount, r *ChannelReport) {
	t.Helper()
	type counts struct{ accounts, leads, mqls, opps, wins, losses int }
	by := map[string]*counts{}
	for _, a := range accounts {
		k := a.channel.source + "/" + a.channel.medium
		c := by[k]
		if c == nil {
			c = &counts{}
			by[k] = c
		}
		c.accounts++
		for s, n := range map[string]*int{"lead": &c.leads, "mql": &c.mqls, "opportunity": &c.opps, "customer": &c.wins, "lost": &c.losses} {
			if !a.reached(s).IsZero() {
				*n++
			}
		}
	}
	require.Len(t, r.Channels, len(by))
	for i, row := range r.Channels {
		k := row.Source + "/" + row.Medium
		c, ok := by[k]
		require.True(t, ok, "unexpected channel %s", k)
		require.Equal(t, []uint64{uint64(c.accounts), uint64(c.leads), uint64(c.mqls), uint64(c.opps), uint64(c.wins), uint64(c.losses)},
			[]uint64{row.Accounts, row.Leads, row.MQLs, row.Opportunities, row.Wins, row.Losses}, k)
		requirePct(t, rpPct(c.mqls, c.leads), row.LeadToMQLPct, k)
		requirePct(t, rpPct(c.wins, c.leads), row.LeadToWinPct, k)
		if i > 0 {
			prev := r.Channels[i-1]
			require.True(t, prev.Wins > row.Wins || prev.Wins == row.Wins && prev.Leads >= row.Leads, "ordered by wins, then leads")
		}
	}

	// Spend against the stages reached, per month and channel, and over
	// the months.
	type spend struct {
		cost              float64
		leads, mqls, wins int
	}
	months, total := map[string]*spend{}, map[string]*spend{}
	get := func(m map[string]*spend, k string) *spend {
		if m[k] == nil {
			m[k] = &spend{}
		}
		return m[k]
	}
	for k, c := range rpCost {
		month, channel, _ := strings.Cut(k, " ")
		get(months, month+" "+channel).cost += c
		get(total, channel).cost += c
	}
	for _, a := range accounts {
		ch := a.channel.source + "/" + a.channel.medium
		for s, field := range map[string]func(*spend) *int{
			"lead": func(x *spend) *int { return &x.leads }, "mql": func(x *spend) *int { return &x.mqls }, "customer": func(x *spend) *int { return &x.wins },
		} {
			if at := a.reached(s); !at.IsZero() {
				*field(get(months, at.Format("2006-01")+" "+ch))++
				*field(get(total, ch))++
			}
		}
	}
	per := func(cost float64, n int) *float64 {
		if cost == 0 || n == 0 {
			return nil
		}
		v := cost / float64(n)
		return &v
	}
	check := func(want map[string]*spend, rows []ChannelCost, month bool) {
		t.Helper()
		require.Len(t, rows, len(want))
		for _, row := range rows {
			k := row.Source + "/" + row.Medium
			if month {
				k = row.Month.Format("2006-01") + " " + k
			}
			w, ok := want[k]
			require.True(t, ok, "unexpected cost row %s", k)
			require.InDelta(t, w.cost, row.Cost, 0.001, k)
			if w.cost > 0 {
				require.Equal(t, "USD", row.Currency, k)
			}
			require.Equal(t, []uint64{uint64(w.leads), uint64(w.mqls), uint64(w.wins)}, []uint64{row.Leads, row.MQLs, row.Wins}, k)
			for _, x := range []struct {
				name      string
				want, got *float64
			}{{"per lead", per(w.cost, w.leads), row.CostPerLead}, {"per mql", per(w.cost, w.mqls), row.CostPerMQL}, {"per win", per(w.cost, w.wins), row.CostPerWin}} {
				if x.want == nil {
					require.Nil(t, x.got, "%s %s", k, x.name)
					continue
				}
				require.NotNil(t, x.got, "%s %s", k, x.name)
				require.InDelta(t, *x.want, *x.got, 0.0051, "%s %s", k, x.name)
			}
		}
	}
	check(months, r.Months, true)
	check(total, r.Return, false)
	require.NotNil(t, r.Return[0].CostPerWin, "the costliest channel brought wins: %+v", r.Return[0])

	// Last touch: these accounts have one channel all along, so the last
	// touch before a stage is the first touch.
	type lt struct{ mqls, opps, wins uint64 }
	last := map[string]*lt{}
	for _, a := range accounts {
		k := a.channel.source + "/" + a.channel.medium
		for s, f := range map[string]func(*lt) *uint64{
			"mql": func(x *lt) *uint64 { return &x.mqls }, "opportunity": func(x *lt) *uint64 { return &x.opps }, "customer": func(x *lt) *uint64 { return &x.wins },
		} {
			if !a.reached(s).IsZero() {
				if last[k] == nil {
					last[k] = &lt{}
				}
				*f(last[k])++
			}
		}
	}
	require.Len(t, r.LastTouch, len(last))
	for _, row := range r.LastTouch {
		k := row.Source + "/" + row.Medium
		require.NotNil(t, last[k], k)
		require.Equal(t, *last[k], lt{row.MQLs, row.Opportunities, row.Wins}, k)
	}
}

// checkCalibration: the accounts that crossed the mql line by score, and
// only they, peak in the bands of 70 and more; every account has a band
// but those whose first score was already an opportunity's.
func checkCalibration(t *testing.T, accounts []*rpAccount, r *CalibrationReport) {
	t.Helper()
	var high, all, opps uint64
	for _, a := range accounts {
		all++
		if len(a.path) > 2 && a.path[2].stage == "mql" {
			high++
		}
		if !a.reached("opportunity").IsZero() {
			opps++
		}
	}
	var gotHigh, gotAll, gotOpps uint64
	for _, b := range r.Bands {
		gotAll += b.Accounts
		gotOpps += b.Opportunities
		if b.Band >= 70 {
			gotHigh += b.Accounts
			require.InDelta(t, 73.6, b.MeanPeak, 0.5, "the mql line crossed by 0.4*100 + 0.6*56")
		}
		require.InDelta(t, 100*float64(b.Opportunities)/float64(b.Accounts), b.OpportunityPct, 0.051)
	}
	require.Equal(t, all, gotAll)
	require.Equal(t, opps, gotOpps)
	require.Equal(t, high, gotHigh)
}

func TestReportEndToEnd(t *testing.T) {
	h := newHarness(t)
	s, accounts := newReportScenario()
	stop := h.runEngine()
	h.produce(s, 0, 1)
	h.waitCaughtUp()
	require.NoError(t, stop())

	ctx := context.Background()
	for i, file := range []string{rpCosts, rpCostsFix} {
		costs, err := ParseCosts(strings.NewReader(file), fmt.Sprintf("costs%d.csv", i))
		require.NoError(t, err)
		require.NoError(t, LoadCosts(ctx, h.cfg.ClickHouse, costs))
	}
	eur, err := ParseCosts(strings.NewReader("month,source,medium,campaign,cost,currency\n2026-03,google,cpc,x,1,EUR\n"), "eur.csv")
	require.NoError(t, err)
	require.ErrorContains(t, LoadCosts(ctx, h.cfg.ClickHouse, eur), "channel_costs holds USD, this file EUR")

	check := func() {
		t.Helper()
		epoch := time.Unix(0, 0).UTC()
		f, err := Funnel(ctx, h.cfg.ClickHouse, epoch)
		require.NoError(t, err)
		checkFunnel(t, accounts, f, epoch)
		march := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		fm, err := Funnel(ctx, h.cfg.ClickHouse, march)
		require.NoError(t, err)
		require.Less(t, fm.Stages[0].Reached, f.Stages[0].Reached, "--since cuts the cohort")
		checkFunnel(t, accounts, fm, march)
		c, err := Channels(ctx, h.cfg.ClickHouse, epoch)
		require.NoError(t, err)
		checkChannels(t, accounts, c)
		cal, err := Calibration(ctx, h.cfg.ClickHouse, epoch)
		require.NoError(t, err)
		checkCalibration(t, accounts, cal)

		var out bytes.Buffer
		require.NoError(t, f.Print(&out))
		require.NoError(t, c.Print(&out))
		require.NoError(t, cal.Print(&out))
		require.Contains(t, out.String(), "Most accounts stop at")
		require.Contains(t, out.String(), "linkedin")
	}
	check()

	// Rows written and then taken back, as the engine does when an event
	// that arrives late shows event-time order writes no such row: for
	// some accounts, a win an hour before they were first seen, from a
	// channel of their own, with a peak score; each then retracted. Every
	// report would change if it counted them (cohorts, wins, channels,
	// time in stage, last touch, score bands).
	retracted := writeRetracted(t, h.cfg.ClickHouse, accounts[:len(accounts)/2])
	var n uint64
	require.NoError(t, h.conn.QueryRow(ctx, "SELECT count() FROM (SELECT retracted FROM funnel_transitions FINAL) WHERE retracted = 1").Scan(&n))
	require.EqualValues(t, retracted, n)
	check()

	// A replay of the whole input (a new consumer group, no state) writes
	// every transition and score change again. The views' tables must not
	// count them twice.
	var before uint64
	require.NoError(t, h.conn.QueryRow(ctx, "SELECT count() FROM funnel_transitions").Scan(&before))
	h.cfg.Kafka.Group = "replay"
	stop = h.runEngine()
	h.waitCaughtUp()
	require.NoError(t, stop())
	var raw, final uint64
	require.NoError(t, h.conn.QueryRow(ctx, "SELECT count() FROM funnel_transitions").Scan(&raw))
	require.NoError(t, h.conn.QueryRow(ctx, "SELECT count() FROM funnel_transitions FINAL").Scan(&final))
	require.Greater(t, raw, before, "the replay wrote the transitions again")
	t.Logf("funnel_transitions: %d rows after the replay, %d after FINAL", raw, final)
	check()
}

// writeRetracted writes, through the ClickHouse sink, a provisional win
// and score change for each of accounts, then in a later flush their
// retractions (the identity and the row's time: its partition), and
// returns how many transitions it retracted.
func writeRetracted(t *testing.T, cfg ClickHouseConfig, accounts []*rpAccount) int {
	t.Helper()
	sink, err := sinks.NewClickHouse(cfg.SinkConfig(), nil, nil)
	require.NoError(t, err)
	defer sink.Close(context.Background())
	var provisional, retractions rows.Batch
	for i, a := range accounts {
		at := a.t0.Add(-time.Hour)
		src := rows.Source{Topic: "leadscore.events", Partition: 0, Offset: 1_000_000 + int64(i)}
		tr := rows.FunnelTransition{AccountID: a.id, FromStage: "visitor", ToStage: "customer", At: at,
			Source: "provisional", Medium: "provisional", LastSource: "provisional", LastMedium: "provisional", RecordSource: src}
		sc := rows.ScoreChange{AccountID: a.id, AsOf: at, Score: 99.9, Grade: "A", Level: 1, Label: "A1", Stage: "lead",
			Cause: rows.CauseEvent, Source: src}
		provisional.Transitions = append(provisional.Transitions, tr)
		provisional.Changes = append(provisional.Changes, sc)
		retractions.Transitions = append(retractions.Transitions, rows.FunnelTransition{AccountID: a.id, FromStage: tr.FromStage,
			ToStage: tr.ToStage, At: at, RecordSource: src, Retracted: true})
		retractions.Changes = append(retractions.Changes, rows.ScoreChange{AccountID: a.id, AsOf: at, Source: src,
			Cause: rows.CauseRetraction, Retracted: true})
	}
	for _, b := range []*rows.Batch{&provisional, &retractions} {
		require.NoError(t, sink.Write(t.Context(), b))
		require.NoError(t, sink.Flush(t.Context()))
	}
	return len(accounts)
}

// TestReportPNG draws the three charts from a real report and checks each
// is a PNG of the expected size.
func TestReportPNG(t *testing.T) {
	f := &FunnelReport{Stages: []FunnelStage{
		{Step: 1, Stage: "visitor", Reached: 1000}, {Step: 2, Stage: "lead", Reached: 400}, {Step: 3, Stage: "mql", Reached: 120},
		{Step: 4, Stage: "opportunity", Reached: 60}, {Step: 5, Stage: "customer", Reached: 12},
	}}
	c := &ChannelReport{Channels: []ChannelRow{
		{Source: "google", Medium: "cpc", Leads: 100, MQLs: 40, Opportunities: 20, Wins: 5},
		{Source: "linkedin", Medium: "social", Leads: 60, MQLs: 30, Opportunities: 12, Wins: 6},
		{Source: "(none)", Medium: "(none)", Leads: 10},
	}}
	cal := &CalibrationReport{Bands: []ScoreBand{{Band: 0, Scores: "0-9", Accounts: 50, OpportunityPct: 2}, {Band: 70, Scores: "70-79", Accounts: 10, OpportunityPct: 60, WinPct: 20}}}
	empty := &ChannelReport{}
	noBands := &CalibrationReport{}
	for name, draw := range map[string]func(*bytes.Buffer) error{
		"funnel":      func(b *bytes.Buffer) error { return f.WritePNG(b) },
		"channels":    func(b *bytes.Buffer) error { return c.WritePNG(b) },
		"scores":      func(b *bytes.Buffer) error { return cal.WritePNG(b) },
		"no channels": func(b *bytes.Buffer) error { return empty.WritePNG(b) },
		"no bands":    func(b *bytes.Buffer) error { return noBands.WritePNG(b) },
	} {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			require.NoError(t, draw(&b))
			require.Greater(t, b.Len(), 5<<10, "a chart, not an empty image")
			require.Less(t, b.Len(), 2<<20)
			img, err := png.Decode(bytes.NewReader(b.Bytes()))
			require.NoError(t, err)
			require.Equal(t, 960, img.Bounds().Dx())
			require.Equal(t, 576, img.Bounds().Dy())
		})
	}
}
