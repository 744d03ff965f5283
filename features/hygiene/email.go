package hygiene

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// Email is a parsed, normalised e-mail address.
type Email struct {
	// Address is local@domain: the local part lower-cased (providers treat
	// it case-insensitively, whatever RFC 5321 allows), the domain in
	// lower-case ASCII (an internationalised domain in its xn-- form).
	Address string
	// Local and Domain are Address's two parts.
	Local, Domain string
}

// ErrEmail is the class of every e-mail parse error.
var ErrEmail = errors.New("invalid e-mail")

// emailError is a parse error with a fixed reason (the finding's detail).
type emailError struct{ reason string }

func (e *emailError) Error() string { return "parse e-mail: " + e.reason }
func (e *emailError) Unwrap() error { return ErrEmail }

// Reasons ParseEmail gives; fixed strings so a Finding carries them without
// allocating.
var (
	errEmailEmpty     = &emailError{"empty"}
	errEmailUTF8      = &emailError{"invalid UTF-8"}
	errEmailNoAt      = &emailError{"no @"}
	errEmailLocal     = &emailError{"invalid local part"}
	errEmailQuoted    = &emailError{"quoted local part unsupported"}
	errEmailLocalLong = &emailError{"local part over 64 bytes"}
	errEmailLong      = &emailError{"address over 254 bytes"}
	errEmailLiteral   = &emailError{"address literal domain unsupported"}
	errEmailDomain    = &emailError{"invalid domain"}
	errEmailTLD       = &emailError{"invalid top-level domain"}
)

// ParseEmail parses an address as a web form gives it and normalises it.
//
// Accepted: a dot-atom local part (RFC 5322 atext, or any non-ASCII
// letter, RFC 6531) and a host name of at least two labels whose last is
// alphabetic (or xn--); the domain may be internationalised (UTS 46
// mapping, so "Bücher.DE" and "xn--bcher-kva.de" are one domain).
// Full-width ASCII is read as ASCII (Chinese input methods produce
// "ｊｏｈｎ＠ｅｘａｍｐｌｅ．ｃｏｍ"), surrounding space is trimmed, and one
// trailing dot of the domain is dropped.
//
// Rejected although RFC 5321 allows them, because no real lead uses them
// and they are a common vector for junk: quoted local parts, address
// literals ("[192.0.2.1]"), single-label domains. Display names
// ("Ann <ann@x.com>") are rejected: the form should give a bare address.
func ParseEmail(s string) (Email, error) {
	s = strings.TrimSpace(s)
	if hasFullwidth(s) {
		s = narrowASCII(s)
	}
	if s == "" {
		return Email{}, errEmailEmpty
	}
	if !utf8.ValidString(s) {
		return Email{}, errEmailUTF8
	}
	if len(s) > 254 {
		return Email{}, errEmailLong
	}
	// Lower-case once: the local part by choice (above), the domain as DNS
	// and UTS 46 do; an address already in its normal form is then
	// returned without allocating.
	s = strings.ToLower(s)
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return Email{}, errEmailNoAt
	}
	local, domain := s[:at], s[at+1:]
	if strings.HasPrefix(local, `"`) {
		return Email{}, errEmailQuoted
	}
	if len(local) > 64 {
		return Email{}, errEmailLocalLong
	}
	if !validLocal(local) {
		return Email{}, errEmailLocal
	}
	if strings.HasPrefix(domain, "[") {
		return Email{}, errEmailLiteral
	}
	d, err := normalizeDomain(domain)
	if err != nil {
		var ee *emailError
		if errors.As(err, &ee) {
			return Email{}, ee
		}
		return Email{}, errEmailDomain
	}
	addr := s
	if d != domain {
		addr = local + "@" + d
	}
	if len(addr) > 254 {
		return Email{}, errEmailLong
	}
	return Email{Address: addr, Local: addr[:len(local)], Domain: addr[len(local)+1:]}, nil
}

// validLocal: dot-atom, with non-ASCII letters, marks and digits allowed.
func validLocal(l string) bool {
	if l == "" || l[0] == '.' || l[len(l)-1] == '.' || strings.Contains(l, "..") {
		return false
	}
	for _, r := range l {
		switch {
		case r == utf8.RuneError:
			return false
		case r < utf8.RuneSelf:
			if !isAtext(byte(r)) && r != '.' {
				return false
			}
		case !(unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)):
			return false
		}
	}
	return true
}

