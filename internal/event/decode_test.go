package event

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const ts = `"timestamp":"2026-01-05T10:00:00Z"`

var t0 = time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)

// decodeOK decodes s and fails the test on any error.
func decodeOK(t *testing.T, s string) Event {
	t.Helper()
	var ev Event
	require.NoError(t, Decode([]byte(s), &ev, DefaultLimits()), "input %s", s)
	return ev
}

// decodeErr decodes s with lim and returns the *DecodeError it must yield.
func decodeErr(t *testing.T, s string, lim Limits) *DecodeError {
	t.Helper()
	var ev Event
	err := Decode([]byte(s), &ev, lim)
	require.Error(t, err, "input %.200s", s)
	de, ok := errors.AsType[*DecodeError](err)
	require.True(t, ok, "error %T is not a *DecodeError", err)
	require.Equal(t, Event{}, ev, "event must be zero after an error")
	return de
}

func TestDecodeEveryField(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Event
	}{{
		name: "page with context and properties",
		in: `{"type":"page","messageId":"m-1","anonymousId":"anon-1","userId":"user-1",` + ts + `,
			"context":{"ip":"203.0.113.7","groupId":"northwind-42.io","timezone":"Europe/Berlin",
				"page":{"url":"https://x.example/pricing?a=1","path":"/pricing","referrer":"https://www.google.com/","title":"Pricing"},
				"campaign":{"source":"google","medium":"cpc","name":"brand","term":"lead scoring","content":"ad-1"},
				"userAgent":"Mozilla/5.0","library":{"name":"analytics.js","version":"5.2.0"}},
			"properties":{"url":"https://x.example/pricing","path":"/pricing","title":"Pricing","referrer":"https://www.google.com/","search":"","extra":[1,{"a":null}]},
			"integrations":{"All":true}}`,
		want: Event{
			Type: TypePage, MessageID: "m-1", AnonymousID: "anon-1", UserID: "user-1", Time: t0,
			Context: Context{
				IP: "203.0.113.7", GroupID: "northwind-42.io", Timezone: "Europe/Berlin",
				Page:     Page{URL: "https://x.example/pricing?a=1", Path: "/pricing", Referrer: "https://www.google.com/", Title: "Pricing"},
				Campaign: Campaign{Source: "google", Medium: "cpc", Name: "brand", Term: "lead scoring", Content: "ad-1"},
			},
			Properties: Properties{URL: "https://x.example/pricing", Path: "/pricing", Title: "Pricing", Referrer: "https://www.google.com/"},
		},
	}, {
		name: "track intent signal with only an account",
		in: `{"type":"track","event":"Intent Signal","messageId":"m-2",` + ts + `,"context":{"groupId":"acme.com"},
			"properties":{"topic":"lead scoring","score":87.5,"source":"bombora","competitor":"6sense","domain":"acme.com"}}`,
		want: Event{
			Type: TypeTrack, Event: "Intent Signal", MessageID: "m-2", Time: t0,
			Context:    Context{GroupID: "acme.com"},
			Properties: Properties{Topic: "lead scoring", Score: 87.5, HasScore: true, Source: "bombora", Competitor: "6sense", Domain: "acme.com"},
		},
	}, {
		name: "track crm outcome with numeric strings",
		in:   `{"type":"track","event":"Deal Won",` + ts + `,"properties":{"domain":"acme.com","amount":"125000.50","currency":"EUR","score":"0"}}`,
		want: Event{
			Type: TypeTrack, Event: "Deal Won", Time: t0,
			Properties: Properties{Domain: "acme.com", Amount: 125000.50, Currency: "EUR", Score: 0, HasScore: true},
		},
	}, {
		name: "identify with person traits and company",
		in: `{"type":"identify","anonymousId":"anon-1","userId":"user-1",` + ts + `,
			"traits":{"email":"li.wei@acme.cn","phone":"+86 10 5555 0101","name":"Li Wei","title":"CTO","wechat":"liwei88",
				"company":{"name":"Acme","domain":"acme.cn","industry":"software","employees":"250","country":"CN","plan":"x"},
				"createdAt":"2025-01-01T00:00:00Z"}}`,
		want: Event{
			Type: TypeIdentify, AnonymousID: "anon-1", UserID: "user-1", Time: t0,
			Traits: Traits{
				Email: "li.wei@acme.cn", Phone: "+86 10 5555 0101", Name: "Li Wei", Title: "CTO", Wechat: "liwei88",
				Company: Company{Name: "Acme", Domain: "acme.cn", Industry: "software", Employees: 250, Country: "CN"},
			},
		},
	}, {
		name: "group with firmographics",
		in: `{"type":"group","groupId":"Acme.COM","userId":"user-1",` + ts + `,
			"traits":{"name":"Acme Inc","domain":"acme.com","website":"https://acme.com","industry":"fintech",
				"employees":1200,"country":"US","technologies":["salesforce","segment"]}}`,
		want: Event{
			Type: TypeGroup, GroupID: "Acme.COM", UserID: "user-1", Time: t0,
			Traits: Traits{
				Name: "Acme Inc", Domain: "acme.com", Website: "https://acme.com", Industry: "fintech",
				Employees: 1200, HasEmployees: true, Country: "US", Technologies: []string{"salesforce", "segment"},
			},
		},
	}, {
		name: "alias",
		in:   `{"type":"alias","previousId":"anon-1","userId":"user-1",` + ts + `}`,
		want: Event{Type: TypeAlias, PreviousID: "anon-1", UserID: "user-1", Time: t0},
	}, {
		name: "numeric ids keep their JSON spelling",
		in:   `{"type":"alias","previousId":-7,"userId":1048576,"anonymousId":1.5e3,"groupId":42,` + ts + `}`,
		want: Event{Type: TypeAlias, PreviousID: "-7", UserID: "1048576", AnonymousID: "1.5e3", GroupID: "42", Time: t0},
	}, {
		name: "escapes and unicode in strings",
		in:   `{"type":"page","anonymousId":"a\"b\\c\u00e9\ud83d\ude00","userId":"\u4e2d",` + ts + `,"properties":{"title":"Tab\there"}}`,
		want: Event{Type: TypePage, AnonymousID: "a\"b\\cé😀", UserID: "中", Time: t0, Properties: Properties{Title: "Tab\there"}},
	}, {
		name: "nulls are absent",
		in: `{"type":"page","anonymousId":"a","userId":null,"messageId":null,` + ts + `,"context":null,
			"properties":{"score":null,"amount":null,"title":null},"traits":{"employees":null,"technologies":null,"company":null}}`,
		want: Event{Type: TypePage, AnonymousID: "a", Time: t0},
	}, {
		name: "an empty list is absent",
		in:   `{"type":"group","groupId":"g",` + ts + `,"traits":{"technologies":[]}}`,
		want: Event{Type: TypeGroup, GroupID: "g", Time: t0},
	}, {
		name: "keys are case-sensitive",
		in:   `{"type":"page","anonymousId":"a","UserId":"shadow","MessageID":"x",` + ts + `}`,
		want: Event{Type: TypePage, AnonymousID: "a", Time: t0},
	}, {
		name: "duplicate keys: the last wins",
		in:   `{"type":"track","event":"A","event":"B","anonymousId":"a",` + ts + `}`,
		want: Event{Type: TypeTrack, Event: "B", AnonymousID: "a", Time: t0},
	}, {
		name: "surrounding whitespace",
		in:   " \n\t{\"type\":\"page\",\"userId\":\"u\"," + ts + "}\r\n ",
		want: Event{Type: TypePage, UserID: "u", Time: t0},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := decodeOK(t, tt.in)
			require.Equal(t, tt.in, string(got.Raw), "Raw is the record")
			got.Raw = nil
			require.Equal(t, tt.want, got)
		})
	}
}

