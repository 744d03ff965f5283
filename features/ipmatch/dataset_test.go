package ipmatch_test

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/leadscore/leadscore/features"
	"github.com/leadscore/leadscore/features/ipmatch"
)

var _ features.IPMatcher = (*ipmatch.Matcher)(nil)

// asnDir is where scripts/fetch-asn.sh puts the public @ip-location-db/asn
// dataset: $LEADSCORE_ASN_DIR, else <repo root>/.local/ipdb/asn.
func asnDir(tb testing.TB) string {
	tb.Helper()
	if d := os.Getenv("LEADSCORE_ASN_DIR"); d != "" {
		return d
	}
	wd, err := os.Getwd()
	require.NoError(tb, err)
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(d, ".local", "ipdb", "asn")
		}
		if filepath.Dir(d) == d {
			tb.Fatalf("no go.mod above %s", wd)
		}
	}
}

// datasetConfig names the public dataset's files, failing with what to do
// when they are missing.
func datasetConfig(tb testing.TB) ipmatch.Config {
	tb.Helper()
	dir := asnDir(tb)
	cfg := ipmatch.DefaultConfig()
	for _, f := range []string{"asn-ipv4.csv", "asn-ipv6.csv"} {
		p := filepath.Join(dir, f)
		if _, err := os.Stat(p); err != nil {
			tb.Fatalf("public ASN dataset missing (%v): run scripts/fetch-asn.sh from the repository root, or set LEADSCORE_ASN_DIR to a directory holding asn-ipv4.csv and asn-ipv6.csv", err)
		}
		cfg.CSV = append(cfg.CSV, p)
	}
	return cfg
}

var dataset struct {
	once   sync.Once
	m      *ipmatch.Matcher
	report ipmatch.LoadReport
	heap   uint64 // bytes the load kept, the empty cache included
	err    error
}

// fullDataset loads the public dataset once per test binary (about a
// second; several under -race) and measures the heap it keeps.
func fullDataset(tb testing.TB) *ipmatch.Matcher {
	tb.Helper()
	cfg := datasetConfig(tb)
	dataset.once.Do(func() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		dataset.m, dataset.err = ipmatch.New(cfg, ipmatch.WithLoadHook(func(r ipmatch.LoadReport) { dataset.report = r }))
		runtime.GC()
		runtime.ReadMemStats(&after)
		if after.HeapAlloc > before.HeapAlloc {
			dataset.heap = after.HeapAlloc - before.HeapAlloc
		}
	})
	require.NoError(tb, dataset.err)
	return dataset.m
}

func TestPublicDataset(t *testing.T) {
	m := fullDataset(t)
	rep := dataset.report
	t.Logf("loaded %d IPv4 and %d IPv6 ranges, %d organisations, %d rows skipped, in %s",
		rep.Ranges4, rep.Ranges6, rep.Orgs, rep.Skipped, rep.Took)
	require.NoError(t, rep.Err)
	require.Greater(t, rep.Ranges4, 300_000)
	require.Greater(t, rep.Ranges6, 50_000)
	require.Less(t, rep.Skipped, 100, "problems: %v", rep.Problems)

	// Expected values come from the dataset's own rows (checked by hand in
	// asn-ipv4.csv / asn-ipv6.csv) and from who runs these networks.
	cases := []struct {
		ip, org string
		asn     uint32
		class   ipmatch.Class
		domain  string
		account string
	}{
		{"8.8.8.8", "Google LLC", 15169, ipmatch.ClassCompany, "google.com", "google.com"},
		{"8.8.4.4", "Google LLC", 15169, ipmatch.ClassCompany, "google.com", "google.com"},
		{"2001:4860:4860::8888", "Google LLC", 15169, ipmatch.ClassCompany, "google.com", "google.com"},
		{"1.1.1.1", "Cloudflare, Inc.", 13335, ipmatch.ClassHosting, "cloudflare.com", ""},
		{"2606:4700::1111", "Cloudflare, Inc.", 13335, ipmatch.ClassHosting, "cloudflare.com", ""},
		{"73.1.2.3", "Comcast Cable Communications, LLC", 7922, ipmatch.ClassISP, "comcast.com", ""},
		{"79.192.1.1", "Deutsche Telekom AG", 3320, ipmatch.ClassISP, "telekom.com", ""},
		{"2003::1", "Deutsche Telekom AG", 3320, ipmatch.ClassISP, "telekom.com", ""},
		{"58.32.1.1", "China Telecom (Group)", 4812, ipmatch.ClassISP, "chinatelecom.com.cn", ""},
		{"240e::1", "Chinanet", 4134, ipmatch.ClassISP, "chinatelecom.com.cn", ""},
		{"27.0.160.1", "China Mobile", 9808, ipmatch.ClassMobile, "chinamobile.com", ""},
		{"23.18.0.1", "T-Mobile USA, Inc.", 21928, ipmatch.ClassMobile, "t-mobile.com", ""},
		{"18.0.0.1", "Massachusetts Institute of Technology", 3, ipmatch.ClassEducation, "", ""},
		{"17.0.0.1", "Apple Inc.", 714, ipmatch.ClassCompany, "apple.com", "apple.com"},
		{"::ffff:17.0.0.1", "Apple Inc.", 714, ipmatch.ClassCompany, "apple.com", "apple.com"},
	}
	for _, c := range cases {
		x, ok := m.Lookup(c.ip)
		require.True(t, ok, c.ip)
		require.Equal(t, c.org, x.Org, c.ip)
		require.Equal(t, c.asn, x.ASN, c.ip)
		require.Equal(t, c.class, x.Class, c.ip)
		require.Equal(t, c.domain, x.Domain, c.ip)
		require.Equal(t, c.account, x.Account, c.ip)
		require.Equal(t, ipmatch.SourceCSV, x.Source, c.ip)
		acc, ok := m.MatchIP(c.ip)
		require.Equal(t, c.account != "", ok, c.ip)
		require.Equal(t, c.account, acc, c.ip)
	}
	for _, ip := range []string{"10.1.2.3", "192.168.1.1", "127.0.0.1", "::1"} {
		_, ok := m.MatchIP(ip)
		require.False(t, ok, "%s is not routed on the internet", ip)
	}
}

