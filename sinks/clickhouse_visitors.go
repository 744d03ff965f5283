package sinks

import (
	"github.com/ClickHouse/ch-go/proto"

	"github.com/leadscore/leadscore/internal/rows"
)

// visitorColumns holds visitor_companies rows: companies identified by
// their visitors' IP addresses.
type visitorColumns struct {
	accountID, organisation strColumn
	firstSeen, lastSeen     proto.ColDateTime
	sessions, pages         proto.ColUInt32
	topPages                stringArray
	topPageViews            uint32Array
	confidence              proto.ColFloat64
	matchSource             strColumn
	version                 proto.ColUInt64
}

func (c *visitorColumns) table() string { return "visitor_companies" }
func (c *visitorColumns) len() int      { return c.accountID.Rows() }

func (c *visitorColumns) add(r *rows.VisitorCompany) {
	c.accountID.Append(r.AccountID)
	c.organisation.Append(r.Organisation)
	c.firstSeen.AppendRaw(dateTime(r.FirstSeen))
	c.lastSeen.AppendRaw(dateTime(r.LastSeen))
	c.sessions.Append(r.Sessions)
	c.pages.Append(r.Pages)
	c.topPages.add(r.TopPages)
	c.topPageViews.add(r.TopPageViews)
	c.confidence.Append(r.Confidence)
	c.matchSource.Append(r.MatchSource)
	c.version.Append(r.Version)
}

func (c *visitorColumns) columns() []chColumn {
	return []chColumn{
		{"account_id", &c.accountID},
		{"organisation", &c.organisation},
		{"first_seen", &c.firstSeen},
		{"last_seen", &c.lastSeen},
		{"sessions", &c.sessions},
		{"pages", &c.pages},
		{"top_pages", c.topPages.column()},
		{"top_page_views", c.topPageViews.column()},
		{"confidence", &c.confidence},
		{"match_source", &c.matchSource},
		{"version", &c.version},
	}
}

func (c *visitorColumns) reset() {
	c.accountID.Reset()
	c.organisation.Reset()
	c.firstSeen.Reset()
	c.lastSeen.Reset()
	c.sessions.Reset()
	c.pages.Reset()
	c.topPages.reset()
	c.topPageViews.reset()
	c.confidence.Reset()
	c.matchSource.Reset()
	c.version.Reset()
}

// ipMatchColumns holds ip_matches rows: each input partition's cumulative
// IP lookups per UTC day, match source and class.
type ipMatchColumns struct {
	day                proto.ColDate
	matchSource, class strColumn
	sourceTopic        strColumn
	sourcePartition    proto.ColInt32
	lookups            proto.ColUInt64
}

func (c *ipMatchColumns) table() string { return "ip_matches" }
func (c *ipMatchColumns) len() int      { return c.day.Rows() }

func (c *ipMatchColumns) add(r *rows.IPMatches) {
	c.day = append(c.day, date(r.Day))
	c.matchSource.Append(r.MatchSource)
	c.class.Append(r.Class)
	c.sourceTopic.Append(r.Topic)
	c.sourcePartition.Append(r.Partition)
	c.lookups.Append(r.Lookups)
}

func (c *ipMatchColumns) columns() []chColumn {
	return []chColumn{
		{"day", &c.day},
		{"match_source", &c.matchSource},
		{"class", &c.class},
		{"source_topic", &c.sourceTopic},
		{"source_partition", &c.sourcePartition},
		{"lookups", &c.lookups},
	}
}

func (c *ipMatchColumns) reset() {
	c.day.Reset()
	c.matchSource.Reset()
	c.class.Reset()
	c.sourceTopic.Reset()
	c.sourcePartition.Reset()
	c.lookups.Reset()
}

// rejectedColumns holds rejected_leads rows: leads that failed hygiene.
type rejectedColumns struct {
	at                                      proto.ColDateTime
	userID, anonymousID, email, phone, comp strColumn
	reasons, fields, values, details        stringArray
	source                                  sourceColumns
}

