package hygiene

import (
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"

	"github.com/leadscore/leadscore/internal/event"
)

// Checker validates leads, normalises their contacts and company names and
// builds de-duplication indexes. New builds it once from Config; it is
// immutable and safe to share between goroutines.
type Checker struct {
	region     string
	fold       folder
	freemail   domainSet
	disposable domainSet
	roles      map[string]struct{}
	stripPlus  bool
	gmailDots  bool
	fake       []phonePattern
	fakeRun    int

	blEmails    map[string]struct{}
	blDomains   domainSet
	blPhones    map[string]struct{}
	blIPs       ipRanges
	blCompanies map[string][]CompanyName

	words    *sensitive
	lexicons []lexiconInfo
	names    *names
	severity map[Code]Severity
	dedup    dedupRules
}

// New validates cfg, loads every list it names and builds the Checker.
func New(cfg Config) (*Checker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("validate hygiene config: %w", err)
	}
	c := &Checker{
		region:    cfg.DefaultRegion,
		stripPlus: cfg.Email.StripPlusTags,
		gmailDots: cfg.Email.GmailDots,
		fakeRun:   cfg.Phone.FakeRun,
		severity:  map[Code]Severity{},
	}
	for _, code := range Codes {
		c.severity[code] = DefaultSeverity(code)
	}
	for code, s := range cfg.Severity {
		c.severity[code], _ = ParseSeverity(s) // Validate checked
	}
	t2s := map[rune]rune{}
	err := eachEntry(cfg.TraditionalToSimplified, "t2s.txt", func(line string) error {
		for pair := range strings.FieldsSeq(line) {
			rs := []rune(pair)
			if len(rs) != 2 {
				return fmt.Errorf("entry %q: want two characters", pair)
			}
			if rs[0] != rs[1] {
				t2s[rs[0]] = rs[1]
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load traditional_to_simplified: %w", err)
	}
	if len(t2s) > 0 {
		c.fold.setT2S(t2s)
	}
	if c.freemail, err = loadDomains(cfg.Email.Freemail, "freemail.txt"); err != nil {
		return nil, fmt.Errorf("load email.freemail: %w", err)
	}
	if c.disposable, err = loadDomains(cfg.Email.Disposable, "disposable.txt"); err != nil {
		return nil, fmt.Errorf("load email.disposable: %w", err)
	}
	c.roles, err = loadSet(cfg.Email.Roles, "roles.txt", func(s string) (string, error) {
		return roleKey(strings.ToLower(s)), nil
	})
	if err != nil {
		return nil, fmt.Errorf("load email.roles: %w", err)
	}
	err = eachEntry(cfg.Phone.Fake, "fake_phones.txt", func(s string) error {
		p, err := parsePhonePattern(s)
		c.fake = append(c.fake, p)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("load phone.fake: %w", err)
	}
	c.blEmails, err = loadSet(cfg.Blacklist.Emails, "", func(s string) (string, error) {
		e, err := ParseEmail(s)
		if err != nil {
			return "", err
		}
		return emailKey(e, c.stripPlus, c.gmailDots), nil
	})
	if err != nil {
		return nil, fmt.Errorf("load blacklist.emails: %w", err)
	}
	if c.blDomains, err = loadDomains(cfg.Blacklist.Domains, ""); err != nil {
		return nil, fmt.Errorf("load blacklist.domains: %w", err)
	}
	c.blPhones, err = loadSet(cfg.Blacklist.Phones, "", func(s string) (string, error) {
		p, err := ParsePhone(s, c.region)
		return p.E164, err
	})
	if err != nil {
		return nil, fmt.Errorf("load blacklist.phones: %w", err)
	}
	if c.blIPs, err = loadIPRanges(cfg.Blacklist.IPs); err != nil {
		return nil, fmt.Errorf("load blacklist.ips: %w", err)
	}
	if c.names, err = buildNames(cfg.Company, &c.fold); err != nil {
		return nil, err
	}
	c.blCompanies = map[string][]CompanyName{}
	err = eachEntry(cfg.Blacklist.Companies, "", func(s string) error {
		n := c.names.normalize(s, true)
		if n.Core == "" {
			return fmt.Errorf("company %q has no letters", s)
		}
		c.blCompanies[n.Core] = append(c.blCompanies[n.Core], n)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load blacklist.companies: %w", err)
	}
	if c.words, c.lexicons, err = buildSensitive(cfg.Sensitive.Lexicons, &c.fold); err != nil {
		return nil, err
	}
	if c.dedup, err = buildDedupRules(cfg.Dedup); err != nil {
		return nil, err
	}
	return c, nil
}

// Field is one free-text field checked for sensitive words: a trait or a
// form field.
type Field struct {
	Name string // the finding's field name ("comment", "traits.industry")
	Text string // the text scanned
}

// Input is what Check reads about a lead: an identify call's traits plus
// free-text fields. Strings are read, never kept beyond what Contact holds.
type Input struct {
	Email  string // traits.email
	Phone  string // traits.phone, national or international
	Name   string // traits.name, scanned for sensitive words
	Title  string // traits.title, scanned for sensitive words
	Wechat string // traits.wechat
	// CompanyName and CompanyDomain are traits.company.{name,domain}.
	CompanyName   string
	CompanyDomain string // a domain or a website URL
	// Country is the company's ISO 3166 region ("DE"); when the phone
	// library knows it, it is the default region for the phone.
	Country string
	// Region is where the lead is (province, city or country, free form),
	// for de-duplication's region condition; a known place is read in its
	// canonical form ("北京市", "Beijing" are "北京").
	Region string
	// IP is the visitor's address (context.ip).
	IP string
	// Fields are free text to scan for sensitive words (form fields,
	// comments, other traits), besides Name, Title and CompanyName.
	Fields []Field
}

// InputFromEvent fills an Input from an identify event's traits and
// context (no copies: the strings are the event's).
func InputFromEvent(ev *event.Event) Input {
	t := &ev.Traits
	return Input{
		Email: t.Email, Phone: t.Phone, Name: t.Name, Title: t.Title, Wechat: t.Wechat,
		CompanyName: t.Company.Name, CompanyDomain: t.Company.Domain,
		Country: t.Company.Country, IP: ev.Context.IP,
	}
}

// Contact is a lead's contact data, normalised: what identity resolution
// and de-duplication compare. Empty fields were absent or unusable.
type Contact struct {
	// Email is the address (ParseEmail's form); EmailDomain its domain.
	Email       string `json:"email,omitempty"`
	EmailDomain string `json:"email_domain,omitempty"` // ASCII, lower case
	// EmailKey is the de-duplication key: Email without a "+tag" and
	// Gmail's dots (per config). Empty for role accounts (a shared inbox
	// is many people) and invalid addresses.
	EmailKey string `json:"email_key,omitempty"`
	// Freemail: the e-mail domain is free-mail or disposable.
	Freemail bool `json:"freemail,omitempty"`
	// Phone is the number in E.164; empty when invalid or fake.
	Phone string `json:"phone,omitempty"`
	// Wechat is the WeChat id, trimmed and lower-cased (WeChat ids are
	// case-insensitive).
	Wechat string `json:"wechat,omitempty"`
	// Company is the normalised company name.
	Company CompanyName `json:"company"`
	// CompanyDomain is the bare lower-case company domain: the given one,
	// else the e-mail domain unless free-mail or disposable (CONTRACT
	// section 1, account resolution step 2).
	CompanyDomain string `json:"company_domain,omitempty"`
	// Region is Input.Region (canonical when it is a known place), else
	// the place in the company name.
	Region string `json:"region,omitempty"`
}

// Verdict is Check's result. Reuse one per worker: Check resets it and
// reuses its slices, so a steady state allocates only Contact's strings
// and what the phone library allocates; it also remembers its recent
// phone numbers and company names (a few thousand of each, see memo),
// which identify calls repeat.
type Verdict struct {
	// Rejected: some finding has SeverityReject.
	Rejected bool
	// Findings lists every finding, in check order.
	Findings []Finding
	// Tags are the codes of suspicious findings, each once.
	Tags []Code
	// Contact is the normalised contact data.
	Contact Contact

	phone *phoneScratch // allocated on first use; a pointer keeps Verdict copyable
	words []WordMatch
	memo  *memo
}

func (v *Verdict) reset() {
	v.Rejected = false
	v.Findings = v.Findings[:0]
	v.Tags = v.Tags[:0]
	v.Contact = Contact{}
}

// Has reports whether the verdict has a finding with code.
func (v *Verdict) Has(code Code) bool {
	for i := range v.Findings {
		if v.Findings[i].Code == code {
			return true
		}
	}
	return false
}

func (v *Verdict) add(sev Severity, code Code, field, value, detail string) {
	if sev == SeverityOff {
		return
	}
	v.Findings = append(v.Findings, Finding{Code: code, Severity: sev, Field: field, Value: value, Detail: detail})
	switch sev {
	case SeverityReject:
		v.Rejected = true
	case SeveritySuspicious:
		for _, t := range v.Tags {
			if t == code {
				return
			}
		}
		v.Tags = append(v.Tags, code)
	}
}

func (c *Checker) report(v *Verdict, code Code, field, value, detail string) {
	v.add(c.severity[code], code, field, value, detail)
}

// Check validates in and fills v (reset first): findings, rejection, tags
// and the normalised contact. Safe to call from many goroutines with
// their own Verdicts.
//
// contact_missing is reported only when an e-mail or phone was given and
// none of them is usable and there is no WeChat id: an identify that
// carries no contact at all is a partial update, not a lead without one.
func (c *Checker) Check(in *Input, v *Verdict) {
	v.reset()
	ct := &v.Contact
	emailOK := c.checkEmail(in, v)
	phoneOK := c.checkPhone(in, v)
	ct.Wechat = normalizeWechat(in.Wechat)
	if (in.Email != "" || in.Phone != "") && !emailOK && !phoneOK && ct.Wechat == "" {
		c.report(v, CodeContactMissing, "contact", "", "no valid e-mail, phone or WeChat id")
	}

	if in.CompanyName != "" {
		ct.Company = c.companyMemo(v, in.CompanyName)
		for _, b := range c.blCompanies[ct.Company.Core] {
			if c.names.similarity(b, ct.Company) >= 1 {
				c.report(v, CodeBlacklistedCompany, "company.name", ct.Company.Core, "")
				break
			}
		}
	}
	if in.CompanyDomain != "" {
		if d, ok := bareDomain(in.CompanyDomain); ok {
			ct.CompanyDomain = d
			if e, ok := c.blDomains.match(d); ok {
				c.report(v, CodeBlacklistedDomain, "company.domain", e, "")
			}
		}
	}
	if ct.CompanyDomain == "" && ct.EmailDomain != "" && !ct.Freemail {
		ct.CompanyDomain = ct.EmailDomain
	}
	ct.Region = c.canonicalRegion(in.Region)
	if ct.Region == "" {
		ct.Region = ct.Company.Region
	}

	if in.IP != "" && len(c.blIPs) > 0 {
		if a, err := netip.ParseAddr(strings.TrimSpace(in.IP)); err == nil && c.blIPs.contains(a) {
			c.report(v, CodeBlacklistedIP, "ip", in.IP, "")
		}
	}

	if c.words != nil && len(c.words.words) > 0 {
		c.scanField(v, "name", in.Name)
		c.scanField(v, "title", in.Title)
		c.scanField(v, "company.name", in.CompanyName)
		for _, f := range in.Fields {
			c.scanField(v, f.Name, f.Text)
		}
	}
}

func (c *Checker) checkEmail(in *Input, v *Verdict) bool {
	if in.Email == "" {
		return false
	}
	ct := &v.Contact
	e, err := ParseEmail(in.Email)
	if err != nil {
		detail := "invalid"
		if ee, ok := err.(*emailError); ok {
			detail = ee.reason
		}
		c.report(v, CodeEmailInvalid, "email", in.Email, detail)
		return false
	}
	ct.Email, ct.EmailDomain = e.Address, e.Domain
	key := emailKey(e, c.stripPlus, c.gmailDots)
	if d, ok := c.disposable.match(e.Domain); ok {
		ct.Freemail = true
		c.report(v, CodeEmailDisposable, "email", d, "")
	} else if d, ok := c.freemail.match(e.Domain); ok {
		ct.Freemail = true
		c.report(v, CodeEmailFreemail, "email", d, "")
	}
	if _, role := c.roles[roleKey(e.Local)]; role {
		c.report(v, CodeEmailRole, "email", e.Local, "")
	} else {
		ct.EmailKey = key
	}
	if _, ok := c.blEmails[key]; ok {
		c.report(v, CodeBlacklistedEmail, "email", key, "")
	}
	if d, ok := c.blDomains.match(e.Domain); ok {
		c.report(v, CodeBlacklistedDomain, "email", d, "")
	}
	return true
}

func (c *Checker) checkPhone(in *Input, v *Verdict) bool {
	if in.Phone == "" {
		return false
	}
	region := c.region
	if r, ok := phoneRegion(in.Country); ok {
		region = r
	}
	p, err := c.parsePhoneMemo(v, in.Phone, region)
	if err != nil {
		if p.E164 != "" && c.fakeListed(p.E164) {
			c.report(v, CodePhoneFake, "phone", p.E164, fakeListed)
			return false
		}
		if why := fakeDigits(digitsOnly(in.Phone), c.fakeRun); why != "" {
			c.report(v, CodePhoneFake, "phone", in.Phone, why)
			return false
		}
		detail := "invalid"
		if pe, ok := err.(*phoneError); ok {
			detail = pe.reason
		}
		c.report(v, CodePhoneInvalid, "phone", in.Phone, detail)
		return false
	}
	ok := true
	if c.fakeListed(p.E164) {
		c.report(v, CodePhoneFake, "phone", p.E164, fakeListed)
		ok = false
	} else if why := fakeDigits(p.National, c.fakeRun); why != "" {
		c.report(v, CodePhoneFake, "phone", p.E164, why)
		ok = false
	}
	if _, bl := c.blPhones[p.E164]; bl {
		c.report(v, CodeBlacklistedPhone, "phone", p.E164, "")
	}
	if ok {
		v.Contact.Phone = p.E164
	}
	return ok
}

func (c *Checker) fakeListed(e164 string) bool {
	for _, p := range c.fake {
		if p.match(e164) {
			return true
		}
	}
	return false
}

// scanField reports each lexicon word found in text once.
func (c *Checker) scanField(v *Verdict, field, text string) {
	if text == "" {
		return
	}
	first := len(v.Findings)
	v.words = c.words.scan(&c.fold, text, v.words[:0], c.lexicons)
	for _, m := range v.words {
		dup := false
		for i := first; i < len(v.Findings); i++ {
			if v.Findings[i].Value == m.Word && v.Findings[i].Detail == m.Lexicon {
				dup = true
				break
			}
		}
		if dup {
			continue
		}
		sev := SeverityReject
		for _, l := range c.lexicons {
			if l.name == m.Lexicon {
				sev = l.severity
				break
			}
		}
		v.add(sev, CodeSensitiveWord, field, m.Word, m.Lexicon)
	}
}

// SensitiveWords appends to dst every lexicon word in text (case-, width-
// and script-folded), overlapping occurrences included, in the order
// their ends appear.
func (c *Checker) SensitiveWords(text string, dst []WordMatch) []WordMatch {
	return c.words.scan(&c.fold, text, dst, c.lexicons)
}

// Company normalises a company name (aliases resolved).
func (c *Checker) Company(name string) CompanyName { return c.names.normalize(name, true) }

// CompanySimilarity is how alike two normalised names are, 0..1 (see
// CompanyConfig.Threshold).
func (c *Checker) CompanySimilarity(a, b CompanyName) float64 { return c.names.similarity(a, b) }

// SameCompany reports whether two names are one company at the configured
// threshold.
func (c *Checker) SameCompany(a, b string) bool {
	return c.names.similarity(c.Company(a), c.Company(b)) >= c.names.cfg.Threshold
}

// EmailKey is the de-duplication and blacklist key of e (see Contact).
func (c *Checker) EmailKey(e Email) string { return emailKey(e, c.stripPlus, c.gmailDots) }

// IsFreemail reports whether an e-mail domain is free-mail or disposable
// (it then says nothing about the person's company).
func (c *Checker) IsFreemail(domain string) bool {
	d, err := normalizeDomain(strings.ToLower(strings.TrimSpace(domain)))
	if err != nil {
		return false
	}
	_, free := c.freemail.match(d)
	_, disp := c.disposable.match(d)
	return free || disp
}

// JobChange compares a known contact's previous company domain with the
// one from a new identify (each a domain or an e-mail address) and reports
// CodeJobChanged when they are different companies. Free-mail and
// disposable domains say nothing about the company, so either side being
// one (or empty, or invalid) is no change; so are equal domains and a
// domain and its subdomain (mail.acme.com is acme.com).
func (c *Checker) JobChange(previous, current string) (Finding, bool) {
	p, ok1 := c.companyDomainOf(previous)
	n, ok2 := c.companyDomainOf(current)
	if !ok1 || !ok2 || p == n || strings.HasSuffix(p, "."+n) || strings.HasSuffix(n, "."+p) {
		return Finding{}, false
	}
	sev := c.severity[CodeJobChanged]
	if sev == SeverityOff {
		return Finding{}, false
	}
	return Finding{Code: CodeJobChanged, Severity: sev, Field: "company.domain", Value: n, Detail: "previous " + p}, true
}

func (c *Checker) companyDomainOf(s string) (string, bool) {
	if at := strings.LastIndexByte(s, '@'); at >= 0 {
		s = s[at+1:]
	}
	d, ok := bareDomain(s)
	if !ok || c.IsFreemail(d) {
		return "", false
	}
	return d, true
}

// bareDomain turns a company domain or website into a bare lower-case
// ASCII host: no scheme, path, port or "www.".
func bareDomain(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
	}
	if i := strings.IndexAny(s, "/?#"); i >= 0 {
		s = s[:i]
	}
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		s = s[:i]
	}
	s = strings.ToLower(s)
	s = strings.TrimPrefix(s, "www.")
	d, err := normalizeDomain(s)
	return d, err == nil
}

// normalizeWechat trims and lower-cases a WeChat id.
func normalizeWechat(s string) string {
	s = strings.TrimSpace(s)
	if hasFullwidth(s) {
		s = narrowASCII(s)
	}
	return strings.ToLower(s)
}

// canonicalRegion reads a place: the canonical name of a known one, else
// the folded text.
func (c *Checker) canonicalRegion(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	toks := c.names.tokens(c.fold.appendFolded(nil, s, true), true, nil)
	v := view{t: toks, hi: len(toks)}
	if nv, e, ok := matchStart(v, &c.names.places.prefix, true, nil); ok && nv.empty() {
		return e.group
	}
	var b strings.Builder
	for i, t := range toks {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(t.s)
	}
	if b.Len() == 0 || !utf8.ValidString(b.String()) {
		return ""
	}
	return b.String()
}
