package scorer

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/leadscore/leadscore/internal/event"
)

// withProps gives ev a raw record whose properties are the JSON object
// props, as Decode would leave it.
func withProps(ev *event.Event, props string) *event.Event {
	ev.Raw = []byte(`{"type":"track","properties":` + props + `}`)
	return ev
}

func pageUTM(at time.Time, path, source, medium string) *event.Event {
	ev := page(at, path)
	ev.Context.Campaign = event.Campaign{Source: source, Medium: medium}
	return ev
}

func intentSignal(at time.Time, topic string, score float64, competitor string) *event.Event {
	ev := track(at, "Intent Signal")
	ev.Properties.Topic, ev.Properties.Score, ev.Properties.HasScore = topic, score, true
	ev.Properties.Competitor = competitor
	return ev
}

// matches applies evs in order to one account under a rules file with the
// single engagement rule `when` (points 1, uncapped) and reports, per
// event, whether the rule counted it.
func matches(t *testing.T, extra, when string, evs ...*event.Event) []bool {
	t.Helper()
	doc := spec{rules: []string{`{name: r, category: weak, when: ` + when + `, points: 1}`}}.yaml() + extra
	r := mustParse(t, doc)
	var s State
	out := make([]bool, len(evs))
	for i, ev := range evs {
		before := uint32(0)
		if len(s.Rules) > 0 {
			before = s.Rules[0].Count
		}
		r.Observe(&s, ev)
		out[i] = len(s.Rules) > 0 && s.Rules[0].Count > before
	}
	return out
}

const intentSection = `intent:
  recent: 21d
  baseline: 84d
  surge: {ratio: 1.5, min_score: 60}
  competitors: [marketo, pardot]
`