func (c *rejectedColumns) table() string { return "rejected_leads" }
func (c *rejectedColumns) len() int      { return c.at.Rows() }

func (c *rejectedColumns) add(r *rows.RejectedLead) {
	c.at.AppendRaw(dateTime(r.At))
	c.userID.Append(r.UserID)
	c.anonymousID.Append(r.AnonymousID)
	c.email.Append(r.Email)
	c.phone.Append(r.Phone)
	c.comp.Append(r.Company)
	c.reasons.add(r.Reasons)
	c.fields.add(r.Fields)
	c.values.add(r.Values)
	c.details.add(r.Details)
	c.source.add(r.Source)
}

func (c *rejectedColumns) columns() []chColumn {
	source := c.source.columns()
	return []chColumn{
		{"at", &c.at},
		{"user_id", &c.userID},
		{"anonymous_id", &c.anonymousID},
		{"email", &c.email},
		{"phone", &c.phone},
		{"company", &c.comp},
		{"reasons", c.reasons.column()},
		{"fields", c.fields.column()},
		{"field_values", c.values.column()},
		{"details", c.details.column()},
		source[0], source[1], source[2],
	}
}

func (c *rejectedColumns) reset() {
	c.at.Reset()
	c.userID.Reset()
	c.anonymousID.Reset()
	c.email.Reset()
	c.phone.Reset()
	c.comp.Reset()
	c.reasons.reset()
	c.fields.reset()
	c.values.reset()
	c.details.reset()
	c.source.reset()
}

// mergeColumns holds lead_merges rows: the de-duplication audit trail.
type mergeColumns struct {
	at                                          proto.ColDateTime
	leadID, existingID, matchedID, policy, kind strColumn
	rule                                        strColumn
	score                                       proto.ColFloat64
	action, owner, notifyOwner, leadSource      strColumn
	existingAt                                  proto.ColDateTime
	source                                      sourceColumns
}

func (c *mergeColumns) table() string { return "lead_merges" }
func (c *mergeColumns) len() int      { return c.at.Rows() }

func (c *mergeColumns) add(r *rows.LeadMerge) {
	c.at.AppendRaw(dateTime(r.At))
	c.leadID.Append(r.LeadID)
	c.existingID.Append(r.ExistingID)
	c.matchedID.Append(r.MatchedID)
	c.policy.Append(r.Policy)
	c.kind.Append(r.Kind)
	c.rule.Append(r.Rule)
	c.score.Append(r.Score)
	c.action.Append(r.Action)
	c.owner.Append(r.Owner)
	c.notifyOwner.Append(r.NotifyOwner)
	c.leadSource.Append(r.LeadSource)
	c.existingAt.AppendRaw(dateTime(r.ExistingAt))
	c.source.add(r.Source)
}

func (c *mergeColumns) columns() []chColumn {
	source := c.source.columns()
	return []chColumn{
		{"at", &c.at},
		{"lead_id", &c.leadID},
		{"existing_id", &c.existingID},
		{"matched_id", &c.matchedID},
		{"policy", &c.policy},
		{"kind", &c.kind},
		{"rule", &c.rule},
		{"score", &c.score},
		{"action", &c.action},
		{"owner", &c.owner},
		{"notify_owner", &c.notifyOwner},
		{"lead_source", &c.leadSource},
		{"existing_at", &c.existingAt},
		source[0], source[1], source[2],
	}
}

func (c *mergeColumns) reset() {
	c.at.Reset()
	c.leadID.Reset()
	c.existingID.Reset()
	c.matchedID.Reset()
	c.policy.Reset()
	c.kind.Reset()
	c.rule.Reset()
	c.score.Reset()
	c.action.Reset()
	c.owner.Reset()
	c.notifyOwner.Reset()
	c.leadSource.Reset()
	c.existingAt.Reset()
	c.source.reset()
}
