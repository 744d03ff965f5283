package generate

import (
	"math"
	"strings"

	"github.com/leadscore/leadscore/internal/event"
)

const site = "https://" + SiteHost

// SiteHost is the generated vendor's own web site: its pages refer to each
// other, which says nothing about a visitor's channel.
const SiteHost = "leadscore.example"

type sitePage struct{ path, title string }

var (
	sitePages = []sitePage{
		{"/", "Leadscore | Real-time lead scoring"},
		{"/pricing", "Pricing | Leadscore"},
		{"/product", "Product | Leadscore"},
		{"/docs/getting-started", "Getting started | Leadscore Docs"},
		{"/docs/scoring-rules", "Scoring rules | Leadscore Docs"},
		{"/docs/integrations/segment", "Segment integration | Leadscore Docs"},
		{"/blog/lead-scoring-101", "Lead scoring 101 | Leadscore Blog"},
		{"/blog/abm-playbook", "The ABM playbook | Leadscore Blog"},
		{"/blog/intent-data-explained", "Intent data, explained | Leadscore Blog"},
		{"/customers", "Customers | Leadscore"},
		{"/careers", "Careers | Leadscore"},
	}
	sitePageWeights = []float64{0.22, 0.12, 0.15, 0.06, 0.05, 0.04, 0.08, 0.06, 0.05, 0.11, 0.06}

	referrers      = []string{"", "https://www.google.com/", "https://www.linkedin.com/", "https://www.bing.com/", "https://news.ycombinator.com/"}
	referrerWeight = []float64{0.45, 0.30, 0.12, 0.06, 0.07}
)

type campaign struct{ source, medium, name, term, content string }

var campaigns = []campaign{
	{"google", "cpc", "brand-search", "lead scoring software", "ad-a"},
	{"google", "cpc", "competitor-search", "6sense alternative", "ad-b"},
	{"linkedin", "social", "abm-q1-2026", "", "carousel"},
	{"newsletter", "email", "monthly-digest", "", ""},
	{"partner", "referral", "partner-summit", "", ""},
	{"g2", "review", "g2-profile", "", ""},
}

// The kinds of malformed records, each an event.Reason.
var malformedKinds = []event.Reason{
	event.ReasonInvalidJSON, event.ReasonMissingTimestamp, event.ReasonWrongType, event.ReasonInvalidUTF8,
	event.ReasonTooDeep, event.ReasonFieldTooLong, event.ReasonMissingIdentity,
}

var (
	emailSubjects = []string{"Your lead scoring trial", "5 ABM plays for Q1", "Webinar: intent data in practice", "Leadscore product update", "Case study: scoring at scale"}
	emailCampaign = []string{"nurture-q1", "webinar-invite", "product-update", "trial-onboarding"}
	intentTopics  = []string{"lead scoring", "marketing automation", "customer data platform", "account based marketing", "sales intelligence"}
	intentSources = []string{"bombora", "g2", "6sense", "techtarget"}
	competitors   = []string{"6sense", "demandbase", "hubspot", "marketo"}
	assets        = []string{"ABM benchmark report 2026", "Lead scoring template", "Intent data buyer's guide", "ROI calculator"}
	conferences   = []string{"SaaStr Annual 2026", "Dreamforce 2026", "Web Summit 2026", "Leadscore Roadshow Shanghai"}
	forms         = []string{"contact-sales", "newsletter", "webinar-signup", "ebook-download"}
)

type flowKind uint8

const (
	flowSession flowKind = iota // 1..8 page views
	flowEmail                   // Delivered -> Opened -> Link Clicked -> Replied
	flowForm                    // Form Submitted -> identify -> maybe Demo Requested / Trial Started
)

// flow is an activity in progress; each step emits one record.
type flow struct {
	kind   flowKind
	acct   int32
	person int32
	left   int8 // pages left in a session
	step   int8
	prev   int8 // previous page index, -1 at the start of a session
}

