package pipeline

import (
	"slices"
	"strings"
	"time"

	"github.com/leadscore/leadscore/features"
	"github.com/leadscore/leadscore/internal/event"
	"github.com/leadscore/leadscore/internal/rows"
	"github.com/leadscore/leadscore/scorer"
)

// Scoring. A scoring worker applies each forwarded event to its account
// and, when the event belongs to a known person, to that contact within the
// account; then it evaluates both and emits what changed: score changes,
// funnel transitions, hand-offs on entering mql, and the event's rule hits
// for the explanation history. Besides events, two things re-score an
// account: time (decay crossing a label or stage line, see decay.go) and a
// new rules file (see rules.go).

// emitted is what was last emitted for an account or a contact, for
// previous_* and min_delta, and its decay timer.
type emitted struct {
	Emitted   bool         `json:"emitted"`
	LastScore float64      `json:"last_score"`
	LastLabel string       `json:"last_label"`
	LastStage scorer.Stage `json:"last_stage"`
	// EnteredFunnel: the first funnel transition ("" -> first stage) is written.
	EnteredFunnel bool `json:"entered_funnel"`
	// Due is when decay alone next changes the label or stage (zero: never).
	Due time.Time `json:"due"`
}

// contact is a known person's state within its account.
type contact struct {
	Score scorer.State `json:"score"`
	// Tags are the hygiene codes the contact's last identify was found
	// suspicious for (email_freemail, email_role, ...).
	Tags []string `json:"tags,omitempty"`
	// Version counts the changes applied to the contact, the version of
	// its account_scores rows.
	Version  uint64         `json:"version"`
	Timezone string         `json:"tz,omitempty"`
	Hours    features.Hours `json:"hours"`
	// MergedInto is the lead this contact was merged into as a duplicate
	// (IntoAccount its account when another one): its engagement moved
	// there, its row stays as it was, tagged merged, and its later events
	// count for the survivor (for the account only when the survivor is in
	// another account). DuplicateOf is the lead a tag-only policy found it
	// to duplicate.
	MergedInto  string `json:"merged_into,omitempty"`
	IntoAccount string `json:"into_account,omitempty"`
	DuplicateOf string `json:"duplicate_of,omitempty"`
	emitted

	dirty bool // changed since the last account_scores row was written
}

// touch marks the contact changed by a record: a new version for its next
// row (see versionRecord).
func (c *contact) touch() {
	c.Version += versionRecord
	c.dirty = true
}

// touchStep marks the contact changed by a decay step or a re-score.
func (c *contact) touchStep() {
	c.Version++
	c.dirty = true
}

// maxAnonPerContact bounds the anonymous ids remembered per contact.
const maxAnonPerContact = 4

// contactOf returns the contact id an event belongs to, learning from it
// which anonymous ids belong to which known person: the userId, else the
// contact an earlier identify or alias tied the anonymousId to, else (an
// identify with an e-mail and no userId) the lower-cased e-mail; a merged
// duplicate's events count for its survivor (merge.go). "" for events of
// no known person (account-level CRM and intent events, visitors never
// identified) and of a duplicate merged into another account's lead.
func (w *worker) contactOf(a *account, ev *event.Event) string {
	id := leadID(ev)
	if id == "" {
		if ev.AnonymousID != "" {
			return survivorOf(a, a.Anon[ev.AnonymousID])
		}
		return ""
	}
	if id = survivorOf(a, id); id == "" {
		return "" // merged into a lead of another account
	}
	link := func(anon string) {
		if anon == "" || a.Anon[anon] == id {
			return
		}
		if a.Anon == nil {
			a.Anon = map[string]string{}
		}
		if len(a.Anon) < w.maxContacts*maxAnonPerContact {
			// Clones: an event's strings share one block, which a kept
			// string would pin.
			a.Anon[strings.Clone(anon)] = strings.Clone(id)
		}
	}
	link(ev.AnonymousID)
	if ev.Type == event.TypeAlias {
		link(ev.PreviousID)
	}
	return id
}

