package pipeline

// An independent model of the contract, for the end-to-end tests: it scores
// the scenario's events with the formulas of CONTRACT section 3 written out
// directly (recomputing engagement from the full event list every time), and
// knows nothing of the scorer package.

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

const (
	halfLife = 14 * 24 * time.Hour
	day      = 24 * time.Hour
)

// oRule is one engagement rule of the contract's example rules file.
type oRule struct {
	name     string
	category string
	page     bool   // matches page calls
	prefix   string // path prefix (page)
	event    string // track event name
	points   float64
	cap      float64
	per      time.Duration
}

var exampleRules = []oRule{
	{name: "pricing page", category: "strong", page: true, prefix: "/pricing", points: 20, cap: 40, per: 7 * day},
	{name: "any page", category: "weak", page: true, points: 1, cap: 10, per: day},
	{name: "email reply", category: "strong", event: "Email Replied", points: 25},
	{name: "email open", category: "weak", event: "Email Opened", points: 2, cap: 6, per: 7 * day},
	{name: "chat", category: "medium", event: "Chat Started", points: 15},
	{name: "offline event", category: "strong", event: "Event Attended", points: 30},
	{name: "spam report", category: "negative", event: "Email Marked as Spam", points: -50},
}

// oFirm is an account's firmographics from group traits.
type oFirm struct {
	industry  string
	employees int64 // 0: absent
	country   string
	techs     []string
}

func oFit(f oFirm) float64 {
	fit := 0.0
	switch strings.ToLower(f.industry) {
	case "":
	case "software":
		fit += 30
	case "fintech":
		fit += 25
	default:
		fit += 5
	}
	switch e := f.employees; {
	case e >= 200 && e <= 5000:
		fit += 30
	case e >= 50 && e <= 199:
		fit += 15
	}
	switch strings.ToUpper(f.country) {
	case "CN", "US":
		fit += 20
	case "DE":
		fit += 15
	}
	for _, t := range f.techs {
		if l := strings.ToLower(t); l == "salesforce" || l == "hubspot" {
			fit += 20
			break
		}
	}
	return math.Max(0, math.Min(100, fit))
}

func oGrade(fit float64) string {
	switch {
	case fit >= 80:
		return "A"
	case fit >= 60:
		return "B"
	case fit >= 40:
		return "C"
	}
	return "D"
}

func oLevel(eng float64) uint8 {
	switch {
	case eng >= 80:
		return 1
	case eng >= 50:
		return 2
	case eng >= 20:
		return 3
	}
	return 4
}

// oHit is points a rule earned at a time.
type oHit struct {
	rule   int
	at     time.Time
	earned float64
}

// oAccount is the oracle's account, or one of its contacts (a known
// person scored on its own events, with its account's fit).
type oAccount struct {
	firm      oFirm
	hits      []oHit
	asOf      time.Time
	known     bool
	contact   bool
	crm       int // 0 none, 3 opportunity, 4 customer, 5 lost
	stage     string
	version   uint64
	emitted   bool
	entered   bool // the first funnel transition is out
	lastScore float64
	lastLabel string
	lastStage string
	// touches counts e-mail opens, clicks, replies and chats per hour of
	// the week (Monday 00:00 is 0), in UTC: the best times to reach.
	touches map[int]int
}

// bestTimes is the oracle's best contact hours: the three hours of the week
// with the most touches, the earlier first on a tie.
func (a *oAccount) bestTimes() []string {
	type slot struct{ h, n int }
	var all []slot
	for h, n := range a.touches {
		all = append(all, slot{h, n})
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].n != all[j].n {
			return all[i].n > all[j].n
		}
		return all[i].h < all[j].h
	})
	days := []string{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}
	out := []string{}
	for i := 0; i < len(all) && i < 3; i++ {
		out = append(out, fmt.Sprintf("%s %02d:00", days[all[i].h/24], all[i].h%24))
	}
	return out
}

// oEvent is what the oracle reads of an event.
type oEvent struct {
	typ   string // page, track, identify, group
	event string
	path  string
	at    time.Time
}

func (a *oAccount) observe(e oEvent) {
	if e.at.After(a.asOf) {
		a.asOf = e.at
	}
	switch e.event {
	case "Email Opened", "Email Link Clicked", "Email Replied", "Chat Started":
		if e.typ == "track" {
			if a.touches == nil {
				a.touches = map[int]int{}
			}
			a.touches[(int(e.at.Weekday())+6)%7*24+e.at.Hour()]++
		}
	}
	switch e.event {
	case "Opportunity Created":
		a.crm = max(a.crm, 3)
	case "Deal Won":
		if a.crm < 4 {
			a.crm = 4
		}
	case "Deal Lost":
		if a.crm < 4 {
			a.crm = 5
		}
	}
	for i, r := range exampleRules {
		if r.page != (e.typ == "page") {
			continue
		}
		if r.page && !strings.HasPrefix(e.path, r.prefix) {
			continue
		}
		if !r.page && (e.typ != "track" || !strings.EqualFold(r.event, e.event)) {
			continue
		}
		p := r.points
		if r.cap > 0 {
			got := 0.0
			for _, h := range a.hits {
				if h.rule == i && h.at.After(e.at.Add(-r.per)) && !h.at.After(e.at) {
					got += h.earned
				}
			}
			p = math.Max(0, math.Min(p, r.cap-got))
		}
		a.hits = append(a.hits, oHit{rule: i, at: e.at, earned: p})
	}
}