func TestDecodeReasons(t *testing.T) {
	def := DefaultLimits()
	small := Limits{MaxBytes: 200, MaxDepth: 4, MaxString: 24}
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	tests := []struct {
		name   string
		in     string
		lim    Limits
		reason Reason
		detail string // a substring of Detail
	}{
		{"too large", `{"type":"page","anonymousId":"a",` + ts + `,"x":"` + strings.Repeat("y", 200) + `"}`, small, ReasonTooLarge, "limit 200"},
		{"too large beats invalid utf8", "\xff" + strings.Repeat(" ", 200), small, ReasonTooLarge, ""},
		{"invalid utf8", "{\"type\":\"page\",\"x\":\"\xff\xfe\"}", def, ReasonInvalidUTF8, "offset 20"},
		{"invalid utf8: surrogate encoded in utf8", "{\"x\":\"\xed\xa0\x80\"}", def, ReasonInvalidUTF8, "offset 6"},
		{"invalid utf8 beats syntax", "{\xc3", def, ReasonInvalidUTF8, ""},
		{"too deep", `{"x":` + deep(4) + `}`, small, ReasonTooDeep, "deeper than 4"},
		{"too deep with default limits", `{"properties":{"x":` + deep(100) + `}}`, def, ReasonTooDeep, "deeper than 32"},
		{"too deep beats syntax", `{"x":` + strings.Repeat("[", 40), def, ReasonTooDeep, ""},
		{"brackets inside strings do not nest", `{"type":"page","anonymousId":"a",` + ts + `,"x":"` + strings.Repeat("[{", 40) + `\"[[[[["}`, def, "", ""},
		{"invalid json: truncated", `{"type":"page","anonymousId":"a","timest`, def, ReasonInvalidJSON, ""},
		{"invalid json: empty", ``, def, ReasonInvalidJSON, ""},
		{"invalid json: trailing bytes", `{"type":"page"} {}`, def, ReasonInvalidJSON, "trailing"},
		{"invalid json: trailing comma", `{"type":"page",}`, def, ReasonInvalidJSON, ""},
		{"invalid json: bad escape", `{"type":"pa\ge"}`, def, ReasonInvalidJSON, ""},
		{"invalid json: raw control char", "{\"type\":\"pa\nge\"}", def, ReasonInvalidJSON, ""},
		{"invalid json: single quotes", `{'type':'page'}`, def, ReasonInvalidJSON, ""},
		{"invalid json beats wrong type", `{"timestamp":1,}`, def, ReasonInvalidJSON, ""},
		{"not object: array", `[{"type":"page"}]`, def, ReasonNotObject, "array"},
		{"not object: null", `null`, def, ReasonNotObject, "null"},
		{"not object: string", ` "page" `, def, ReasonNotObject, "string"},
		{"not object: number", `42`, def, ReasonNotObject, "number"},
		{"wrong type: timestamp number", `{"type":"page","anonymousId":"a","timestamp":12345}`, def, ReasonWrongType, "timestamp: got number, want string"},
		{"wrong type: traits string", `{"type":"identify","userId":"u",` + ts + `,"traits":"x"}`, def, ReasonWrongType, "traits: got string, want object"},
		{"wrong type: nested path", `{"traits":{"company":{"employees":true}}}`, def, ReasonWrongType, "traits.company.employees: got boolean, want number or numeric string"},
		{"wrong type: array element", `{"traits":{"technologies":["a",{}]}}`, def, ReasonWrongType, "traits.technologies.1: got object, want string"},
		{"wrong type: id", `{"userId":["u"]}`, def, ReasonWrongType, "userId: got array, want string or number"},
		{"wrong type beats too long", `{"x":"` + strings.Repeat("y", 25) + `","type":1}`, small, ReasonWrongType, "type"},
		{"field too long: known field", `{"type":"page","anonymousId":"a",` + ts + `,"properties":{"title":"` + strings.Repeat("y", 25) + `"}}`, small, ReasonFieldTooLong, "properties.title: 25 bytes, limit 24"},
		{"field too long: unknown field", `{"type":"page","x":{"y":"` + strings.Repeat("y", 25) + `"}}`, small, ReasonFieldTooLong, "string at byte offset 24: 25 bytes"},
		{"field too long: key", `{"` + strings.Repeat("k", 25) + `":1}`, small, ReasonFieldTooLong, "offset 1"},
		{"field too long: array element", `{"traits":{"technologies":["` + strings.Repeat("y", 25) + `"]}}`, small, ReasonFieldTooLong, "traits.technologies"},
		{"field too long beats semantics", `{"x":"` + strings.Repeat("y", 25) + `"}`, small, ReasonFieldTooLong, ""},
		{"field too long with default limits", `{"type":"page","anonymousId":"a",` + ts + `,"properties":{"title":"` + strings.Repeat("y", 100<<10) + `"}}`, def, ReasonFieldTooLong, "properties.title: 102400 bytes, limit 65536"},
		{"missing type", `{"anonymousId":"a",` + ts + `}`, def, ReasonMissingType, ""},
		{"missing type: empty", `{"type":"","anonymousId":"a",` + ts + `}`, def, ReasonMissingType, ""},
		{"missing type: null", `{"type":null,"anonymousId":"a",` + ts + `}`, def, ReasonMissingType, ""},
		{"missing type beats missing timestamp", `{}`, def, ReasonMissingType, ""},
		{"unknown type: screen", `{"type":"screen","anonymousId":"a",` + ts + `}`, def, ReasonUnknownType, `"screen"`},
		{"unknown type: case-sensitive", `{"type":"Page","anonymousId":"a",` + ts + `}`, def, ReasonUnknownType, `"Page"`},
		{"unknown type beats missing timestamp", `{"type":"batch"}`, def, ReasonUnknownType, ""},
		{"missing timestamp", `{"type":"page","anonymousId":"a"}`, def, ReasonMissingTimestamp, ""},
		{"missing timestamp: empty", `{"type":"page","anonymousId":"a","timestamp":""}`, def, ReasonMissingTimestamp, ""},
		{"missing timestamp: only sentAt and receivedAt", `{"type":"page","anonymousId":"a","sentAt":"2026-01-05T10:00:00Z","receivedAt":"2026-01-05T10:00:00Z"}`, def, ReasonMissingTimestamp, ""},
		{"missing timestamp beats missing identity", `{"type":"page"}`, def, ReasonMissingTimestamp, ""},
		{"invalid timestamp: not rfc 3339", `{"type":"page","anonymousId":"a","timestamp":"2026-01-05 10:00:00"}`, def, ReasonInvalidTimestamp, "timestamp: not RFC 3339"},
		{"invalid timestamp: no zone", `{"type":"page","anonymousId":"a","timestamp":"2026-01-05T10:00:00"}`, def, ReasonInvalidTimestamp, ""},
		{"invalid timestamp: unix seconds string", `{"type":"page","anonymousId":"a","timestamp":"1767607200"}`, def, ReasonInvalidTimestamp, ""},
		{"invalid timestamp: day 32", `{"type":"page","anonymousId":"a","timestamp":"2026-01-32T10:00:00Z"}`, def, ReasonInvalidTimestamp, ""},
		{"invalid timestamp: before 1970", `{"type":"page","anonymousId":"a","timestamp":"1969-12-31T23:59:59Z"}`, def, ReasonInvalidTimestamp, "before 1970"},
		{"invalid timestamp: zero time", `{"type":"page","anonymousId":"a","timestamp":"0001-01-01T00:00:00Z"}`, def, ReasonInvalidTimestamp, "before 1970"},
		{"future timestamp: after 2106", `{"type":"page","anonymousId":"a","timestamp":"2106-02-07T06:28:16Z"}`, def, ReasonFutureTimestamp, "after 2106"},
		{"future timestamp: year 9999", `{"type":"page","anonymousId":"a","timestamp":"9999-12-31T23:59:59.999Z"}`, def, ReasonFutureTimestamp, "after 2106"},
		{"future timestamp: year 9999 with an offset", `{"type":"page","anonymousId":"a","timestamp":"9999-12-31T23:59:59+08:00"}`, def, ReasonFutureTimestamp, "after 2106"},
		// What Go writes for time.Unix(math.MaxInt64, 0).
		{"future timestamp: MaxInt64 seconds", `{"type":"page","anonymousId":"a","timestamp":"292277026596-12-04T15:30:07Z"}`, def, ReasonFutureTimestamp, "year after 9999"},
		{"future timestamp: year 10000", `{"type":"page","anonymousId":"a","timestamp":"10000-01-01T00:00:00Z"}`, def, ReasonFutureTimestamp, "year after 9999"},
		{"invalid timestamp: five-digit year, bad month", `{"type":"page","anonymousId":"a","timestamp":"10000-13-01T00:00:00Z"}`, def, ReasonInvalidTimestamp, "not RFC 3339"},
		{"invalid timestamp: five-digit year with a leading zero", `{"type":"page","anonymousId":"a","timestamp":"02026-01-01T00:00:00Z"}`, def, ReasonInvalidTimestamp, "not RFC 3339"},
		{"invalid timestamp: a number of seconds with a zone", `{"type":"page","anonymousId":"a","timestamp":"9223372036854775807Z"}`, def, ReasonInvalidTimestamp, "not RFC 3339"},
		{"future timestamp: hostile receivedAt beyond 2106", `{"type":"page","anonymousId":"a","originalTimestamp":"2026-01-05T10:00:00Z","sentAt":"2026-01-05T10:00:00Z","receivedAt":"9999-01-01T00:00:00Z"}`, def, ReasonFutureTimestamp, "receivedAt"},
		{"future timestamp: the correction lands after 2106", `{"type":"page","anonymousId":"a","originalTimestamp":"2106-01-01T00:00:00Z","sentAt":"2026-01-05T10:00:00Z","receivedAt":"2026-03-05T10:00:00Z"}`, def, ReasonFutureTimestamp, "corrected"},
		{"invalid timestamp: originalTimestamp", `{"type":"page","anonymousId":"a","originalTimestamp":"yesterday"}`, def, ReasonInvalidTimestamp, "originalTimestamp"},
		{"invalid timestamp: sentAt used by the correction", `{"type":"page","anonymousId":"a","originalTimestamp":"2026-01-05T10:00:00Z","sentAt":"x","receivedAt":"2026-01-05T10:00:00Z"}`, def, ReasonInvalidTimestamp, "sentAt"},
		{"invalid timestamp: receivedAt used by the correction", `{"type":"page","anonymousId":"a","originalTimestamp":"2026-01-05T10:00:00Z","sentAt":"2026-01-05T10:00:00Z","receivedAt":"x"}`, def, ReasonInvalidTimestamp, "receivedAt"},
		{"invalid timestamp: correction out of range", `{"type":"page","anonymousId":"a","originalTimestamp":"1970-01-01T00:00:00Z","sentAt":"2026-01-05T10:00:00Z","receivedAt":"2026-01-05T09:00:00Z"}`, def, ReasonInvalidTimestamp, "corrected"},
		{"invalid timestamp beats missing identity", `{"type":"page","timestamp":"x"}`, def, ReasonInvalidTimestamp, ""},
		{"missing identity: page", `{"type":"page",` + ts + `}`, def, ReasonMissingIdentity, "page"},
		{"missing identity: empty ids", `{"type":"page","anonymousId":"","userId":"",` + ts + `}`, def, ReasonMissingIdentity, ""},
		{"missing identity: identify", `{"type":"identify",` + ts + `,"traits":{"email":"a@b.c"}}`, def, ReasonMissingIdentity, "identify"},
		{"missing identity: track without person or account", `{"type":"track","event":"Demo Requested",` + ts + `}`, def, ReasonMissingIdentity, "track"},
		{"missing identity: page with only an account", `{"type":"page","context":{"groupId":"acme.com"},` + ts + `}`, def, ReasonMissingIdentity, ""},
		{"missing identity beats missing event", `{"type":"track",` + ts + `}`, def, ReasonMissingIdentity, ""},
		{"missing event", `{"type":"track","anonymousId":"a",` + ts + `}`, def, ReasonMissingEvent, ""},
		{"missing event: empty", `{"type":"track","event":"","context":{"groupId":"acme.com"},` + ts + `}`, def, ReasonMissingEvent, ""},
		{"missing group id", `{"type":"group","userId":"u",` + ts + `,"traits":{"name":"Acme"}}`, def, ReasonMissingGroupID, ""},
		{"missing group id: context.groupId is not enough", `{"type":"group","context":{"groupId":"acme.com"},` + ts + `}`, def, ReasonMissingGroupID, ""},
		{"missing previous id", `{"type":"alias","userId":"u",` + ts + `}`, def, ReasonMissingPreviousID, "previousId"},
		{"missing previous id: no userId", `{"type":"alias","previousId":"a","anonymousId":"a",` + ts + `}`, def, ReasonMissingPreviousID, "userId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.reason == "" {
				var ev Event
				require.NoError(t, Decode([]byte(tt.in), &ev, tt.lim))
				return
			}
			de := decodeErr(t, tt.in, tt.lim)
			require.Equal(t, tt.reason, de.Reason, "detail: %s", de.Detail)
			require.Contains(t, de.Detail, tt.detail)
			require.LessOrEqual(t, len(de.Detail), maxDetail+3)
		})
	}
}