// TestPublicDatasetAccounts checks, over random addresses, the invariants
// identity relies on: an account exactly for companies, already in the
// canonical form features.NormalizeAccount gives.
func TestPublicDatasetAccounts(t *testing.T) {
	m := fullDataset(t)
	rng := rand.New(rand.NewPCG(3, 4))
	classes := map[ipmatch.Class]int{}
	for range 20_000 {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], rng.Uint32())
		ip := netip.AddrFrom4(b).String()
		x, ok := m.Lookup(ip)
		if !ok {
			continue
		}
		classes[x.Class]++
		require.Equal(t, x.Class == ipmatch.ClassCompany, x.Account != "", "%s: %+v", ip, x)
		require.Equal(t, x.Account, features.NormalizeAccount(x.Account), ip)
		if x.Domain != "" {
			require.Equal(t, x.Domain, features.NormalizeAccount(x.Domain), ip)
		}
	}
	t.Logf("classes of 20 000 random IPv4 addresses found in ranges: %v", classes)
	require.Positive(t, classes[ipmatch.ClassCompany])
	require.Positive(t, classes[ipmatch.ClassISP])
}

// TestFullDatasetMemory bounds the heap the loaded public dataset keeps
// (BenchmarkLoadFullDataset reports it without the cache).
func TestFullDatasetMemory(t *testing.T) {
	fullDataset(t)
	heap := dataset.heap
	t.Logf("full dataset with an empty cache: %d bytes of heap (%.1f MiB)", heap, float64(heap)/(1<<20))
	require.Less(t, heap, uint64(100<<20), "the loaded dataset must stay well under 100 MiB")
}

// loadMeasured loads cfg and returns the heap it keeps.
func loadMeasured(tb testing.TB, cfg ipmatch.Config) (uint64, *ipmatch.Matcher) {
	tb.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	m, err := ipmatch.New(cfg)
	require.NoError(tb, err)
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(m)
	if after.HeapAlloc < before.HeapAlloc {
		return 0, m
	}
	return after.HeapAlloc - before.HeapAlloc, m
}

func TestShippedDomainsAreCanonical(t *testing.T) {
	// Read data/domains.csv independently of the package's parser.
	f, err := os.Open("data/domains.csv")
	require.NoError(t, err)
	defer f.Close()
	r := csvReader(f)
	n := 0
	for {
		rec, err := r.Read()
		if err != nil {
			require.ErrorIs(t, err, errEOF)
			break
		}
		require.Len(t, rec, 2, "%v", rec)
		require.Equal(t, rec[1], features.NormalizeAccount(rec[1]), "%v", rec)
		n++
	}
	require.GreaterOrEqual(t, n, 300)
}