// valid emits the next record of a sequence in progress or starts a new one.
func (g *Generator) valid() Record {
	g.advance()
	if n := len(g.flows); n > 0 && (n >= maxFlows || g.r.Float64() < 0.6) {
		return g.step(g.r.IntN(n))
	}
	ai := int32(g.zipf.Uint64())
	a := &g.accounts[ai]
	if !a.grouped {
		// Every account's first call identifies it: tracking plans send a
		// group call once a visitor's company is known.
		// The visit that revealed the company goes on.
		rec := g.group(a, &a.people[0])
		a.grouped = true
		g.flows = append(g.flows, flow{kind: flowSession, acct: ai, left: g.sessionLength(), prev: -1})
		return rec
	}
	pi := int32(g.r.IntN(len(a.people)))
	p := &a.people[pi]

	x := g.r.Float64()
	switch {
	case a.crm == crmNone && (a.engagement >= 25 && x < 0.2 || x < 0.002):
		a.crm = crmOpen
		return g.crm(a, "Opportunity Created")
	case a.crm == crmOpen && (a.engagement >= 45 && x < 0.1 || x < 0.002):
		a.crm = crmClosed
		if g.r.Float64() < 0.6 {
			return g.crm(a, "Deal Won")
		}
		return g.crm(a, "Deal Lost")
	}

	x = g.r.Float64()
	switch {
	case x < 0.48:
		g.flows = append(g.flows, flow{kind: flowSession, acct: ai, person: pi, left: g.sessionLength(), prev: -1})
	case x < 0.70:
		g.flows = append(g.flows, flow{kind: flowEmail, acct: ai, person: pi})
	case x < 0.76 && !p.identified:
		g.flows = append(g.flows, flow{kind: flowForm, acct: ai, person: pi})
	case x < 0.76:
		g.flows = append(g.flows, flow{kind: flowSession, acct: ai, person: pi, left: 1, prev: -1})
	case x < 0.86:
		return g.intent(a)
	case x < 0.90:
		a.engagement += 3
		return g.webTrack(a, p, "Chat Started", "channel", "website")
	case x < 0.94:
		return g.webTrack(a, p, "Content Downloaded", "asset", oneOf(g.r, assets))
	case x < 0.96:
		a.engagement += 6
		return g.webTrack(a, p, "Demo Requested", "form_id", "demo-request")
	case x < 0.975:
		a.engagement += 5
		return g.webTrack(a, p, "Trial Started", "plan", "team")
	case x < 0.99:
		a.engagement += 6
		return g.offline(a, p)
	case x < 0.995:
		return g.group(a, p)
	default:
		return g.alias(a, p)
	}
	return g.step(len(g.flows) - 1)
}

// step emits the next record of flow i and drops the flow when it is done.
func (g *Generator) step(i int) Record {
	f := &g.flows[i]
	a := &g.accounts[f.acct]
	p := &a.people[f.person]
	var rec Record
	done := false
	switch f.kind {
	case flowSession:
		rec = g.page(a, p, f)
		f.left--
		done = f.left <= 0
	case flowEmail:
		rec, done = g.email(a, p, f)
	case flowForm:
		rec, done = g.form(a, p, f)
	}
	f.step++
	if done {
		g.flows[i] = g.flows[len(g.flows)-1]
		g.flows = g.flows[:len(g.flows)-1]
	}
	return rec
}

// begin starts a call: type, messageId and timestamp.
func (g *Generator) begin(typ string) {
	g.w.reset()
	g.w.str("type", typ)
	g.w.key("messageId")
	g.w.b = append(g.w.b, '"')
	g.w.b = appendUUID(g.w.b, g.r)
	g.w.b = append(g.w.b, '"')
}

func (g *Generator) timestamp() { g.w.time("timestamp", g.now) }

// webIDs writes what a browser knows: the anonymousId, and the userId once
// the person has been identified.
func (g *Generator) webIDs(p *person) {
	g.w.str("anonymousId", p.anonID)
	if p.identified {
		g.userID(p)
	}
}

func (g *Generator) userID(p *person) {
	if p.numericID {
		g.w.raw("userId", p.userID) // Segment allows numeric ids
		return
	}
	g.w.str("userId", p.userID)
}

