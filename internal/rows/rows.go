package rows

import "time"

// Reason is one rule's current contribution to a score: for an engagement
// rule its decayed points and the number of events it counted (pricing
// page +17.4 from 3 events); for a fit attribute its points (Count 0).
type Reason struct {
	Rule     string  `json:"rule"`
	Category string  `json:"category"`
	Points   float64 `json:"points"`
	Count    uint32  `json:"count"`
}

// Source names the input record a row was derived from. Together with the
// account and contact it is the row's deterministic identity: replaying the
// same input yields the same identity, so ReplacingMergeTree keeps one row.
type Source struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
}

// ScoreChange is an emitted score change: a row of score_changes and a record
// of the score-changes topic.
type ScoreChange struct {
	AccountID     string    `json:"account_id"`
	ContactID     string    `json:"contact_id"`
	Score         float64   `json:"score"`
	Fit           float64   `json:"fit"`
	Engagement    float64   `json:"engagement"`
	Grade         string    `json:"grade"`
	Level         uint8     `json:"level"`
	Label         string    `json:"label"`
	Stage         string    `json:"stage"`
	PreviousLabel string    `json:"previous_label"`
	PreviousStage string    `json:"previous_stage"`
	PreviousScore float64   `json:"previous_score"`
	Reasons       []Reason  `json:"reasons"`
	RulesVersion  string    `json:"rules_version"`
	AsOf          time.Time `json:"as_of"`
	Source        Source    `json:"source"`
	// Intent is the intent component, 0..100 (0 without an intent section).
	Intent float64 `json:"intent"`
	// Persona is a contact's persona (the matching fit.persona title
	// pattern); empty on account rows and for titles matching none.
	Persona string `json:"persona"`
	// Cause says what produced the change: "event" (an event applied),
	// "decay" (event time passed a label or stage line, no event for this
	// account), "rules" (a new rules file re-scored the account), "merge"
	// (a duplicate lead's engagement was folded into this contact),
	// "correction" (an event that arrived late changed this row, written
	// before: same identity, new content) or "retraction" (see Retracted).
	Cause string `json:"cause"`
	// Retracted: an event that arrived late means event-time order does
	// not write this row at all. A retraction carries the row's identity
	// (account, contact, source) and replaces the row under FINAL; readers
	// skip retracted rows.
	Retracted bool `json:"retracted,omitempty"`
}

// The causes of a score change.
const (
	CauseEvent      = "event"
	CauseDecay      = "decay"
	CauseRules      = "rules"
	CauseMerge      = "merge"
	CauseCorrection = "correction"
	CauseRetraction = "retraction"
)

// AccountScore is the latest score of an account (or contact): a row of
// account_scores. Version grows by one with every event applied to the
// account, so the newest row wins in ReplacingMergeTree and a replayed row
// carries the same version and content as the original.
type AccountScore struct {
	AccountID    string
	ContactID    string
	Score        float64
	Fit          float64
	Engagement   float64
	Grade        string
	Level        uint8
	Label        string
	Stage        string
	Reasons      []Reason
	RulesVersion string
	AsOf         time.Time
	Version      uint64
	Intent       float64
	Persona      string
	// BestTimes are the best hours of the week to reach the contact (or the
	// account's contacts), best first, as "Tue 10:00" in the contact's
	// time zone when known, else UTC.
	BestTimes []string
	// Tags are a contact's hygiene tags: what its last identify was found
	// suspicious for (email_freemail, email_role...).
	Tags []string
}

// RejectedLead is an identify that failed hygiene: a record of the
// rejected topic and a row of rejected_leads. Reasons, Fields, Values and
// Details are parallel: one entry per finding.
type RejectedLead struct {
	At          time.Time `json:"at"`
	UserID      string    `json:"user_id"`
	AnonymousID string    `json:"anonymous_id"`
	Email       string    `json:"email"`
	Phone       string    `json:"phone"`
	Company     string    `json:"company"`
	Reasons     []string  `json:"reasons"`
	Fields      []string  `json:"fields"`
	Values      []string  `json:"values"`
	Details     []string  `json:"details"`
	Source      Source    `json:"source"`
	// Raw is the original record, the Kafka record's value.
	Raw []byte `json:"-"`
}

// Handoff is a lead or account entering the mql stage: a record of the
// handoffs topic and a row of the handoffs table. It is emitted once per
// entry; a re-entry after falling back to lead emits again.
type Handoff struct {
	AccountID  string  `json:"account_id"`
	ContactID  string  `json:"contact_id"`
	Score      float64 `json:"score"`
	Fit        float64 `json:"fit"`
	Engagement float64 `json:"engagement"`
	Intent     float64 `json:"intent"`
	Label      string  `json:"label"`
	Stage      string  `json:"stage"`
	Persona    string  `json:"persona"`
	Title      string  `json:"title"`
	// Recommendation is the advice configured for the label
	// (handoff.recommendations), e.g. "call within 24 hours".
	Recommendation string    `json:"recommendation"`
	BestTimes      []string  `json:"best_times"`
	Reasons        []Reason  `json:"reasons"`
	RulesVersion   string    `json:"rules_version"`
	At             time.Time `json:"at"`
	Source         Source    `json:"source"`
	// Retracted: an event that arrived late shows the lead did not enter
	// mql here after all; the record carries the hand-off's identity
	// (account, contact, source). A corrected hand-off is written again
	// with the same identity and Retracted false.
	Retracted bool `json:"retracted,omitempty"`
}

