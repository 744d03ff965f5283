package ipmatch

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Config says which range files to load and how to classify them. Start from
// DefaultConfig and set at least one of CSV, MMDB or Overrides; Validate
// reports every problem at once. YAML keys are the yaml tags; the caller
// decodes strictly (unknown keys fail).
type Config struct {
	// CSV lists range files in the @ip-location-db/asn format:
	// start,end,asn,organisation with inclusive IPv4 or IPv6 addresses
	// (e.g. asn-ipv4.csv and asn-ipv6.csv). Earlier files win ties.
	CSV []string `yaml:"csv"`
	// MMDB lists MaxMind DB files (GeoLite2/GeoIP2 ASN, ISP,
	// Connection-Type, Enterprise, or compatible). Their ranges beat CSV ranges.
	MMDB []string `yaml:"mmdb"`
	// Overrides is the user overrides file, empty for none. One line per
	// range: cidr,account[,domain] (a bare address is a /32 or /128), with
	// # comments. An override wins over everything.
	Overrides string `yaml:"overrides"`
	// PollInterval is how often Run checks the files' size and modification
	// time for a change. Must be > 0.
	PollInterval time.Duration `yaml:"poll_interval"`
	// CacheEntries bounds the cache of recent lookups in front of the ranges;
	// 0 disables the cache.
	CacheEntries int64 `yaml:"cache_entries"`
	// NoDefaultLists drops the shipped ASN classes, organisation rules and
	// domains, leaving only the ones below.
	NoDefaultLists bool `yaml:"no_default_lists"`
	// ASNClasses assigns a class to an autonomous system, over the shipped
	// data/asn-classes.csv.
	ASNClasses map[uint32]Class `yaml:"asn_classes"`
	// OrgRules are organisation keyword rules tried, in order, before the
	// shipped data/org-rules.txt.
	OrgRules []OrgRule `yaml:"org_rules"`
	// Domains maps an organisation name (matched normalised) or "AS<number>"
	// to its domain, over the shipped data/domains.csv.
	Domains map[string]string `yaml:"domains"`
}

// OrgRule classifies organisations whose name contains Keyword: a word or
// phrase matched on whole lower-case words, a trailing * matching any word
// that starts with the last word ("telecom*").
type OrgRule struct {
	Class   Class  `yaml:"class"`
	Keyword string `yaml:"keyword"`
}

// DefaultConfig returns the defaults: poll every minute, cache 100 000
// addresses, shipped lists on. It names no files.
func DefaultConfig() Config {
	return Config{
		PollInterval: time.Minute,
		CacheEntries: 100_000,
	}
}

// Validate reports every problem in c, each naming its field.
func (c *Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("ipmatch.%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if len(c.CSV) == 0 && len(c.MMDB) == 0 && c.Overrides == "" {
		bad("csv", "no range data: set csv, mmdb or overrides")
	}
	seen := map[string]string{}
	checkPath := func(field, p string) {
		if strings.TrimSpace(p) == "" {
			bad(field, "empty path")
			return
		}
		if prev, ok := seen[p]; ok {
			bad(field, "%s is already listed in %s", p, prev)
		}
		seen[p] = field
	}
	for i, p := range c.CSV {
		checkPath(fmt.Sprintf("csv[%d]", i), p)
	}
	for i, p := range c.MMDB {
		checkPath(fmt.Sprintf("mmdb[%d]", i), p)
	}
	if c.Overrides != "" {
		checkPath("overrides", c.Overrides)
	}
	if c.PollInterval <= 0 {
		bad("poll_interval", "must be > 0, got %s", c.PollInterval)
	}
	if c.CacheEntries < 0 {
		bad("cache_entries", "must be >= 0 (0 disables the cache), got %d", c.CacheEntries)
	}
	for _, asn := range slices.Sorted(maps.Keys(c.ASNClasses)) {
		cl := c.ASNClasses[asn]
		if asn == 0 {
			bad("asn_classes", "ASN 0 is reserved")
		}
		if cl == ClassUnknown || cl >= numClasses {
			bad(fmt.Sprintf("asn_classes[%d]", asn), "class must be company, isp, mobile, hosting or education")
		}
	}
	for i, r := range c.OrgRules {
		if r.Class == ClassUnknown || r.Class >= numClasses {
			bad(fmt.Sprintf("org_rules[%d].class", i), "must be company, isp, mobile, hosting or education")
		}
		if _, err := parseKeyword(r.Keyword); err != nil {
			bad(fmt.Sprintf("org_rules[%d].keyword", i), "%v", err)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(c.Domains)) {
		d := c.Domains[k]
		if _, _, err := parseDomainKey(k); err != nil {
			bad(fmt.Sprintf("domains[%q]", k), "%v", err)
		}
		if !looksLikeDomain(d) {
			bad(fmt.Sprintf("domains[%q]", k), "%q is not a bare lower-case domain", d)
		}
	}
	return errors.Join(errs...)
}
