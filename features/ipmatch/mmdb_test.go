package ipmatch

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/stretchr/testify/require"
)

// writeMMDB builds a small MaxMind DB with mmdbwriter (a test-only
// dependency) and returns its path.
func writeMMDB(t *testing.T, dir string, nets map[string]mmdbtype.Map) string {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType:            "leadscore-test-ISP",
		RecordSize:              24,
		IPVersion:               6,
		IncludeReservedNetworks: true, // the tests use documentation ranges
	})
	require.NoError(t, err)
	for cidr, rec := range nets {
		_, n, err := net.ParseCIDR(cidr)
		require.NoError(t, err)
		require.NoError(t, tree.Insert(n, rec))
	}
	p := filepath.Join(dir, "test.mmdb")
	f, err := os.Create(p)
	require.NoError(t, err)
	_, err = tree.WriteTo(f)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	return p
}

func TestMMDB(t *testing.T) {
	dir := t.TempDir()
	mmdb := writeMMDB(t, dir, map[string]mmdbtype.Map{
		"192.0.2.0/24": { // GeoIP2-ISP style, typed corporate
			"autonomous_system_number":       mmdbtype.Uint32(64500),
			"autonomous_system_organization": mmdbtype.String("Example Transit"),
			"isp":                            mmdbtype.String("Example Transit"),
			"organization":                   mmdbtype.String("Example Widgets Inc."),
			"connection_type":                mmdbtype.String("Corporate"),
		},
		"198.51.100.0/24": { // a residential network whose name has no keyword
			"autonomous_system_number":       mmdbtype.Uint32(64501),
			"autonomous_system_organization": mmdbtype.String("Plain Name"),
			"connection_type":                mmdbtype.String("Cable/DSL"),
		},
		"203.0.113.0/24": { // Enterprise style: traits, user_type business beats the "hosting" keyword
			"traits": mmdbtype.Map{
				"autonomous_system_number": mmdbtype.Uint32(64502),
				"organization":             mmdbtype.String("Acme Hosting Corp"),
				"user_type":                mmdbtype.String("business"),
			},
		},
		"2001:db8::/32": { // GeoLite2-ASN style
			"autonomous_system_number":       mmdbtype.Uint32(15169),
			"autonomous_system_organization": mmdbtype.String("Google LLC"),
		},
		"2001:db9::/32": {"isp": mmdbtype.String("Only Provider Name")},
		"2001:dba::/32": {"unrelated": mmdbtype.String("no org, no asn")},
	})
	csv := writeFile(t, dir, "r.csv", ""+
		"192.0.2.0,192.0.2.15,64999,Csv Narrow\n"+ // narrower, but MaxMind beats CSV
		"192.0.3.0,192.0.3.255,64998,Only In Csv\n")
	cfg := DefaultConfig()
	cfg.MMDB = []string{mmdb}
	cfg.CSV = []string{csv}
	m, err := New(cfg)
	require.NoError(t, err)
	defer m.Close()

	cases := []struct {
		ip      string
		org     string
		asn     uint32
		class   Class
		account string
		conf    float64
		src     Source
	}{
		{"192.0.2.1", "Example Widgets Inc.", 64500, ClassCompany, "org:example-widgets", ConfidenceMMDBCorporate, SourceMMDB},
		{"192.0.2.255", "Example Widgets Inc.", 64500, ClassCompany, "org:example-widgets", ConfidenceMMDBCorporate, SourceMMDB},
		{"::ffff:192.0.2.3", "Example Widgets Inc.", 64500, ClassCompany, "org:example-widgets", ConfidenceMMDBCorporate, SourceMMDB},
		{"198.51.100.77", "Plain Name", 64501, ClassISP, "", ConfidenceMMDB, SourceMMDB},
		{"203.0.113.1", "Acme Hosting Corp", 64502, ClassCompany, "org:acme-hosting", ConfidenceMMDBCorporate, SourceMMDB},
		{"2001:db8::1", "Google LLC", 15169, ClassCompany, "google.com", ConfidenceMMDB, SourceMMDB},
		{"2001:db9::1", "Only Provider Name", 0, ClassCompany, "org:only-provider-name", ConfidenceMMDB, SourceMMDB},
		{"192.0.3.1", "Only In Csv", 64998, ClassCompany, "org:only-in-csv", ConfidenceCSV, SourceCSV},
	}
	for _, c := range cases {
		x, ok := m.Lookup(c.ip)
		require.True(t, ok, c.ip)
		require.Equal(t, Match{
			Account: c.account, Domain: map[bool]string{true: "google.com"}[c.asn == 15169],
			Org: c.org, ASN: c.asn, Class: c.class, Confidence: c.conf, Source: c.src,
		}, x, c.ip)
	}
	_, ok := m.Lookup("2001:dba::1")
	require.False(t, ok, "a network without organisation or ASN is no match")
	_, ok = m.Lookup("192.0.1.255")
	require.False(t, ok)

	require.NoError(t, os.WriteFile(mmdb, []byte("not a maxmind db"), 0o644))
	err = m.Reload()
	require.ErrorContains(t, err, "open mmdb")
	x, _ := m.Lookup("192.0.2.1")
	require.Equal(t, "Example Widgets Inc.", x.Org, "a broken database keeps the old data")
}
