package pipeline

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"sort"
	"strings"
	"time"
)

// A scenario is a small, fully known stream: accounts with firmographics,
// anonymous visitors who are identified later, e-mail, chat and CRM events,
// redelivered duplicates and malformed records. It is laid out per partition
// in offset order, so the oracle knows each record's offset.

const scenarioPartitions = 4

// scenarioLateness is the engine's allowed lateness in the scenario tests:
// a visitor's pages wait at most about 11 hours for the identify that
// releases them, so none is older than the watermark when it counts.
const scenarioLateness = 24 * time.Hour

type scenarioRecord struct {
	key       string
	value     []byte
	account   string // "" for malformed
	partition int32
	offset    int64

	visitor   string // the producer's key when it keys by visitor
	dup       bool   // a redelivery of an earlier messageId
	dlqReason string // the expected dead-letter reason, for malformed records
	parked    bool   // anonymous, scored only once its visitor is identified
	ev        oEvent
	firm      *oFirm // group call
	known     bool   // carries a userId or an identify e-mail
	user      string // the userId: the contact the event belongs to
	// visitor whose parked events this record releases (identify).
	releases string
}

type scenario struct {
	parts [scenarioPartitions][]*scenarioRecord
}

func partitionOf(account string) int32 {
	h := fnv.New32a()
	h.Write([]byte(account))
	return int32(h.Sum32() % scenarioPartitions)
}

