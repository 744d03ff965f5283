package ipmatch

import (
	"strconv"
	"strings"
	"unicode"
)

// orgWords splits an organisation name into lower-case words: runs of
// letters and digits. Dots are dropped first so that "B.V." is one word and
// "Amazon.com" stays one name ("amazoncom"); apostrophes likewise ("L'Oreal").
func orgWords(s string) []string {
	var words []string
	var b strings.Builder
	flush := func() {
		if b.Len() > 0 {
			words = append(words, b.String())
			b.Reset()
		}
	}
	for _, r := range s {
		switch {
		case r == '.' || r == '\'' || r == '’':
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(unicode.ToLower(r))
		default:
			flush()
		}
	}
	flush()
	return words
}

// legalForms are words naming a company's legal form, dropped from either
// end of a name so that "Google LLC" and "Google Inc." are the same key.
var legalForms = map[string]bool{
	"inc": true, "incorporated": true, "llc": true, "ltd": true, "limited": true,
	"corp": true, "corporation": true, "co": true, "company": true, "plc": true,
	"gmbh": true, "ag": true, "kg": true, "sa": true, "sas": true, "sarl": true,
	"sau": true, "bv": true, "nv": true, "pty": true, "pte": true, "kk": true,
	"oy": true, "oyj": true, "ab": true, "as": true, "asa": true, "spa": true,
	"srl": true, "se": true, "lp": true, "llp": true, "ltda": true, "sl": true,
	"sro": true, "ooo": true, "zao": true, "oao": true, "jsc": true, "pjsc": true,
	"ojsc": true, "cjsc": true, "kft": true, "pt": true, "tbk": true, "bhd": true,
	"sdn": true, "the": true,
}

// normOrg is the key an organisation name is matched under: its words
// without legal forms at either end, joined by spaces. It may be empty.
func normOrg(s string) string {
	w := orgWords(s)
	for len(w) > 0 && legalForms[w[len(w)-1]] {
		w = w[:len(w)-1]
	}
	for len(w) > 0 && legalForms[w[0]] {
		w = w[1:]
	}
	return strings.Join(w, " ")
}

// orgAccount is the account id of an organisation without a known domain:
// "org:" and the normalised name with hyphens, else "asn:" and the number,
// else "" (nothing to name it by).
func orgAccount(org string, asn uint32) string {
	if n := normOrg(org); n != "" {
		return "org:" + strings.ReplaceAll(n, " ", "-")
	}
	if asn != 0 {
		return "asn:" + strconv.FormatUint(uint64(asn), 10)
	}
	return ""
}

// normAccount turns an account id into its canonical form, the same way
// features.NormalizeAccount does (this package must not import features): a
// bare lower-case domain when it looks like one, else the trimmed id.
func normAccount(s string) string {
	s = strings.TrimSpace(s)
	d := strings.ToLower(s)
	if i := strings.Index(d, "://"); i >= 0 {
		d = d[i+3:]
	}
	if i := strings.IndexAny(d, "/?#"); i >= 0 {
		d = d[:i]
	}
	if i := strings.LastIndexByte(d, ':'); i >= 0 && !strings.Contains(d[:i], ":") {
		d = d[:i]
	}
	d = strings.TrimSuffix(strings.TrimPrefix(d, "www."), ".")
	if looksLikeDomain(d) {
		return d
	}
	return s
}

// looksLikeDomain: at least two dot-separated labels of lower-case letters,
// digits and hyphens, the last one not all digits (not an IP).
func looksLikeDomain(d string) bool {
	if len(d) < 3 || len(d) > 253 {
		return false
	}
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r > 127) {
				return false
			}
		}
	}
	return strings.Trim(labels[len(labels)-1], "0123456789") != ""
}
