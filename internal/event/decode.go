package event

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Reason is a stable code for why a record cannot be decoded. It is the value
// of the DLQ header leadscore.error.reason and a metric label, so the set is
// closed and the spellings never change.
type Reason string

// The reasons Decode reports, in the order it checks them.
const (
	ReasonTooLarge    Reason = "too_large"    // more than Limits.MaxBytes
	ReasonInvalidUTF8 Reason = "invalid_utf8" // not UTF-8, so not JSON (RFC 8259 §8.1)
	ReasonTooDeep     Reason = "too_deep"     // arrays/objects nested deeper than Limits.MaxDepth
	ReasonInvalidJSON Reason = "invalid_json" // JSON syntax error, including trailing bytes
	ReasonNotObject   Reason = "not_object"   // valid JSON whose top level is not an object
	ReasonWrongType   Reason = "wrong_type"   // a known field holds the wrong JSON type, or a number beyond float64
	// ReasonFieldTooLong: a string (key or value, known field or not) longer than Limits.MaxString.
	ReasonFieldTooLong      Reason = "field_too_long"
	ReasonMissingType       Reason = "missing_type"        // no type, or ""
	ReasonUnknownType       Reason = "unknown_type"        // type is not page, track, identify, group or alias
	ReasonMissingTimestamp  Reason = "missing_timestamp"   // neither timestamp nor originalTimestamp
	ReasonInvalidTimestamp  Reason = "invalid_timestamp"   // not RFC 3339, or before 1970
	ReasonFutureTimestamp   Reason = "future_timestamp"    // after 2106, or a year past 9999; the engine adds: beyond engine.max_future of its clock
	ReasonMissingIdentity   Reason = "missing_identity"    // page/track/identify without anonymousId and userId
	ReasonMissingEvent      Reason = "missing_event"       // track without event
	ReasonMissingGroupID    Reason = "missing_group_id"    // group without groupId
	ReasonMissingPreviousID Reason = "missing_previous_id" // alias without previousId or userId
)

var allReasons = [...]Reason{
	ReasonTooLarge, ReasonInvalidUTF8, ReasonTooDeep, ReasonInvalidJSON, ReasonNotObject,
	ReasonWrongType, ReasonFieldTooLong, ReasonMissingType, ReasonUnknownType,
	ReasonMissingTimestamp, ReasonInvalidTimestamp, ReasonFutureTimestamp, ReasonMissingIdentity, ReasonMissingEvent,
	ReasonMissingGroupID, ReasonMissingPreviousID,
}

// Reasons returns every reason Decode can report, in check order. Metrics use
// it to initialise their label values so a dashboard shows zeros, not gaps.
func Reasons() []Reason { return append([]Reason(nil), allReasons[:]...) }

// DecodeError reports a record that can never be decoded: a poison record the
// worker sends to the dead-letter topic and then treats as processed.
type DecodeError struct {
	Reason Reason
	// Detail says where and what, for a human reading the DLQ; it quotes at
	// most a short, valid UTF-8 excerpt of the input.
	Detail string
}

// Error implements error: "decode event: <reason>: <detail>".
func (e *DecodeError) Error() string {
	if e.Detail == "" {
		return "decode event: " + string(e.Reason)
	}
	return "decode event: " + string(e.Reason) + ": " + e.Detail
}

// maxDetail bounds DecodeError.Detail: it travels as a Kafka header.
const maxDetail = 256

func fail(r Reason, format string, args ...any) *DecodeError {
	d := fmt.Sprintf(format, args...)
	if len(d) > maxDetail {
		d = d[:maxDetail] + "..."
	}
	return &DecodeError{Reason: r, Detail: strings.Map(printable, strings.ToValidUTF8(d, "\uFFFD"))}
}

// printable blanks control characters, which input excerpts may contain.
func printable(r rune) rune {
	if r < 0x20 || r == 0x7f {
		return ' '
	}
	return r
}

// Limits bound the work and memory one record can cost. Checks against them
// run before the JSON is parsed, so a hostile record is rejected cheaply.
type Limits struct {
	MaxBytes  int // whole record
	MaxDepth  int // nesting of arrays and objects; the top-level object is depth 1
	MaxString int // bytes of any one decoded string, key or value
}