func TestConditions(t *testing.T) {
	tests := []struct {
		name  string
		extra string
		when  string
		evs   []*event.Event
		want  []bool
	}{{
		name: "path is exact",
		when: `{path: /contact}`,
		evs:  []*event.Event{page(t0, "/contact"), page(t0, "/contact/"), page(t0, "/contacts"), page(t0, "/Contact")},
		want: []bool{true, false, false, false},
	}, {
		name: "path_prefix is a plain prefix",
		when: `{path_prefix: /pricing}`,
		evs:  []*event.Event{page(t0, "/pricing"), page(t0, "/pricing-enterprise"), page(t0, "/en/pricing")},
		want: []bool{true, true, false},
	}, {
		name: "path_regexp searches the path",
		when: `{path_regexp: '^/docs/(api|sdk)/'}`,
		evs:  []*event.Event{page(t0, "/docs/api/v2"), page(t0, "/docs/sdk/"), page(t0, "/docs/guide/api/"), page(t0, "/docs/api")},
		want: []bool{true, true, false, false},
	}, {
		name: "utm source list and medium, case-insensitive, ANDed",
		when: `{type: page, utm_source: [linkedin, facebook], utm_medium: paid}`,
		evs: []*event.Event{
			pageUTM(t0, "/", "LinkedIn", "Paid"), pageUTM(t0, "/", "facebook", "paid"),
			pageUTM(t0, "/", "linkedin", "organic"), pageUTM(t0, "/", "twitter", "paid"), page(t0, "/"),
		},
		want: []bool{true, true, false, false, false},
	}, {
		name: "utm campaign",
		when: `{utm_campaign: spring-launch}`,
		evs: func() []*event.Event {
			a, b := page(t0, "/"), page(t0, "/")
			a.Context.Campaign.Name, b.Context.Campaign.Name = " Spring-Launch ", "spring"
			return []*event.Event{a, b}
		}(),
		want: []bool{true, false},
	}, {
		name: "property equals folds case",
		when: `{properties: {plan: {equals: enterprise}}}`,
		evs: []*event.Event{
			withProps(track(t0, "X"), `{"plan":"Enterprise"}`), withProps(track(t0, "X"), `{"plan":"enterprise-lite"}`),
			withProps(track(t0, "X"), `{"other":"enterprise"}`), track(t0, "X"),
		},
		want: []bool{true, false, false, false},
	}, {
		name: "property in, numbers as text",
		when: `{properties: {seats: {in: ["10", "20"]}}}`,
		evs:  []*event.Event{withProps(track(t0, "X"), `{"seats":10}`), withProps(track(t0, "X"), `{"seats":"20"}`), withProps(track(t0, "X"), `{"seats":30}`)},
		want: []bool{true, true, false},
	}, {
		name: "property prefix is case-sensitive",
		when: `{properties: {ref: {prefix: partner-}}}`,
		evs:  []*event.Event{withProps(track(t0, "X"), `{"ref":"partner-acme"}`), withProps(track(t0, "X"), `{"ref":"Partner-acme"}`)},
		want: []bool{true, false},
	}, {
		name: "property regexp",
		when: `{properties: {email: {regexp: '@[^@]+\.(com|de)$'}}}`,
		evs:  []*event.Event{withProps(track(t0, "X"), `{"email":"a@b.de"}`), withProps(track(t0, "X"), `{"email":"a@b.fr"}`)},
		want: []bool{true, false},
	}, {
		name: "property min and max, inclusive, numeric text too",
		when: `{properties: {seats: {min: 100, max: 500}}}`,
		evs: []*event.Event{
			withProps(track(t0, "X"), `{"seats":100}`), withProps(track(t0, "X"), `{"seats":"500"}`),
			withProps(track(t0, "X"), `{"seats":99.5}`), withProps(track(t0, "X"), `{"seats":"many"}`),
			withProps(track(t0, "X"), `{"seats":null}`),
		},
		want: []bool{true, true, false, false, false},
	}, {
		name: "properties are ANDed",
		when: `{event: Plan Viewed, properties: {plan: {equals: pro}, seats: {min: 5}}}`,
		evs: []*event.Event{
			withProps(track(t0, "Plan Viewed"), `{"plan":"pro","seats":5}`), withProps(track(t0, "Plan Viewed"), `{"plan":"pro","seats":4}`),
			withProps(track(t0, "Other"), `{"plan":"pro","seats":5}`),
		},
		want: []bool{true, false, false},
	}, {
		name: "since_last min: the first event and one after a long gap",
		when: `{since_last: {min: 30d}}`,
		evs:  []*event.Event{identify(t0), identify(t0.Add(10 * day)), identify(t0.Add(40 * day)), identify(t0.Add(70 * day))},
		want: []bool{true, false, true, true},
	}, {
		name: "since_last max: quick follow-ups only",
		when: `{event: Email Replied, since_last: {max: 1h}}`,
		evs: []*event.Event{
			track(t0, "Email Replied"), track(t0.Add(30*time.Minute), "Email Replied"),
			track(t0.Add(3*time.Hour), "Email Replied"), track(t0.Add(3*time.Hour+time.Hour), "Email Replied"),
		},
		want: []bool{false, true, false, true},
	}, {
		name: "since_last: a late event counts zero time",
		when: `{since_last: {min: 1d}}`,
		evs:  []*event.Event{identify(t0.Add(10 * day)), identify(t0)},
		want: []bool{true, false},
	}, {
		name: "count: the third in a week and later ones while three are in it",
		when: `{type: page, path_prefix: /pricing, count: {min: 3, within: 7d}}`,
		evs: []*event.Event{
			page(t0, "/pricing"), page(t0.Add(day), "/pricing"), page(t0.Add(2*day), "/"), page(t0.Add(3*day), "/pricing"),
			page(t0.Add(4*day), "/pricing"), page(t0.Add(20*day), "/pricing"), page(t0.Add(21*day), "/pricing"),
		},
		want: []bool{false, false, false, true, true, false, false},
	}, {
		name:  "competitor: a signal naming one, a topic or page mentioning one",
		extra: intentSection,
		when:  `{competitor: true}`,
		evs: []*event.Event{
			intentSignal(t0, "crm", 50, "Acme CRM"), intentSignal(t0, "Marketo alternatives", 50, ""),
			intentSignal(t0, "crm", 50, ""), page(t0, "/compare/Pardot-vs-us"), page(t0, "/pricing"),
			track(t0, "Marketo"),
		},
		want: []bool{true, true, false, true, false, false},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, matches(t, tc.extra, tc.when, tc.evs...))
		})
	}
}

