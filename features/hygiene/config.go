package hygiene

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"
	"go.yaml.in/yaml/v3"
)

// Config is the hygiene configuration. Start from DefaultConfig; decode YAML
// over it (ParseConfig is strict: unknown keys fail); then Validate.
type Config struct {
	// DefaultRegion is the ISO 3166 region for numbers written without a
	// country code ("CN": 13812345678 is +8613812345678), unless the lead's
	// company country names another.
	DefaultRegion string `yaml:"default_region"`
	// TraditionalToSimplified holds mapping files (TraditionalToSimplified
	// lines "國国 業业") applied before sensitive words and company names
	// are compared; builtin is the small mapping in data/t2s.txt.
	TraditionalToSimplified List            `yaml:"traditional_to_simplified"`
	Email                   EmailConfig     `yaml:"email"`     // e-mail checks
	Phone                   PhoneConfig     `yaml:"phone"`     // phone checks
	Blacklist               BlacklistConfig `yaml:"blacklist"` // blacklists (none by default)
	Sensitive               SensitiveConfig `yaml:"sensitive"` // sensitive-word lexicons
	Company                 CompanyConfig   `yaml:"company"`   // company-name matching
	Dedup                   DedupConfig     `yaml:"dedup"`     // de-duplication policies
	// Severity overrides the default severity of a code: "reject",
	// "suspicious" or "off" (not for sensitive_word: lexicons carry their
	// own).
	Severity map[Code]string `yaml:"severity"`
}

// List is a set of entries: the builtin data file (when Builtin), the
// inline Values, and the lines of Files (UTF-8, one entry a line, '#'
// starts a comment line). Each list says what an entry is.
type List struct {
	Builtin bool     `yaml:"builtin"` // include the shipped data file
	Values  []string `yaml:"values"`  // inline entries
	Files   []string `yaml:"files"`   // paths of more entries
}

// EmailConfig configures e-mail checks and the de-duplication key.
type EmailConfig struct {
	// Freemail and Disposable are domains (a domain covers its subdomains).
	Freemail   List `yaml:"freemail"`
	Disposable List `yaml:"disposable"` // data/disposable.txt
	// Roles are local parts of shared inboxes ("info", "no-reply").
	Roles List `yaml:"roles"`
	// StripPlusTags drops "+tag" from local parts in the de-duplication and
	// blacklist key (a+promo@x.com is a@x.com): nearly every provider
	// delivers sub-addresses to the main inbox.
	StripPlusTags bool `yaml:"strip_plus_tags"`
	// GmailDots drops dots from gmail.com local parts in the key and reads
	// googlemail.com as gmail.com: Gmail ignores both.
	GmailDots bool `yaml:"gmail_dots"`
}

// PhoneConfig configures phone checks.
type PhoneConfig struct {
	// Fake lists well-known test numbers in E.164, 'x' for any digit
	// ("+1xxx55501xx").
	Fake List `yaml:"fake"`
	// FakeRun is how many trailing digits of the national number, all one
	// digit or one ascending or descending run, make the number fake
	// (13800000000, 13812345678). 0 disables the rule.
	FakeRun int `yaml:"fake_run"`
}

// BlacklistConfig holds the blacklists. Entries are normalised like the
// values they are compared with: e-mails to their key, domains to bare
// lower-case ASCII (a domain covers its subdomains and the e-mail and
// company domains are both checked), phones to E.164 (DefaultRegion for
// national numbers), IPs as addresses or CIDR prefixes, companies by the
// company-name normalisation (the core, aliases resolved).
type BlacklistConfig struct {
	Emails    List `yaml:"emails"`    // blacklisted_email
	Domains   List `yaml:"domains"`   // blacklisted_domain
	Phones    List `yaml:"phones"`    // blacklisted_phone
	IPs       List `yaml:"ips"`       // blacklisted_ip
	Companies List `yaml:"companies"` // blacklisted_company
}

// SensitiveConfig configures the sensitive-word filter over free text
// (name, title, company name and the caller's free-text fields).
type SensitiveConfig struct {
	Lexicons []Lexicon `yaml:"lexicons"` // none by default
}