// DefaultLimits returns the limits the engine runs with unless configured:
//
//   - MaxBytes 1 MiB: Kafka's default max.message.bytes, so every record a
//     default broker accepts is considered. Segment itself caps a call at
//     32 KB; the headroom is for other producers (RudderStack, Jitsu) that
//     attach fat context objects.
//   - MaxDepth 32: Segment calls nest 3 to 5 levels (context.page,
//     traits.company, arrays of objects in custom properties). 32 leaves room
//     for custom properties while bounding the decoder's recursion.
//   - MaxString 64 KiB: the longest legitimate strings are URLs and referrers
//     (browsers and CDNs cap those between 8 and 64 KiB). Identifiers and
//     names from a record may live in partition state for weeks, so one field
//     must not be able to pin a megabyte.
func DefaultLimits() Limits {
	return Limits{MaxBytes: 1 << 20, MaxDepth: 32, MaxString: 64 << 10}
}

// Validate reports every non-positive limit.
func (l Limits) Validate() error {
	var errs []error
	if l.MaxBytes <= 0 {
		errs = append(errs, fmt.Errorf("max bytes %d: must be positive", l.MaxBytes))
	}
	if l.MaxDepth <= 0 {
		errs = append(errs, fmt.Errorf("max depth %d: must be positive", l.MaxDepth))
	}
	if l.MaxString <= 0 {
		errs = append(errs, fmt.Errorf("max string %d: must be positive", l.MaxString))
	}
	return errors.Join(errs...)
}

// orDefault replaces each non-positive limit with its default, so a zero or
// half-filled Limits never switches the protection off. Configuration should
// call Validate and refuse such values; this is the last line of defence.
func (l Limits) orDefault() Limits {
	d := DefaultLimits()
	if l.MaxBytes <= 0 {
		l.MaxBytes = d.MaxBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = d.MaxDepth
	}
	if l.MaxString <= 0 {
		l.MaxString = d.MaxString
	}
	return l
}

// Decode parses one Segment call from data into ev. It resets ev first and
// leaves it zero on error. The error is always a *DecodeError: a record that
// fails here fails the same way on every retry.
//
// Checks run cheapest first and the first failing one decides the reason:
// size, UTF-8, nesting depth, JSON syntax, top-level object, field types,
// string lengths, then the Segment semantics (type, time, identity, per-type
// required fields). Unknown keys are ignored. No string in ev aliases data;
// only ev.Raw does, so the caller may reuse the record's buffer once done
// with the event.
//
// Time is timestamp; without it, originalTimestamp, shifted by
// receivedAt - sentAt when both are present (Segment's clock-skew
// correction). The result is UTC.
//
// A single-pass parser reads the records it accepts without building
// anything but offsets, then copies the kept strings into one block carved
// from an 8 KiB slab that the events decoded before and after it share
// (slab, in parser.go), so in steady state decoding allocates next to
// nothing. A string kept from ev keeps that whole slab alive, so a caller
// storing one for long (a map key, partition state) must strings.Clone it
// (or intern it). The strings never change once Decode returned.
// Every record it does not accept, which includes every malformed record,
// is decoded again by the reference decoder, so reasons and details are the
// same as they always were.
func Decode(data []byte, ev *Event, lim Limits) error {
	*ev = Event{}
	lim = lim.orDefault()
	if len(data) > lim.MaxBytes {
		return fail(ReasonTooLarge, "%d bytes, limit %d", len(data), lim.MaxBytes)
	}
	var p parser
	if !p.parse(data, lim) {
		return decodeReference(data, ev, lim)
	}
	s := p.segment()
	typ, t, err := s.check()
	if err != nil {
		return err
	}
	p.build(ev)
	ev.Type, ev.Time, ev.Raw = typ, t, data
	return nil
}

// stringEnd returns the offset of the quote closing the string whose content
// starts at start, or -1. A quote is escaped when an odd number of
// backslashes precedes it; each run is counted once, so this is linear.
func stringEnd(data []byte, start int) int {
	for j := start; ; {
		k := bytes.IndexByte(data[j:], '"')
		if k < 0 {
			return -1
		}
		j += k
		bs := 0
		for m := j - 1; m >= start && data[m] == '\\'; m-- {
			bs++
		}
		if bs%2 == 0 {
			return j
		}
		j++
	}
}

func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		}
	}
	return r
}

// segment is what the Segment semantics read of a parsed call. Both
// decoders fill one, so both check a call the same way. Strings may alias
// the record: nothing may keep them.
type segment struct {
	typ                                         string
	timestamp, originalTimestamp, sentAt, recvd string
	// Whether these hold a non-empty string.
	anonymousID, userID, previousID, groupID, event, contextGroupID, propertiesDomain bool
}

