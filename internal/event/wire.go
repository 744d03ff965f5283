package event

import (
	"bytes"
	"math"
	"reflect"
	"strconv"
	"unsafe"

	"github.com/segmentio/encoding/json"
)

// wire mirrors the JSON of a Segment call, only the keys leadscore reads:
// the reference decoder's target, and the specification of the fast
// parser's (see parser.go). The parser copies every string out of the input,
// so nothing here (and so nothing in Event) aliases the record's bytes.
type wire struct {
	Type              scratch        `json:"type"`
	MessageID         string         `json:"messageId"`
	AnonymousID       idString       `json:"anonymousId"`
	UserID            idString       `json:"userId"`
	PreviousID        idString       `json:"previousId"`
	GroupID           idString       `json:"groupId"`
	Event             string         `json:"event"`
	Timestamp         scratch        `json:"timestamp"`
	OriginalTimestamp scratch        `json:"originalTimestamp"`
	SentAt            scratch        `json:"sentAt"`
	ReceivedAt        scratch        `json:"receivedAt"`
	Context           wireContext    `json:"context"`
	Properties        wireProperties `json:"properties"`
	Traits            wireTraits     `json:"traits"`
}

type wireContext struct {
	IP       string       `json:"ip"`
	GroupID  idString     `json:"groupId"`
	Timezone string       `json:"timezone"`
	Page     wirePage     `json:"page"`
	Campaign wireCampaign `json:"campaign"`
}

// wirePage and wireCampaign have Page's and Campaign's fields in the same
// order, so fill converts them directly.
type wirePage struct {
	URL      string `json:"url"`
	Path     string `json:"path"`
	Referrer string `json:"referrer"`
	Title    string `json:"title"`
}

type wireCampaign struct {
	Source  string `json:"source"`
	Medium  string `json:"medium"`
	Name    string `json:"name"`
	Term    string `json:"term"`
	Content string `json:"content"`
}

type wireProperties struct {
	URL        string      `json:"url"`
	Path       string      `json:"path"`
	Title      string      `json:"title"`
	Referrer   string      `json:"referrer"`
	Topic      string      `json:"topic"`
	Score      looseNumber `json:"score"`
	Source     string      `json:"source"`
	Competitor string      `json:"competitor"`
	Domain     string      `json:"domain"`
	Amount     flexNumber  `json:"amount"`
	Currency   string      `json:"currency"`
}

type wireTraits struct {
	Email        string      `json:"email"`
	Phone        string      `json:"phone"`
	Name         string      `json:"name"`
	Title        string      `json:"title"`
	Wechat       string      `json:"wechat"`
	Company      wireCompany `json:"company"`
	Domain       string      `json:"domain"`
	Website      string      `json:"website"`
	Industry     string      `json:"industry"`
	Employees    flexNumber  `json:"employees"`
	Country      string      `json:"country"`
	Technologies []string    `json:"technologies"`
}

type wireCompany struct {
	Name      string     `json:"name"`
	Domain    string     `json:"domain"`
	Industry  string     `json:"industry"`
	Employees flexNumber `json:"employees"`
	Country   string     `json:"country"`
}

// longField returns the path and decoded length of the first known string
// field longer than max, or "" if there is none.
func (w *wire) longField(max int) (string, int) {
	fields := [...]struct {
		path string
		s    string
	}{
		{"type", w.Type.view()}, {"messageId", w.MessageID}, {"anonymousId", string(w.AnonymousID)},
		{"userId", string(w.UserID)}, {"previousId", string(w.PreviousID)}, {"groupId", string(w.GroupID)},
		{"event", w.Event}, {"timestamp", w.Timestamp.view()}, {"originalTimestamp", w.OriginalTimestamp.view()},
		{"sentAt", w.SentAt.view()}, {"receivedAt", w.ReceivedAt.view()},
		{"context.ip", w.Context.IP}, {"context.groupId", string(w.Context.GroupID)},
		{"context.timezone", w.Context.Timezone},
		{"context.page.url", w.Context.Page.URL}, {"context.page.path", w.Context.Page.Path},
		{"context.page.referrer", w.Context.Page.Referrer}, {"context.page.title", w.Context.Page.Title},
		{"context.campaign.source", w.Context.Campaign.Source}, {"context.campaign.medium", w.Context.Campaign.Medium},
		{"context.campaign.name", w.Context.Campaign.Name}, {"context.campaign.term", w.Context.Campaign.Term},
		{"context.campaign.content", w.Context.Campaign.Content},
		{"properties.url", w.Properties.URL}, {"properties.path", w.Properties.Path},
		{"properties.title", w.Properties.Title}, {"properties.referrer", w.Properties.Referrer},
		{"properties.topic", w.Properties.Topic}, {"properties.source", w.Properties.Source},
		{"properties.competitor", w.Properties.Competitor}, {"properties.domain", w.Properties.Domain},
		{"properties.currency", w.Properties.Currency},
		{"traits.email", w.Traits.Email}, {"traits.phone", w.Traits.Phone}, {"traits.name", w.Traits.Name},
		{"traits.title", w.Traits.Title}, {"traits.wechat", w.Traits.Wechat},
		{"traits.company.name", w.Traits.Company.Name}, {"traits.company.domain", w.Traits.Company.Domain},
		{"traits.company.industry", w.Traits.Company.Industry}, {"traits.company.country", w.Traits.Company.Country},
		{"traits.domain", w.Traits.Domain}, {"traits.website", w.Traits.Website},
		{"traits.industry", w.Traits.Industry}, {"traits.country", w.Traits.Country},
	}
	for _, f := range fields {
		if len(f.s) > max {
			return f.path, len(f.s)
		}
	}
	for _, s := range w.Traits.Technologies {
		if len(s) > max {
			return "traits.technologies", len(s)
		}
	}
	return "", 0
}