// Lexicon is one named word list. Words match case-, width- and (with a
// mapping) script-folded text.
type Lexicon struct {
	Name string `yaml:"name"` // the finding's detail; unique
	// Severity is "reject" or "suspicious".
	Severity string   `yaml:"severity"`
	Values   []string `yaml:"values"` // words
	Files    []string `yaml:"files"`  // files of words, one a line
	// InsideWords lets a word that starts or ends with a letter or digit of
	// a spaced script (Latin, Cyrillic...) match inside a longer word
	// ("ass" in "class"). Chinese, Japanese and Korean words always match
	// anywhere.
	InsideWords bool `yaml:"inside_words"`
}

// CompanyConfig configures the company-name normalisation and matching.
type CompanyConfig struct {
	// Threshold is the similarity two normalised names need to be one
	// company (0..1]. Similarity is the character-bigram Dice coefficient
	// of the cores, or ContainmentScore when one core contains the other.
	Threshold float64 `yaml:"threshold"`
	// ContainmentScore is the similarity given when one Chinese or Japanese
	// core contains the other ("纷扬" in "纷扬云"). Below Threshold,
	// containment alone does not match; 0 ignores it.
	ContainmentScore float64 `yaml:"containment_score"`
	// RegionConflict: names stripped of different places of the same level
	// (北京纷扬 vs 成都纷扬) are different companies.
	RegionConflict bool `yaml:"region_conflict"`
	// IndustryConflict: names stripped of industry words of different
	// groups (纷扬科技 vs 纷扬贸易) are different companies.
	IndustryConflict bool `yaml:"industry_conflict"`
	// LegalForms, Industries and Places extend the vocabularies; Values and
	// file lines use the builtin files' syntax (data/company_*.txt).
	LegalForms List `yaml:"legal_forms"`
	Industries List `yaml:"industries"` // data/company_industries.txt
	Places     List `yaml:"places"`     // data/company_places.txt
	// Aliases are lines "<alias> => <company>": a brand or product name
	// standing for a company.
	Aliases List `yaml:"aliases"`
}

// DedupConfig configures lead de-duplication.
type DedupConfig struct {
	// MaxEntries bounds the leads one DedupIndex remembers; the oldest by
	// event time go first.
	MaxEntries int `yaml:"max_entries"`
	// MaxPerKey bounds the leads remembered under one blocking key (a
	// company-name block can be large); the oldest go first.
	MaxPerKey int `yaml:"max_per_key"`
	// Policies are tried in order; the first that matches decides.
	Policies []Policy `yaml:"policies"`
}

// Policy is one de-duplication rule.
type Policy struct {
	Name string `yaml:"name"` // Merge.Policy; unique
	// Kind is "phone", "email" or "wechat" (to-consumer: one key decides)
	// or "company" (to-business: the company name, plus one of With).
	Kind string `yaml:"kind"`
	// With lists what must also match for a company policy, any one of
	// "domain", "region", "phone"; empty: the name alone.
	With []string `yaml:"with"`
	// Threshold is the company-name similarity this policy needs (company
	// only), 0..1.
	Threshold float64 `yaml:"threshold"`
	// Window is the look-back in event time ("90d", "180d", "2160h").
	Window Duration `yaml:"window"`
	// Action is "merge" (into the existing lead, its owner keeps it),
	// "reassign" (merge; the new lead's owner takes over) or "tag" (mark as
	// a possible duplicate only).
	Action string `yaml:"action"`
	// Notify asks the caller to notify the previous owner when the owner
	// changes (reassign).
	Notify bool `yaml:"notify"`
}

// Duration is a time.Duration read from YAML as a Go duration or a whole
// number of days ("90d").
type Duration time.Duration

// UnmarshalYAML parses "90d" or a Go duration ("2160h").
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := parseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes whole days as "<n>d", else a Go duration.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// String is the config spelling.
func (d Duration) String() string {
	day := 24 * time.Hour
	if v := time.Duration(d); v > 0 && v%day == 0 {
		return strconv.FormatInt(int64(v/day), 10) + "d"
	}
	return time.Duration(d).String()
}