// oResult is a score as of the account's newest event time.
type oResult struct {
	fit, eng, score float64
	grade, label    string
	level           uint8
	stage           string
	reasons         map[string]float64
}

var stageRank = map[string]int{"visitor": 0, "lead": 1, "mql": 2, "opportunity": 3, "customer": 4, "lost": 4}

// rawAt is the unclamped engagement at t: every hit decayed to t.
func (a *oAccount) rawAt(t time.Time, reasons map[string]float64) float64 {
	raw := 0.0
	for _, h := range a.hits {
		if h.at.After(t) {
			continue
		}
		v := h.earned * math.Pow(0.5, float64(t.Sub(h.at))/float64(halfLife))
		raw += v
		if reasons != nil {
			reasons[exampleRules[h.rule].name] += v
		}
	}
	return raw
}

// nextDue finds, by bisection on the engagement, the first whole second
// after asOf at which decay alone changes the level or, for an mql, drops
// the score below the exit line; false when no such time comes.
func (a *oAccount) nextDue(firm oFirm) (time.Time, bool) {
	fit := oFit(firm)
	level := oLevel(math.Max(0, math.Min(100, a.rawAt(a.asOf, nil))))
	changed := func(t time.Time) bool {
		eng := math.Max(0, math.Min(100, a.rawAt(t, nil)))
		return oLevel(eng) != level || (a.stage == "mql" && 0.4*fit+0.6*eng < 60)
	}
	lo, hi := a.asOf, a.asOf.Add(100*365*day)
	if !changed(hi) {
		return time.Time{}, false
	}
	for hi.Sub(lo) > time.Nanosecond {
		mid := lo.Add(hi.Sub(lo) / 2)
		if changed(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	// The change happens just after the crossing at lo; rows have whole
	// seconds, so it is emitted at the next one.
	return lo.Truncate(time.Second).Add(time.Second), true
}

func (a *oAccount) evaluate(firm oFirm) oResult {
	r := oResult{fit: oFit(firm), reasons: map[string]float64{}}
	raw := a.rawAt(a.asOf, r.reasons)
	r.eng = math.Max(0, math.Min(100, raw))
	r.score = 0.4*r.fit + 0.6*r.eng
	r.grade, r.level = oGrade(r.fit), oLevel(r.eng)
	r.label = r.grade + string(rune('0'+r.level))
	// stages
	next := a.stage
	switch {
	case a.crm > 0:
		crm := map[int]string{3: "opportunity", 4: "customer", 5: "lost"}[a.crm]
		if stageRank[crm] > stageRank[next] {
			next = crm
		}
	case stageRank[next] >= 3:
	case !a.known:
		next = "visitor"
	case next == "mql":
		if r.score < 60 {
			next = "lead"
		}
	case r.score >= 70:
		next = "mql"
	default:
		next = "lead"
	}
	a.stage = next
	r.stage = next
	return r
}

// oSource is the input record (or synthetic source) a row comes from.
type oSource struct {
	topic     string
	partition int32
	offset    int64
}

// oChange is an expected score change (or hand-off).
type oChange struct {
	account   string
	contact   string
	src       oSource
	asOf      time.Time
	res       oResult
	prevLabel string
	prevStage string
	prevScore float64
}

// oKey is a row's identity: account, contact and source.
func oKey(account, contact, topic string, partition int32, offset int64) string {
	return fmt.Sprintf("%s|%s|%s|%d|%d", account, contact, topic, partition, offset)
}

func (c *oChange) key() string {
	return oKey(c.account, c.contact, c.src.topic, c.src.partition, c.src.offset)
}

// oTransition is an expected funnel transition.
type oTransition struct {
	account  string
	contact  string
	from, to string
	at       time.Time
	src      oSource
}

// apply evaluates the account (or contact) and returns what it emits: a
// score change, a funnel transition, a hand-off on entering mql.
func (a *oAccount) apply(account, contact string, firm oFirm, src oSource, stageBefore string, first bool) (*oChange, *oTransition, *oChange) {
	res := a.evaluate(firm)
	var tr *oTransition
	if first || res.stage != stageBefore {
		from := stageBefore
		if first {
			from = ""
		}
		tr = &oTransition{account: account, contact: contact, from: from, to: res.stage, at: a.asOf, src: src}
	}
	var h *oChange
	if res.stage == "mql" && stageBefore != "mql" {
		h = &oChange{account: account, contact: contact, src: src, asOf: a.asOf, res: res}
	}
	if a.emitted && res.label == a.lastLabel && res.stage == a.lastStage && math.Abs(res.score-a.lastScore) < 5 {
		return nil, tr, h
	}
	c := &oChange{account: account, contact: contact, src: src, asOf: a.asOf, res: res}
	if a.emitted {
		c.prevLabel, c.prevStage, c.prevScore = a.lastLabel, a.lastStage, a.lastScore
	}
	a.emitted, a.lastScore, a.lastLabel, a.lastStage = true, res.score, res.label, res.stage
	return c, tr, h
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
