package querytest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// Transition is a funnel_transitions row.
type Transition struct {
	Account, Contact                     string
	From, To                             string
	At                                   time.Time
	Source, Medium, Campaign             string
	LastSource, LastMedium, LastCampaign string
	Partition                            int32
	Offset                               int64
	// Retracted marks a retraction: the row's identity written again
	// with retracted = 1.
	Retracted bool
}

// ScoreChange is the part of a score_changes row the saved queries read.
type ScoreChange struct {
	Account, Contact string
	AsOf             time.Time
	Score            float64
	Stage            string
	Partition        int32
	Offset           int64
	Retracted        bool // see Transition.Retracted
}

// Cost is a channel_costs row as `leadscore costs load` writes it: source,
// medium and campaign in lower case, month the first day of a month.
type Cost struct {
	Month                    time.Time
	Source, Medium, Campaign string
	Cost                     float64
	Currency                 string
}

// Account is one generated account: its own funnel transitions in order,
// and the truth they were made from.
type Account struct {
	ID string
	// Source, Medium and Campaign are its first touch as the engine would
	// have seen it (mixed case, as UTM values come); "" when it has none.
	// Transitions before the one at index Touched carry "".
	Source, Medium, Campaign string
	Touched                  int
	Transitions              []Transition
	Scores                   []ScoreChange
}

// Dataset is a synthetic funnel: accounts walking the stages over three
// months with first- and last-touch channels, their score changes, and two
// loads of channel costs, the second replacing part of the first. Its rows
// cover what the saved queries must get right: skipped stages, mql falling
// back to lead and coming back, lost deals, transitions in the same second,
// decay transitions (partition -1), accounts without a channel, channel
// values in mixed case, contact rows (which no query counts), spend on a
// channel that brought nobody, and rows the engine wrote and then
// corrected or retracted (an event arrived late), which must count only as
// corrected, or not at all.
type Dataset struct {
	Accounts []*Account
	// Contacts are contact rows (contact_id set): in the tables, never
	// counted.
	Contacts []Transition
	// Provisional are rows written before the accounts' rows and later
	// replaced: each either has the identity of one of the accounts' rows
	// (which, inserted after it, corrects it) or is retracted by its
	// entry in Retractions. The oracle reads neither: they are chosen to
	// change every answer if they counted (an earlier first transition, a
	// win that never was, a higher peak, a stage a correction changes, a
	// first or last touch that is not the account's).
	Provisional       []Transition
	ProvisionalScores []ScoreChange
	// Retractions and ScoreRetractions are the retractions of provisional
	// rows, written after the accounts' rows.
	Retractions      []Transition
	ScoreRetractions []ScoreChange
	// Loads are the cost loads in order; Costs is what remains after them
	// (the later load's row wins per month, source, medium and campaign).
	Loads [][]Cost
	Costs []Cost
}

// Start is the earliest event time of every data set.
var Start = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

type channel struct{ source, medium, campaign string }

var channels = []channel{
	{"google", "cpc", "brand-search"},
	{"google", "cpc", "competitor-search"},
	{"LinkedIn", "Social", "abm-q1"},
	{"newsletter", "email", "monthly-digest"},
	{"google.com", "search", ""},
	{"(direct)", "direct", ""},
	{"", "", ""}, // never a channel
}

