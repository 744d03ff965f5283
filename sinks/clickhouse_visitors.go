package sinks

import (
	"time"

	"github.com/leadscore/leadscore/internal/rows"
)

// visitorColumns holds visitor_companies rows: companies identified by
// their visitors' IP addresses.
type visitorColumns struct {
	accountID, organisation []string
	firstSeen, lastSeen     []int64
	sessions, pages         []uint32
	topPages                arrayColumn[string]
	topPageViews            arrayColumn[uint32]
	confidence              []float64
	matchSource             []string
	version                 []uint64
}

func (c *visitorColumns) table() string { return "visitor_companies" }
func (c *visitorColumns) len() int      { return len(c.accountID) }

func (c *visitorColumns) add(r *rows.VisitorCompany) {
	c.accountID = append(c.accountID, r.AccountID)
	c.organisation = append(c.organisation, r.Organisation)
	c.firstSeen = append(c.firstSeen, dateTime(r.FirstSeen))
	c.lastSeen = append(c.lastSeen, dateTime(r.LastSeen))
	c.sessions = append(c.sessions, r.Sessions)
	c.pages = append(c.pages, r.Pages)
	c.topPages.add(r.TopPages)
	c.topPageViews.add(r.TopPageViews)
	c.confidence = append(c.confidence, r.Confidence)
	c.matchSource = append(c.matchSource, r.MatchSource)
	c.version = append(c.version, r.Version)
}

func (c *visitorColumns) columns() []chColumn {
	return []chColumn{
		{"account_id", c.accountID},
		{"organisation", c.organisation},
		{"first_seen", c.firstSeen},
		{"last_seen", c.lastSeen},
		{"sessions", c.sessions},
		{"pages", c.pages},
		{"top_pages", c.topPages.column()},
		{"top_page_views", c.topPageViews.column()},
		{"confidence", c.confidence},
		{"match_source", c.matchSource},
		{"version", c.version},
	}
}

func (c *visitorColumns) reset() {
	c.accountID = truncate(c.accountID)
	c.organisation = truncate(c.organisation)
	c.firstSeen = c.firstSeen[:0]
	c.lastSeen = c.lastSeen[:0]
	c.sessions = c.sessions[:0]
	c.pages = c.pages[:0]
	c.topPages.reset()
	c.topPageViews.reset()
	c.confidence = c.confidence[:0]
	c.matchSource = truncate(c.matchSource)
	c.version = c.version[:0]
}

// ipMatchColumns holds ip_matches rows: each input partition's cumulative
// IP lookups per UTC day, match source and class.
type ipMatchColumns struct {
	day                []time.Time
	matchSource, class []string
	sourceTopic        []string
	sourcePartition    []int32
	lookups            []uint64
}

func (c *ipMatchColumns) table() string { return "ip_matches" }
func (c *ipMatchColumns) len() int      { return len(c.day) }

func (c *ipMatchColumns) add(r *rows.IPMatches) {
	c.day = append(c.day, r.Day.UTC().Truncate(24*time.Hour))
	c.matchSource = append(c.matchSource, r.MatchSource)
	c.class = append(c.class, r.Class)
	c.sourceTopic = append(c.sourceTopic, r.Topic)
	c.sourcePartition = append(c.sourcePartition, r.Partition)
	c.lookups = append(c.lookups, r.Lookups)
}

func (c *ipMatchColumns) columns() []chColumn {
	return []chColumn{
		{"day", c.day},
		{"match_source", c.matchSource},
		{"class", c.class},
		{"source_topic", c.sourceTopic},
		{"source_partition", c.sourcePartition},
		{"lookups", c.lookups},
	}
}

func (c *ipMatchColumns) reset() {
	c.day = truncate(c.day)
	c.matchSource = truncate(c.matchSource)
	c.class = truncate(c.class)
	c.sourceTopic = truncate(c.sourceTopic)
	c.sourcePartition = c.sourcePartition[:0]
	c.lookups = c.lookups[:0]
}

// rejectedColumns holds rejected_leads rows: leads that failed hygiene.
type rejectedColumns struct {
	at                                      []int64
	userID, anonymousID, email, phone, comp []string
	reasons, fields, values, details        arrayColumn[string]
	sourceTopic                             []string
	sourcePartition                         []int32
	sourceOffset                            []int64
}

func (c *rejectedColumns) table() string { return "rejected_leads" }
func (c *rejectedColumns) len() int      { return len(c.at) }