// TestIntentSurge: a topic surges when its recent mean (days (D-21, D]) is
// at least 60 and at least 1.5 times its baseline mean (days (D-84,
// D-21]); with no baseline any recent mean of 60 or more surges.
func TestIntentSurge(t *testing.T) {
	when := `{event: Intent Signal, intent: surge}`
	base := func(score float64) []*event.Event {
		return []*event.Event{
			intentSignal(t0.Add(-60*day), "crm", score, ""), intentSignal(t0.Add(-50*day), "crm", score, ""),
			intentSignal(t0.Add(-40*day), "crm", score, ""),
		}
	}
	// Baseline 30: recent 70 >= 45 and >= 60.
	got := matches(t, intentSection, when, append(base(30), intentSignal(t0, "crm", 70, ""))...)
	require.Equal(t, []bool{false, false, false, true}, got)
	// Baseline 60: recent 70 < 90. The baseline signals themselves surged
	// when they came (60 out of nowhere).
	got = matches(t, intentSection, when, append(base(60), intentSignal(t0, "crm", 70, ""))...)
	require.Equal(t, []bool{true, true, true, false}, got)
	// No baseline: 65 surges, 50 does not.
	require.Equal(t, []bool{true}, matches(t, intentSection, when, intentSignal(t0, "crm", 65, "")))
	require.Equal(t, []bool{false}, matches(t, intentSection, when, intentSignal(t0, "crm", 50, "")))
	// The recent mean is over the window: 70 then 40 makes 55, below 60.
	got = matches(t, intentSection, when, append(base(30), intentSignal(t0, "crm", 70, ""), intentSignal(t0.Add(day), "crm", 40, ""))...)
	require.Equal(t, []bool{false, false, false, true, false}, got)
	// Another topic's baseline does not count (against crm's 50, 70 would
	// not surge: 70 < 75).
	got = matches(t, intentSection, when, append(base(50), intentSignal(t0, "crm", 70, ""))...)
	require.Equal(t, []bool{false, false, false, false}, got)
	got = matches(t, intentSection, when, append(base(50), intentSignal(t0, "security", 70, ""))...)
	require.Equal(t, []bool{false, false, false, true}, got)
	// Signals older than the baseline window leave it: 100 days later the
	// old 50s no longer hold the topic back.
	got = matches(t, intentSection, when, append(base(50), intentSignal(t0.Add(100*day), "crm", 70, ""))...)
	require.Equal(t, []bool{false, false, false, true}, got)
}