// ScoreEvent is one event applied to an account (and its contact), with
// what each engagement rule it matched earned, undecayed: a row of
// score_events, the history leadscore explain lists newest first.
type ScoreEvent struct {
	AccountID string
	ContactID string
	At        time.Time
	Type      string // page, track, identify, group, alias
	Event     string // track event name
	Path      string // page path
	// Rules and Points are parallel: each matched rule's name and the
	// points the event earned for it after the rule's cap (0 when the cap
	// was full).
	Rules  []string
	Points []float64
	Source Source
	// Retracted: the row's identity (account, contact, at, source), which
	// event-time order does not write (see ScoreChange.Retracted).
	Retracted bool
}

// FunnelTransition is a change of stage: a row of funnel_transitions.
// Source, Medium and Campaign are the account's first-touch channel, the
// Last* fields its last-touch channel before the transition: the UTM
// campaign, or without one the referrer's host and class (search, social,
// email, direct, partner, referral).
type FunnelTransition struct {
	AccountID    string
	ContactID    string
	FromStage    string
	ToStage      string
	At           time.Time
	Source       string
	Medium       string
	Campaign     string
	LastSource   string
	LastMedium   string
	LastCampaign string
	RecordSource Source
	// Retracted: the row's identity (account, contact, at, stages,
	// source), which event-time order does not write (see
	// ScoreChange.Retracted).
	Retracted bool
}

// VisitorCompany is a company identified by its visitors' IP addresses: a
// row of visitor_companies, the latest per account (highest Version).
type VisitorCompany struct {
	AccountID    string
	Organisation string
	FirstSeen    time.Time
	LastSeen     time.Time
	// Sessions counts visits: page views more than 30 minutes after the
	// company's previous one start a new one.
	Sessions uint32
	Pages    uint32
	// TopPages are the most viewed paths, most first, with their views.
	TopPages     []string
	TopPageViews []uint32
	Confidence   float64
	MatchSource  string // override, mmdb or csv
	Version      uint64
}

// IPMatches counts the IP lookups an input partition made to resolve
// anonymous visitors on one UTC day, by match source and class (class
// "none" and source "" for addresses no range holds): a row of ip_matches.
// Lookups is cumulative, so the latest row per key has the highest.
type IPMatches struct {
	Day         time.Time
	MatchSource string
	Class       string
	Topic       string
	Partition   int32
	Lookups     uint64
}

// ContactChange is a change in a known contact's situation: a record of
// the contact-changes topic. Kind "job_changed": an identify of a contact
// linked to one company names another company domain (From, To). Kind
// "merged": de-duplication merged the lead UserID into the lead Into
// (accounts From, To) by Policy and Rule; Owner is the surviving lead's
// owner and NotifyOwner the previous owner to tell, when a reassign
// changed it. Kind "duplicate": a tag-only policy found UserID to
// duplicate Into; nothing moved.
type ContactChange struct {
	Kind        string    `json:"kind"`
	UserID      string    `json:"user_id"`
	AnonymousID string    `json:"anonymous_id"`
	Email       string    `json:"email"`
	From        string    `json:"from"`
	To          string    `json:"to"`
	At          time.Time `json:"at"`
	Source      Source    `json:"source"`
	Into        string    `json:"into,omitempty"`
	Policy      string    `json:"policy,omitempty"`
	Rule        string    `json:"rule,omitempty"`
	Owner       string    `json:"owner,omitempty"`
	NotifyOwner string    `json:"notify_owner,omitempty"`
}

// LeadMerge is a lead found to duplicate an earlier one: a row of
// lead_merges, the audit trail of de-duplication. Action is what the
// matching policy says to do (merge, reassign or tag); NotifyOwner the
// previous owner to tell when a reassign changes the owner.
type LeadMerge struct {
	At          time.Time
	LeadID      string
	ExistingID  string
	MatchedID   string
	Policy      string
	Kind        string
	Rule        string
	Score       float64
	Action      string
	Owner       string
	NotifyOwner string
	LeadSource  string
	ExistingAt  time.Time
	Source      Source
}

// Batch is what one worker hands to the sinks at once. Sinks copy what they
// keep; the caller may reuse the batch after Write returns.
type Batch struct {
	Changes     []ScoreChange
	Scores      []AccountScore
	Transitions []FunnelTransition
	Handoffs    []Handoff
	Events      []ScoreEvent
	Visitors    []VisitorCompany
	IPMatches   []IPMatches
	Rejected    []RejectedLead
	Contacts    []ContactChange
	Merges      []LeadMerge
}

// Len is the number of rows in b.
func (b *Batch) Len() int {
	return len(b.Changes) + len(b.Scores) + len(b.Transitions) + len(b.Handoffs) + len(b.Events) +
		len(b.Visitors) + len(b.IPMatches) + len(b.Rejected) + len(b.Contacts) + len(b.Merges)
}

// keepRows is the capacity Reset keeps per row kind whatever the use: a
// burst (a catch-up after a restart, a backlog) grows a batch to its size,
// and keeping that capacity for good would hold memory proportional to the
// burst. More is kept only while a quarter of it is used, so that steady
// big batches do not grow from nothing every cycle.
const keepRows = 4096

// Reset empties b, keeping its capacity for each kind up to keepRows rows
// or while the batch used a quarter of it.
func (b *Batch) Reset() {
	// Cleared, not only truncated: rows point into the events they came
	// from, which a kept capacity would otherwise hold on to.
	b.Changes = reset(b.Changes)
	b.Scores = reset(b.Scores)
	b.Transitions = reset(b.Transitions)
	b.Handoffs = reset(b.Handoffs)
	b.Events = reset(b.Events)
	b.Visitors = reset(b.Visitors)
	b.IPMatches = reset(b.IPMatches)
	b.Rejected = reset(b.Rejected)
	b.Contacts = reset(b.Contacts)
	b.Merges = reset(b.Merges)
}

func reset[T any](s []T) []T {
	if cap(s) > keepRows && len(s) < cap(s)/4 {
		return nil
	}
	clear(s)
	return s[:0]
}