// TestDecodeEveryReason checks that the reason table above reaches every code.
func TestDecodeEveryReason(t *testing.T) {
	src := map[Reason]string{
		ReasonTooLarge:          strings.Repeat(" ", 2<<20),
		ReasonInvalidUTF8:       "\xff",
		ReasonTooDeep:           strings.Repeat("[", 33),
		ReasonInvalidJSON:       "{",
		ReasonNotObject:         "[]",
		ReasonWrongType:         `{"type":1}`,
		ReasonFieldTooLong:      `{"x":"` + strings.Repeat("y", 64<<10+1) + `"}`,
		ReasonMissingType:       `{}`,
		ReasonUnknownType:       `{"type":"x"}`,
		ReasonMissingTimestamp:  `{"type":"page"}`,
		ReasonInvalidTimestamp:  `{"type":"page","timestamp":"x"}`,
		ReasonFutureTimestamp:   `{"type":"page","timestamp":"9999-01-01T00:00:00Z"}`,
		ReasonMissingIdentity:   `{"type":"page",` + ts + `}`,
		ReasonMissingEvent:      `{"type":"track","userId":"u",` + ts + `}`,
		ReasonMissingGroupID:    `{"type":"group",` + ts + `}`,
		ReasonMissingPreviousID: `{"type":"alias","userId":"u",` + ts + `}`,
	}
	require.Len(t, Reasons(), len(src))
	for _, r := range Reasons() {
		in, ok := src[r]
		require.True(t, ok, "no input for reason %s", r)
		require.Equal(t, r, decodeErr(t, in, DefaultLimits()).Reason)
	}
}