// newScenario builds a seeded stream over accounts accounts.
func newScenario(seed uint64, accounts int) *scenario {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	type timed struct {
		at  time.Time
		rec *scenarioRecord
	}
	var all []timed
	msg := 0
	add := func(at time.Time, r *scenarioRecord) { all = append(all, timed{at, r}) }
	industries := []string{"software", "Fintech", "retail", ""}
	employees := []int64{0, 30, 120, 200, 5000, 6000}
	countries := []string{"US", "cn", "DE", "FR", ""}
	techs := [][]string{nil, {"HubSpot"}, {"zendesk", "salesforce"}, {"zendesk"}}
	pages := []string{"/", "/pricing", "/pricing/enterprise", "/docs/setup", "/blog/post"}
	tracks := []string{"Email Opened", "Email Opened", "Email Replied", "Chat Started", "Event Attended", "Email Delivered", "Email Marked as Spam", "Demo Requested"}

	for i := 0; i < accounts; i++ {
		acct := fmt.Sprintf("acct%02d.com", i)
		t := start.Add(time.Duration(rng.IntN(3600)) * time.Second)
		// A group call with firmographics (upper-case groupId: normalised).
		f := oFirm{industry: industries[rng.IntN(len(industries))], employees: employees[rng.IntN(len(employees))],
			country: countries[rng.IntN(len(countries))], techs: techs[rng.IntN(len(techs))]}
		msg++
		add(t, &scenarioRecord{account: acct, visitor: acct, firm: &f, ev: oEvent{typ: "group", at: t},
			value: groupJSON(msg, strings.ToUpper(acct), t, f)})
		// An anonymous visitor browses before being identified.
		anon := fmt.Sprintf("anon-%s", acct)
		n := rng.IntN(5)
		for k := 0; k < n; k++ {
			t = t.Add(time.Duration(600+rng.IntN(7200)) * time.Second)
			p := pages[rng.IntN(len(pages))]
			msg++
			add(t, &scenarioRecord{account: acct, visitor: anon, parked: true, ev: oEvent{typ: "page", path: p, at: t},
				value: pageJSON(msg, anon, "", "", p, t)})
		}
		// Identify: releases the parked pages onto the account.
		t = t.Add(time.Hour)
		user := "user-" + acct
		msg++
		add(t, &scenarioRecord{account: acct, visitor: anon, known: true, user: user, releases: anon, ev: oEvent{typ: "identify", at: t},
			value: identifyJSON(msg, anon, user, "jane@"+acct, t)})
		// Activity over six weeks: pages as the known user, tracks with groupId.
		m := 5 + rng.IntN(40)
		for k := 0; k < m; k++ {
			t = t.Add(time.Duration(rng.IntN(int(36*time.Hour/time.Second))) * time.Second)
			msg++
			if rng.IntN(2) == 0 {
				p := pages[rng.IntN(len(pages))]
				add(t, &scenarioRecord{account: acct, visitor: anon, known: true, user: user, ev: oEvent{typ: "page", path: p, at: t},
					value: pageJSON(msg, anon, user, "", p, t)})
				continue
			}
			name := tracks[rng.IntN(len(tracks))]
			add(t, &scenarioRecord{account: acct, visitor: "crm", ev: oEvent{typ: "track", event: name, at: t},
				value: trackJSON(msg, "", "", acct, name, t)})
		}
		if rng.IntN(4) == 0 {
			t = t.Add(time.Hour)
			msg++
			add(t, &scenarioRecord{account: acct, visitor: "crm", ev: oEvent{typ: "track", event: "Opportunity Created", at: t},
				value: trackJSON(msg, "", "", acct, "Opportunity Created", t)})
		}
	}
	sort.SliceStable(all, func(a, b int) bool { return all[a].at.Before(all[b].at) })

	s := &scenario{}
	for _, x := range all {
		r := x.rec
		r.key = r.account
		r.partition = partitionOf(r.account)
		s.push(r)
		// Redeliver about one record in twenty, a little later.
		if rng.IntN(20) == 0 {
			d := *r
			d.dup = true
			s.push(&d)
		}
	}
	// Malformed records, one of each reason, spread over the partitions.
	bad := []struct{ reason, value string }{
		{"invalid_json", `{"type":"page","timestamp":`},
		{"wrong_type", `{"type":"page","anonymousId":"x","timestamp":12345}`},
		{"missing_timestamp", `{"type":"page","anonymousId":"x","messageId":"m-bad-1"}`},
		{"field_too_long", `{"type":"page","anonymousId":"x","timestamp":"2026-03-02T10:00:00Z","properties":{"title":"` + strings.Repeat("x", 200<<10) + `"}}`},
		{"too_deep", `{"type":"page","anonymousId":"x","timestamp":"2026-03-02T10:00:00Z","properties":{"a":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}}`},
		{"invalid_utf8", "{\"type\":\"page\",\"anonymousId\":\"\xff\xfe\",\"timestamp\":\"2026-03-02T10:00:00Z\"}"},
		{"missing_identity", `{"type":"page","timestamp":"2026-03-02T10:00:00Z"}`},
		{"not_object", `[1,2,3]`},
		// A wrong clock, for an account of its own: refused, it moves no
		// one's time (the oracle knows nothing of it).
		{"future_timestamp", `{"type":"page","anonymousId":"x","timestamp":"2100-01-01T00:00:00Z","context":{"groupId":"clock.example"}}`},
		{"future_timestamp", `{"type":"page","anonymousId":"x","timestamp":"292277026596-12-04T15:30:07Z","context":{"groupId":"clock.example"}}`},
		{"invalid_account", `{"type":"group","groupId":" ","timestamp":"2026-03-02T10:00:00Z"}`},
		{"invalid_account", `{"type":"page","anonymousId":"x","timestamp":"2026-03-02T10:00:00Z","context":{"groupId":"https://"}}`},
	}
	for i, b := range bad {
		p := int32(i % scenarioPartitions)
		r := &scenarioRecord{key: "bad", value: []byte(b.value), partition: p, dlqReason: b.reason}
		// insert in the middle of the partition
		at := len(s.parts[p]) / 2
		s.parts[p] = append(s.parts[p][:at], append([]*scenarioRecord{r}, s.parts[p][at:]...)...)
	}
	for p := range s.parts {
		for o, r := range s.parts[p] {
			r.offset = int64(o)
		}
	}
	return s
}

// byVisitor lays the same records out as a Segment producer keyed by
// visitor would: each visitor's records (group calls by group, CRM-side
// tracks under one id) in one partition, in time order, so an account's
// events arrive on several partitions and only re-keying brings them
// together. Offsets are renumbered; malformed records are left out.
func (s *scenario) byVisitor() *scenario {
	var all []*scenarioRecord
	for _, p := range s.parts {
		for _, r := range p {
			if r.dlqReason == "" {
				c := *r
				all = append(all, &c)
			}
		}
	}
	sort.SliceStable(all, func(a, b int) bool { return all[a].ev.at.Before(all[b].ev.at) })
	out := &scenario{}
	for _, r := range all {
		r.key = r.visitor
		r.partition = partitionOf(r.visitor)
		r.offset = int64(len(out.parts[r.partition]))
		out.push(r)
	}
	return out
}

