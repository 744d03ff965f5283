package hygiene

import (
	"bufio"
	"embed"
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
)

//go:embed data/*.txt
var dataFS embed.FS

// eachEntry calls fn with every entry of l: the lines of the builtin data
// file (when l.Builtin and builtin is not empty), then l.Values, then the
// lines of l.Files. Blank lines and lines starting with '#' are skipped. An
// error names its source and line.
func eachEntry(l List, builtin string, fn func(entry string) error) error {
	scan := func(src, text string) error {
		sc := bufio.NewScanner(strings.NewReader(text))
		sc.Buffer(nil, 1<<20)
		for n := 1; sc.Scan(); n++ {
			line := strings.TrimSpace(sc.Text())
			if line == "" || line[0] == '#' {
				continue
			}
			if err := fn(line); err != nil {
				return fmt.Errorf("%s:%d: %w", src, n, err)
			}
		}
		if err := sc.Err(); err != nil {
			return fmt.Errorf("read %s: %w", src, err)
		}
		return nil
	}
	if l.Builtin && builtin != "" {
		b, err := dataFS.ReadFile("data/" + builtin)
		if err != nil {
			return fmt.Errorf("read builtin %s: %w", builtin, err)
		}
		if err := scan("builtin "+builtin, string(b)); err != nil {
			return err
		}
	}
	for i, v := range l.Values {
		if err := fn(strings.TrimSpace(v)); err != nil {
			return fmt.Errorf("values[%d]: %w", i, err)
		}
	}
	for _, path := range l.Files {
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("read list: %w", err)
		}
		if err := scan(path, string(b)); err != nil {
			return err
		}
	}
	return nil
}

// domainSet holds bare lower-case ASCII domains; a domain covers its
// subdomains.
type domainSet map[string]struct{}

// loadDomains reads a list of domains ("example.com", "@example.com" and
// "*.example.com" alike).
func loadDomains(l List, builtin string) (domainSet, error) {
	s := domainSet{}
	err := eachEntry(l, builtin, func(e string) error {
		e = strings.TrimPrefix(strings.TrimPrefix(e, "@"), "*.")
		d, err := normalizeDomain(e)
		if err != nil {
			return err
		}
		s[d] = struct{}{}
		return nil
	})
	return s, err
}

// match returns the entry covering domain (itself or a parent), if any.
func (s domainSet) match(domain string) (string, bool) {
	if len(s) == 0 || domain == "" {
		return "", false
	}
	for d := domain; ; {
		if _, ok := s[d]; ok {
			return d, true
		}
		i := strings.IndexByte(d, '.')
		if i < 0 {
			return "", false
		}
		d = d[i+1:]
	}
}

// loadSet reads a list of plain entries through norm.
func loadSet(l List, builtin string, norm func(string) (string, error)) (map[string]struct{}, error) {
	s := map[string]struct{}{}
	err := eachEntry(l, builtin, func(e string) error {
		k, err := norm(e)
		if err != nil {
			return err
		}
		s[k] = struct{}{}
		return nil
	})
	return s, err
}

// ipRanges is a sorted list of disjoint, non-adjacent address ranges. IPv4
// addresses live in their IPv4-mapped IPv6 form, so one search covers
// both families.
type ipRanges []ipRange

type ipRange struct{ lo, hi u128 }

type u128 struct{ hi, lo uint64 }

func (a u128) less(b u128) bool { return a.hi < b.hi || a.hi == b.hi && a.lo < b.lo }

func (a u128) inc() (u128, bool) {
	if a.lo == ^uint64(0) {
		if a.hi == ^uint64(0) {
			return a, false
		}
		return u128{a.hi + 1, 0}, true
	}
	return u128{a.hi, a.lo + 1}, true
}

// addrU128 is a as a number; an IPv4 address is its IPv4-mapped form.
func addrU128(a netip.Addr) u128 {
	b := a.As16()
	return u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

// loadIPRanges reads addresses and CIDR prefixes.
func loadIPRanges(l List) (ipRanges, error) {
	var rs []ipRange
	err := eachEntry(l, "", func(e string) error {
		p, err := parsePrefix(e)
		if err != nil {
			return err
		}
		lo := addrU128(p.Addr())
		bits := p.Bits()
		if p.Addr().Is4() {
			bits += 96
		}
		hi := lo
		host := 128 - bits
		switch {
		case host >= 64:
			hi.lo = ^uint64(0)
			hi.hi |= uint64(1)<<(host-64) - 1 // a shift by 64 is 0: all ones
		case host > 0:
			hi.lo |= uint64(1)<<host - 1
		}
		rs = append(rs, ipRange{lo, hi})
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(rs, func(a, b ipRange) int {
		if a.lo.less(b.lo) {
			return -1
		}
		if b.lo.less(a.lo) {
			return 1
		}
		return 0
	})
	var out ipRanges
	for _, r := range rs {
		if n := len(out); n > 0 {
			last := &out[n-1]
			next, ok := last.hi.inc()
			if !ok || !next.less(r.lo) { // overlapping or adjacent
				if last.hi.less(r.hi) {
					last.hi = r.hi
				}
				continue
			}
		}
		out = append(out, r)
	}
	return out, nil
}

// parsePrefix reads "10.0.0.0/8", "2001:db8::/32" or a single address.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return p, fmt.Errorf("parse ip range: %w", err)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("parse ip range: %w", err)
	}
	a = a.Unmap().WithZone("")
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// contains reports whether a is in one of the ranges.
func (rs ipRanges) contains(a netip.Addr) bool {
	if len(rs) == 0 {
		return false
	}
	x := addrU128(a.WithZone(""))
	i, _ := slices.BinarySearchFunc(rs, x, func(r ipRange, x u128) int {
		if r.hi.less(x) {
			return -1
		}
		if x.less(r.lo) {
			return 1
		}
		return 0
	})
	return i < len(rs) && !x.less(rs[i].lo) && !rs[i].hi.less(x)
}