// TestDecodeWrongTypeEveryField puts a value of the wrong JSON kind into
// every field the decoder reads and expects the field's path in Detail.
func TestDecodeWrongTypeEveryField(t *testing.T) {
	strs := []string{
		"type", "messageId", "event", "timestamp", "originalTimestamp", "sentAt", "receivedAt",
		"context.ip", "context.timezone",
		"context.page.url", "context.page.path", "context.page.referrer", "context.page.title",
		"context.campaign.source", "context.campaign.medium", "context.campaign.name", "context.campaign.term", "context.campaign.content",
		"properties.url", "properties.path", "properties.title", "properties.referrer", "properties.topic",
		"properties.source", "properties.competitor", "properties.domain", "properties.currency",
		"traits.email", "traits.phone", "traits.name", "traits.title", "traits.wechat",
		"traits.company.name", "traits.company.domain", "traits.company.industry", "traits.company.country",
		"traits.domain", "traits.website", "traits.industry", "traits.country",
	}
	ids := []string{"anonymousId", "userId", "previousId", "groupId", "context.groupId"}
	// properties.score is lenient (TestDecodeScoreIgnored).
	nums := []string{"properties.amount", "traits.employees", "traits.company.employees"}
	objs := []string{"context", "context.page", "context.campaign", "properties", "traits", "traits.company"}

	check := func(t *testing.T, path, raw, want string) {
		t.Helper()
		in := nest(path, raw)
		de := decodeErr(t, in, DefaultLimits())
		require.Equal(t, ReasonWrongType, de.Reason, "input %s: %s", in, de.Detail)
		require.True(t, strings.HasPrefix(de.Detail, path+": "), "detail %q lacks path %q", de.Detail, path)
		require.Contains(t, de.Detail, "want "+want)
	}
	for _, p := range strs {
		for _, raw := range []string{`1`, `true`, `{}`, `[]`} {
			check(t, p, raw, "string")
		}
	}
	for _, p := range ids {
		for _, raw := range []string{`true`, `{}`, `["a"]`} {
			check(t, p, raw, "string or number")
		}
	}
	for _, p := range nums {
		for _, raw := range []string{`true`, `{}`, `[1]`, `"abc"`, `""`, `" 1"`, `"1 "`, `"0x10"`, `"NaN"`, `"Inf"`, `"+1"`, `"01"`, `"1."`, `"\u0031"`} {
			check(t, p, raw, "number or numeric string")
		}
	}
	for _, p := range objs {
		for _, raw := range []string{`"x"`, `1`, `true`, `[]`} {
			check(t, p, raw, "object")
		}
	}
	check(t, "traits.technologies", `"salesforce"`, "array of strings")
	check(t, "traits.technologies", `{}`, "array of strings")
	check(t, "traits.technologies.0", `true`, "string")
}

