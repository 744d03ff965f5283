package hygiene

import (
	"strings"
	"sync"

	"github.com/nyaruka/phonenumbers"
)

// memo remembers a Verdict's recent phone parses and company names:
// Segment clients send a person's identify traits again on every page or
// session, and the phone library is the costliest step (about 80
// allocations a parse), company normalisation the next. Per Verdict, so
// the Checker stays immutable and nothing is locked: a worker reuses its
// Verdict, and a person's identifies reach the same worker.
type memo struct {
	phones    recent[phoneKey, phoneResult]
	companies recent[string, companyResult]
}

// memoSize bounds each of a Verdict's caches: it remembers the last 1024
// to 2048 phones and company names used (see recent), at most about
// 0.75 MiB for the phones and 0.25 MiB for the companies (measured: some
// 370 and 120 bytes an entry, maps included), per worker. Enough for the
// people who identify again within a worker's recent traffic with other
// traits, or who were rejected (the pipeline's per-person verdict cache in
// front of it takes the exact repeats of passing leads).
const memoSize = 2048

func newMemo(size int) *memo {
	return &memo{phones: recent[phoneKey, phoneResult]{n: size / 2}, companies: recent[string, companyResult]{n: size / 2}}
}

// phoneKey is what a parse depends on: the raw text and the default region.
type phoneKey struct{ raw, region string }

type phoneResult struct {
	key phoneKey // raw cloned, region the library's own string
	p   Phone
	err error
}

func (r phoneResult) cacheKey() phoneKey { return r.key }

type companyResult struct {
	raw string // cloned
	c   CompanyName
}

func (r companyResult) cacheKey() string { return r.raw }

// keyed is a cached value that carries its own key, so the cache can move
// it between generations without the caller's key, which may be an event's
// string that must not be kept.
type keyed[K comparable] interface{ cacheKey() K }

// recent is a bounded cache of two generations of up to n entries each. A
// new entry goes into the current generation; when that is full it becomes
// the old one and the old one, emptied, the current one (its memory is
// reused). A hit in the old generation moves the entry to the current one.
// So it remembers at least the last n distinct keys used, at most 2n,
// without per-entry bookkeeping: an LRU's behaviour at a map's cost.
type recent[K comparable, V keyed[K]] struct {
	cur, old map[K]V
	n        int
}

// get returns the value cached under k. k is only read.
func (c *recent[K, V]) get(k K) (V, bool) {
	if v, ok := c.cur[k]; ok {
		return v, true
	}
	v, ok := c.old[k]
	if ok {
		delete(c.old, k)
		c.put(v)
	}
	return v, ok
}

// put caches v under its key, which the cache keeps: it must not point
// into memory the cache should not pin (an event's strings).
func (c *recent[K, V]) put(v V) {
	if len(c.cur) >= c.n {
		c.cur, c.old = c.old, c.cur
		clear(c.cur)
	}
	if c.cur == nil {
		c.cur = make(map[K]V)
	}
	c.cur[v.cacheKey()] = v
}

// len is the number of entries cached.
func (c *recent[K, V]) len() int { return len(c.cur) + len(c.old) }

func (v *Verdict) memoized() *memo {
	if v.memo == nil {
		v.memo = newMemo(memoSize)
	}
	return v.memo
}

// parsePhoneMemo is parsePhone through the Verdict's cache. region is the
// library's own string for the region (phoneRegion) or the configured
// default, so the key keeps no caller's memory but raw's copy.
func (c *Checker) parsePhoneMemo(v *Verdict, raw, region string) (Phone, error) {
	m := v.memoized()
	if r, ok := m.phones.get(phoneKey{raw, region}); ok {
		return r.p, r.err
	}
	if v.phone == nil {
		v.phone = new(phoneScratch)
	}
	p, err := parsePhone(raw, region, v.phone)
	m.phones.put(phoneResult{key: phoneKey{strings.Clone(raw), region}, p: p, err: err})
	return p, err
}

// companyMemo is Company through the Verdict's cache.
func (c *Checker) companyMemo(v *Verdict, raw string) CompanyName {
	m := v.memoized()
	if r, ok := m.companies.get(raw); ok {
		return r.c
	}
	n := c.names.normalize(raw, true)
	m.companies.put(companyResult{raw: strings.Clone(raw), c: n})
	return n
}

// phoneRegions maps each two-letter region the phone library knows (it
// has a country calling code for) to the library's string for it.
var phoneRegions = sync.OnceValue(func() map[[2]byte]string {
	m := map[[2]byte]string{}
	for r := range phonenumbers.GetSupportedRegions() {
		if len(r) == 2 && phonenumbers.GetCountryCodeForRegion(r) != 0 {
			m[[2]byte{r[0], r[1]}] = r
		}
	}
	return m
})

// phoneRegion returns the region a two-letter country code names, in any
// case, when the phone library knows it: its string, not country, so it
// can be kept.
func phoneRegion(country string) (string, bool) {
	if len(country) != 2 {
		return "", false
	}
	upper := func(b byte) byte {
		if 'a' <= b && b <= 'z' {
			return b - ('a' - 'A')
		}
		return b
	}
	r, ok := phoneRegions()[[2]byte{upper(country[0]), upper(country[1])}]
	return r, ok
}
