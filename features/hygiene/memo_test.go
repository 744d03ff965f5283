package hygiene

import (
	"fmt"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// TestPhoneMemoAgrees: a Verdict's cached phone parses and company names
// give what the uncached path gives (a fresh Verdict each time, and
// ParsePhone), over the generated identifies and edge cases, each seen
// several times, with caches small enough that entries move between the
// generations and fall out.
func TestPhoneMemoAgrees(t *testing.T) {
	c := checkerWithLists(t)
	evs, _ := stageIdentifies(t, 300)
	var ins []Input
	for i := range evs {
		ins = append(ins, InputFromEvent(&evs[i]))
	}
	for _, p := range []string{"", " ", "+86 139 1056 7823", "13910567823", "86 139 1056 7823", "１３９１０５６７８２３",
		"139 1056 0000", "+49 30 22608751", "030 22608751", "12345678901", "+1 650 253 0000", "not a phone", "+",
		"13800000000", "139-1234-5678"} {
		for _, country := range []string{"", "CN", "cn", "DE", "de", "Us", "XX", "中国", "C"} {
			ins = append(ins, Input{Phone: p, Country: country, CompanyName: "北京纷扬网络科技有限公司"})
		}
	}
	for _, n := range []string{"Initech LLC", "initech", "纷扬科技", "Acme GmbH", ""} {
		ins = append(ins, Input{Email: "a@acme.example", CompanyName: n})
	}
	var cached Verdict
	cached.memo = newMemo(16) // 8 an generation: rotations and promotions
	hits := 0
	for round := range 3 {
		for i, in := range ins {
			in.Phone = strings.Clone(in.Phone) // a new string each time: the cache must compare contents
			c.Check(&in, &cached)
			var fresh Verdict
			c.Check(&in, &fresh)
			require.Equal(t, fresh.Rejected, cached.Rejected, "round %d input %d: %+v", round, i, in)
			require.Equal(t, nilIfEmpty(fresh.Findings), nilIfEmpty(cached.Findings), "round %d input %d: %+v", round, i, in)
			require.Equal(t, nilIfEmpty(fresh.Tags), nilIfEmpty(cached.Tags), "round %d input %d: %+v", round, i, in)
			require.Equal(t, fresh.Contact, cached.Contact, "round %d input %d: %+v", round, i, in)
			if in.Phone == "" {
				continue
			}
			region := c.region
			if r, ok := phoneRegion(in.Country); ok {
				region = r
			}
			want, wantErr := ParsePhone(in.Phone, region)
			for range 2 { // the second one hits
				got, err := c.parsePhoneMemo(&cached, in.Phone, region)
				require.Equal(t, want, got, "%q %q", in.Phone, region)
				require.Equal(t, wantErr, err, "%q %q", in.Phone, region)
			}
			hits++
		}
	}
	require.LessOrEqual(t, cached.memo.phones.len(), 16)
	require.LessOrEqual(t, cached.memo.companies.len(), 16)
	require.Positive(t, hits)
}

func TestPhoneRegion(t *testing.T) {
	for in, want := range map[string]string{"CN": "CN", "cn": "CN", "De": "DE", "us": "US", "XX": "", "": "", "C": "",
		"CHN": "", "中": "", "\xffz": ""} {
		r, ok := phoneRegion(in)
		require.Equal(t, want != "", ok, in)
		require.Equal(t, want, r, in)
	}
	// The library's own string, not the caller's.
	in := strings.Clone("CN")
	r, _ := phoneRegion(in)
	require.NotEqual(t, addr(in), addr(r))
}

// TestRecent checks the two-generation cache: bounded, the last n keys
// always found, a hit moved to the current generation, keys kept as the
// values carry them.
func TestRecent(t *testing.T) {
	c := recent[string, companyResult]{n: 4}
	put := func(k string) { c.put(companyResult{raw: k, c: CompanyName{Core: "core " + k}}) }
	for i := range 100 {
		put(fmt.Sprint(i))
		require.LessOrEqual(t, c.len(), 8)
		for j := max(0, i-3); j <= i; j++ {
			r, ok := c.get(fmt.Sprint(j))
			require.True(t, ok, "%d after %d", j, i)
			require.Equal(t, "core "+fmt.Sprint(j), r.c.Core)
		}
	}
	// "hot" is read between puts: it stays however many keys go by.
	put("hot")
	for i := range 100 {
		put(fmt.Sprint("x", i))
		_, ok := c.get("hot")
		require.True(t, ok, i)
	}
	_, ok := c.get("0")
	require.False(t, ok)

	// The cached raw is a copy, not the caller's string.
	var v Verdict
	ck := newTestChecker(t, nil)
	raw := strings.Clone("+86 139 1056 7823")
	_, err := ck.parsePhoneMemo(&v, raw, "CN")
	require.NoError(t, err)
	for k := range v.memo.phones.cur {
		require.Equal(t, raw, k.raw)
		require.NotEqual(t, addr(raw), addr(k.raw))
	}
	name := strings.Clone("北京纷扬网络科技有限公司")
	ck.companyMemo(&v, name)
	for k := range v.memo.companies.cur {
		require.NotEqual(t, addr(name), addr(k))
	}
}

// TestMemoAllocs: a phone and company seen lately cost nothing.
func TestMemoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	c := newTestChecker(t, nil)
	var v Verdict
	phones, names := distinctPhones(1000), distinctCompanies(1000)
	for i := range phones {
		c.parsePhoneMemo(&v, phones[i], "CN")
		c.companyMemo(&v, names[i])
	}
	i := 0
	require.Zero(t, testing.AllocsPerRun(1000, func() {
		_, _ = c.parsePhoneMemo(&v, phones[i%len(phones)], "CN")
		c.companyMemo(&v, names[i%len(names)])
		i++
	}))
}

// addr is where s's bytes are.
func addr(s string) uintptr { return uintptr(unsafe.Pointer(unsafe.StringData(s))) }