// TestDecodeNumberOutOfRange: a number beyond float64 in a field read as a
// number is refused with a detail that names the field and says so, not a
// generic type error.
func TestDecodeNumberOutOfRange(t *testing.T) {
	long := "1" + strings.Repeat("0", 400)
	tests := []struct{ path, raw, want string }{
		{"traits.employees", `1e400`, "traits.employees: 1e400 is out of range"},
		{"traits.employees", `"1e400"`, `traits.employees: "1e400" is out of range`},
		{"traits.employees", `-1e400`, "traits.employees: -1e400 is out of range"},
		{"traits.company.employees", `1e999`, "traits.company.employees: 1e999 is out of range"},
		{"properties.amount", `"-2E+400"`, `properties.amount: "-2E+400" is out of range`},
		{"traits.employees", long, "traits.employees: " + long[:32] + "... is out of range"},
	}
	for _, tt := range tests {
		in := `{"type":"group","groupId":"g",` + ts + `,` + strings.TrimSuffix(strings.TrimPrefix(nest(tt.path, tt.raw), "{"), "}") + `}`
		de := decodeErr(t, in, DefaultLimits())
		require.Equal(t, ReasonWrongType, de.Reason, "input %s", in)
		require.Equal(t, tt.want, de.Detail, "input %s", in)
	}
	// The largest float64 and the smallest denormal are in range; below
	// that a number reads as 0, as strconv.ParseFloat has it.
	ev := decodeOK(t, `{"type":"group","groupId":"g",`+ts+`,"traits":{"employees":1.7976931348623157e308,"company":{"employees":4e-324}}}`)
	require.Equal(t, int64(1<<63-1), ev.Traits.Employees)
	ev = decodeOK(t, `{"type":"group","groupId":"g",`+ts+`,"traits":{"employees":1e-400}}`)
	require.True(t, ev.Traits.HasEmployees)
	require.Zero(t, ev.Traits.Employees)
}