func (c *rejectedColumns) add(r *rows.RejectedLead) {
	c.at = append(c.at, dateTime(r.At))
	c.userID = append(c.userID, r.UserID)
	c.anonymousID = append(c.anonymousID, r.AnonymousID)
	c.email = append(c.email, r.Email)
	c.phone = append(c.phone, r.Phone)
	c.comp = append(c.comp, r.Company)
	c.reasons.add(r.Reasons)
	c.fields.add(r.Fields)
	c.values.add(r.Values)
	c.details.add(r.Details)
	c.sourceTopic = append(c.sourceTopic, r.Source.Topic)
	c.sourcePartition = append(c.sourcePartition, r.Source.Partition)
	c.sourceOffset = append(c.sourceOffset, r.Source.Offset)
}

func (c *rejectedColumns) columns() []chColumn {
	return []chColumn{
		{"at", c.at},
		{"user_id", c.userID},
		{"anonymous_id", c.anonymousID},
		{"email", c.email},
		{"phone", c.phone},
		{"company", c.comp},
		{"reasons", c.reasons.column()},
		{"fields", c.fields.column()},
		{"field_values", c.values.column()},
		{"details", c.details.column()},
		{"source_topic", c.sourceTopic},
		{"source_partition", c.sourcePartition},
		{"source_offset", c.sourceOffset},
	}
}

func (c *rejectedColumns) reset() {
	c.at = c.at[:0]
	c.userID = truncate(c.userID)
	c.anonymousID = truncate(c.anonymousID)
	c.email = truncate(c.email)
	c.phone = truncate(c.phone)
	c.comp = truncate(c.comp)
	c.reasons.reset()
	c.fields.reset()
	c.values.reset()
	c.details.reset()
	c.sourceTopic = truncate(c.sourceTopic)
	c.sourcePartition = c.sourcePartition[:0]
	c.sourceOffset = c.sourceOffset[:0]
}

// mergeColumns holds lead_merges rows: the de-duplication audit trail.
type mergeColumns struct {
	at                                          []int64
	leadID, existingID, matchedID, policy, kind []string
	rule                                        []string
	score                                       []float64
	action, owner, notifyOwner, leadSource      []string
	existingAt                                  []int64
	sourceTopic                                 []string
	sourcePartition                             []int32
	sourceOffset                                []int64
}

func (c *mergeColumns) table() string { return "lead_merges" }
func (c *mergeColumns) len() int      { return len(c.at) }

func (c *mergeColumns) add(r *rows.LeadMerge) {
	c.at = append(c.at, dateTime(r.At))
	c.leadID = append(c.leadID, r.LeadID)
	c.existingID = append(c.existingID, r.ExistingID)
	c.matchedID = append(c.matchedID, r.MatchedID)
	c.policy = append(c.policy, r.Policy)
	c.kind = append(c.kind, r.Kind)
	c.rule = append(c.rule, r.Rule)
	c.score = append(c.score, r.Score)
	c.action = append(c.action, r.Action)
	c.owner = append(c.owner, r.Owner)
	c.notifyOwner = append(c.notifyOwner, r.NotifyOwner)
	c.leadSource = append(c.leadSource, r.LeadSource)
	c.existingAt = append(c.existingAt, dateTime(r.ExistingAt))
	c.sourceTopic = append(c.sourceTopic, r.Source.Topic)
	c.sourcePartition = append(c.sourcePartition, r.Source.Partition)
	c.sourceOffset = append(c.sourceOffset, r.Source.Offset)
}

func (c *mergeColumns) columns() []chColumn {
	return []chColumn{
		{"at", c.at},
		{"lead_id", c.leadID},
		{"existing_id", c.existingID},
		{"matched_id", c.matchedID},
		{"policy", c.policy},
		{"kind", c.kind},
		{"rule", c.rule},
		{"score", c.score},
		{"action", c.action},
		{"owner", c.owner},
		{"notify_owner", c.notifyOwner},
		{"lead_source", c.leadSource},
		{"existing_at", c.existingAt},
		{"source_topic", c.sourceTopic},
		{"source_partition", c.sourcePartition},
		{"source_offset", c.sourceOffset},
	}
}

func (c *mergeColumns) reset() {
	c.at = c.at[:0]
	c.leadID = truncate(c.leadID)
	c.existingID = truncate(c.existingID)
	c.matchedID = truncate(c.matchedID)
	c.policy = truncate(c.policy)
	c.kind = truncate(c.kind)
	c.rule = truncate(c.rule)
	c.score = c.score[:0]
	c.action = truncate(c.action)
	c.owner = truncate(c.owner)
	c.notifyOwner = truncate(c.notifyOwner)
	c.leadSource = truncate(c.leadSource)
	c.existingAt = c.existingAt[:0]
	c.sourceTopic = truncate(c.sourceTopic)
	c.sourcePartition = c.sourcePartition[:0]
	c.sourceOffset = c.sourceOffset[:0]
}