// leadID is the contact id of an event's person as it names itself: the
// userId, else the lower-cased e-mail of an identify.
func leadID(ev *event.Event) string {
	if ev.UserID != "" {
		return ev.UserID
	}
	if ev.Type == event.TypeIdentify && ev.Traits.Email != "" {
		return strings.ToLower(strings.TrimSpace(ev.Traits.Email))
	}
	return ""
}

// contact returns the account's contact id, created when new; nil when the
// account already tracks engine.max_contacts_per_account contacts (the
// events still count for the account).
func (w *worker) contact(a *account, id string) *contact {
	if id == "" {
		return nil
	}
	if c := a.Contacts[id]; c != nil {
		return c
	}
	if len(a.Contacts) >= w.maxContacts {
		w.metrics.contactsDropped.Inc()
		return nil
	}
	if a.Contacts == nil {
		a.Contacts = map[string]*contact{}
	}
	c := &contact{}
	a.Contacts[strings.Clone(id)] = c // not pinning the event's strings
	return c
}

// scoreEvent applies a forwarded event to account a and its contact: the
// anonymous events its link released first, then the event itself, then
// one evaluation of each. The open tail (tail.go) decides when: at once,
// or in a rebuild.
func (w *worker) scoreEvent(id string, a *account, pending []features.Pending, ev *event.Event, src rows.Source, ip *ipMatchInfo, tags []string) {
	first := ev.Time
	for i := range pending {
		first = minTime(first, pending[i].Time)
	}
	// Decay crossings before this event are emitted as of their own time,
	// whether or not the partition's event time reached them: what an
	// account emits does not depend on other accounts' events.
	w.fireDue(id, a, first)

	cid := w.contactOf(a, ev)
	c := w.contact(a, cid)
	stageBefore := a.Score.Stage
	var cStageBefore scorer.Stage
	if c != nil {
		cStageBefore = c.Score.Stage
		if ev.Type == event.TypeIdentify && ev.Traits.Title != "" && ev.Traits.Title != c.Score.Title {
			c.Score.Title = w.interned.str(ev.Traits.Title)
		}
		if ev.Type == event.TypeIdentify {
			c.Tags = tags // each identify's hygiene verdict replaces the last
		}
		if tz := ev.Context.Timezone; tz != "" && tz != c.Timezone && features.Location(tz) != nil {
			c.Timezone = w.interned.str(tz)
		}
	}
	for i := range pending {
		var pev event.Event
		pending[i].Restore(&pev)
		w.apply(id, cid, a, c, &pev, src)
	}
	w.apply(id, cid, a, c, ev, src)
	if ip != nil && ev.Type == event.TypePage {
		if a.Visits == nil {
			a.Visits = &Visits{}
		}
		a.Visits.visit(ev, ip)
	}
	if ev.Type == event.TypeGroup {
		w.mergeFirmographics(&a.Score.Firm, &ev.Traits)
	}
	if ev.UserID != "" || (ev.Type == event.TypeIdentify && ev.Traits.Email != "") {
		a.Score.Known = true
	}
	a.Version += versionRecord
	a.dirty = true
	a.RulesVersion = w.rules.Version

	// Each evaluation also gives the decay timer of what it evaluated
	// (NextChange reads the result): the event changed the account and its
	// contact, and a group call every contact's fit.
	w.rules.Evaluate(&a.Score, &w.res)
	w.emit(id, "", a, &a.Score, &a.emitted, stageBefore, &w.res, src, rows.CauseEvent)
	a.Due = due(w.rules, &a.Score, &w.res)
	if c != nil {
		c.touch()
		w.rules.EvaluateContact(&c.Score, &a.Score, &w.res)
		w.emit(id, cid, a, &c.Score, &c.emitted, cStageBefore, &w.res, src, rows.CauseEvent)
		c.Due = due(w.rules, &c.Score, &w.res)
	}
	if ev.Type == event.TypeGroup {
		// New firmographics move every contact's fit.
		for ocid, oc := range a.Contacts {
			if oc == c || oc.MergedInto != "" {
				continue
			}
			before := oc.Score.Stage
			w.rules.EvaluateContact(&oc.Score, &a.Score, &w.res)
			w.emit(id, ocid, a, &oc.Score, &oc.emitted, before, &w.res, src, rows.CauseEvent)
			oc.Due = due(w.rules, &oc.Score, &w.res)
			oc.touch()
		}
	}
	w.retime(id, a)
}