func TestIntentComponent(t *testing.T) {
	doc := spec{weights: `{fit: 0.4, engagement: 0.5, intent: 0.1}`}.yaml() + intentSection
	r := mustParse(t, doc)
	var s State
	r.Observe(&s, intentSignal(t0.Add(-30*day), "crm", 90, "")) // baseline only by t0
	r.Observe(&s, intentSignal(t0, "crm", 40, ""))
	r.Observe(&s, intentSignal(t0, "crm", 60, ""))
	r.Observe(&s, intentSignal(t0.Add(-day), "security", 70, ""))
	res := evaluate(r, &s)
	// crm's recent mean is 50, security's 70: the component is 70.
	require.Equal(t, 70.0, res.Intent)
	require.InDelta(t, 0.1*70, res.Score, 1e-12)
	require.Equal(t, "intent security", res.Reasons[len(res.Reasons)-1].Rule)
	require.Equal(t, "intent", res.Reasons[len(res.Reasons)-1].Category)

	// Without a weight the component is computed but not a reason.
	r2 := mustParse(t, spec{}.yaml()+intentSection)
	var s2 State
	r2.Observe(&s2, intentSignal(t0, "crm", 80, ""))
	res = evaluate(r2, &s2)
	require.Equal(t, 80.0, res.Intent)
	require.Zero(t, res.Score)
	require.Empty(t, res.Reasons)

	// Scores are clamped to 0..100; signals without a score or topic are
	// ignored.
	var s3 State
	r2.Observe(&s3, intentSignal(t0, "crm", 250, ""))
	bad := intentSignal(t0, "", 90, "")
	require.False(t, r2.Observe(&s3, bad))
	noScore := intentSignal(t0, "x", 90, "")
	noScore.Properties.HasScore = false
	require.False(t, r2.Observe(&s3, noScore))
	require.Equal(t, 100.0, evaluate(r2, &s3).Intent)
	require.Len(t, s3.Intent, 1)
}

func TestPersona(t *testing.T) {
	doc := strings.Replace(spec{attrs: `{industry: {points: {software: 30}}}`}.yaml(),
		"  grades:", "  persona: {titles: {cfo: 20, \"vp*\": 15, \"*director*\": 10, \"chief * officer\": 18}}\n  grades:", 1)
	r := mustParse(t, doc)
	tests := []struct {
		title   string
		persona string
		points  float64
	}{
		{"CFO", "cfo", 20},
		{" cfo ", "cfo", 20},
		{"CFO & COO", "", 0},
		{"VP of Sales", "vp*", 15},
		{"Sales Director", "*director*", 10},
		{"VP, Director of Marketing", "*director*", 10}, // 8 literal characters beat 2
		{"Chief Revenue Officer", "chief * officer", 18},
		{"Chief Officer", "", 0}, // the pattern needs the spaces around *
		{"Engineer", "", 0},
		{"", "", 0},
	}
	acct := State{Firm: Firmographics{Industry: "software"}}
	for _, tc := range tests {
		require.Equal(t, tc.persona, r.Persona(tc.title), tc.title)
		c := State{Title: tc.title}
		var res Result
		r.EvaluateContact(&c, &acct, &res)
		require.Equal(t, 30+tc.points, res.Fit, tc.title)
		require.Equal(t, StageLead, res.Stage, "a contact is a known person")
		if tc.points != 0 {
			require.Equal(t, "persona "+tc.persona, res.Reasons[1].Rule)
		} else {
			require.Len(t, res.Reasons, 1)
		}
	}
	// An account has no persona.
	var res Result
	acct.Title = "CFO"
	r.Evaluate(&acct, &res)
	require.Equal(t, 30.0, res.Fit)
}

func TestContactEngagementIsItsOwn(t *testing.T) {
	r := exampleRules(t)
	acct := State{Firm: Firmographics{Industry: "software", Employees: 300, HasEmployees: true}}
	var c State
	r.Observe(&acct, track(t0, "Email Replied"))
	r.Observe(&acct, track(t0, "Event Attended"))
	r.Observe(&c, track(t0, "Email Replied"))
	var ra, rc Result
	r.Evaluate(&acct, &ra)
	r.EvaluateContact(&c, &acct, &rc)
	require.Equal(t, 55.0, ra.Engagement)
	require.Equal(t, 25.0, rc.Engagement)
	require.Equal(t, 60.0, rc.Fit)
	require.InDelta(t, 0.4*60+0.6*25, rc.Score, 1e-12)
}