// scratch is a string Decode only looks at (type and the time fields). It
// aliases the record instead of copying it, so it must not reach the Event;
// Decode clears the wire before it returns.
type scratch struct{ b []byte }

// UnmarshalJSON implements json.Unmarshaler.
func (s *scratch) UnmarshalJSON(b []byte) error {
	switch b[0] {
	case 'n':
		s.b = nil
	case '"':
		if bytes.IndexByte(b, '\\') < 0 {
			s.b = b[1 : len(b)-1]
			return nil
		}
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		s.b = []byte(v)
	default:
		return typeError(b, typeScratch)
	}
	return nil
}

// String returns a copy of s.
func (s scratch) String() string { return string(s.b) }

// view returns s as a string that aliases the record: for use within Decode.
func (s scratch) view() string { return unsafe.String(unsafe.SliceData(s.b), len(s.b)) }

// idString is an identifier Segment allows as a string or a number
// (analytics libraries pass numeric database ids through). A number keeps its
// JSON spelling: 42 becomes "42". null is absent.
type idString string

// UnmarshalJSON implements json.Unmarshaler. b is one complete, valid JSON
// value; it aliases the record, so the result is always a copy.
func (s *idString) UnmarshalJSON(b []byte) error {
	switch b[0] {
	case 'n':
		*s = ""
	case '"':
		if bytes.IndexByte(b, '\\') < 0 {
			*s = idString(b[1 : len(b)-1])
			return nil
		}
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = idString(v)
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		*s = idString(b)
	default:
		return typeError(b, typeID)
	}
	return nil
}

// flexNumber is a number real payloads send either as a JSON number or as a
// string holding one ("250"). null is absent; anything else, including a
// string that is not a JSON number, is the wrong type, and a number beyond
// float64 is out of range.
type flexNumber struct {
	v   float64
	set bool
	// bad: a looseNumber that held something else, ignored.
	bad bool
}

// UnmarshalJSON implements json.Unmarshaler.
func (n *flexNumber) UnmarshalJSON(b []byte) error {
	*n = flexNumber{}
	if b[0] == 'n' {
		return nil
	}
	num := b
	if b[0] == '"' {
		num = b[1 : len(b)-1]
	}
	if !isNumber(num) {
		return typeError(b, typeNumber)
	}
	// ParseFloat does not keep its argument (errors carry a copy).
	v, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(num), len(num)), 64)
	if err != nil || math.IsInf(v, 0) {
		return rangeError(b)
	}
	n.v, n.set = v, true
	return nil
}

// looseNumber is a flexNumber where payloads are free-form (properties):
// whatever else it holds, it is absent and marked bad, never an error.
type looseNumber struct{ flexNumber }

// UnmarshalJSON implements json.Unmarshaler.
func (n *looseNumber) UnmarshalJSON(b []byte) error {
	if n.flexNumber.UnmarshalJSON(b) != nil {
		n.flexNumber = flexNumber{bad: true}
	}
	return nil
}

// int returns n as an integer count, truncated toward zero and saturated at
// the int64 range.
func (n flexNumber) int() int64 {
	switch {
	case !n.set:
		return 0
	case n.v >= math.MaxInt64:
		return math.MaxInt64
	case n.v <= math.MinInt64:
		return math.MinInt64
	}
	return int64(n.v)
}

// isNumber reports whether b is exactly a JSON number (RFC 8259 §6): no
// spaces, signs other than a leading '-', hex, "Inf" or "NaN".
func isNumber(b []byte) bool {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return false
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return false
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	return i == len(b)
}

// outOfRange is the type rangeError names: a number beyond float64.
type outOfRange struct{}

// rangeError reports a number beyond float64 (1e400) as a type error with
// the type outOfRange, so the parser prepends the field path as it does to
// type errors, and unmarshal tells it apart. Value holds the number's JSON
// text, shortened.
func rangeError(b []byte) error {
	v := string(b)
	if len(v) > 32 {
		v = v[:32] + "..."
	}
	return &json.UnmarshalTypeError{Value: v, Type: typeOutOfRange}
}

// typeError builds the error the parser itself reports for a mistyped field,
// so unmarshal handles both alike; the parser prepends the field path.
func typeError(b []byte, t reflect.Type) error {
	p := b
	if len(p) > 32 {
		p = p[:32]
	}
	return &json.UnmarshalTypeError{Value: strconv.Quote(string(p)), Type: t}
}