// apply observes one event on the account and its contact, and records the
// rules it hit, the buying group and the hour of a touch.
func (w *worker) apply(id, cid string, a *account, c *contact, ev *event.Event, src rows.Source) {
	hits, _ := w.rules.ObserveHits(&a.Score, ev, w.hits[:0])
	w.hits = hits
	if c != nil {
		w.rules.Observe(&c.Score, ev)
		for _, h := range hits {
			if h.Points >= 0 {
				w.rules.NoteContact(&a.Score, cid, c.Score.Title, ev.Time)
				break
			}
		}
	}
	if cp, ok := w.channels.Channel(ev); ok {
		if a.LastTouch == nil || *a.LastTouch != cp {
			a.LastTouch = w.campaign(cp)
		}
		if a.FirstTouch == nil {
			a.FirstTouch = a.LastTouch
		}
	}
	if features.IsTouch(ev) {
		tz := ev.Context.Timezone
		if c != nil && c.Timezone != "" {
			tz = c.Timezone
		}
		loc := features.Location(tz)
		a.Hours.Add(ev.Time, loc)
		if c != nil {
			c.Hours.Add(ev.Time, loc)
		}
	}
	if w.scoreEvents && len(hits) > 0 {
		se := rows.ScoreEvent{AccountID: id, ContactID: cid, At: ev.Time, Type: ev.Type.String(), Event: ev.Event, Source: src}
		if ev.Type == event.TypePage {
			se.Path = ev.PagePath()
		}
		ns, np := len(w.arena.strs), len(w.arena.floats)
		for _, h := range hits {
			w.arena.strs = append(w.arena.strs, w.rules.RuleName(h.Rule))
			w.arena.floats = append(w.arena.floats, h.Points)
		}
		se.Rules, se.Points = w.arena.strs[ns:len(w.arena.strs):len(w.arena.strs)], w.arena.floats[np:len(w.arena.floats):len(w.arena.floats)]
		w.batch.Events = append(w.batch.Events, se)
		w.noteOut(a, outEvent)
	}
}