// webContext opens context with the ip and, for a share of events, the
// account as context.groupId; the caller closes it.
func (g *Generator) webContext(a *account, p *person) {
	g.w.open("context")
	g.w.ip("ip", p.ip)
	share := 0.05
	if p.identified {
		share = 0.5
	}
	if g.r.Float64() < share {
		g.w.str("groupId", a.domain)
	}
}

func (g *Generator) page(a *account, p *person, f *flow) Record {
	pi := pick(g.r, sitePageWeights)
	pg := sitePages[pi]
	if pg.path == "/pricing" {
		a.engagement += 2
	}
	var c *campaign
	if f.prev < 0 && g.r.Float64() < 0.3 {
		c = &campaigns[g.r.IntN(len(campaigns))]
	}
	// Browsers send the page in context and properties, a share of them only
	// in context; server-side libraries only in properties.
	inContext, inProps := true, false
	switch x := g.r.Float64(); {
	case x < 0.25:
		inProps = true
	case x < 0.4:
		inContext, inProps = false, true
	}
	g.begin("page")
	g.webIDs(p)
	g.timestamp()
	g.webContext(a, p)
	if inContext {
		g.w.open("page")
		g.pageFields(pg, f.prev, c, true)
		g.w.close()
	}
	if c != nil {
		g.w.open("campaign")
		g.w.str("source", c.source)
		g.w.str("medium", c.medium)
		g.w.str("name", c.name)
		if c.term != "" {
			g.w.str("term", c.term)
		}
		if c.content != "" {
			g.w.str("content", c.content)
		}
		g.w.close()
	}
	g.w.close()
	if inProps {
		g.w.open("properties")
		g.pageFields(pg, f.prev, c, !inContext)
		g.w.close()
	}
	g.w.close()
	f.prev = int8(pi)
	return g.record(a, "page", false)
}

// pageFields writes path, referrer, title and url; full adds the referrer
// and url, which the copy in properties leaves out when context has them.
func (g *Generator) pageFields(pg sitePage, prev int8, c *campaign, full bool) {
	g.w.str("path", pg.path)
	if full {
		switch {
		case prev >= 0:
			g.w.str("referrer", site+sitePages[prev].path)
		case c != nil && c.medium == "cpc":
			g.w.str("referrer", "https://www.google.com/")
		default:
			if ref := referrers[pick(g.r, referrerWeight)]; ref != "" {
				g.w.str("referrer", ref)
			}
		}
	}
	g.w.str("title", pg.title)
	if !full {
		return
	}
	g.w.key("url")
	g.w.b = append(g.w.b, '"')
	g.w.b = append(g.w.b, site...)
	g.w.b = append(g.w.b, pg.path...)
	if c != nil {
		g.w.b = append(g.w.b, "?utm_source="...)
		g.w.b = append(g.w.b, c.source...)
		g.w.b = append(g.w.b, "&utm_medium="...)
		g.w.b = append(g.w.b, c.medium...)
	}
	g.w.b = append(g.w.b, '"')
}

// webTrack emits a track call from the person's browser with one property.
func (g *Generator) webTrack(a *account, p *person, name, prop, value string) Record {
	g.begin("track")
	g.w.str("event", name)
	g.webIDs(p)
	g.timestamp()
	g.webContext(a, p)
	g.w.close()
	g.w.open("properties")
	g.w.str(prop, value)
	g.w.close()
	g.w.close()
	return g.record(a, "track", false)
}