func TestBuyingGroup(t *testing.T) {
	doc := strings.Replace(spec{}.yaml(), "  levels:", "  buying_group: {within: 30d, contacts: [{min: 2, points: 5}, {min: 3, points: 10}], personas: [{min: 2, points: 10}]}\n  levels:", 1)
	doc = strings.Replace(doc, "  grades:", "  persona: {titles: {cfo: 20, \"vp*\": 15}}\n  grades:", 1)
	r := mustParse(t, doc)
	var s State
	s.AsOf = t0
	group := func() (float64, []string) {
		res := evaluate(r, &s)
		var names []string
		for _, rr := range res.Reasons {
			names = append(names, rr.Rule)
		}
		return res.Engagement, names
	}
	r.NoteContact(&s, "u1", "CFO", t0.Add(-40*day)) // outside the window
	r.NoteContact(&s, "u2", "VP Sales", t0.Add(-day))
	eng, _ := group()
	require.Zero(t, eng)
	r.NoteContact(&s, "u3", "VP Marketing", t0) // 2 contacts, 1 persona
	eng, names := group()
	require.Equal(t, 5.0, eng)
	require.Equal(t, []string{"buying group contacts"}, names)
	r.NoteContact(&s, "u1", "CFO", t0) // back in: 3 contacts, 2 personas
	eng, names = group()
	require.Equal(t, 20.0, eng)
	require.Equal(t, []string{"buying group contacts", "buying group personas"}, names)
	r.NoteContact(&s, "u1", "CFO", t0) // the same contact again changes nothing
	eng, _ = group()
	require.Equal(t, 20.0, eng)
	// 30 days on, u2 has left the window (engaged at t0-1d): 2 contacts
	// (u1, u3), 2 personas.
	r.Advance(&s, t0.Add(30*day-time.Hour))
	eng, _ = group()
	require.Equal(t, 15.0, eng)
	r.Advance(&s, t0.Add(31*day))
	eng, _ = group()
	require.Zero(t, eng)
	// A contact does not get the group's points.
	var c State
	var res Result
	r.EvaluateContact(&c, &s, &res)
	require.Zero(t, res.Engagement)
}

func TestRecommendation(t *testing.T) {
	doc := spec{}.yaml() + `handoff:
  recommendations:
    A1: call within 24 hours
    "A*": call within 3 days
    "*1": send a case study
    "*": nurture
`
	r := mustParse(t, doc)
	for label, want := range map[string]string{
		"A1": "call within 24 hours", "A3": "call within 3 days", "B1": "send a case study",
		"D4": "nurture", "x": "", "E1": "",
	} {
		require.Equal(t, want, r.Recommendation(label), label)
	}
	require.Empty(t, mustParse(t, spec{}.yaml()).Recommendation("A1"))
}

func TestMigrate(t *testing.T) {
	old := mustParse(t, spec{rules: []string{
		`{name: reply, category: strong, when: {event: Email Replied}, points: 20}`,
		`{name: chat, category: medium, when: {event: Chat Started}, points: 10}`,
		`{name: demo, category: strong, when: {event: Demo Requested}, points: 30}`,
	}}.yaml())
	var s State
	old.Observe(&s, track(t0, "Email Replied"))
	old.Observe(&s, track(t0, "Chat Started"))
	old.Observe(&s, track(t0, "Demo Requested"))
	old.Observe(&s, identify(t0.Add(14*day))) // one half-life: 10, 5, 15

	// Renamed and moved (reply), points doubled (chat), condition changed
	// (demo), and a new rule.
	next := mustParse(t, spec{rules: []string{
		`{name: new, category: weak, when: {event: Trial Started}, points: 7}`,
		`{name: chat, category: medium, when: {event: Chat Started}, points: 20}`,
		`{name: e-mail reply, category: strong, when: {event: email replied}, points: 20}`,
		`{name: demo, category: strong, when: {event: Demo Booked}, points: 30}`,
	}}.yaml())
	res := evaluate(next, &s)
	require.Equal(t, []string{"chat", "e-mail reply"}, []string{res.Reasons[0].Rule, res.Reasons[1].Rule})
	require.InDelta(t, 10.0, res.Reasons[0].Points, 1e-12, "5 scaled by 20/10")
	require.InDelta(t, 10.0, res.Reasons[1].Points, 1e-12, "carried over")
	require.Equal(t, uint32(1), res.Reasons[1].Count)
	require.Len(t, res.Reasons, 2, "the changed demo rule starts afresh")
	require.False(t, next.Migrate(&s), "already migrated")

	// Back to the old rules: what the new ones did not know is gone.
	res = evaluate(old, &s)
	require.Len(t, res.Reasons, 2)
	require.InDelta(t, 5.0, reasonPoints(res, "chat"), 1e-12)
}

