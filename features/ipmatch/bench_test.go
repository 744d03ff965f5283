package ipmatch_test

import (
	"encoding/binary"
	"encoding/csv"
	"io"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/leadscore/leadscore/features/ipmatch"
)

var errEOF = io.EOF

func csvReader(r io.Reader) *csv.Reader {
	c := csv.NewReader(r)
	c.Comment = '#'
	c.FieldsPerRecord = -1
	return c
}

// randomIPs returns n random IPv4 addresses as text.
func randomIPs(n int, seed uint64) []string {
	rng := rand.New(rand.NewPCG(seed, seed))
	ips := make([]string, n)
	for i := range ips {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], rng.Uint32())
		ips[i] = netip.AddrFrom4(b).String()
	}
	return ips
}

func reportRate(b *testing.B, n int) {
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "lookups/s")
}

// BenchmarkLookupCached: a hot set of 1 000 addresses, all in the cache.
func BenchmarkLookupCached(b *testing.B) {
	m := fullDataset(b)
	ips := randomIPs(1000, 5)
	for range 3 { // ristretto admits on repeated access
		for _, ip := range ips {
			m.Lookup(ip)
		}
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		m.Lookup(ips[n%len(ips)])
		n++
	}
	reportRate(b, n)
}

// BenchmarkLookupMiss: random addresses over the whole IPv4 space, far more
// than the cache holds, so nearly every call parses, searches and offers
// the result to the cache.
func BenchmarkLookupMiss(b *testing.B) {
	m := fullDataset(b)
	ips := randomIPs(1<<20, 6)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		m.Lookup(ips[n%len(ips)])
		n++
	}
	reportRate(b, n)
}

var uncached struct {
	m *ipmatch.Matcher
}

// BenchmarkLookupUncached: the sorted-range search alone (cache disabled).
func BenchmarkLookupUncached(b *testing.B) {
	if uncached.m == nil {
		cfg := datasetConfig(b)
		cfg.CacheEntries = 0
		m, err := ipmatch.New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		uncached.m = m
	}
	ips := randomIPs(1<<20, 7)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		uncached.m.Lookup(ips[n%len(ips)])
		n++
	}
	reportRate(b, n)
}

// BenchmarkLoadFullDataset loads the public dataset and reports the heap
// the loaded data keeps.
func BenchmarkLoadFullDataset(b *testing.B) {
	cfg := datasetConfig(b)
	cfg.CacheEntries = 0
	var heap uint64
	for b.Loop() {
		h, m := loadMeasured(b, cfg)
		m.Close()
		heap = h
	}
	b.ReportMetric(float64(heap), "heap-bytes")
}

// BenchmarkLookupMissAdmitted: the slowest path. Each op looks up a new
// address twice; the second miss passes the doorkeeper and pays for the
// cache Set. The address text is built per op (one small allocation).
func BenchmarkLookupMissAdmitted(b *testing.B) {
	m := fullDataset(b)
	b.ReportAllocs()
	n := 0
	var buf []byte
	for b.Loop() {
		v := uint32(n) * 2654435761 // a permutation: every op a new address
		buf = netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}).AppendTo(buf[:0])
		ip := string(buf)
		m.Lookup(ip)
		m.Lookup(ip)
		n++
	}
	reportRate(b, 2*n)
}