func isAtext(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// idnaProfile maps (UTS 46: case, width, 。 as a dot) and validates
// (hyphens, bidi, joiners, label lengths) like a browser's address bar.
var idnaProfile = idna.New(
	idna.MapForLookup(), idna.BidiRule(), idna.ValidateLabels(true),
	idna.StrictDomainName(true), idna.VerifyDNSLength(true), idna.Transitional(false),
)

// normalizeDomain returns a host name in lower-case ASCII, or an error.
// Plain lower-case ASCII names skip the IDNA machinery (and its
// allocations).
func normalizeDomain(d string) (string, error) {
	d = strings.TrimSuffix(d, ".")
	if d == "" || !utf8.ValidString(d) {
		return "", errEmailDomain
	}
	if !plainDomain(d, false) {
		a, err := idnaProfile.ToASCII(d)
		if err != nil {
			return "", fmt.Errorf("%w: %w", errEmailDomain, err)
		}
		d = a
		if !plainDomain(d, true) {
			return "", errEmailDomain
		}
	}
	if len(d) > 253 {
		return "", errEmailDomain
	}
	dot := strings.LastIndexByte(d, '.')
	if dot < 0 {
		return "", errEmailDomain
	}
	tld := d[dot+1:]
	if len(tld) < 2 {
		return "", errEmailTLD
	}
	if !strings.HasPrefix(tld, "xn--") {
		for i := 0; i < len(tld); i++ {
			if tld[i] < 'a' || tld[i] > 'z' {
				return "", errEmailTLD
			}
		}
	}
	return d, nil
}

// plainDomain: lower-case LDH labels of 1..63 bytes, no edge hyphens, and
// xn-- labels only when puny (IDNA has checked their punycode).
func plainDomain(d string, puny bool) bool {
	start := 0
	for i := 0; i <= len(d); i++ {
		if i < len(d) && d[i] != '.' {
			c := d[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
			continue
		}
		l := d[start:i]
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' || !puny && strings.HasPrefix(l, "xn--") {
			return false
		}
		start = i + 1
	}
	return true
}

// hasFullwidth reports whether s has full-width ASCII (U+FF01..U+FF5E) or
// an ideographic space.
func hasFullwidth(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == 0xEF || s[i] == 0xE3 { // lead bytes of U+F000.. and U+3000..
			return strings.ContainsFunc(s, func(r rune) bool { return r >= 0xFF01 && r <= 0xFF5E || r == 0x3000 })
		}
	}
	return false
}

// narrowASCII maps full-width ASCII to ASCII and ideographic spaces to
// spaces, trimming the result.
func narrowASCII(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r >= 0xFF01 && r <= 0xFF5E:
			return r - 0xFF01 + '!'
		case r == 0x3000:
			return ' '
		}
		return r
	}, s)
	return strings.TrimSpace(s)
}

// gmailDomains are Gmail's two names; the key uses gmail.com.
func isGmail(d string) bool { return d == "gmail.com" || d == "googlemail.com" }

// emailKey is the de-duplication and blacklist key of e: the address,
// without a "+tag" (when stripPlus) and, for Gmail, without dots (when
// gmailDots). A local part that is only a tag keeps it.
func emailKey(e Email, stripPlus, gmailDots bool) string {
	local, domain := e.Local, e.Domain
	changed := false
	if stripPlus {
		if i := strings.IndexByte(local, '+'); i > 0 {
			local, changed = local[:i], true
		}
	}
	if gmailDots && isGmail(domain) {
		if domain != "gmail.com" {
			domain, changed = "gmail.com", true
		}
		if strings.IndexByte(local, '.') >= 0 {
			local, changed = strings.ReplaceAll(local, ".", ""), true
		}
	}
	if !changed {
		return e.Address
	}
	return local + "@" + domain
}

// roleKey is a local part as the role list compares it: no tag, no '-',
// '_' or '.'.
func roleKey(local string) string {
	if i := strings.IndexByte(local, '+'); i > 0 {
		local = local[:i]
	}
	if strings.ContainsAny(local, "-_.") {
		local = strings.Map(func(r rune) rune {
			if r == '-' || r == '_' || r == '.' {
				return -1
			}
			return r
		}, local)
	}
	return local
}