// TestDecodeScoreIgnored: properties.score is free-form like every property,
// so a value that is not a number loses only the score, never the event:
// the event decodes with HasScore false and ScoreIgnored set, and everything
// else it carries.
func TestDecodeScoreIgnored(t *testing.T) {
	intent := func(score string) string {
		return `{"type":"track","event":"Intent Signal",` + ts + `,"context":{"groupId":"acme.com"},` +
			`"properties":{"topic":"crm","score":` + score + `,"source":"bombora","competitor":"marketo"}}`
	}
	for _, raw := range []string{
		`"high"`, `""`, `" 71"`, `"\u0037\u0031"`, `"0x10"`, `"NaN"`, `true`, `false`, `{}`, `{"value":71}`, `[]`, `[71]`,
		`1e400`, `"1e400"`, `-1e999`,
	} {
		ev := decodeOK(t, intent(raw))
		require.False(t, ev.Properties.HasScore, "score %s", raw)
		require.True(t, ev.Properties.ScoreIgnored, "score %s", raw)
		require.Zero(t, ev.Properties.Score, "score %s", raw)
		require.Equal(t, "Intent Signal", ev.Event)
		require.Equal(t, "acme.com", ev.Context.GroupID)
		require.Equal(t, "crm", ev.Properties.Topic)
		require.Equal(t, "marketo", ev.Properties.Competitor)
		require.Equal(t, "bombora", ev.Properties.Source)
	}
	for raw, want := range map[string]float64{`71`: 71, `"71"`: 71, `-3.5`: -3.5, `"1e2"`: 100} {
		ev := decodeOK(t, intent(raw))
		require.True(t, ev.Properties.HasScore, "score %s", raw)
		require.False(t, ev.Properties.ScoreIgnored, "score %s", raw)
		require.Equal(t, want, ev.Properties.Score)
	}
	ev := decodeOK(t, intent(`null`))
	require.False(t, ev.Properties.HasScore)
	require.False(t, ev.Properties.ScoreIgnored, "null is absent, not ignored")

	// The last of repeated keys counts, as for every field.
	ev = decodeOK(t, intent(`"high","score":60`))
	require.Equal(t, 60.0, ev.Properties.Score)
	require.False(t, ev.Properties.ScoreIgnored)
	ev = decodeOK(t, intent(`60,"score":"high"`))
	require.False(t, ev.Properties.HasScore)
	require.True(t, ev.Properties.ScoreIgnored)
	ev = decodeOK(t, intent(`"high","score":null`))
	require.False(t, ev.Properties.ScoreIgnored)

	// What the record must still be is still checked inside a score.
	require.Equal(t, ReasonFieldTooLong, decodeErr(t, intent(`{"x":"`+strings.Repeat("y", 25)+`"}`), Limits{MaxBytes: 1 << 20, MaxDepth: 32, MaxString: 24}).Reason)
	require.Equal(t, ReasonTooDeep, decodeErr(t, intent(strings.Repeat("[", 40)+strings.Repeat("]", 40)), DefaultLimits()).Reason)
	require.Equal(t, ReasonInvalidJSON, decodeErr(t, intent(`tru`), DefaultLimits()).Reason)
	require.Equal(t, ReasonInvalidJSON, decodeErr(t, intent(`01`), DefaultLimits()).Reason)
}

// nest returns the JSON object that holds raw at the dotted path; a numeric
// last element makes an array.
func nest(path, raw string) string {
	parts := strings.Split(path, ".")
	if last := parts[len(parts)-1]; last == "0" {
		parts = parts[:len(parts)-1]
		raw = "[" + raw + "]"
	}
	for i := len(parts) - 1; i >= 0; i-- {
		raw = `{"` + parts[i] + `":` + raw + `}`
	}
	return raw
}

func TestDecodeNumbers(t *testing.T) {
	tests := []struct {
		raw  string
		want float64
	}{
		{`0`, 0}, {`42`, 42}, {`-3.5`, -3.5}, {`1e3`, 1000}, {`2.5E-1`, 0.25},
		{`"0"`, 0}, {`"42"`, 42}, {`"-3.5"`, -3.5}, {`"1e3"`, 1000}, {`"99.9"`, 99.9},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			ev := decodeOK(t, `{"type":"track","event":"x","userId":"u",`+ts+`,"properties":{"score":`+tt.raw+`,"amount":`+tt.raw+`}}`)
			require.Equal(t, tt.want, ev.Properties.Score)
			require.True(t, ev.Properties.HasScore)
			require.Equal(t, tt.want, ev.Properties.Amount)

			ev = decodeOK(t, `{"type":"group","groupId":"g",`+ts+`,"traits":{"employees":`+tt.raw+`,"company":{"employees":`+tt.raw+`}}}`)
			require.Equal(t, int64(tt.want), ev.Traits.Employees, "employees truncate toward zero")
			require.True(t, ev.Traits.HasEmployees)
			require.Equal(t, int64(tt.want), ev.Traits.Company.Employees)
		})
	}
	ev := decodeOK(t, `{"type":"group","groupId":"g",`+ts+`,"traits":{"employees":1e300}}`)
	require.Equal(t, int64(1<<63-1), ev.Traits.Employees, "employees saturate")
	ev = decodeOK(t, `{"type":"track","event":"x","userId":"u",`+ts+`,"properties":{"amount":5}}`)
	require.False(t, ev.Properties.HasScore, "absent score")
}