func parseDuration(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 {
			return 0, fmt.Errorf("parse duration %q: want <days>d or a Go duration", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("parse duration %q: %w", s, err)
	}
	return v, nil
}

// DefaultConfig is the configuration with nothing set: Chinese numbers by
// default, the builtin lists, no blacklists or lexicons, de-duplication by
// phone, e-mail and WeChat over 180 days and a company tag rule over 90.
func DefaultConfig() Config {
	builtin := List{Builtin: true}
	return Config{
		DefaultRegion:           "CN",
		TraditionalToSimplified: builtin,
		Email: EmailConfig{
			Freemail: builtin, Disposable: builtin, Roles: builtin,
			StripPlusTags: true, GmailDots: true,
		},
		Phone: PhoneConfig{Fake: builtin, FakeRun: 7},
		Company: CompanyConfig{
			Threshold:        0.85,
			ContainmentScore: 0.8,
			RegionConflict:   true,
			IndustryConflict: true,
			LegalForms:       builtin, Industries: builtin, Places: builtin, Aliases: builtin,
		},
		Dedup: DedupConfig{
			MaxEntries: 1_000_000,
			MaxPerKey:  64,
			Policies: []Policy{
				{Name: "phone", Kind: KindPhone, Window: Duration(180 * 24 * time.Hour), Action: ActionMerge.String()},
				{Name: "email", Kind: KindEmail, Window: Duration(180 * 24 * time.Hour), Action: ActionMerge.String()},
				{Name: "wechat", Kind: KindWechat, Window: Duration(180 * 24 * time.Hour), Action: ActionMerge.String()},
				{
					Name: "company", Kind: KindCompany, With: []string{WithDomain, WithPhone, WithRegion},
					// 0.8 accepts a contained core ("纷扬" in "纷扬云",
					// ContainmentScore) when a domain, phone or region
					// also matches.
					Threshold: 0.8, Window: Duration(90 * 24 * time.Hour), Action: ActionTag.String(),
				},
			},
		},
	}
}

// ParseConfig decodes YAML over DefaultConfig, strictly: unknown keys are
// errors. It does not validate.
func ParseConfig(data []byte) (Config, error) {
	cfg := DefaultConfig()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return cfg, fmt.Errorf("decode hygiene config: %w", err)
	}
	return cfg, nil
}

// LoadConfig reads path and parses it with ParseConfig.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return DefaultConfig(), fmt.Errorf("read hygiene config: %w", err)
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		return cfg, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// Policy kinds.
const (
	KindPhone   = "phone"
	KindEmail   = "email"
	KindWechat  = "wechat"
	KindCompany = "company"
)

// What a company policy can require besides the name.
const (
	WithDomain = "domain"
	WithRegion = "region"
	WithPhone  = "phone"
)