// check applies the Segment semantics to a call: type, time, identity, then
// the per-type required fields.
func (s *segment) check() (Type, time.Time, error) {
	var typ Type
	switch s.typ {
	case "":
		return 0, time.Time{}, fail(ReasonMissingType, "type is absent or empty")
	case "page":
		typ = TypePage
	case "track":
		typ = TypeTrack
	case "identify":
		typ = TypeIdentify
	case "group":
		typ = TypeGroup
	case "alias":
		typ = TypeAlias
	default:
		return 0, time.Time{}, fail(ReasonUnknownType, "type %q", truncate(s.typ))
	}

	t, err := s.eventTime()
	if err != nil {
		return 0, time.Time{}, err
	}

	person := s.anonymousID || s.userID
	switch typ {
	case TypePage, TypeIdentify:
		if !person {
			return 0, time.Time{}, fail(ReasonMissingIdentity, "%s without anonymousId or userId", typ)
		}
	case TypeTrack:
		// Intent and CRM events may name only an account (contract §1).
		if !person && !s.contextGroupID && !s.propertiesDomain {
			return 0, time.Time{}, fail(ReasonMissingIdentity, "track without anonymousId, userId, context.groupId or properties.domain")
		}
		if !s.event {
			return 0, time.Time{}, fail(ReasonMissingEvent, "track without event")
		}
	case TypeGroup:
		if !s.groupID {
			return 0, time.Time{}, fail(ReasonMissingGroupID, "group without groupId")
		}
	case TypeAlias:
		if !s.previousID {
			return 0, time.Time{}, fail(ReasonMissingPreviousID, "alias without previousId")
		}
		if !s.userID {
			return 0, time.Time{}, fail(ReasonMissingPreviousID, "alias without userId")
		}
	}
	return typ, t, nil
}

// fill checks the Segment semantics of a parsed call and copies it into ev.
func (w *wire) fill(ev *Event) error {
	s := segment{
		typ:               w.Type.view(),
		timestamp:         w.Timestamp.view(),
		originalTimestamp: w.OriginalTimestamp.view(),
		sentAt:            w.SentAt.view(),
		recvd:             w.ReceivedAt.view(),
		anonymousID:       w.AnonymousID != "",
		userID:            w.UserID != "",
		previousID:        w.PreviousID != "",
		groupID:           w.GroupID != "",
		event:             w.Event != "",
		contextGroupID:    w.Context.GroupID != "",
		propertiesDomain:  w.Properties.Domain != "",
	}
	typ, t, err := s.check()
	if err != nil {
		return err
	}

	*ev = Event{
		Type:        typ,
		MessageID:   w.MessageID,
		AnonymousID: string(w.AnonymousID),
		UserID:      string(w.UserID),
		PreviousID:  string(w.PreviousID),
		GroupID:     string(w.GroupID),
		Event:       w.Event,
		Time:        t,
		Context: Context{
			IP:       w.Context.IP,
			GroupID:  string(w.Context.GroupID),
			Timezone: w.Context.Timezone,
			Page:     Page(w.Context.Page),
			Campaign: Campaign(w.Context.Campaign),
		},
		Properties: Properties{
			URL:        w.Properties.URL,
			Path:       w.Properties.Path,
			Title:      w.Properties.Title,
			Referrer:   w.Properties.Referrer,
			Topic:      w.Properties.Topic,
			Score:      w.Properties.Score.v,
			HasScore:   w.Properties.Score.set,
			Source:     w.Properties.Source,
			Competitor: w.Properties.Competitor,
			Domain:     w.Properties.Domain,
			Amount:     w.Properties.Amount.v,
			Currency:   w.Properties.Currency,
		},
		Traits: Traits{
			Email:  w.Traits.Email,
			Phone:  w.Traits.Phone,
			Name:   w.Traits.Name,
			Title:  w.Traits.Title,
			Wechat: w.Traits.Wechat,
			Company: Company{
				Name:      w.Traits.Company.Name,
				Domain:    w.Traits.Company.Domain,
				Industry:  w.Traits.Company.Industry,
				Employees: w.Traits.Company.Employees.int(),
				Country:   w.Traits.Company.Country,
			},
			Domain:       w.Traits.Domain,
			Website:      w.Traits.Website,
			Industry:     w.Traits.Industry,
			Employees:    w.Traits.Employees.int(),
			HasEmployees: w.Traits.Employees.set,
			Country:      w.Traits.Country,
			Technologies: technologies(w.Traits.Technologies),
		},
	}
	ev.Properties.ScoreIgnored = w.Properties.Score.bad
	return nil
}