func TestDecodeTime(t *testing.T) {
	tests := []struct {
		name   string
		fields string
		want   time.Time
	}{
		{"utc", `"timestamp":"2026-01-05T10:00:00Z"`, t0},
		{"nanoseconds", `"timestamp":"2026-01-05T10:00:00.123456789Z"`, t0.Add(123456789)},
		{"milliseconds", `"timestamp":"2026-01-05T10:00:00.250Z"`, t0.Add(250 * time.Millisecond)},
		{"offset is converted to utc", `"timestamp":"2026-01-05T18:00:00+08:00"`, t0},
		{"negative offset", `"timestamp":"2026-01-05T05:00:00-05:00"`, t0},
		{"timestamp wins over the others", `"timestamp":"2026-01-05T10:00:00Z","originalTimestamp":"2020-01-01T00:00:00Z","sentAt":"x","receivedAt":"y"`, t0},
		{"originalTimestamp alone", `"originalTimestamp":"2026-01-05T10:00:00Z"`, t0},
		{"originalTimestamp with only sentAt", `"originalTimestamp":"2026-01-05T10:00:00Z","sentAt":"2026-01-05T10:00:05Z"`, t0},
		{"originalTimestamp with only receivedAt", `"originalTimestamp":"2026-01-05T10:00:00Z","receivedAt":"2026-01-05T12:00:00Z"`, t0},
		{
			// The client clock runs 1h fast; it sent the call 30s after it happened.
			"corrected for client clock skew",
			`"originalTimestamp":"2026-01-05T11:00:00Z","sentAt":"2026-01-05T11:00:30Z","receivedAt":"2026-01-05T10:00:31Z"`,
			t0.Add(time.Second),
		},
		{
			"corrected across offsets",
			`"originalTimestamp":"2026-01-05T19:00:00+08:00","sentAt":"2026-01-05T11:00:30Z","receivedAt":"2026-01-05T05:00:31-05:00"`,
			t0.Add(time.Second),
		},
		{"empty timestamp falls back", `"timestamp":"","originalTimestamp":"2026-01-05T10:00:00Z"`, t0},
		{"first valid second", `"timestamp":"1970-01-01T00:00:00Z"`, time.Unix(0, 0).UTC()},
		{"last valid second", `"timestamp":"2106-02-07T06:28:15Z"`, time.Unix(1<<32-1, 0).UTC()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := decodeOK(t, `{"type":"page","anonymousId":"a",`+tt.fields+`}`)
			require.True(t, tt.want.Equal(ev.Time), "got %v, want %v", ev.Time, tt.want)
			require.Equal(t, time.UTC, ev.Time.Location())
		})
	}
}

func TestDecodeLimitBoundaries(t *testing.T) {
	lim := Limits{MaxBytes: 1 << 10, MaxDepth: 3, MaxString: 20} // the timestamp is 20 bytes
	base := `{"type":"page","userId":"u","timestamp":"2026-01-05T10:00:00Z"`
	ok := func(s string) {
		t.Helper()
		var ev Event
		require.NoError(t, Decode([]byte(s), &ev, lim), "input %s", s)
	}
	fails := func(s string, r Reason) {
		t.Helper()
		require.Equal(t, r, decodeErr(t, s, lim).Reason)
	}

	// Size: exactly MaxBytes passes.
	pad := func(n int) string { return base + strings.Repeat(" ", n-len(base)-1) + "}" }
	ok(pad(lim.MaxBytes))
	fails(pad(lim.MaxBytes+1), ReasonTooLarge)

	// Depth: the top-level object is depth 1.
	ok(base + `,"x":[[1]]}`)
	fails(base+`,"x":[[[1]]]}`, ReasonTooDeep)
	ok(base + `,"x":{"y":{}}}`)
	fails(base+`,"x":{"y":{"z":{}}}}`, ReasonTooDeep)

	// Strings: decoded bytes count, not escaped ones.
	x := func(s string) string { return base + `,"x":"` + s + `"}` }
	ok(x(strings.Repeat("y", 20)))
	fails(x(strings.Repeat("y", 21)), ReasonFieldTooLong)
	ok(x(strings.Repeat(`\n`, 20)))                                                          // 40 raw bytes, 20 decoded
	fails(x(strings.Repeat(`\n`, 21)), ReasonFieldTooLong)                                   // 21 decoded
	ok(x(strings.Repeat(`\u00e9`, 10)))                                                      // 60 raw, 20 decoded
	ok(x(strings.Repeat(`\ud83d\ude00`, 5)))                                                 // 60 raw, 20 decoded
	fails(x(strings.Repeat(`\ud83d\ude00`, 5)+`\n`), ReasonFieldTooLong)                     // 21 decoded
	ok(x(strings.Repeat(`\ud83d`, 6) + "yy"))                                                // lone surrogates: 6 x U+FFFD + 2
	fails(x(strings.Repeat(`\ud83d`, 7)), ReasonFieldTooLong)                                // 21
	ok(x(strings.Repeat("é", 10)))                                                           // 20 bytes of UTF-8
	fails(x(strings.Repeat("é", 11)), ReasonFieldTooLong)                                    // 22
	ok(x(strings.Repeat(`\\`, 20)))                                                          // backslashes before the closing quote
	ok(x(strings.Repeat(`\"`, 20)))                                                          // escaped quotes
	fails(base+`,"properties":{"title":"`+strings.Repeat("y", 21)+`"}}`, ReasonFieldTooLong) // a known field

	// Non-positive limits fall back to the defaults instead of disabling them.
	var ev Event
	err := Decode([]byte(base+`,"x":`+strings.Repeat("[", 33)+strings.Repeat("]", 33)+`}`), &ev, Limits{})
	require.Equal(t, ReasonTooDeep, err.(*DecodeError).Reason)
	require.NoError(t, Decode([]byte(base+`,"x":"`+strings.Repeat("y", 60<<10)+`"}`), &ev, Limits{MaxDepth: 5}))
}