// email steps an ESP funnel. The ESP knows the contact, so it sends userId.
func (g *Generator) email(a *account, p *person, f *flow) (Record, bool) {
	var name string
	done := true
	switch f.step {
	case 0:
		switch x := g.r.Float64(); {
		case x < 0.03:
			name = "Email Bounced"
		default:
			name, done = "Email Delivered", g.r.Float64() >= 0.4
		}
	case 1:
		name = "Email Opened"
		switch x := g.r.Float64(); {
		case x < 0.3:
			done = false // clicks next
		case x < 0.32:
			f.step = 10 // unsubscribes next
			done = false
		case x < 0.325:
			f.step = 20 // reports spam next
			done = false
		}
	case 2:
		name, done = "Email Link Clicked", g.r.Float64() >= 0.08
		a.engagement++
	case 3:
		name = "Email Replied"
		a.engagement += 6
	case 11:
		name = "Unsubscribed"
	case 21:
		name = "Email Marked as Spam"
	}
	g.begin("track")
	g.w.str("event", name)
	g.userID(p)
	g.timestamp()
	g.w.open("properties")
	g.w.str("email_subject", oneOf(g.r, emailSubjects))
	g.w.str("campaign_name", oneOf(g.r, emailCampaign))
	if name == "Email Link Clicked" {
		g.w.str("link_url", site+"/pricing")
	}
	g.w.close()
	g.w.close()
	return g.record(a, "track", false), done
}

// form steps Form Submitted -> identify -> maybe a demo or trial request.
func (g *Generator) form(a *account, p *person, f *flow) (Record, bool) {
	switch f.step {
	case 0:
		a.engagement += 3
		return g.webTrack(a, p, "Form Submitted", "form_id", oneOf(g.r, forms)), false
	case 1:
		p.identified = true
		x := g.r.Float64()
		return g.identify(a, p), x >= 0.5
	}
	if g.r.Float64() < 0.6 {
		a.engagement += 6
		return g.webTrack(a, p, "Demo Requested", "form_id", "demo-request"), true
	}
	a.engagement += 5
	return g.webTrack(a, p, "Trial Started", "plan", "team"), true
}

func (g *Generator) identify(a *account, p *person) Record {
	g.begin("identify")
	g.w.str("anonymousId", p.anonID)
	g.userID(p)
	g.timestamp()
	g.w.open("context")
	g.w.ip("ip", p.ip)
	g.w.close()
	g.w.open("traits")
	g.w.str("email", p.email)
	g.w.str("name", p.name)
	g.w.str("title", p.title)
	g.w.str("phone", p.phone)
	if p.wechat != "" {
		g.w.str("wechat", p.wechat)
	}
	if g.r.Float64() < 0.85 {
		g.w.open("company")
		g.w.str("name", a.name)
		g.w.str("domain", a.domain)
		g.w.str("industry", a.industry)
		g.w.intOrString("employees", a.employees, g.r.Float64() < 0.2)
		g.w.str("country", a.country)
		g.w.close()
	}
	g.w.close()
	g.w.close()
	return g.record(a, "identify", false)
}

// group sends the account's firmographics; later calls show some drift.
func (g *Generator) group(a *account, p *person) Record {
	g.begin("group")
	g.w.str("groupId", a.domain)
	g.webIDs(p)
	g.timestamp()
	g.w.open("traits")
	g.w.str("name", a.name)
	g.w.str("domain", a.domain)
	g.w.str("website", "https://"+a.domain)
	g.w.str("industry", a.industry)
	employees := a.employees
	if a.grouped && g.r.Float64() < 0.3 {
		employees = max(5, employees+employees/20-g.r.IntN(employees/10+1))
	}
	g.w.intOrString("employees", employees, g.r.Float64() < 0.15)
	g.w.str("country", a.country)
	if len(a.techs) > 0 {
		g.w.strings("technologies", a.techs)
	}
	g.w.close()
	g.w.close()
	return g.record(a, "group", false)
}

// intent is a third-party intent signal: an account and no person.
func (g *Generator) intent(a *account) Record {
	score := int(math.Round(100 * math.Pow(g.r.Float64(), 0.7)))
	if score >= 70 {
		a.engagement++
	}
	g.begin("track")
	g.w.str("event", "Intent Signal")
	g.timestamp()
	g.w.open("context")
	g.w.str("groupId", a.domain)
	g.w.close()
	g.w.open("properties")
	g.w.str("topic", oneOf(g.r, intentTopics))
	g.w.intOrString("score", score, g.r.Float64() < 0.2)
	g.w.str("source", oneOf(g.r, intentSources))
	if g.r.Float64() < 0.3 {
		g.w.str("competitor", oneOf(g.r, competitors))
	}
	g.w.close()
	g.w.close()
	return g.record(a, "track", false)
}