// technologies returns nil for an empty list, so "[]" and an absent key read
// the same.
func technologies(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

// The event times Decode accepts: what ClickHouse's DateTime stores. Before
// is a broken clock (invalid_timestamp); after is the future of any clock
// (future_timestamp). Either would break the sinks.
var (
	minTime = time.Unix(0, 0).UTC()
	maxTime = time.Unix(1<<32-1, 0).UTC() // 2106-02-07T06:28:15Z
)

// eventTime applies Segment's rule: timestamp; else originalTimestamp,
// corrected for the client's clock skew by receivedAt - sentAt when both are
// present. Fields a rule does not use are not parsed.
func (s *segment) eventTime() (time.Time, error) {
	if s.timestamp != "" {
		return parseTime("timestamp", s.timestamp)
	}
	if s.originalTimestamp == "" {
		return time.Time{}, fail(ReasonMissingTimestamp, "neither timestamp nor originalTimestamp")
	}
	orig, err := parseTime("originalTimestamp", s.originalTimestamp)
	if err != nil || s.sentAt == "" || s.recvd == "" {
		return orig, err
	}
	sent, err := parseTime("sentAt", s.sentAt)
	if err != nil {
		return time.Time{}, err
	}
	recv, err := parseTime("receivedAt", s.recvd)
	if err != nil {
		return time.Time{}, err
	}
	// All three lie within 1970..2106, so the durations cannot saturate.
	t := recv.Add(-sent.Sub(orig))
	if t.Before(minTime) {
		return time.Time{}, fail(ReasonInvalidTimestamp, "corrected originalTimestamp %s is before 1970", t.Format(time.RFC3339))
	}
	if t.After(maxTime) {
		return time.Time{}, fail(ReasonFutureTimestamp, "corrected originalTimestamp %s is after 2106", t.Format(time.RFC3339))
	}
	return t, nil
}

// parseTime parses s, which may alias the record: nothing may keep it.
func parseTime(field, s string) (time.Time, error) {
	t, ok := parseUTC(s)
	var err error
	if !ok {
		t, err = time.Parse(time.RFC3339Nano, s)
	}
	if err != nil {
		if bigYear(s) {
			return time.Time{}, fail(ReasonFutureTimestamp, "%s: %q: a year after 9999", field, truncate(s))
		}
		return time.Time{}, fail(ReasonInvalidTimestamp, "%s: not RFC 3339: %q", field, truncate(s))
	}
	if t.Before(minTime) {
		return time.Time{}, fail(ReasonInvalidTimestamp, "%s: %q is before 1970", field, truncate(s))
	}
	if t.After(maxTime) {
		return time.Time{}, fail(ReasonFutureTimestamp, "%s: %q is after 2106", field, truncate(s))
	}
	return t.UTC(), nil
}

// bigYear reports whether s is RFC 3339 but for a year of five digits or
// more (what Go's Format writes for time.Unix(math.MaxInt64, 0):
// "292277026596-12-04T15:30:07Z"), which time.Parse refuses: a time in the
// future of any clock, not a malformed one.
func bigYear(s string) bool {
	n := 0
	for n < len(s) && n <= 20 && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	if n < 5 || n > 20 || s[0] == '0' {
		return false
	}
	_, err := time.Parse(time.RFC3339Nano, "2000"+s[n:])
	return err == nil
}

// parseUTC reads the form nearly every producer sends,
// 2006-01-02T15:04:05Z with an optional fraction of 1 to 9 digits, without
// time.Parse; ok is false for anything else (offsets, leap seconds, out of
// range fields), which time.Parse then reads.
func parseUTC(s string) (time.Time, bool) {
	if len(s) < 20 || s[len(s)-1] != 'Z' || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	num := func(i, n int) (int, bool) {
		v := 0
		for _, c := range []byte(s[i : i+n]) {
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		return v, true
	}
	year, ok1 := num(0, 4)
	month, ok2 := num(5, 2)
	day, ok3 := num(8, 2)
	hour, ok4 := num(11, 2)
	minute, ok5 := num(14, 2)
	sec, ok6 := num(17, 2)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 ||
		day > daysIn(time.Month(month), year) || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	nsec := 0
	if rest := s[19 : len(s)-1]; rest != "" {
		if len(rest) < 2 || len(rest) > 10 || rest[0] != '.' {
			return time.Time{}, false
		}
		f, ok := num(20, len(rest)-1)
		if !ok {
			return time.Time{}, false
		}
		for range 10 - len(rest) {
			f *= 10
		}
		nsec = f
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC), true
}

// daysIn is the number of days of month m in year y.
func daysIn(m time.Month, y int) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// truncate shortens an input excerpt quoted in a Detail.
func truncate(s string) string {
	const n = 64
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