func TestLimitsValidate(t *testing.T) {
	require.NoError(t, DefaultLimits().Validate())
	err := Limits{MaxBytes: -1}.Validate()
	require.ErrorContains(t, err, "max bytes -1")
	require.ErrorContains(t, err, "max depth 0")
	require.ErrorContains(t, err, "max string 0")
}

func TestDecodeDoesNotAlias(t *testing.T) {
	in := []byte(`{"type":"identify","messageId":"mmmm","anonymousId":"aaaa","userId":"uuuu",` + ts + `,
		"context":{"ip":"1.2.3.4","groupId":"gggg"},"traits":{"email":"e@x.io","technologies":["tttt"],"company":{"name":"cccc"}}}`)
	var ev Event
	require.NoError(t, Decode(in, &ev, DefaultLimits()))
	want := ev
	want.Traits.Technologies = append([]string(nil), ev.Traits.Technologies...)
	for i := range in {
		in[i] = 'X'
	}
	require.Equal(t, want, ev)
}

func TestDecodeResets(t *testing.T) {
	var ev Event
	require.NoError(t, Decode([]byte(`{"type":"group","groupId":"g","userId":"u",`+ts+`,"traits":{"employees":5,"technologies":["a"]}}`), &ev, DefaultLimits()))
	page := []byte(`{"type":"page","anonymousId":"a",` + ts + `}`)
	require.NoError(t, Decode(page, &ev, DefaultLimits()))
	require.Equal(t, Event{Type: TypePage, AnonymousID: "a", Time: t0, Raw: page}, ev, "nothing left over from the previous record")
	require.Error(t, Decode([]byte(`{"type":"page"}`), &ev, DefaultLimits()))
	require.Equal(t, Event{}, ev)
}

func TestDecodeErrorString(t *testing.T) {
	require.Equal(t, "decode event: missing_type", (&DecodeError{Reason: ReasonMissingType}).Error())
	require.Equal(t, "decode event: wrong_type: type: got number, want string",
		decodeErr(t, `{"type":1}`, DefaultLimits()).Error())
	// Details quote only a short, printable excerpt of the input.
	de := decodeErr(t, "{\"type\":\"page\",\"anonymousId\":\"a\",\"timestamp\":\"\u00e9"+strings.Repeat("\u00e9", 100)+"\"}", DefaultLimits())
	require.Equal(t, ReasonInvalidTimestamp, de.Reason)
	require.Less(t, len(de.Detail), 120)
	de = decodeErr(t, "{\"a\":\"\t\n\"}\n\n", DefaultLimits())
	require.NotContains(t, de.Detail, "\n")
}

func TestDecodeAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts")
	}
	var ev Event
	allocs := testing.AllocsPerRun(200, func() {
		if err := Decode(benchPage, &ev, DefaultLimits()); err != nil {
			panic(err)
		}
	})
	// One allocation per string the event keeps (messageId, anonymousId,
	// context.ip, four context.page fields, two properties), nothing else: the
	// wire struct is pooled and type and timestamp are not copied.
	require.LessOrEqual(t, allocs, 9.0)
}

// benchPage is a typical page call as analytics.js sends it, about 300 bytes.
var benchPage = []byte(`{"type":"page","messageId":"ajs-9f0c2a7e-4b1d-4c6e-8a53-1e2f3a4b5c6d","anonymousId":"5c1e9d2a-7b3f-4e8a-9c0d-1f2e3a4b5c6d",` +
	`"timestamp":"2026-01-05T10:00:00.123Z","context":{"ip":"203.0.113.7","page":{"path":"/pricing","referrer":"https://www.google.com/",` +
	`"title":"Pricing","url":"https://www.leadscore.example/pricing"}},"properties":{"path":"/pricing","title":"Pricing"}}`)

func BenchmarkDecode(b *testing.B) {
	var ev Event
	lim := DefaultLimits()
	b.ReportAllocs()
	b.SetBytes(int64(len(benchPage)))
	for b.Loop() {
		if err := Decode(benchPage, &ev, lim); err != nil {
			b.Fatal(err)
		}
	}
}
