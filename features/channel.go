package features

import (
	"net/url"
	"strings"

	"github.com/leadscore/leadscore/internal/event"
)

// The channel media leadscore assigns from a referrer when an event has no
// UTM campaign, as web analytics tools do.
const (
	MediumSearch   = "search"
	MediumSocial   = "social"
	MediumEmail    = "email"
	MediumDirect   = "direct"
	MediumPartner  = "partner"
	MediumReferral = "referral"
)

// SourceDirect is the source of a visit without a referrer.
const SourceDirect = "(direct)"

// Known referrer hosts by medium; a host matches an entry when it equals it
// or ends with "." + it. Web mail first: mail.google.com is e-mail, not
// search.
var referrerHosts = []struct {
	medium string
	hosts  []string
}{
	{MediumEmail, []string{"mail.google.com", "outlook.live.com", "outlook.office.com", "outlook.office365.com",
		"mail.yahoo.com", "mail.qq.com", "mail.163.com", "mail.126.com", "exmail.qq.com", "mail.aliyun.com", "mail.proton.me"}},
	{MediumSearch, []string{"google.com", "google.co.uk", "google.de", "google.fr", "google.co.jp", "google.com.hk",
		"bing.com", "baidu.com", "duckduckgo.com", "yahoo.com", "yandex.ru", "yandex.com", "sogou.com", "so.com",
		"sm.cn", "naver.com", "ecosia.org", "search.brave.com", "startpage.com"}},
	{MediumSocial, []string{"linkedin.com", "lnkd.in", "facebook.com", "fb.com", "t.co", "twitter.com", "x.com",
		"instagram.com", "youtube.com", "reddit.com", "weibo.com", "weixin.qq.com", "zhihu.com", "xiaohongshu.com",
		"douyin.com", "tiktok.com", "news.ycombinator.com", "quora.com", "pinterest.com"}},
}

// Channels says which referrer hosts are partners and which are the site's
// own (internal navigation, which says nothing about the channel).
type Channels struct {
	Partners []string `yaml:"partners"`
	Own      []string `yaml:"own_domains"`
}

// Channel returns the channel of a page view or event: its UTM campaign when
// it has one, else the class of its referrer (search, social, email,
// partner, referral for another site, direct for no referrer; the source is
// the referrer's host, "(direct)" for none). ok is false for an event that
// says nothing about a channel: a track call without UTM, or a page reached
// from the site's own pages. c's strings may be ev's: a caller that keeps
// them copies them (see event.Decode).
func (ch *Channels) Channel(ev *event.Event) (c event.Campaign, ok bool) {
	cp := ev.Context.Campaign
	if cp.Source != "" || cp.Medium != "" || cp.Name != "" {
		return cp, true
	}
	if ev.Type != event.TypePage {
		return event.Campaign{}, false
	}
	ref := ev.Context.Page.Referrer
	if ref == "" {
		ref = ev.Properties.Referrer
	}
	host := referrerHost(ref)
	if host == "" {
		return event.Campaign{Source: SourceDirect, Medium: MediumDirect}, true
	}
	for _, own := range ch.Own {
		if hostIs(host, strings.ToLower(own)) {
			return event.Campaign{}, false
		}
	}
	return event.Campaign{Source: host, Medium: classifyHost(host, ch.Partners)}, true
}

// referrerHost is the lower-case host of a referrer URL without "www.", or
// "" when there is none.
func referrerHost(ref string) string {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return ""
	}
	if h, ok := plainHost(ref); ok {
		return h
	}
	return parsedHost(ref)
}

// plainHost is referrerHost without a URL parser for the common case, an
// http(s) URL whose host is letters, digits, dots and hyphens and whose
// rest is printable ASCII without escapes; ok is false for anything else,
// which url.Parse then reads.
func plainHost(ref string) (string, bool) {
	var rest string
	switch {
	case strings.HasPrefix(ref, "https://"):
		rest = ref[len("https://"):]
	case strings.HasPrefix(ref, "http://"):
		rest = ref[len("http://"):]
	default:
		return "", false
	}
	end := len(rest)
	upper := false
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if c == '/' || c == '?' || c == '#' {
			end = i
			break
		}
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '.', c == '-':
		case c >= 'A' && c <= 'Z':
			upper = true
		default:
			return "", false
		}
	}
	for i := end; i < len(rest); i++ {
		if c := rest[i]; c <= ' ' || c >= 0x7f || c == '%' {
			return "", false
		}
	}
	h := rest[:end]
	if upper {
		h = strings.ToLower(h)
	}
	h = strings.TrimSuffix(h, ".")
	return strings.TrimPrefix(h, "www."), true
}

// parsedHost is referrerHost by url.Parse.
func parsedHost(ref string) string {
	if !strings.Contains(ref, "://") {
		ref = "https://" + ref
	}
	u, err := url.Parse(ref)
	if err != nil {
		return ""
	}
	h := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	return strings.TrimPrefix(h, "www.")
}

func classifyHost(host string, partners []string) string {
	for _, p := range partners {
		if hostIs(host, strings.ToLower(p)) {
			return MediumPartner
		}
	}
	for _, g := range referrerHosts {
		for _, h := range g.hosts {
			if hostIs(host, h) {
				return g.medium
			}
		}
	}
	return MediumReferral
}

func hostIs(host, domain string) bool {
	return host == domain || strings.HasSuffix(host, "."+domain)
}
