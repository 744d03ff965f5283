package scorer

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/leadscore/leadscore/internal/event"
)

// refRule is an engagement rule as the reference below reads it: straight
// from the fields the test wrote into the YAML.
type refRule struct {
	name       string
	typ        string // "", "page", "track", "identify"
	event      string
	prefix     string
	points     float64
	capPoints  float64
	capPer     time.Duration
	capPerYAML string
}

func (rr refRule) yaml() string {
	var when []string
	if rr.typ != "" {
		when = append(when, "type: "+rr.typ)
	}
	if rr.event != "" {
		when = append(when, "event: "+rr.event)
	}
	if rr.prefix != "" {
		when = append(when, "path_prefix: "+rr.prefix)
	}
	category := "strong"
	if rr.points < 0 {
		category = "negative"
	}
	s := fmt.Sprintf("{name: %s, category: %s, when: {%s}, points: %v", rr.name, category, strings.Join(when, ", "), rr.points)
	if rr.capPer > 0 {
		s += fmt.Sprintf(", cap: {points: %v, per: %s}", rr.capPoints, rr.capPerYAML)
	}
	return s + "}"
}

// matches reads CONTRACT section 3 and the team's `when` semantics: every
// given condition must hold; an event name means a track call with that
// name, in any case; path_prefix is a plain prefix of the page path.
func (rr refRule) matches(ev *event.Event) bool {
	if rr.typ != "" && ev.Type.String() != rr.typ {
		return false
	}
	if rr.event != "" && (ev.Type != event.TypeTrack || !strings.EqualFold(ev.Event, rr.event)) {
		return false
	}
	return rr.prefix == "" || strings.HasPrefix(ev.PagePath(), rr.prefix)
}

// reference recomputes engagement from the full event list with the
// CONTRACT formula: at T, the sum over matched events with t_i <= T of
// p_i * 0.5^((T - t_i)/half_life), where p_i is cut so that the rule's
// undecayed points earned in (t_i - per, t_i] stay within the cap.
type reference struct {
	rules    []refRule
	halfLife time.Duration
	events   []*event.Event
	earned   [][]float64 // earned[i][k]: undecayed points event i earned for rule k
}

func (ref *reference) add(ev *event.Event) {
	row := make([]float64, len(ref.rules))
	for k, rr := range ref.rules {
		if !rr.matches(ev) {
			continue
		}
		p := rr.points
		if rr.capPer > 0 {
			used := 0.0
			for j, prev := range ref.events {
				if prev.Time.After(ev.Time.Add(-rr.capPer)) && !prev.Time.After(ev.Time) {
					used += ref.earned[j][k]
				}
			}
			p = math.Max(0, math.Min(p, rr.capPoints-used))
		}
		row[k] = p
	}
	ref.events = append(ref.events, ev)
	ref.earned = append(ref.earned, row)
}

// at returns each rule's contribution and the clamped engagement at T.
func (ref *reference) at(T time.Time) ([]float64, float64) {
	per := make([]float64, len(ref.rules))
	total := 0.0
	for i, ev := range ref.events {
		if ev.Time.After(T) {
			continue
		}
		f := math.Pow(0.5, T.Sub(ev.Time).Seconds()/ref.halfLife.Seconds())
		for k := range ref.rules {
			per[k] += ref.earned[i][k] * f
			total += ref.earned[i][k] * f
		}
	}
	return per, math.Min(100, math.Max(0, total))
}

func randomRules(rng *rand.Rand) ([]refRule, string) {
	types := []string{"", "page", "track", "identify"}
	events := []string{"Email Opened", "Demo Requested", "Email Marked as Spam"}
	prefixes := []string{"", "/pricing", "/docs", "/"}
	pers := map[string]time.Duration{"1h": time.Hour, "1d": 24 * time.Hour, "3d": 72 * time.Hour, "1w": 7 * 24 * time.Hour}
	perNames := []string{"1h", "1d", "3d", "1w"}
	n := 1 + rng.IntN(6)
	var rules []refRule
	for k := range n {
		rr := refRule{name: fmt.Sprintf("r%d", k)}
		switch rng.IntN(3) {
		case 0:
			rr.event = events[rng.IntN(len(events))]
		case 1:
			rr.typ = types[1+rng.IntN(3)]
			if rr.typ == "page" {
				rr.prefix = prefixes[rng.IntN(len(prefixes))]
			}
		default:
			rr.prefix = prefixes[1+rng.IntN(len(prefixes)-1)]
		}
		rr.points = float64(rng.IntN(40)+1) / float64(1+rng.IntN(4))
		if rng.IntN(5) == 0 {
			rr.points = -rr.points
		}
		if rr.points > 0 && rng.IntN(2) == 0 {
			rr.capPoints = rr.points * (0.5 + 4*rng.Float64())
			rr.capPerYAML = perNames[rng.IntN(len(perNames))]
			rr.capPer = pers[rr.capPerYAML]
		}
		rules = append(rules, rr)
	}
	halfLife := []string{"1d", "7d", "14d"}[rng.IntN(3)]
	return rules, halfLife
}

