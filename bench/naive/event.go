package naive

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Event is a Segment call decoded the obvious way: encoding/json into a
// struct, the nested objects as map[string]any.
type Event struct {
	Type        string         `json:"type"`
	MessageID   any            `json:"messageId"`
	AnonymousID any            `json:"anonymousId"`
	UserID      any            `json:"userId"`
	PreviousID  any            `json:"previousId"`
	GroupID     any            `json:"groupId"`
	Event       string         `json:"event"`
	Timestamp   string         `json:"timestamp"`
	Context     map[string]any `json:"context"`
	Properties  map[string]any `json:"properties"`
	Traits      map[string]any `json:"traits"`

	Time time.Time `json:"-"`
}

// Decode parses data into a new Event and checks the few things scoring
// needs: a known type, a time and an identity.
func Decode(data []byte) (*Event, error) {
	var ev Event
	if err := json.Unmarshal(data, &ev); err != nil {
		return nil, fmt.Errorf("decode event: %w", err)
	}
	switch ev.Type {
	case "page", "track", "identify", "group", "alias", "screen":
	default:
		return nil, fmt.Errorf("decode event: unknown type %q", ev.Type)
	}
	if ev.Timestamp == "" {
		return nil, errors.New("decode event: missing timestamp")
	}
	t, err := time.Parse(time.RFC3339Nano, ev.Timestamp)
	if err != nil {
		return nil, fmt.Errorf("decode event: timestamp: %w", err)
	}
	ev.Time = t.UTC()
	if ev.Type == "track" && ev.Event == "" {
		return nil, errors.New("decode event: track without event")
	}
	if ev.Type == "group" && ev.str(ev.GroupID) == "" {
		return nil, errors.New("decode event: group without groupId")
	}
	if ev.Anon() == "" && ev.User() == "" && ev.Type != "group" && ev.account() == "" {
		return nil, errors.New("decode event: no identity")
	}
	return &ev, nil
}

func (ev *Event) str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return ""
}

// Anon, User and Message are the ids as strings.
func (ev *Event) Anon() string    { return ev.str(ev.AnonymousID) }
func (ev *Event) User() string    { return ev.str(ev.UserID) }
func (ev *Event) Message() string { return ev.str(ev.MessageID) }

func get(m map[string]any, path ...string) any {
	var v any = m
	for _, k := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}

func getString(m map[string]any, path ...string) string {
	s, _ := get(m, path...).(string)
	return s
}

// account is the account the event names itself: groupId, context.groupId
// or properties.domain, normalised.
func (ev *Event) account() string {
	if ev.Type == "group" {
		return normalize(ev.str(ev.GroupID))
	}
	if g := getString(ev.Context, "groupId"); g != "" {
		return normalize(g)
	}
	return normalize(getString(ev.Properties, "domain"))
}

// path is the page path the rules match.
func (ev *Event) path() string {
	if p := getString(ev.Properties, "path"); p != "" {
		return p
	}
	if p := getString(ev.Context, "page", "path"); p != "" {
		return p
	}
	u := getString(ev.Properties, "url")
	if u == "" {
		u = getString(ev.Context, "page", "url")
	}
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

// normalize turns "https://www.Acme.com/x" into "acme.com"; other ids are
// lower-cased.
func normalize(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
	}
	s = strings.TrimPrefix(s, "www.")
	if i := strings.IndexAny(s, "/?#"); i >= 0 {
		s = s[:i]
	}
	return s
}

var freemail = map[string]bool{
	"gmail.com": true, "yahoo.com": true, "hotmail.com": true, "outlook.com": true, "qq.com": true,
	"163.com": true, "126.com": true, "icloud.com": true, "aol.com": true, "mail.ru": true,
	"gmx.de": true, "web.de": true, "protonmail.com": true, "sina.com": true, "foxmail.com": true,
	"mailinator.com": true, "yopmail.com": true, "guerrillamail.com": true, "10minutemail.com": true,
}

// companyDomain is an identify's company: traits.company.domain, else the
// e-mail's domain unless free-mail.
func (ev *Event) companyDomain() string {
	if d := getString(ev.Traits, "company", "domain"); d != "" {
		return normalize(d)
	}
	email := getString(ev.Traits, "email")
	if i := strings.LastIndexByte(email, '@'); i >= 0 {
		d := strings.ToLower(email[i+1:])
		if !freemail[d] {
			return d
		}
	}
	return ""
}

// firmographics returns a group call's traits that fit reads.
func (ev *Event) firmographics() map[string]any {
	out := map[string]any{}
	for _, k := range []string{"industry", "country"} {
		if s := getString(ev.Traits, k); s != "" {
			out[k] = s
		}
	}
	switch v := ev.Traits["employees"].(type) {
	case float64:
		out["employees"] = v
	case string:
		if n, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
			out["employees"] = n
		}
	}
	if list, ok := ev.Traits["technologies"].([]any); ok {
		techs := []string{}
		for _, t := range list {
			if s, ok := t.(string); ok {
				techs = append(techs, s)
			}
		}
		out["technologies"] = techs
	}
	return out
}
