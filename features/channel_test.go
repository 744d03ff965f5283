package features

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/leadscore/leadscore/internal/event"
)

func TestChannel(t *testing.T) {
	ch := Channels{Partners: []string{"acme-partners.com"}, Own: []string{"example.com"}}
	page := func(ref string) *event.Event {
		return &event.Event{Type: event.TypePage, Context: event.Context{Page: event.Page{Referrer: ref}}}
	}
	utm := page("https://www.google.com/")
	utm.Context.Campaign = event.Campaign{Source: "linkedin", Medium: "paid", Name: "spring"}
	tests := []struct {
		name   string
		ev     *event.Event
		want   event.Campaign
		wantOK bool
	}{
		{"utm wins over the referrer", utm, event.Campaign{Source: "linkedin", Medium: "paid", Name: "spring"}, true},
		{"no referrer is direct", page(""), event.Campaign{Source: "(direct)", Medium: "direct"}, true},
		{"search", page("https://www.google.com/search?q=lead+scoring"), event.Campaign{Source: "google.com", Medium: "search"}, true},
		{"baidu", page("https://www.baidu.com/s?wd=x"), event.Campaign{Source: "baidu.com", Medium: "search"}, true},
		{"web mail is e-mail, not search", page("https://mail.google.com/mail/u/0/"), event.Campaign{Source: "mail.google.com", Medium: "email"}, true},
		{"social", page("https://www.linkedin.com/feed/"), event.Campaign{Source: "linkedin.com", Medium: "social"}, true},
		{"t.co", page("https://t.co/abc"), event.Campaign{Source: "t.co", Medium: "social"}, true},
		{"partner subdomain", page("https://blog.acme-partners.com/post"), event.Campaign{Source: "blog.acme-partners.com", Medium: "partner"}, true},
		{"another site", page("https://news.example.org/a"), event.Campaign{Source: "news.example.org", Medium: "referral"}, true},
		{"not a suffix match", page("https://notgoogle.com/"), event.Campaign{Source: "notgoogle.com", Medium: "referral"}, true},
		{"host without scheme", page("bing.com/search"), event.Campaign{Source: "bing.com", Medium: "search"}, true},
		{"own site says nothing", page("https://www.example.com/pricing"), event.Campaign{}, false},
		{"a track without utm says nothing", &event.Event{Type: event.TypeTrack, Event: "Email Opened"}, event.Campaign{}, false},
	}
	for _, tc := range tests {
		got, ok := ch.Channel(tc.ev)
		require.Equal(t, tc.wantOK, ok, tc.name)
		require.Equal(t, tc.want, got, tc.name)
	}
}

// plainHost agrees with url.Parse wherever it answers.
func FuzzReferrerHost(f *testing.F) {
	for _, s := range []string{
		"https://www.Google.com/search?q=x", "http://news.ycombinator.com", "https://a.b.", "https://x.com/%zz",
		"https://user@host.com/", "https://host.com:8080/p", "https://[::1]/", "https://ex ample.com", "https://a.com/p q",
		"https://a.com#frag", "https://A.COM?x", "http://", "https://-a.com/\x7f", "https://www.", "https://a.com/\u00e9",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		ref = strings.TrimSpace(ref)
		if ref == "" {
			return
		}
		if h, ok := plainHost(ref); ok {
			if want := parsedHost(ref); h != want {
				t.Fatalf("plainHost(%q) = %q, url.Parse says %q", ref, h, want)
			}
		}
	})
}