// randomEvent draws an event: mostly pages and track calls the random
// rules may match, some identify calls, and rarely a CRM outcome, so that
// most sequences spend their time in the score-driven stages.
func randomEvent(rng *rand.Rand, at time.Time) *event.Event {
	paths := []string{"/pricing", "/pricing/team", "/docs/start", "/blog", "/Pricing"}
	names := []string{"Email Opened", "email opened", "Demo Requested", "Email Marked as Spam", "Other"}
	crm := []string{"Opportunity Created", "Deal Won", "Deal Lost"}
	switch n := rng.IntN(400); {
	case n == 0:
		return track(at, crm[rng.IntN(len(crm))])
	case n <= 20:
		return identify(at)
	case n <= 200:
		return page(at, paths[rng.IntN(len(paths))])
	}
	return track(at, names[rng.IntN(len(names))])
}

// TestObserveMatchesReference applies random event sequences, in time
// order, and compares every evaluation with the brute-force reference.
func TestObserveMatchesReference(t *testing.T) {
	const tol = 1e-6
	seen := map[string]int{} // stages compared, to show the sequences reach them all
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 7))
		rules, halfLife := randomRules(rng)
		var yamlRules []string
		for _, rr := range rules {
			yamlRules = append(yamlRules, rr.yaml())
		}
		r := mustParse(t, spec{halfLife: halfLife, rules: yamlRules, attrs: `{industry: {points: {software: 100}}}`}.yaml())
		hl := map[string]time.Duration{"1d": day, "7d": 7 * day, "14d": 14 * day}[halfLife]
		ref := &reference{rules: rules, halfLife: hl}

		s := State{Known: rng.IntN(2) == 0, Firm: Firmographics{Industry: "Software"}}
		at := t0
		var res Result
		var stage, crm string // the reference's stage and CRM outcome, by name
		stage = "visitor"
		for i := range 200 {
			if i == 100 {
				s.Known = true // a person is identified half-way through
			}
			switch rng.IntN(4) {
			case 0: // same instant
			case 1:
				at = at.Add(time.Duration(rng.IntN(3600)) * time.Second)
			case 2:
				at = at.Add(time.Duration(rng.IntN(72)) * time.Hour)
			default:
				at = at.Add(time.Duration(rng.Int64N(int64(10 * day))))
			}
			ev := randomEvent(rng, at)
			ref.add(ev)
			r.Observe(&s, ev)
			r.Evaluate(&s, &res)

			msg := fmt.Sprintf("seed %d event %d", seed, i)
			perRule, eng := ref.at(at)
			require.InDelta(t, eng, res.Engagement, tol, msg)
			require.InDelta(t, 0.4*100+0.6*eng, res.Score, tol, msg)
			for k, rr := range rules {
				require.InDelta(t, perRule[k], reasonPoints(res, rr.name), tol, "%s rule %s", msg, rr.name)
			}
			if !nearAny(eng, tol, 80, 50, 20) {
				require.Equal(t, "A"+string(rune('0'+refLevel(eng))), res.Label, msg)
			}
			score := 0.4*100 + 0.6*eng
			crm = refCRM(crm, ev)
			if !nearAny(score, tol, 70, 60) {
				stage = refStage(stage, crm, s.Known, score)
				require.Equal(t, stage, res.Stage.String(), msg)
				seen[stage]++
			} else {
				stage = res.Stage.String()
			}
		}
	}
	for _, st := range []string{"visitor", "lead", "mql", "opportunity", "customer", "lost"} {
		require.Positive(t, seen[st], "no sequence reached %s", st)
	}
}

func refLevel(eng float64) int {
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

func nearAny(v, tol float64, marks ...float64) bool {
	for _, m := range marks {
		if math.Abs(v-m) <= tol {
			return true
		}
	}
	return false
}

// refCRM is the CRM outcome after ev: opportunity, then customer or lost,
// which are final.
func refCRM(crm string, ev *event.Event) string {
	if ev.Type != event.TypeTrack || crm == "customer" || crm == "lost" {
		return crm
	}
	switch ev.Event {
	case "Opportunity Created":
		return "opportunity"
	case "Deal Won":
		return "customer"
	case "Deal Lost":
		return "lost"
	}
	return crm
}

// refStage is CONTRACT section 3's stage rule with enter 70, exit 60.
func refStage(stage, crm string, known bool, score float64) string {
	switch {
	case crm != "":
		if stage == "customer" || stage == "lost" {
			return stage
		}
		return crm
	case stage == "mql" && score < 60:
		return "lead"
	case stage == "mql":
		return "mql"
	case !known:
		return stage
	case score >= 70:
		return "mql"
	}
	return "lead"
}