func TestNextChange(t *testing.T) {
	r := exampleRules(t)                                                                                                  // levels 80/50/20, half-life 14d, mql 70/60
	s := State{Known: true, Firm: Firmographics{Industry: "software", Employees: 300, HasEmployees: true, Country: "us"}} // fit 80
	r.Observe(&s, track(t0, "Event Attended"))                                                                            // 30
	r.Observe(&s, track(t0, "Email Replied"))                                                                             // 25
	r.Observe(&s, track(t0, "Chat Started"))                                                                              // 15, engagement 70
	res := evaluate(r, &s)
	require.Equal(t, uint8(2), res.Level)
	require.Equal(t, StageMQL, res.Stage) // 0.4*80 + 0.6*70 = 74

	// The mql exit: 32 + 0.6 E < 60 when E < 46.67; the level 2 line is
	// E < 50, which comes first: 70 * 2^(-x/14d) = 50.
	wantLevel := time.Duration(float64(14*day) * math.Log(70.0/50.0) / math.Ln2)
	at, ok := r.NextChange(&s, &res)
	require.True(t, ok)
	require.Equal(t, t0.Add(wantLevel).Truncate(time.Second).Add(time.Second), at)

	before := s
	before.Rules = append([]RuleState(nil), s.Rules...)
	r.Advance(&before, at.Add(-2*time.Second))
	require.Equal(t, uint8(2), evaluate(r, &before).Level)
	r.Advance(&s, at)
	res = evaluate(r, &s)
	require.Equal(t, uint8(3), res.Level)
	require.Equal(t, StageMQL, res.Stage)

	// Next: the mql exit at E < (60 - 32) / 0.6.
	exitE := (60 - 0.4*80) / 0.6
	wantExit := time.Duration(float64(14*day) * math.Log(70.0/exitE) / math.Ln2)
	at, ok = r.NextChange(&s, &res)
	require.True(t, ok)
	require.Equal(t, t0.Add(wantExit).Truncate(time.Second).Add(time.Second), at)
	r.Advance(&s, at)
	res = evaluate(r, &s)
	require.Equal(t, StageLead, res.Stage)

	// Then level 4 at E < 20; after that nothing changes by decay.
	at, ok = r.NextChange(&s, &res)
	require.True(t, ok)
	require.Equal(t, t0.Add(time.Duration(float64(14*day)*math.Log(70.0/20)/math.Ln2)).Truncate(time.Second).Add(time.Second), at)
	r.Advance(&s, at)
	res = evaluate(r, &s)
	require.Equal(t, uint8(4), res.Level)
	_, ok = r.NextChange(&s, &res)
	require.False(t, ok)

	// Negative engagement never changes by decay (it is clamped at 0).
	var neg State
	r.Observe(&neg, track(t0, "Email Marked as Spam"))
	res = evaluate(r, &neg)
	_, ok = r.NextChange(&neg, &res)
	require.False(t, ok)
}