// emit appends the rows an evaluation produces for an account (cid "") or
// a contact: a funnel transition when the stage changed (or on the first
// evaluation), a hand-off on entering mql, and a score change when
// ShouldEmit says so. It updates the emitted state. Rows of events and
// decay are noted in an open tail, for corrections.
func (w *worker) emit(id, cid string, a *account, st *scorer.State, e *emitted, stageBefore scorer.Stage, res *scorer.Result, src rows.Source, cause string) {
	note := cause == rows.CauseEvent || cause == rows.CauseDecay
	if !e.EnteredFunnel || res.Stage != stageBefore {
		var first, last event.Campaign
		if a.FirstTouch != nil {
			first = *a.FirstTouch
		}
		if a.LastTouch != nil {
			last = *a.LastTouch
		}
		from := stageBefore.String()
		if !e.EnteredFunnel {
			from = ""
			e.EnteredFunnel = true
		}
		w.batch.Transitions = append(w.batch.Transitions, rows.FunnelTransition{
			AccountID: id, ContactID: cid, FromStage: from, ToStage: res.Stage.String(), At: st.AsOf,
			Source: first.Source, Medium: first.Medium, Campaign: first.Name,
			LastSource: last.Source, LastMedium: last.Medium, LastCampaign: last.Name,
			RecordSource: src,
		})
		if note {
			w.noteOut(a, outTransition)
		}
	}
	persona := ""
	if cid != "" {
		persona = w.rules.Persona(st.Title)
	}
	if res.Stage == scorer.StageMQL && stageBefore != scorer.StageMQL {
		hours := &a.Hours
		if c := a.Contacts[cid]; cid != "" && c != nil {
			hours = &c.Hours
		}
		w.batch.Handoffs = append(w.batch.Handoffs, rows.Handoff{
			AccountID: id, ContactID: cid, Score: res.Score, Fit: res.Fit, Engagement: res.Engagement,
			Intent: res.Intent, Label: res.Label, Stage: res.Stage.String(), Persona: persona, Title: st.Title,
			Recommendation: w.rules.Recommendation(res.Label), BestTimes: hours.Best(bestTimes, []string{}),
			Reasons: append([]rows.Reason{}, res.Reasons...), RulesVersion: w.rules.Version, At: st.AsOf, Source: src,
		})
		if note {
			w.noteOut(a, outHandoff)
		}
		if !w.replaying {
			w.metrics.handoffs.Inc()
		}
	}
	prev := scorer.Result{Score: e.LastScore, Label: e.LastLabel, Stage: e.LastStage}
	if !w.rules.ShouldEmit(&prev, e.Emitted, res) {
		return
	}
	prevStage := ""
	if e.Emitted {
		prevStage = e.LastStage.String()
	}
	w.batch.Changes = append(w.batch.Changes, rows.ScoreChange{
		AccountID: id, ContactID: cid, Score: res.Score, Fit: res.Fit, Engagement: res.Engagement,
		Grade: res.Grade, Level: res.Level, Label: res.Label, Stage: res.Stage.String(),
		PreviousLabel: e.LastLabel, PreviousStage: prevStage, PreviousScore: e.LastScore,
		Reasons:      w.arena.reasons(res.Reasons),
		RulesVersion: w.rules.Version, AsOf: st.AsOf, Source: src,
		Intent: res.Intent, Persona: persona, Cause: cause,
	})
	if note {
		w.noteOut(a, outChange)
	}
	if !w.replaying {
		w.metrics.changes.Inc()
	}
	e.Emitted, e.LastScore, e.LastLabel, e.LastStage = true, res.Score, res.Label, res.Stage
}

// rowArena holds the slices of the rows one process call writes: the sinks
// copy or encode a batch in Write and keep none of it, so the arena is
// reused from one call to the next and steady scoring allocates no row
// slices.
type rowArena struct {
	strs   []string
	floats []float64
	rs     []rows.Reason
}

func (a *rowArena) reset() {
	a.strs, a.floats, a.rs = shrink(a.strs), shrink(a.floats), shrink(a.rs)
}

// shrink empties s, dropping its backing array when it is over arenaKeep
// and the call just ended used less than a quarter of it: what a burst
// grew is not kept (see rows.Batch.Reset).
func shrink[T any](s []T) []T {
	if cap(s) > arenaKeep && len(s) < cap(s)/4 {
		return nil
	}
	clear(s)
	return s[:0]
}

// arenaKeep bounds the capacity the row arena keeps per slice.
const arenaKeep = 1 << 15

// reasons returns a copy of rs in the arena.
func (a *rowArena) reasons(rs []rows.Reason) []rows.Reason {
	n := len(a.rs)
	a.rs = append(a.rs, rs...)
	return a.rs[n:len(a.rs):len(a.rs)]
}

// bestTimes is how many best contact hours rows carry.
const bestTimes = 3

// scoreRows appends an account_scores row for every account and contact
// changed since the last call, marks them clean and returns the changed
// accounts' ids.
func (w *worker) scoreRows(b *rows.Batch) []string {
	var changed []string
	for id, a := range w.accounts {
		if !a.dirty {
			continue
		}
		w.rules.Evaluate(&a.Score, &w.res)
		b.Scores = append(b.Scores, w.scoreRow(id, "", a.Version, a, &a.Score, &a.Hours))
		if v := a.Visits; v != nil && v.dirty {
			b.Visitors = append(b.Visitors, v.row(id, a.Version))
			v.dirty = false
		}
		for cid, c := range a.Contacts {
			if !c.dirty {
				continue
			}
			w.rules.EvaluateContact(&c.Score, &a.Score, &w.res)
			row := w.scoreRow(id, cid, c.Version, a, &c.Score, &c.Hours)
			row.Tags = append(row.Tags, c.Tags...)
			if c.MergedInto != "" {
				row.Tags = append(row.Tags, tagMerged)
			}
			if c.DuplicateOf != "" {
				row.Tags = append(row.Tags, tagDuplicate)
			}
			b.Scores = append(b.Scores, row)
			c.dirty = false
		}
		a.dirty = false
		changed = append(changed, id)
	}
	return changed
}