// Validate reports every problem at once, each prefixed with its field.
// It checks what it can without reading files; New reports unreadable or
// malformed files.
func (c *Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if c.DefaultRegion == "" {
		bad("default_region", "required (an ISO 3166 region such as CN)")
	} else if phonenumbers.GetCountryCodeForRegion(c.DefaultRegion) == 0 {
		bad("default_region", "%q is not a region with a calling code", c.DefaultRegion)
	}
	list := func(field string, l List) {
		for i, f := range l.Files {
			if strings.TrimSpace(f) == "" {
				bad(fmt.Sprintf("%s.files[%d]", field, i), "empty path")
			}
		}
		for i, v := range l.Values {
			if strings.TrimSpace(v) == "" {
				bad(fmt.Sprintf("%s.values[%d]", field, i), "empty entry")
			}
		}
	}
	list("traditional_to_simplified", c.TraditionalToSimplified)
	list("email.freemail", c.Email.Freemail)
	list("email.disposable", c.Email.Disposable)
	list("email.roles", c.Email.Roles)
	list("phone.fake", c.Phone.Fake)
	if c.Phone.FakeRun != 0 && (c.Phone.FakeRun < 5 || c.Phone.FakeRun > 12) {
		bad("phone.fake_run", "%d: want 0 (off) or 5..12 digits", c.Phone.FakeRun)
	}
	list("blacklist.emails", c.Blacklist.Emails)
	list("blacklist.domains", c.Blacklist.Domains)
	list("blacklist.phones", c.Blacklist.Phones)
	list("blacklist.ips", c.Blacklist.IPs)
	list("blacklist.companies", c.Blacklist.Companies)
	for _, f := range []struct {
		field string
		l     List
	}{{"blacklist.emails", c.Blacklist.Emails}, {"blacklist.domains", c.Blacklist.Domains}, {"blacklist.phones", c.Blacklist.Phones}, {"blacklist.ips", c.Blacklist.IPs}, {"blacklist.companies", c.Blacklist.Companies}} {
		if f.l.Builtin {
			bad(f.field+".builtin", "there is no builtin blacklist")
		}
	}
	names := map[string]bool{}
	for i, lx := range c.Sensitive.Lexicons {
		field := fmt.Sprintf("sensitive.lexicons[%d]", i)
		if lx.Name == "" {
			bad(field+".name", "required")
		} else if names[lx.Name] {
			bad(field+".name", "duplicate lexicon %q", lx.Name)
		}
		names[lx.Name] = true
		if s, err := ParseSeverity(lx.Severity); err != nil || s == SeverityOff {
			bad(field+".severity", "%q: want reject or suspicious", lx.Severity)
		}
		if len(lx.Values) == 0 && len(lx.Files) == 0 {
			bad(field, "no values and no files")
		}
		list(field, List{Values: lx.Values, Files: lx.Files})
		for j, v := range lx.Values {
			if n := len([]rune(v)); n > maxWordRunes {
				bad(fmt.Sprintf("%s.values[%d]", field, j), "%d characters, at most %d", n, maxWordRunes)
			}
		}
	}
	cc := c.Company
	if !(cc.Threshold > 0 && cc.Threshold <= 1) {
		bad("company.threshold", "%v: want 0 < threshold <= 1", cc.Threshold)
	}
	if !(cc.ContainmentScore >= 0 && cc.ContainmentScore <= 1) {
		bad("company.containment_score", "%v: want 0..1", cc.ContainmentScore)
	}
	list("company.legal_forms", cc.LegalForms)
	list("company.industries", cc.Industries)
	list("company.places", cc.Places)
	list("company.aliases", cc.Aliases)
	for i, v := range cc.Aliases.Values {
		if a, b, ok := strings.Cut(v, "=>"); !ok || strings.TrimSpace(a) == "" || strings.TrimSpace(b) == "" {
			bad(fmt.Sprintf("company.aliases.values[%d]", i), "%q: want \"<alias> => <company>\"", v)
		}
	}
	d := c.Dedup
	if d.MaxEntries < 1 {
		bad("dedup.max_entries", "%d: want at least 1", d.MaxEntries)
	}
	if d.MaxPerKey < 1 {
		bad("dedup.max_per_key", "%d: want at least 1", d.MaxPerKey)
	}
	pnames := map[string]bool{}
	for i, p := range d.Policies {
		field := fmt.Sprintf("dedup.policies[%d]", i)
		if p.Name == "" {
			bad(field+".name", "required")
		} else if pnames[p.Name] {
			bad(field+".name", "duplicate policy %q", p.Name)
		}
		pnames[p.Name] = true
		switch p.Kind {
		case KindPhone, KindEmail, KindWechat:
			if len(p.With) > 0 {
				bad(field+".with", "only for kind company")
			}
			if p.Threshold != 0 {
				bad(field+".threshold", "only for kind company")
			}
		case KindCompany:
			for j, w := range p.With {
				if w != WithDomain && w != WithRegion && w != WithPhone {
					bad(fmt.Sprintf("%s.with[%d]", field, j), "%q: want domain, region or phone", w)
				}
			}
			if !(p.Threshold > 0 && p.Threshold <= 1) {
				bad(field+".threshold", "%v: want 0 < threshold <= 1", p.Threshold)
			}
		default:
			bad(field+".kind", "%q: want phone, email, wechat or company", p.Kind)
		}
		if p.Window <= 0 {
			bad(field+".window", "%s: want a positive duration", p.Window)
		}
		a, err := ParseAction(p.Action)
		if err != nil {
			bad(field+".action", "%q: want merge, reassign or tag", p.Action)
		}
		if p.Notify && a != ActionReassign {
			bad(field+".notify", "only for action reassign")
		}
	}
	for _, code := range slices.Sorted(maps.Keys(c.Severity)) {
		s := c.Severity[code]
		field := "severity." + string(code)
		if !knownCode(code) {
			bad(field, "unknown code")
			continue
		}
		if code == CodeSensitiveWord {
			bad(field, "set the severity on each lexicon")
			continue
		}
		if _, err := ParseSeverity(s); err != nil {
			bad(field, "%q: want reject, suspicious or off", s)
		}
	}
	return errors.Join(errs...)
}

func knownCode(c Code) bool {
	for _, k := range Codes {
		if k == c {
			return true
		}
	}
	return false
}