func TestRegexpLimits(t *testing.T) {
	parse := func(re string) error {
		_, err := Parse([]byte(spec{rules: []string{`{name: r, category: weak, when: {path_regexp: '` + re + `'}, points: 1}`}}.yaml()), "r.yaml")
		return err
	}
	require.NoError(t, parse(`^/docs/(api|sdk)/`))
	err := parse(`(`)
	require.ErrorContains(t, err, "engagement.rules[0].when.path_regexp: invalid regexp")
	err = parse(`(abcdefgh){300}`)
	require.ErrorContains(t, err, "engagement.rules[0].when.path_regexp: regexp too complex")
	err = parse(`a{1001}`)
	require.ErrorContains(t, err, "invalid regexp")
	err = parse(strings.Repeat("a", maxPatternBytes+1))
	require.ErrorContains(t, err, "limit 512")
	// Linear time: a pattern that makes backtracking engines explode runs
	// on a long input (no timing asserted: it finishes).
	r := mustParse(t, spec{rules: []string{`{name: r, category: weak, when: {path_regexp: '^(a+)+$'}, points: 1}`}}.yaml())
	var s State
	r.Observe(&s, page(t0, "/"+strings.Repeat("a", 100000)+"!"))
	require.Empty(t, s.Rules)
}

func TestParseNewSectionErrors(t *testing.T) {
	tests := []struct{ name, doc, want string }{
		{"intent without section", spec{rules: []string{`{name: r, category: intent, when: {intent: surge}, points: 1}`}}.yaml(), "engagement.rules[0].when.intent: needs an intent section"},
		{"intent weight without section", spec{weights: `{fit: 1, engagement: 1, intent: 1}`}.yaml(), "score.weights.intent: needs an intent section"},
		{"unknown when", spec{rules: []string{`{name: r, category: weak, when: {colour: red}, points: 1}`}}.yaml(), "engagement.rules[0].when.colour: unknown field"},
		{"two property ops", spec{rules: []string{`{name: r, category: weak, when: {properties: {a: {equals: x, prefix: y}}}, points: 1}`}}.yaml(), "when.properties.a: needs exactly one of"},
		{"count min", spec{rules: []string{`{name: r, category: weak, when: {count: {min: 0.5, within: 1d}}, points: 1}`}}.yaml(), "when.count.min: must be a whole number"},
		{"since order", spec{rules: []string{`{name: r, category: weak, when: {since_last: {min: 2d, max: 1d}}, points: 1}`}}.yaml(), "when.since_last: min 48h0m0s is above max 24h0m0s"},
		{"competitor false", spec{rules: []string{`{name: r, category: weak, when: {competitor: false}, points: 1}`}}.yaml(), "when.competitor: only true is meaningful"},
		{"intent days", spec{}.yaml() + "intent: {recent: 36h}\n", "intent.recent: must be whole days"},
		{"intent order", spec{}.yaml() + "intent: {recent: 30d, baseline: 21d}\n", "intent: baseline (21d) must be longer than recent (30d)"},
		{"label pattern", spec{}.yaml() + "handoff: {recommendations: {Z9: x}}\n", "handoff.recommendations.Z9: not a label pattern"},
		{"persona star", strings.Replace(spec{}.yaml(), "  grades:", "  persona: {titles: {\"**\": 1}}\n  grades:", 1), `fit.persona.titles["**"]: a title pattern needs some text`},
		{"group steps", strings.Replace(spec{}.yaml(), "  levels:", "  buying_group: {within: 30d}\n  levels:", 1), "engagement.buying_group: needs contacts, personas or both"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc), "r.yaml")
			require.ErrorContains(t, err, tc.want)
			require.True(t, strings.HasPrefix(err.Error(), "r.yaml:"), err.Error())
		})
	}
}

func TestFullExampleParses(t *testing.T) {
	r, err := Load("testdata/full.yaml")
	require.NoError(t, err)
	require.Equal(t, "full-1", r.Version)
	require.Equal(t, 14, r.RuleCount())
	require.Equal(t, "call within 24 hours", r.Recommendation("A1"))
}