// New generates a data set of n accounts from seed.
func New(seed uint64, n int) *Dataset {
	rng := rand.New(rand.NewPCG(seed, seed^0x5deece66d))
	d := &Dataset{}
	var offsets [4]int64
	next := func(p int32) int64 { offsets[p]++; return offsets[p] }
	for i := range n {
		a := &Account{ID: fmt.Sprintf("acct%03d.example.com", i)}
		ch := channels[rng.IntN(len(channels))]
		a.Source, a.Medium, a.Campaign = ch.source, ch.medium, ch.campaign
		a.Touched = rng.IntN(2) // from the first transition, or the second
		part := int32(i % 4)
		at := Start.Add(time.Duration(rng.IntN(80*24)) * time.Hour).Add(time.Duration(rng.IntN(3600)) * time.Second)

		path := walk(rng)
		from := ""
		for k, to := range path {
			if k > 0 {
				if rng.IntN(12) > 0 { // else: the same second as the previous one
					at = at.Add(time.Duration(1+rng.IntN(300))*time.Hour + time.Duration(rng.IntN(3600))*time.Second)
				}
			}
			tr := Transition{Account: a.ID, From: from, To: to, At: at, Partition: part, Offset: next(part)}
			if from == "mql" && to == "lead" {
				// A decay: no input record, as the engine writes it, so
				// its time is its identity: never in the same second as
				// another.
				if k > 0 && at.Equal(a.Transitions[k-1].At) {
					at = at.Add(time.Hour)
					tr.At = at
				}
				tr.Partition, tr.Offset = -1, at.Unix()
			}
			if k >= a.Touched {
				tr.Source, tr.Medium, tr.Campaign = a.Source, a.Medium, a.Campaign
			}
			last := channels[rng.IntN(len(channels))]
			tr.LastSource, tr.LastMedium, tr.LastCampaign = last.source, last.medium, last.campaign
			a.Transitions = append(a.Transitions, tr)

			// A score change with each transition, and one between some.
			a.Scores = append(a.Scores, ScoreChange{Account: a.ID, AsOf: at, Score: score(rng, to), Stage: to,
				Partition: tr.Partition, Offset: tr.Offset})
			if rng.IntN(2) == 0 {
				a.Scores = append(a.Scores, ScoreChange{Account: a.ID, AsOf: at.Add(time.Minute), Score: score(rng, to), Stage: to,
					Partition: part, Offset: next(part)})
			}
			from = to
		}
		d.Accounts = append(d.Accounts, a)

		// A contact of the account with a lead and an mql row of its own.
		if rng.IntN(3) == 0 {
			c := Transition{Account: a.ID, Contact: "user-" + a.ID, To: "lead", At: a.Transitions[0].At, Partition: part, Offset: next(part),
				Source: "contactsource", Medium: "contactmedium"}
			d.Contacts = append(d.Contacts, c)
			c.From, c.To, c.At, c.Offset = "lead", "mql", c.At.Add(time.Hour), next(part)
			d.Contacts = append(d.Contacts, c)
		}
	}

	d.provisional(seed)

	month := func(m time.Month) time.Time { return time.Date(2026, m, 1, 0, 0, 0, 0, time.UTC) }
	var first, second []Cost
	for _, m := range []time.Month{time.January, time.February, time.March} {
		first = append(first,
			Cost{month(m), "google", "cpc", "brand-search", float64(1000 * int(m)), "USD"},
			Cost{month(m), "google", "cpc", "competitor-search", 750.5, "USD"},
			Cost{month(m), "linkedin", "social", "abm-q1", 2000, "USD"},
			Cost{month(m), "newsletter", "email", "", 125.25, "USD"},
			Cost{month(m), "bing", "cpc", "", 300, "USD"}, // brought nobody
		)
	}
	// The second load corrects two rows and adds one.
	second = append(second,
		Cost{month(time.February), "linkedin", "social", "abm-q1", 2500, "USD"},
		Cost{month(time.March), "google", "cpc", "brand-search", 0, "USD"},
		Cost{month(time.March), "linkedin", "social", "retargeting", 400, "USD"},
	)
	d.Loads = [][]Cost{first, second}
	type key struct {
		m                        time.Time
		source, medium, campaign string
	}
	final := map[key]int{}
	for _, load := range d.Loads {
		for _, c := range load {
			k := key{c.Month, c.Source, c.Medium, c.Campaign}
			if i, ok := final[k]; ok {
				d.Costs[i] = c
				continue
			}
			final[k] = len(d.Costs)
			d.Costs = append(d.Costs, c)
		}
	}
	return d
}

