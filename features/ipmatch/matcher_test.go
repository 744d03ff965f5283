package ipmatch

import (
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
)

// A small range file. Organisations are invented (documentation ASNs
// 64496-64511 and 65536-65551) except where a test needs a listed ASN.
const rangesCSV = `192.0.2.0,192.0.2.255,64500,Example Widgets Inc.
198.51.100.0,198.51.100.255,64501,"Acme Telecom, Ltd."
203.0.113.0,203.0.113.127,64502,Globex Mobile
203.0.113.128,203.0.113.255,64503,Initech Cloud Hosting
100.64.0.0,100.64.255.255,64504,Umbrella University
10.0.0.0,10.255.255.255,64505,Wide Corp
10.1.0.0,10.1.255.255,64506,Narrow Corp
10.1.2.0,10.1.2.255,64507,Narrowest Corp
2001:db8::,2001:db8:ffff:ffff:ffff:ffff:ffff:ffff,64508,Sixcorp GmbH
2001:db8:1::,2001:db8:1::ff,64509,Tiny Six
0.0.0.0,0.0.0.255,64510,First Block
255.255.255.0,255.255.255.255,64511,Last Block
`

func TestLookupEdges(t *testing.T) {
	m := newMatcher(t, []string{writeFile(t, t.TempDir(), "r.csv", rangesCSV)}, "")
	type want struct {
		org string
		ok  bool
	}
	cases := map[string]want{
		"192.0.2.0":       {"Example Widgets Inc.", true}, // first address
		"192.0.2.255":     {"Example Widgets Inc.", true}, // last address
		"192.0.1.255":     {"", false},                    // one before
		"192.0.3.0":       {"", false},                    // one past
		"0.0.0.0":         {"First Block", true},          // lowest address of all
		"255.255.255.255": {"Last Block", true},           // highest address of all
		// Overlaps: the narrowest range holding the address wins.
		"10.0.0.1":       {"Wide Corp", true},
		"10.1.0.0":       {"Narrow Corp", true},
		"10.1.1.255":     {"Narrow Corp", true},
		"10.1.2.0":       {"Narrowest Corp", true},
		"10.1.2.255":     {"Narrowest Corp", true},
		"10.1.3.0":       {"Narrow Corp", true},
		"10.1.255.255":   {"Narrow Corp", true},
		"10.2.0.0":       {"Wide Corp", true},
		"10.255.255.255": {"Wide Corp", true},
		"11.0.0.0":       {"", false},
		// IPv6 and its edges; nested range.
		"2001:db8::":                             {"Sixcorp GmbH", true},
		"2001:db8:ffff:ffff:ffff:ffff:ffff:ffff": {"Sixcorp GmbH", true},
		"2001:db7:ffff:ffff:ffff:ffff:ffff:ffff": {"", false},
		"2001:db9::":                             {"", false},
		"2001:db8:1::":                           {"Tiny Six", true},
		"2001:db8:1::ff":                         {"Tiny Six", true},
		"2001:db8:1::100":                        {"Sixcorp GmbH", true},
		"2001:DB8:1::AB":                         {"Tiny Six", true},
		// IPv4-mapped IPv6 is looked up as IPv4.
		"::ffff:192.0.2.1": {"Example Widgets Inc.", true},
		"::ffff:c000:0201": {"Example Widgets Inc.", true},
		"::ffff:192.0.3.0": {"", false},
		// Not addresses.
		"":            {"", false},
		"192.0.2":     {"", false},
		"192.0.2.256": {"", false},
		"example.com": {"", false},
		" 192.0.2.1":  {"", false},
	}
	for ip, w := range cases {
		x, ok := m.Lookup(ip)
		require.Equal(t, w.ok, ok, ip)
		require.Equal(t, w.org, x.Org, ip)
		// The cache must give the same answer the second time.
		x2, ok2 := m.Lookup(ip)
		require.Equal(t, x, x2, ip)
		require.Equal(t, ok, ok2, ip)
	}
}

func TestClassesAndAccounts(t *testing.T) {
	m := newMatcher(t, []string{writeFile(t, t.TempDir(), "r.csv", rangesCSV)}, "")
	cases := []struct {
		ip, account string
		class       Class
	}{
		{"192.0.2.1", "org:example-widgets", ClassCompany}, // no known domain: slug without "Inc."
		{"198.51.100.1", "", ClassISP},
		{"203.0.113.1", "", ClassMobile},
		{"203.0.113.200", "", ClassHosting},
		{"100.64.1.1", "", ClassEducation},
		{"2001:db8::1", "org:sixcorp", ClassCompany},
	}
	for _, c := range cases {
		x, ok := m.Lookup(c.ip)
		require.True(t, ok, c.ip)
		require.Equal(t, c.class, x.Class, c.ip)
		require.Equal(t, c.account, x.Account, c.ip)
		require.Equal(t, SourceCSV, x.Source, c.ip)
		require.Equal(t, ConfidenceCSV, x.Confidence, c.ip)
		acc, ok := m.MatchIP(c.ip)
		require.Equal(t, c.account != "", ok, c.ip)
		require.Equal(t, c.account, acc, c.ip)
	}
	_, ok := m.MatchIP("not an ip")
	require.False(t, ok)
}