// crm is an account-level outcome from the CRM.
func (g *Generator) crm(a *account, name string) Record {
	amount := int(math.Round(math.Exp(math.Log(30000)+0.9*g.r.NormFloat64())/100) * 100)
	amount = min(max(amount, 5000), 500000)
	currency := "USD"
	switch {
	case a.country == "CN":
		currency = "CNY"
		amount *= 7
	case a.country == "DE" || a.country == "FR":
		currency = "EUR"
	case a.country == "GB":
		currency = "GBP"
	}
	g.begin("track")
	g.w.str("event", name)
	g.timestamp()
	g.w.open("context")
	g.w.str("groupId", a.domain)
	g.w.close()
	g.w.open("properties")
	g.w.intOrString("amount", amount, g.r.Float64() < 0.2)
	g.w.str("currency", currency)
	g.w.close()
	g.w.close()
	return g.record(a, "track", false)
}

// offline is an event attendance imported from the event platform.
func (g *Generator) offline(a *account, p *person) Record {
	g.begin("track")
	g.w.str("event", "Event Attended")
	g.userID(p)
	g.timestamp()
	g.w.open("properties")
	g.w.str("event_name", oneOf(g.r, conferences))
	g.w.close()
	g.w.close()
	return g.record(a, "track", false)
}

// alias links the person's browser to their user id.
func (g *Generator) alias(a *account, p *person) Record {
	p.identified = true
	g.begin("alias")
	g.w.str("previousId", p.anonID)
	g.userID(p)
	g.timestamp()
	g.w.close()
	return g.record(a, "alias", false)
}

// malformed builds a record that event.Decode must reject with its Kind.
func (g *Generator) malformed() Record {
	g.advance()
	a := &g.accounts[g.zipf.Uint64()]
	p := &a.people[g.r.IntN(len(a.people))]
	kind := malformedKinds[g.r.IntN(len(malformedKinds))]

	if kind == event.ReasonWrongType && g.r.Float64() < 0.5 {
		g.begin("identify")
		g.w.str("anonymousId", p.anonID)
		g.timestamp()
		g.w.str("traits", "x") // traits must be an object
		g.w.close()
		return g.record(a, string(kind), true)
	}

	g.begin("page")
	if kind != event.ReasonMissingIdentity {
		g.webIDs(p)
	}
	switch kind {
	case event.ReasonMissingTimestamp:
	case event.ReasonWrongType:
		g.w.int("timestamp", 12345) // epoch seconds instead of RFC 3339
	default:
		g.timestamp()
	}
	g.webContext(a, p)
	g.w.close()
	g.w.open("properties")
	g.w.str("path", "/pricing")
	switch kind {
	case event.ReasonInvalidUTF8:
		g.w.key("title")
		g.w.b = append(g.w.b, "\"Pricing \xff\xfe\""...) // Latin-1 bytes from a broken proxy
	case event.ReasonFieldTooLong:
		g.w.str("title", strings.Repeat("Pricing ", 100<<10/8)) // 100 KiB
	case event.ReasonTooDeep:
		g.w.key("filters")
		g.w.b = append(g.w.b, strings.Repeat("[", 100)...)
		g.w.b = append(g.w.b, strings.Repeat("]", 100)...)
	default:
		g.w.str("title", "Pricing | Leadscore")
	}
	g.w.close()
	g.w.close()
	if kind == event.ReasonInvalidJSON {
		// Truncated, as by a producer that crashed mid-write.
		g.w.b = g.w.b[:1+g.r.IntN(len(g.w.b)-1)]
	}
	return g.record(a, string(kind), true)
}

// sessionLength draws 1..8 page views, most sessions short: real B2B sites
// see a median of about two pages per visit.
func (g *Generator) sessionLength() int8 {
	return int8(min(8, 1+int(g.r.ExpFloat64()*1.5)))
}