func (w *worker) scoreRow(id, cid string, version uint64, a *account, st *scorer.State, hours *features.Hours) rows.AccountScore {
	res := &w.res
	persona := ""
	if cid != "" {
		persona = w.rules.Persona(st.Title)
	}
	return rows.AccountScore{
		AccountID: id, ContactID: cid, Score: res.Score, Fit: res.Fit, Engagement: res.Engagement,
		Grade: res.Grade, Level: res.Level, Label: res.Label, Stage: res.Stage.String(),
		Reasons:      append([]rows.Reason(nil), res.Reasons...),
		RulesVersion: w.rules.Version, AsOf: st.AsOf, Version: version,
		Intent: res.Intent, Persona: persona, BestTimes: hours.Best(bestTimes, []string{}), Tags: []string{},
	}
}

// mergeFirmographics upserts a group call's traits into the account's
// firmographics: traits present in the call replace, absent ones stay, as
// Segment merges traits.
func (w *worker) mergeFirmographics(f *scorer.Firmographics, t *event.Traits) {
	// Strings are interned (cloned once per worker): an event's strings
	// share one block, which a kept string would pin, and accounts repeat
	// a few industries, countries and technology stacks.
	if t.Industry != "" && t.Industry != f.Industry {
		f.Industry = w.interned.str(t.Industry)
	}
	if t.HasEmployees {
		f.Employees, f.HasEmployees = t.Employees, true
	}
	if t.Country != "" && t.Country != f.Country {
		f.Country = w.interned.str(t.Country)
	}
	if t.Technologies != nil && (f.Technologies == nil || !slices.Equal(t.Technologies, f.Technologies)) {
		f.Technologies = w.interned.list(t.Technologies)
	}
}

// maxCampaigns bounds a worker's interned campaigns; past it campaigns are
// allocated per account, as they would be without interning.
const maxCampaigns = 4096

// campaign returns the worker's interned copy of c (its strings cloned out
// of the event they came from).
func (w *worker) campaign(c event.Campaign) *event.Campaign {
	if p, ok := w.campaigns[c]; ok {
		return p
	}
	// A new variable: taking c's address would move the parameter to the
	// heap on every call, hits included.
	p := new(event.Campaign)
	*p = cloneCampaign(c)
	if len(w.campaigns) < maxCampaigns {
		if w.campaigns == nil {
			w.campaigns = map[event.Campaign]*event.Campaign{}
		}
		w.campaigns[*p] = p
	}
	return p
}

// internRestored replaces a restored account's campaigns, firmographics,
// contact titles and time zones with the worker's interned ones. A zero
// campaign (how states written before the pointers said "none yet")
// becomes nil.
func (w *worker) internRestored(a *account) {
	f := &a.Score.Firm
	f.Industry, f.Country, f.Technologies = w.interned.str(f.Industry), w.interned.str(f.Country), w.interned.list(f.Technologies)
	for _, c := range a.Contacts {
		c.Score.Title, c.Timezone = w.interned.str(c.Score.Title), w.interned.str(c.Timezone)
	}
	for _, t := range []**event.Campaign{&a.FirstTouch, &a.LastTouch} {
		switch {
		case *t == nil:
		case **t == (event.Campaign{}):
			*t = nil
		default:
			*t = w.campaign(**t)
		}
	}
}

// cloneCampaign copies c's strings out of the event they came from.
func cloneCampaign(c event.Campaign) event.Campaign {
	return event.Campaign{Source: strings.Clone(c.Source), Medium: strings.Clone(c.Medium),
		Name: strings.Clone(c.Name), Term: strings.Clone(c.Term), Content: strings.Clone(c.Content)}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