// provisional adds the rows written before an event arrived late, and
// their retractions, drawn from their own generator so that the accounts'
// own rows are those of the seed alone. Provisional rows take input
// offsets from 1 000 000 on, apart from the accounts' rows.
func (d *Dataset) provisional(seed uint64) {
	rng := rand.New(rand.NewPCG(seed^0x7e7ac7ed, seed))
	var offsets [4]int64
	next := func(p int32) int64 { offsets[p]++; return 1_000_000 + offsets[p] }
	retract := func(t Transition) {
		d.Provisional = append(d.Provisional, t)
		t.Retracted = true
		// A retraction says nothing but the identity.
		t.Source, t.Medium, t.Campaign, t.LastSource, t.LastMedium, t.LastCampaign = "", "", "", "", "", ""
		d.Retractions = append(d.Retractions, t)
	}
	for i, a := range d.Accounts {
		part := int32(i % 4)
		first, last := a.Transitions[0], a.Transitions[len(a.Transitions)-1]
		switch rng.IntN(5) {
		case 0: // a win before the account was first seen, with a channel of its own
			retract(Transition{Account: a.ID, From: "lead", To: "customer", At: first.At.Add(-time.Duration(1+rng.IntN(48)) * time.Hour),
				Source: "Provisional-Source", Medium: "provisional", LastSource: "provisional-touch", LastMedium: "provisional",
				Partition: part, Offset: next(part)})
		case 1: // an mql entry in the middle of its life
			at := first.At.Add(time.Duration(rng.Int64N(int64(last.At.Sub(first.At)) + 1)))
			retract(Transition{Account: a.ID, From: "lead", To: "mql", At: at, Source: a.Source, Medium: a.Medium,
				LastSource: "provisional-touch", LastMedium: "provisional", Partition: part, Offset: next(part)})
		case 2: // one of its transitions written first with another channel and last touch, then corrected
			t := a.Transitions[rng.IntN(len(a.Transitions))]
			t.Source, t.Medium, t.LastSource, t.LastMedium = "Corrected-Away", "corrected", "corrected-touch", "corrected"
			d.Provisional = append(d.Provisional, t)
		}
		switch rng.IntN(3) {
		case 0: // a high score in stage lead, retracted
			s := ScoreChange{Account: a.ID, AsOf: first.At.Add(time.Minute), Score: 99.9, Stage: "lead", Partition: part, Offset: next(part)}
			d.ProvisionalScores = append(d.ProvisionalScores, s)
			s.Score, s.Stage, s.Retracted = 0, "", true
			d.ScoreRetractions = append(d.ScoreRetractions, s)
		case 1: // one of its score changes written first as a high lead score, then corrected
			s := a.Scores[rng.IntN(len(a.Scores))]
			s.Score, s.Stage = 99.8, "lead"
			d.ProvisionalScores = append(d.ProvisionalScores, s)
		}
	}
}

// walk draws a path through the stages as the engine can take it: forward,
// skipping stages at times, mql back to lead and again, ending anywhere.
func walk(rng *rand.Rand) []string {
	p := []string{"visitor"}
	if rng.IntN(4) == 0 {
		p[0] = "lead"
	}
	for len(p) < 10 {
		cur := p[len(p)-1]
		r := rng.IntN(100)
		var to string
		switch cur {
		case "visitor":
			switch {
			case r < 70:
				to = "lead"
			case r < 75:
				to = "opportunity"
			}
		case "lead":
			switch {
			case r < 50:
				to = "mql"
			case r < 58:
				to = "opportunity"
			case r < 60:
				to = "lost"
			}
		case "mql":
			switch {
			case r < 25:
				to = "lead"
			case r < 65:
				to = "opportunity"
			}
		case "opportunity":
			switch {
			case r < 40:
				to = "customer"
			case r < 70:
				to = "lost"
			}
		}
		if to == "" {
			break
		}
		p = append(p, to)
	}
	return p
}

// score draws a score an account in stage could have.
func score(rng *rand.Rand, stage string) float64 {
	var lo, hi int
	switch stage {
	case "visitor":
		lo, hi = 0, 40
	case "lead":
		lo, hi = 0, 70
	case "mql":
		lo, hi = 70, 101
	default:
		lo, hi = 40, 101
	}
	return float64(lo*10+rng.IntN((hi-lo)*10)) / 10
}

// Statements returns the INSERT statements that write the data set, as the
// engine and `leadscore costs load` would: the provisional rows, then the
// transitions and score changes in blocks (correcting some provisional
// rows), then the retractions, then a replay of some blocks (identical
// rows again, as after a crash), then the cost loads, each with a higher
// version. Every INSERT names its columns; only a statement of retractions
// names the column retracted (0007_retractions).
func (d *Dataset) Statements() []string { return d.statements(true) }

// WithoutRetractions returns Statements without the retractions: the rows
// a reader would take as standing if it did not skip retracted ones. Tests
// use it to show that the provisional rows change the answers.
func (d *Dataset) WithoutRetractions() []string { return d.statements(false) }

func (d *Dataset) statements(retractions bool) []string {
	var provisional []string
	if len(d.Provisional) > 0 {
		provisional = append(provisional, transitionsSQL(d.Provisional))
	}
	if len(d.ProvisionalScores) > 0 {
		provisional = append(provisional, scoresSQL(d.ProvisionalScores))
	}
	stmts := d.replay(retractions)
	var costs []string
	for v, load := range d.Loads {
		costs = append(costs, costsSQL(load, uint64(v+1)))
	}
	return slices.Concat(provisional, stmts, costs)
}

// Replay returns the statements of Statements that write the engine's
// final rows: the accounts' rows, the retractions and the replay. Running
// them again is what a replay of the whole input does; it changes no
// answer.
func (d *Dataset) Replay() []string { return d.replay(true) }