func TestOverridesWin(t *testing.T) {
	dir := t.TempDir()
	csv := writeFile(t, dir, "r.csv", rangesCSV)
	ov := writeFile(t, dir, "overrides.csv", `# cidr,account[,domain]
198.51.100.0/25,https://www.Acme-Telecom.example/,
203.0.113.128/25,Initech Labs,initech.example
2001:db8:1::/48,sixcorp.example
10.1.2.3,hq.narrowest.example
10.1.2.0/24,narrowest.example
192.0.2.10/8,host-bits.example
172.16.0.0/12,private-office.example
`)
	var rep LoadReport
	m := newMatcher(t, []string{csv}, ov, WithLoadHook(func(r LoadReport) { rep = r }))
	require.Equal(t, 1, rep.Skipped, "the host-bits line is reported")
	var re *RowError
	require.ErrorAs(t, rep.Problems[0], &re)
	require.Equal(t, 7, re.Line)

	cases := []struct {
		ip, account, domain, org string
	}{
		// An ISP range made an account by the user: the data's org stays.
		{"198.51.100.1", "acme-telecom.example", "acme-telecom.example", "Acme Telecom, Ltd."},
		{"198.51.100.128", "", "", "Acme Telecom, Ltd."}, // outside the override
		{"203.0.113.200", "Initech Labs", "initech.example", "Initech Cloud Hosting"},
		{"2001:db8:1::1", "sixcorp.example", "sixcorp.example", "Tiny Six"},
		{"10.1.2.3", "hq.narrowest.example", "hq.narrowest.example", "Narrowest Corp"}, // narrowest override
		{"10.1.2.4", "narrowest.example", "narrowest.example", "Narrowest Corp"},
		{"172.16.5.5", "private-office.example", "private-office.example", ""}, // no data range at all
	}
	for _, c := range cases {
		x, ok := m.Lookup(c.ip)
		require.True(t, ok, c.ip)
		require.Equal(t, c.account, x.Account, c.ip)
		require.Equal(t, c.domain, x.Domain, c.ip)
		require.Equal(t, c.org, x.Org, c.ip)
		if c.account != "" {
			require.Equal(t, SourceOverride, x.Source, c.ip)
			require.Equal(t, ClassCompany, x.Class, c.ip)
			require.Equal(t, 1.0, x.Confidence, c.ip)
		}
	}
	_, ok := m.Lookup("192.0.2.10")
	require.True(t, ok)
	acc, _ := m.MatchIP("192.0.2.10")
	require.Equal(t, "org:example-widgets", acc, "the bad override line was skipped")
}

func TestConfigListsExtendDefaults(t *testing.T) {
	dir := t.TempDir()
	csv := writeFile(t, dir, "r.csv", rangesCSV+
		"192.0.2.0,192.0.2.255,64512,Not Really A Telecom\n"+
		"198.18.0.0,198.19.255.255,15169,Google LLC\n")
	cfg := DefaultConfig()
	cfg.CSV = []string{csv}
	cfg.ASNClasses = map[uint32]Class{64501: ClassCompany, 64502: ClassHosting}
	cfg.OrgRules = []OrgRule{{ClassCompany, "not really a telecom"}, {ClassISP, "widget*"}}
	cfg.Domains = map[string]string{"Example Widgets": "widgets.example", "AS64501": "acme.example"}
	m, err := New(cfg)
	require.NoError(t, err)
	defer m.Close()

	x, _ := m.Lookup("198.51.100.1") // listed ASN beats the "telecom" keyword
	require.Equal(t, ClassCompany, x.Class)
	require.Equal(t, "acme.example", x.Account)
	x, _ = m.Lookup("203.0.113.1")
	require.Equal(t, ClassHosting, x.Class)
	x, _ = m.Lookup("192.0.2.1") // the earlier row of the same /24 wins the tie: Example Widgets, now ISP
	require.Equal(t, "Example Widgets Inc.", x.Org)
	require.Equal(t, ClassISP, x.Class)
	require.Equal(t, "widgets.example", x.Domain)
	require.Empty(t, x.Account)
	x, _ = m.Lookup("198.18.0.1") // shipped lists still apply
	require.Equal(t, ClassCompany, x.Class)
	require.Equal(t, "google.com", x.Account)

	cfg.NoDefaultLists = true
	cfg.OrgRules, cfg.ASNClasses = nil, nil
	m2, err := New(cfg)
	require.NoError(t, err)
	defer m2.Close()
	x, _ = m2.Lookup("198.51.100.1")
	require.Equal(t, ClassCompany, x.Class, "without shipped rules a telecom is just a name")
	x, _ = m2.Lookup("198.18.0.1")
	require.Equal(t, "org:google", x.Account, "without shipped domains")
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	met, err := NewMetrics(reg)
	require.NoError(t, err)
	m := newMatcher(t, []string{writeFile(t, t.TempDir(), "r.csv", rangesCSV)}, "", WithMetrics(met))
	for _, ip := range []string{"192.0.2.1", "192.0.2.2", "198.51.100.1", "11.0.0.0", "junk"} {
		m.Lookup(ip)
	}
	require.Equal(t, 5.0, counterValue(t, met.lookups))
	require.Equal(t, 1.0, counterValue(t, met.invalid))
	require.Equal(t, 2.0, counterValue(t, met.hits[SourceCSV][ClassCompany]))
	require.Equal(t, 1.0, counterValue(t, met.hits[SourceCSV][ClassISP]))
	require.NoError(t, m.Reload())
	require.Equal(t, 1.0, counterValue(t, met.reloadOK))

	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		require.True(t, strings.HasPrefix(mf.GetName(), "leadscore_ipmatch_"), mf.GetName())
		require.True(t, strings.HasSuffix(mf.GetName(), "_total"), mf.GetName())
		for _, metric := range mf.GetMetric() {
			for _, l := range metric.GetLabel() {
				require.Contains(t, []string{"source", "class", "result"}, l.GetName())
			}
		}
	}
	_, err = NewMetrics(reg)
	require.Error(t, err, "registering twice fails")
}