func (s *scenario) push(r *scenarioRecord) { s.parts[r.partition] = append(s.parts[r.partition], r) }

func (s *scenario) records() int {
	n := 0
	for _, p := range s.parts {
		n += len(p)
	}
	return n
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func groupJSON(msg int, group string, t time.Time, f oFirm) []byte {
	traits := fmt.Sprintf(`"name":"Company %s"`, group)
	if f.industry != "" {
		traits += fmt.Sprintf(`,"industry":%q`, f.industry)
	}
	if f.employees != 0 {
		traits += fmt.Sprintf(`,"employees":%d`, f.employees)
	}
	if f.country != "" {
		traits += fmt.Sprintf(`,"country":%q`, f.country)
	}
	if f.techs != nil {
		traits += `,"technologies":["` + strings.Join(f.techs, `","`) + `"]`
	}
	return fmt.Appendf(nil, `{"type":"group","messageId":"m-%d","groupId":%q,"userId":"","timestamp":%q,"traits":{%s}}`,
		msg, group, ts(t), traits)
}

func pageJSON(msg int, anon, user, group, path string, t time.Time) []byte {
	ids := fmt.Sprintf(`"anonymousId":%q`, anon)
	if user != "" {
		ids += fmt.Sprintf(`,"userId":%q`, user)
	}
	ctx := `"ip":"198.51.100.7","page":{"path":` + fmt.Sprintf("%q", path) + `,"url":"https://example.com` + path + `"}`
	if group != "" {
		ctx += fmt.Sprintf(`,"groupId":%q`, group)
	}
	return fmt.Appendf(nil, `{"type":"page","messageId":"m-%d",%s,"timestamp":%q,"context":{%s},"properties":{"path":%q}}`,
		msg, ids, ts(t), ctx, path)
}

func identifyJSON(msg int, anon, user, email string, t time.Time) []byte {
	return fmt.Appendf(nil, `{"type":"identify","messageId":"m-%d","anonymousId":%q,"userId":%q,"timestamp":%q,"traits":{"email":%q,"name":"Jane","title":"CFO"}}`,
		msg, anon, user, ts(t), email)
}

func trackJSON(msg int, anon, user, group, name string, t time.Time) []byte {
	ids := `"anonymousId":"crm"`
	if anon != "" {
		ids = fmt.Sprintf(`"anonymousId":%q`, anon)
	}
	if user != "" {
		ids += fmt.Sprintf(`,"userId":%q`, user)
	}
	return fmt.Appendf(nil, `{"type":"track","messageId":"m-%d",%s,"event":%q,"timestamp":%q,"context":{"groupId":%q},"properties":{}}`,
		msg, ids, name, ts(t), group)
}

// expected runs the oracle over the scenario in each partition's offset order.
type expected struct {
	changes     map[string]*oChange // key: oKey
	transitions []*oTransition
	handoffs    map[string]*oChange // key: oKey
	accounts    map[string]*oAccount
	contacts    map[string]*oAccount // key: account/contact
	final       map[string]oResult   // accounts
	finalC      map[string]oResult   // contacts, key: account/contact
}

// oAccountState is the oracle's bookkeeping for one account: its own
// scoring state, its contacts', and its event count.
type oAccountState struct {
	id       string
	acct     *oAccount
	contacts map[string]*oAccount
	version  uint64
}

func (s *scenario) expect() *expected {
	ex := &expected{changes: map[string]*oChange{}, handoffs: map[string]*oChange{}, accounts: map[string]*oAccount{},
		contacts: map[string]*oAccount{}, final: map[string]oResult{}, finalC: map[string]oResult{}}
	states := map[string]*oAccountState{}
	// Each input partition's event time: heartbeats carry them to every
	// scoring worker, whose watermark ends at their minimum. A record moves
	// its partition's time by at most engine.max_time_jump.
	var newest [scenarioPartitions]time.Time
	jump := DefaultConfig().Engine.MaxTimeJump.D()
	var order []string
	for p := range s.parts {
		seen := map[string]bool{}
		parked := map[string][]oEvent{}
		for _, r := range s.parts[p] {
			if r.dlqReason != "" {
				continue
			}
			switch {
			case newest[p].IsZero():
				newest[p] = r.ev.at
			case r.ev.at.Sub(newest[p]) > jump:
				newest[p] = newest[p].Add(jump)
			case r.ev.at.After(newest[p]):
				newest[p] = r.ev.at
			}
			if r.dup {
				continue
			}
			key := string(r.value) // the same bytes are the same messageId
			if seen[key] {
				continue
			}
			seen[key] = true
			if r.parked {
				parked["anon-"+r.account] = append(parked["anon-"+r.account], r.ev)
				continue
			}
			st := states[r.account]
			if st == nil {
				st = &oAccountState{id: r.account, acct: &oAccount{stage: "visitor"}, contacts: map[string]*oAccount{}}
				states[r.account] = st
				order = append(order, r.account)
			}
			released := parked[r.releases]
			delete(parked, r.releases)
			first := r.ev.at
			for _, pe := range released {
				if pe.at.Before(first) {
					first = pe.at
				}
			}
			// Decay crossings before this event fire first.
			ex.fireDue(st, first)

			a := st.acct
			var c *oAccount
			if r.user != "" {
				c = st.contacts[r.user]
				if c == nil {
					c = &oAccount{stage: "visitor", known: true, contact: true}
					st.contacts[r.user] = c
				}
			}
			before := a.stage
			var cBefore string
			if c != nil {
				cBefore = c.stage
			}
			for _, pe := range released {
				a.observe(pe)
				if c != nil {
					c.observe(pe)
				}
			}
			a.observe(r.ev)
			if c != nil {
				c.observe(r.ev)
			}
			if r.firm != nil {
				a.firm = *r.firm
			}
			if r.known {
				a.known = true
			}
			st.version += versionRecord
			src := oSource{topic: "leadscore.events", partition: r.partition, offset: r.offset}
			ex.emit(st, "", a, a.firm, before, src)
			if c != nil {
				ex.emit(st, r.user, c, a.firm, cBefore, src)
			}
			if r.firm != nil {
				for cid, oc := range st.contacts {
					if oc != c {
						ex.emit(st, cid, oc, a.firm, oc.stage, src)
					}
				}
			}
		}
	}
	// The end of the stream: what is due by the event time every input
	// partition has reached.
	end := newest[0]
	for _, t := range newest {
		if t.Before(end) {
			end = t
		}
	}
	end = end.Add(-scenarioLateness)
	for _, id := range order {
		ex.fireDue(states[id], end)
	}
	for _, id := range order {
		st := states[id]
		ex.accounts[id] = st.acct
		st.acct.version = st.version
		stage := st.acct.stage
		ex.final[id] = st.acct.evaluate(st.acct.firm)
		st.acct.stage = stage
		for cid, c := range st.contacts {
			k := id + "/" + cid
			ex.contacts[k] = c
			stage := c.stage
			ex.finalC[k] = c.evaluate(st.acct.firm)
			c.stage = stage
		}
	}
	return ex
}

// emit records what one evaluation of an account or contact emits.
func (ex *expected) emit(st *oAccountState, contact string, a *oAccount, firm oFirm, stageBefore string, src oSource) {
	first := !a.entered
	c, tr, h := a.apply(st.id, contact, firm, src, stageBefore, first)
	a.entered = true
	if c != nil {
		ex.changes[c.key()] = c
	}
	if tr != nil {
		ex.transitions = append(ex.transitions, tr)
	}
	if h != nil {
		ex.handoffs[h.key()] = h
	}
}

// fireDue emits every decay change of the account and its contacts due at
// or before upTo, each as of its own due time.
func (ex *expected) fireDue(st *oAccountState, upTo time.Time) {
	steps := map[int64]bool{}
	fire := func(contact string, e *oAccount) {
		for {
			due, ok := e.nextDue(st.acct.firm)
			if !ok || due.After(upTo) {
				return
			}
			steps[due.Unix()] = true
			before := e.stage
			e.asOf = due
			ex.emit(st, contact, e, st.acct.firm, before, oSource{topic: "leadscore:decay", partition: -1, offset: due.Unix()})
		}
	}
	fire("", st.acct)
	for cid, c := range st.contacts {
		fire(cid, c)
	}
	st.version += uint64(len(steps))
}