func (d *Dataset) replay(retractions bool) []string {
	var trs []Transition
	var scs []ScoreChange
	for _, a := range d.Accounts {
		trs = append(trs, a.Transitions...)
		scs = append(scs, a.Scores...)
	}
	trs = append(trs, d.Contacts...)
	for _, c := range d.Contacts {
		scs = append(scs, ScoreChange{Account: c.Account, Contact: c.Contact, AsOf: c.At, Score: 99, Stage: "lead",
			Partition: c.Partition, Offset: c.Offset})
	}
	var out []string
	block := func(n int) [][2]int {
		var b [][2]int
		for i := 0; i < n; i += 97 {
			b = append(b, [2]int{i, min(i+97, n)})
		}
		return b
	}
	for _, b := range block(len(trs)) {
		out = append(out, transitionsSQL(trs[b[0]:b[1]]))
	}
	for _, b := range block(len(scs)) {
		out = append(out, scoresSQL(scs[b[0]:b[1]]))
	}
	// The replay: every third block again, and the first one twice.
	for i, b := range block(len(trs)) {
		if i%3 == 0 {
			out = append(out, transitionsSQL(trs[b[0]:b[1]]))
		}
	}
	out = append(out, transitionsSQL(trs[:min(97, len(trs))]))
	for i, b := range block(len(scs)) {
		if i%3 == 1 {
			out = append(out, scoresSQL(scs[b[0]:b[1]]))
		}
	}
	// The retractions, after the rows they retract.
	if !retractions {
		return out
	}
	if len(d.Retractions) > 0 {
		out = append(out, transitionsSQL(d.Retractions))
	}
	if len(d.ScoreRetractions) > 0 {
		out = append(out, scoresSQL(d.ScoreRetractions))
	}
	return out
}

func quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

func dateTime(t time.Time) string { return quote(t.UTC().Format(time.DateTime)) }

// retractedColumn is the column list's tail and the value of a row of a
// statement of retractions, which alone names the column.
func retractedColumn(retractions, retracted bool) (column, value string) {
	switch {
	case !retractions:
		return "", ""
	case retracted:
		return ", retracted", ", 1"
	}
	return ", retracted", ", 0"
}

func transitionsSQL(trs []Transition) string {
	retractions := slices.ContainsFunc(trs, func(t Transition) bool { return t.Retracted })
	column, _ := retractedColumn(retractions, false)
	var b strings.Builder
	b.WriteString("INSERT INTO funnel_transitions (account_id, contact_id, from_stage, to_stage, at, source, medium, campaign, " +
		"last_source, last_medium, last_campaign, source_topic, source_partition, source_offset" + column + ") VALUES")
	for i, t := range trs {
		if i > 0 {
			b.WriteByte(',')
		}
		topic := "leadscore.events"
		if t.Partition < 0 {
			topic = "leadscore:decay"
		}
		_, value := retractedColumn(retractions, t.Retracted)
		fmt.Fprintf(&b, "\n(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %d, %d%s)",
			quote(t.Account), quote(t.Contact), quote(t.From), quote(t.To), dateTime(t.At),
			quote(t.Source), quote(t.Medium), quote(t.Campaign), quote(t.LastSource), quote(t.LastMedium), quote(t.LastCampaign),
			quote(topic), t.Partition, t.Offset, value)
	}
	return b.String()
}

func scoresSQL(scs []ScoreChange) string {
	retractions := slices.ContainsFunc(scs, func(s ScoreChange) bool { return s.Retracted })
	column, _ := retractedColumn(retractions, false)
	var b strings.Builder
	b.WriteString("INSERT INTO score_changes (account_id, contact_id, as_of, score, stage, source_topic, source_partition, source_offset" +
		column + ") VALUES")
	for i, s := range scs {
		if i > 0 {
			b.WriteByte(',')
		}
		topic := "leadscore.events"
		if s.Partition < 0 {
			topic = "leadscore:decay"
		}
		_, value := retractedColumn(retractions, s.Retracted)
		fmt.Fprintf(&b, "\n(%s, %s, %s, %g, %s, %s, %d, %d%s)",
			quote(s.Account), quote(s.Contact), dateTime(s.AsOf), s.Score, quote(s.Stage), quote(topic), s.Partition, s.Offset, value)
	}
	return b.String()
}

func costsSQL(cs []Cost, version uint64) string {
	var b strings.Builder
	b.WriteString("INSERT INTO channel_costs (month, source, medium, campaign, cost, currency, version) VALUES")
	for i, c := range cs {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "\n(%s, %s, %s, %s, %g, %s, %d)",
			quote(c.Month.Format(time.DateOnly)), quote(c.Source), quote(c.Medium), quote(c.Campaign), c.Cost, quote(c.Currency), version)
	}
	return b.String()
}
