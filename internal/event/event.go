package event

import (
	"strings"
	"time"
)

// Type is a Segment call type.
type Type uint8

// The Segment call types leadscore reads.
const (
	TypeUnknown Type = iota
	TypePage
	TypeTrack
	TypeIdentify
	TypeGroup
	TypeAlias
)

// String returns the Segment spelling of t.
func (t Type) String() string {
	switch t {
	case TypePage:
		return "page"
	case TypeTrack:
		return "track"
	case TypeIdentify:
		return "identify"
	case TypeGroup:
		return "group"
	case TypeAlias:
		return "alias"
	}
	return "unknown"
}

// Event is one decoded Segment call. The decoder fills it in place, so a worker
// reuses one Event per record; nothing in it aliases the record's bytes
// except Raw.
type Event struct {
	Type        Type
	MessageID   string
	AnonymousID string
	UserID      string
	PreviousID  string // alias
	GroupID     string // group call
	Event       string // track event name
	// Time is the event time: timestamp, or the Segment correction from
	// originalTimestamp, sentAt and receivedAt when timestamp is absent. UTC.
	Time time.Time

	Context    Context
	Properties Properties
	Traits     Traits

	// Raw is the record the event was decoded from. It aliases the
	// caller's buffer and is valid only while the record is processed; it
	// serves [Event.Property], for rules on properties leadscore does not
	// decode. Nil for an event rebuilt from a summary, whose properties
	// object, if kept, is set with [Event.SetPropertiesJSON].
	Raw []byte

	props []byte // the properties object of an event without Raw
}

// SetPropertiesJSON gives an event rebuilt from a summary (Raw nil) the
// properties object of its record, a JSON object Decode accepted, which
// [Event.Property] and [Event.PropertiesJSON] then read. props is kept,
// not copied.
func (e *Event) SetPropertiesJSON(props []byte) { e.props = props }

// Context holds the used fields of Segment's context object.
type Context struct {
	IP       string
	GroupID  string
	Timezone string
	Page     Page
	Campaign Campaign
}

// Page is context.page.
type Page struct {
	URL      string
	Path     string
	Referrer string
	Title    string
}

// Campaign is context.campaign (UTM parameters).
type Campaign struct {
	Source  string
	Medium  string
	Name    string
	Term    string
	Content string
}

// Properties holds the used fields of a page or track call's properties.
type Properties struct {
	URL        string
	Path       string
	Title      string
	Referrer   string
	Topic      string  // Intent Signal
	Score      float64 // Intent Signal, 0..100
	HasScore   bool
	Source     string // Intent Signal
	Competitor string // Intent Signal
	Domain     string // Intent Signal / account-only events
	Amount     float64
	Currency   string

	// ScoreIgnored: properties.score was there but not a number (or a
	// number beyond float64). It reads as absent (HasScore false) instead
	// of refusing the event: properties are free-form, and a score of
	// "high" must not lose an event its other rules would score.
	ScoreIgnored bool
}

// Company is identify's traits.company.
type Company struct {
	Name      string
	Domain    string
	Industry  string
	Employees int64
	Country   string
}

// Traits holds identify traits (a person) and group traits (a company): Segment
// uses one object for both, so Name is the person's name on identify and the
// company's name on group.
type Traits struct {
	Email   string
	Phone   string
	Name    string
	Title   string
	Wechat  string
	Company Company // identify

	Domain       string // group
	Website      string // group
	Industry     string // group
	Employees    int64  // group; 0 when absent
	HasEmployees bool
	Country      string   // group
	Technologies []string // group
}

// PagePath is the path the rules match for a page call: properties.path, else
// context.page.path, else the path of properties.url or context.page.url.
func (e *Event) PagePath() string {
	if e.Properties.Path != "" {
		return e.Properties.Path
	}
	if e.Context.Page.Path != "" {
		return e.Context.Page.Path
	}
	u := e.Properties.URL
	if u == "" {
		u = e.Context.Page.URL
	}
	return urlPath(u)
}

// urlPath returns the path of a URL: what follows the host, up to '?' or '#'.
func urlPath(u string) string {
	if j := strings.Index(u, "://"); j >= 0 {
		u = u[j+3:]
	}
	k := strings.IndexByte(u, '/')
	if k < 0 {
		return "/"
	}
	p := u[k:]
	if n := strings.IndexAny(p, "?#"); n >= 0 {
		return p[:n]
	}
	return p
}