func TestValidate(t *testing.T) {
	cfg := DefaultConfig()
	cfg.CSV = []string{"a.csv", "a.csv", ""}
	cfg.PollInterval = 0
	cfg.CacheEntries = -1
	cfg.ASNClasses = map[uint32]Class{0: ClassISP, 7: ClassUnknown}
	cfg.OrgRules = []OrgRule{{ClassUnknown, "x"}, {ClassISP, "*"}, {ClassISP, "a*b"}}
	cfg.Domains = map[string]string{"Acme": "Not A Domain", "": "acme.com"}
	err := cfg.Validate()
	require.Error(t, err)
	for _, field := range []string{
		"ipmatch.csv[1]: a.csv is already listed in csv[0]", "ipmatch.csv[2]: empty path",
		"ipmatch.poll_interval", "ipmatch.cache_entries", "ipmatch.asn_classes: ASN 0",
		"ipmatch.asn_classes[7]", "ipmatch.org_rules[0].class", "ipmatch.org_rules[1].keyword",
		"ipmatch.org_rules[2].keyword", `ipmatch.domains["Acme"]`, `ipmatch.domains[""]`,
	} {
		require.ErrorContains(t, err, field)
	}
	empty := DefaultConfig()
	require.ErrorContains(t, empty.Validate(), "no range data")
	_, err = New(empty)
	require.ErrorContains(t, err, "validate ipmatch config")
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	require.NoError(t, c.Write(&m))
	return m.GetCounter().GetValue()
}

func TestLookupAllocs(t *testing.T) {
	m := newMatcher(t, []string{writeFile(t, t.TempDir(), "r.csv", rangesCSV)}, "")
	for range 3 {
		m.Lookup("192.0.2.1") // admitted on the second miss
	}
	m.cache.Wait()
	_, ok := m.cache.Get("192.0.2.1")
	require.True(t, ok, "cached")
	require.Zero(t, testing.AllocsPerRun(1000, func() { m.Lookup("192.0.2.1") }), "cached hit")
	fresh := make([]string, 1001) // distinct: each a first miss
	for i := range fresh {
		fresh[i] = fmt.Sprintf("2001:db8:%x::7", i)
	}
	i := 0
	require.Zero(t, testing.AllocsPerRun(1000, func() { m.Lookup(fresh[i]); i++ }), "first misses")

	cfg := DefaultConfig()
	cfg.CSV = m.cfg.CSV
	cfg.CacheEntries = 0
	u, err := New(cfg)
	require.NoError(t, err)
	defer u.Close()
	require.Zero(t, testing.AllocsPerRun(1000, func() { u.Lookup("198.51.100.3") }), "no cache")
	require.Zero(t, testing.AllocsPerRun(1000, func() { u.MatchIP("2001:db8::9") }), "no cache, IPv6")
}

func TestDoorkeeper(t *testing.T) {
	d := newDoorkeeper(100)
	require.Len(t, d.slots, 128)
	require.False(t, d.admit("192.0.2.1"), "first sighting")
	require.True(t, d.admit("192.0.2.1"), "second sighting")
	require.True(t, d.admit("192.0.2.1"))
	require.Len(t, newDoorkeeper(1).slots, 1)
	require.Len(t, newDoorkeeper(1024).slots, 1024)
}
