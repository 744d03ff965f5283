package ipmatch

import (
	"bufio"
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

//go:embed data/asn-classes.csv
var defaultASNClasses []byte

//go:embed data/org-rules.txt
var defaultOrgRules []byte

//go:embed data/domains.csv
var defaultDomains []byte

// keyword is a parsed OrgRule keyword: whole words in order, the last one a
// prefix when prefix is set.
type keyword struct {
	words  []string
	prefix bool
}

func parseKeyword(s string) (keyword, error) {
	s = strings.TrimSpace(s)
	var k keyword
	if strings.HasSuffix(s, "*") {
		k.prefix = true
		s = strings.TrimSuffix(s, "*")
		if s == "" || !isWordRune(s[len(s)-1]) {
			return k, fmt.Errorf("parse keyword %q: * must end a word", s+"*")
		}
	}
	if strings.Contains(s, "*") {
		return k, fmt.Errorf("parse keyword %q: * only at the end", s)
	}
	k.words = orgWords(s)
	if len(k.words) == 0 {
		return k, fmt.Errorf("parse keyword %q: no words", s)
	}
	return k, nil
}

// isWordRune is a cheap test on the last byte of a keyword: any non-ASCII
// byte is taken as part of a letter.
func isWordRune(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b >= 0x80
}

// matchAt reports whether the keyword's words start at words[i].
func (k *keyword) matchAt(words []string, i int) bool {
	if len(words)-i < len(k.words) {
		return false
	}
	last := len(k.words) - 1
	for j, w := range k.words {
		got := words[i+j]
		if j == last && k.prefix {
			if !strings.HasPrefix(got, w) {
				return false
			}
		} else if got != w {
			return false
		}
	}
	return true
}

type orgRule struct {
	class Class
	kw    keyword
}

// classifier holds the ASN list, the keyword rules and the domain table. It
// is built once per Matcher and only read afterwards.
type classifier struct {
	asn   map[uint32]Class
	rules []orgRule
	// Index of rules: by their first word, or, for single-word prefix
	// rules, by the prefix (probed at each distinct prefix length).
	byWord     map[string][]int32
	byPrefix   map[string][]int32
	prefixLens []int
	domASN     map[uint32]string
	domOrg     map[string]string // normOrg key -> domain
}

// newClassifier merges the shipped lists (unless cfg.NoDefaultLists) with
// cfg's. Config entries win: its ASN classes and domains replace shipped
// ones, its rules are tried first.
func newClassifier(cfg *Config) (*classifier, error) {
	c := &classifier{
		asn:      map[uint32]Class{},
		byWord:   map[string][]int32{},
		byPrefix: map[string][]int32{},
		domASN:   map[uint32]string{},
		domOrg:   map[string]string{},
	}
	for _, r := range cfg.OrgRules {
		kw, err := parseKeyword(r.Keyword)
		if err != nil {
			return nil, err
		}
		c.rules = append(c.rules, orgRule{r.Class, kw})
	}
	if !cfg.NoDefaultLists {
		d, err := shippedLists()
		if err != nil {
			return nil, err
		}
		for asn, cl := range d.asn {
			c.asn[asn] = cl
		}
		c.rules = append(c.rules, d.rules...)
		for asn, dom := range d.domASN {
			c.domASN[asn] = dom
		}
		for k, dom := range d.domOrg {
			c.domOrg[k] = dom
		}
	}
	for asn, cl := range cfg.ASNClasses {
		c.asn[asn] = cl
	}
	for k, dom := range cfg.Domains {
		asn, key, err := parseDomainKey(k)
		if err != nil {
			return nil, err
		}
		if asn != 0 {
			c.domASN[asn] = dom
		} else {
			c.domOrg[key] = dom
		}
	}
	lens := map[int]bool{}
	for i, r := range c.rules {
		if len(r.kw.words) == 1 && r.kw.prefix {
			p := r.kw.words[0]
			c.byPrefix[p] = append(c.byPrefix[p], int32(i))
			if !lens[len(p)] {
				lens[len(p)] = true
				c.prefixLens = append(c.prefixLens, len(p))
			}
			continue
		}
		w := r.kw.words[0]
		c.byWord[w] = append(c.byWord[w], int32(i))
	}
	return c, nil
}

// classify says what kind of network (asn, org) is. netType is the class a
// MaxMind database gave the network itself (ClassUnknown when none); it
// wins, then the ASN list, then the first matching keyword rule, else a
// named organisation is a company.
func (c *classifier) classify(asn uint32, org string, netType Class) Class {
	if netType != ClassUnknown {
		return netType
	}
	if cl, ok := c.asn[asn]; ok && asn != 0 {
		return cl
	}
	words := orgWords(org)
	if len(words) == 0 {
		return ClassUnknown
	}
	best := int32(-1)
	consider := func(idx []int32, words []string, i int) {
		for _, r := range idx {
			if (best < 0 || r < best) && c.rules[r].kw.matchAt(words, i) {
				best = r
			}
		}
	}
	for i, w := range words {
		consider(c.byWord[w], words, i)
		for _, l := range c.prefixLens {
			if len(w) >= l {
				consider(c.byPrefix[w[:l]], words, i)
			}
		}
	}
	if best >= 0 {
		return c.rules[best].class
	}
	return ClassCompany
}

// domain is the known domain of (asn, org): by ASN first, then by name.
func (c *classifier) domain(asn uint32, org string) string {
	if d, ok := c.domASN[asn]; ok && asn != 0 {
		return d
	}
	if len(c.domOrg) == 0 {
		return ""
	}
	return c.domOrg[normOrg(org)]
}

// parseDomainKey reads a domains key: "AS<number>" gives the ASN, anything
// else the normalised organisation name.
func parseDomainKey(k string) (uint32, string, error) {
	k = strings.TrimSpace(k)
	if len(k) > 2 && strings.EqualFold(k[:2], "as") {
		if n, err := strconv.ParseUint(k[2:], 10, 32); err == nil {
			if n == 0 {
				return 0, "", errors.New("parse domain key: ASN 0 is reserved")
			}
			return uint32(n), "", nil
		}
	}
	n := normOrg(k)
	if n == "" {
		return 0, "", fmt.Errorf("parse domain key %q: no organisation name", k)
	}
	return 0, n, nil
}

// lists are the shipped data files, parsed.
type lists struct {
	asn    map[uint32]Class
	rules  []orgRule
	domASN map[uint32]string
	domOrg map[string]string
}

// shippedLists parses the embedded data files once.
var shippedLists = sync.OnceValues(func() (*lists, error) {
	return parseLists(defaultASNClasses, defaultOrgRules, defaultDomains)
})

func parseLists(asnCSV, rulesTxt, domainsCSV []byte) (*lists, error) {
	l := &lists{asn: map[uint32]Class{}, domASN: map[uint32]string{}, domOrg: map[string]string{}}
	var errs []error
	eachLine(asnCSV, func(n int, line []byte) {
		var f [maxFields][]byte
		k, _, err := splitCSVLine(line, &f, nil)
		if err == nil && k < 2 {
			err = errors.New("want asn,class[,note]")
		}
		var asn uint64
		var cl Class
		if err == nil {
			asn, err = strconv.ParseUint(string(bytes.TrimSpace(f[0])), 10, 32)
		}
		if err == nil {
			cl, err = ParseClass(string(bytes.TrimSpace(f[1])))
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("parse data/asn-classes.csv:%d: %w", n, err))
			return
		}
		l.asn[uint32(asn)] = cl
	})
	eachLine(rulesTxt, func(n int, line []byte) {
		cls, kws, ok := strings.Cut(strings.TrimSpace(string(line)), " ")
		cl, err := ParseClass(cls)
		var kw keyword
		if err == nil && !ok {
			err = errors.New("want class keyword")
		}
		if err == nil {
			kw, err = parseKeyword(kws)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("parse data/org-rules.txt:%d: %w", n, err))
			return
		}
		l.rules = append(l.rules, orgRule{cl, kw})
	})
	eachLine(domainsCSV, func(n int, line []byte) {
		var f [maxFields][]byte
		k, _, err := splitCSVLine(line, &f, nil)
		if err == nil && k != 2 {
			err = errors.New("want key,domain")
		}
		var asn uint32
		var key string
		if err == nil {
			asn, key, err = parseDomainKey(string(f[0]))
		}
		dom := strings.TrimSpace(string(f[1]))
		if err == nil && !looksLikeDomain(dom) {
			err = fmt.Errorf("%q is not a bare lower-case domain", dom)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("parse data/domains.csv:%d: %w", n, err))
			return
		}
		if asn != 0 {
			l.domASN[asn] = dom
		} else {
			l.domOrg[key] = dom
		}
	})
	return l, errors.Join(errs...)
}

// eachLine calls fn with every record line of an embedded file and its
// 1-based number, skipping blanks and comments.
func eachLine(data []byte, fn func(n int, line []byte)) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimRight(sc.Bytes(), "\r")
		if !skipLine(line) {
			fn(n, line)
		}
	}
}
