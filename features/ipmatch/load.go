package ipmatch

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"time"
)

// maxProblems bounds the malformed rows a LoadReport keeps; Skipped counts
// them all.
const maxProblems = 100

// Span precedence of data ranges: MaxMind beats CSV (see doc.go).
const (
	prioCSV  = 0
	prioMMDB = 1
)

// RowError is a malformed row that a load skipped; the rest of its file
// was loaded.
type RowError struct {
	File string
	Line int
	Err  error
}

// Error names the file and line.
func (e *RowError) Error() string {
	return fmt.Sprintf("parse %s:%d: %v", e.File, e.Line, e.Err)
}

// Unwrap returns the cause.
func (e *RowError) Unwrap() error { return e.Err }

// ErrChanged is returned (wrapped) by a load during which a file changed: a
// writer was rewriting it in place. The old data stays; the next poll loads
// again. Writers should write a new file and rename it over the old one.
var ErrChanged = errors.New("file changed while loading")

// LoadReport describes one load: the first one in New, and every reload.
type LoadReport struct {
	// Err is nil when the new data is in use; otherwise the previous data
	// (if any) stays in use.
	Err error
	// Ranges4 and Ranges6 count the disjoint data ranges after resolving
	// overlaps; Overrides the override ranges.
	Ranges4, Ranges6, Overrides int
	// Orgs counts distinct organisation names.
	Orgs int
	// Skipped counts malformed rows; Problems holds the first 100 of them
	// (each a *RowError).
	Skipped  int
	Problems []error
	// Took is how long the load took.
	Took time.Duration
}

// entry is what a range resolves to; ranges hold its index. Entries are
// interned: one per distinct (source, asn, org, network type).
type entry struct {
	account, domain, org string
	asn                  uint32
	class                Class
	source               Source
	conf                 float64
}

type entryKey struct {
	source    Source
	asn       uint32
	org       string
	netType   Class
	corporate bool
}

type overrideKey struct{ account, domain string }

// stamp is what Run compares to notice a changed file.
type stamp struct {
	path string
	size int64
	mod  time.Time
}

func (s stamp) same(o stamp) bool {
	return s.path == o.path && s.size == o.size && s.mod.Equal(o.mod)
}

func stampOf(path string) (stamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return stamp{}, fmt.Errorf("stat range file: %w", err)
	}
	return stamp{path, fi.Size(), fi.ModTime()}, nil
}

// builder accumulates one snapshot.
type builder struct {
	cls      *classifier
	entries  []entry
	entryIdx map[entryKey]uint32
	ovIdx    map[overrideKey]uint32
	orgs     map[string]string
	v4, v6   []span
	ov4, ov6 []span
	seq      uint32
	skipped  int
	problems []error
}

func newBuilder(cls *classifier) *builder {
	return &builder{
		cls:      cls,
		entryIdx: map[entryKey]uint32{},
		ovIdx:    map[overrideKey]uint32{},
		orgs:     map[string]string{},
	}
}

func (b *builder) problem(err error) {
	b.skipped++
	if len(b.problems) < maxProblems {
		b.problems = append(b.problems, err)
	}
}

// intern returns the one copy of an organisation name.
func (b *builder) intern(org []byte) string {
	if s, ok := b.orgs[string(org)]; ok {
		return s
	}
	s := string(org)
	b.orgs[s] = s
	return s
}

// dataEntry returns the index of the entry for a data range, classifying
// it the first time (asn, org, network type) is seen.
func (b *builder) dataEntry(src Source, asn uint32, org string, netType Class, corporate bool) uint32 {
	k := entryKey{src, asn, org, netType, corporate}
	if i, ok := b.entryIdx[k]; ok {
		return i
	}
	e := entry{org: org, asn: asn, source: src}
	e.class = b.cls.classify(asn, org, netType)
	e.domain = b.cls.domain(asn, org)
	if e.class == ClassCompany {
		e.account = e.domain
		if e.account == "" {
			e.account = orgAccount(org, asn)
		}
	}
	switch {
	case src == SourceCSV:
		e.conf = ConfidenceCSV
	case corporate:
		e.conf = ConfidenceMMDBCorporate
	default:
		e.conf = ConfidenceMMDB
	}
	i := uint32(len(b.entries))
	b.entries = append(b.entries, e)
	b.entryIdx[k] = i
	return i
}

func (b *builder) overrideEntry(account, domain string) uint32 {
	k := overrideKey{account, domain}
	if i, ok := b.ovIdx[k]; ok {
		return i
	}
	i := uint32(len(b.entries))
	b.entries = append(b.entries, entry{
		account: account, domain: domain, class: ClassCompany,
		source: SourceOverride, conf: ConfidenceOverride,
	})
	b.ovIdx[k] = i
	return i
}

// addRange adds the inclusive range [start, end]. IPv4-mapped addresses
// count as IPv4.
func (b *builder) addRange(start, end netip.Addr, ent uint32, prio uint8, override bool) error {
	start, end = start.Unmap(), end.Unmap()
	if start.Is4() != end.Is4() {
		return errors.New("start and end are of different IP versions")
	}
	s := span{start: u128Of(start), end: u128Of(end), ent: ent, prio: prio, seq: b.seq}
	if s.end.less(s.start) {
		return errors.New("end before start")
	}
	b.seq++
	switch {
	case start.Is4() && override:
		b.ov4 = append(b.ov4, s)
	case override:
		b.ov6 = append(b.ov6, s)
	case start.Is4():
		b.v4 = append(b.v4, s)
	default:
		b.v6 = append(b.v6, s)
	}
	return nil
}

// eachFileLine calls fn with every record line of a file and its 1-based
// number; fn's error is reported as a *RowError and the line skipped. It
// returns the count of lines fn accepted.
func (b *builder) eachFileLine(path string, fn func(n int, line []byte) error) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("open range file: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	ok := 0
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimRight(sc.Bytes(), "\r")
		if skipLine(line) {
			continue
		}
		if err := fn(n, line); err != nil {
			if err != errHeader {
				b.problem(&RowError{File: path, Line: n, Err: err})
			}
			continue
		}
		ok++
	}
	if err := sc.Err(); err != nil {
		return ok, fmt.Errorf("read %s: %w", path, err)
	}
	return ok, nil
}

// errHeader marks a header line, skipped without a report.
var errHeader = errors.New("header")

// isHeader: a first line whose first field has no digit and no colon is a
// column header ("start,end,asn,org"), not an address.
func isHeader(n int, first []byte) bool {
	return n == 1 && bytes.IndexAny(first, "0123456789:") < 0
}

// loadCSV reads a range file: start,end,asn,organisation.
func (b *builder) loadCSV(path string) error {
	var fields [maxFields][]byte
	var scratch []byte
	// Rows are 45-90 bytes: size the span slice of the file's family once,
	// at its first row, instead of growing it a row at a time.
	var est int
	if fi, err := os.Stat(path); err == nil {
		est = int(fi.Size() / 45)
	}
	ok, err := b.eachFileLine(path, func(n int, line []byte) error {
		k, s, err := splitCSVLine(line, &fields, scratch)
		scratch = s
		if err != nil {
			return err
		}
		if isHeader(n, fields[0]) {
			return errHeader
		}
		if est > 0 {
			if bytes.IndexByte(fields[0], ':') < 0 {
				b.v4 = slices.Grow(b.v4, est)
			} else {
				b.v6 = slices.Grow(b.v6, est)
			}
			est = 0
		}
		if k != 4 {
			return fmt.Errorf("want 4 fields (start,end,asn,organisation), got %d", k)
		}
		start, err := netip.ParseAddr(string(bytes.TrimSpace(fields[0])))
		if err != nil {
			return fmt.Errorf("parse start: %w", err)
		}
		end, err := netip.ParseAddr(string(bytes.TrimSpace(fields[1])))
		if err != nil {
			return fmt.Errorf("parse end: %w", err)
		}
		var asn uint64
		if a := bytes.TrimSpace(fields[2]); len(a) > 0 {
			if asn, err = strconv.ParseUint(string(a), 10, 32); err != nil {
				return fmt.Errorf("parse asn: %w", err)
			}
		}
		org := b.intern(bytes.TrimSpace(fields[3]))
		return b.addRange(start, end, b.dataEntry(SourceCSV, uint32(asn), org, ClassUnknown, false), prioCSV, false)
	})
	if err != nil {
		return err
	}
	if ok == 0 {
		return fmt.Errorf("load %s: no valid rows", path)
	}
	return nil
}

// loadOverrides reads the overrides file: cidr,account[,domain]. A bare
// address is a single-address range. An account that looks like a domain is
// normalised to a bare lower-case domain and is also the domain unless one
// is given. The file may be empty.
func (b *builder) loadOverrides(path string) error {
	var fields [maxFields][]byte
	var scratch []byte
	_, err := b.eachFileLine(path, func(n int, line []byte) error {
		k, s, err := splitCSVLine(line, &fields, scratch)
		scratch = s
		if err != nil {
			return err
		}
		if isHeader(n, fields[0]) {
			return errHeader
		}
		if k < 2 || k > 3 {
			return fmt.Errorf("want cidr,account[,domain], got %d fields", k)
		}
		p, err := parseCIDR(string(bytes.TrimSpace(fields[0])))
		if err != nil {
			return err
		}
		account := normAccount(string(fields[1]))
		if account == "" {
			return errors.New("empty account")
		}
		var domain string
		if k == 3 && len(bytes.TrimSpace(fields[2])) > 0 {
			domain = normAccount(string(fields[2]))
			if !looksLikeDomain(domain) {
				return fmt.Errorf("domain %q is not a domain", domain)
			}
		} else if looksLikeDomain(account) {
			domain = account
		}
		start, end := prefixRange(p)
		return b.addRange(start, end, b.overrideEntry(account, domain), 0, true)
	})
	return err
}

// parseCIDR reads a prefix or a bare address. Host bits must be zero, to
// catch typos; an IPv4-mapped IPv6 prefix becomes the IPv4 one.
func parseCIDR(s string) (netip.Prefix, error) {
	var p netip.Prefix
	if a, err := netip.ParseAddr(s); err == nil {
		p = netip.PrefixFrom(a.WithZone(""), a.BitLen())
	} else if p, err = netip.ParsePrefix(s); err != nil {
		return p, fmt.Errorf("parse cidr: %w", err)
	}
	if m := p.Masked(); m != p {
		return p, fmt.Errorf("parse cidr %s: host bits set (the network is %s)", s, m)
	}
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p, nil
}

// prefixRange returns the first and last address of p.
func prefixRange(p netip.Prefix) (netip.Addr, netip.Addr) {
	start := p.Addr()
	if start.Is4() {
		b := start.As4()
		v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		if p.Bits() < 32 {
			v |= 1<<(32-p.Bits()) - 1
		}
		return start, netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	}
	b := start.As16()
	for i := p.Bits(); i < 128; i++ {
		b[i/8] |= 1 << (7 - i%8)
	}
	return start, netip.AddrFrom16(b)
}

// load builds a snapshot from cfg's files. A missing or unreadable file, a
// data file without a valid row, or a file that changes during the load
// fails it; malformed rows are skipped and reported.
func load(cfg *Config, cls *classifier) (*snapshot, LoadReport, error) {
	t0 := time.Now()
	var rep LoadReport
	before, err := cfg.stamps()
	if err != nil {
		return nil, rep, err
	}
	b := newBuilder(cls)
	for _, p := range cfg.MMDB {
		if err := b.loadMMDB(p); err != nil {
			return nil, rep, err
		}
	}
	for _, p := range cfg.CSV {
		if err := b.loadCSV(p); err != nil {
			return nil, rep, err
		}
	}
	if cfg.Overrides != "" {
		if err := b.loadOverrides(cfg.Overrides); err != nil {
			return nil, rep, err
		}
	}
	after, err := cfg.stamps()
	if err != nil {
		return nil, rep, err
	}
	for i := range after {
		if !after[i].same(before[i]) {
			return nil, rep, fmt.Errorf("load %s: %w", after[i].path, ErrChanged)
		}
	}
	s := &snapshot{
		data:    newTable(flatten(b.v4, maxV4), flatten(b.v6, maxV6)),
		over:    newTable(flatten(b.ov4, maxV4), flatten(b.ov6, maxV6)),
		entries: slices0(b.entries),
		stamps:  before,
	}
	rep.Ranges4, rep.Ranges6 = s.data.ranges()
	o4, o6 := s.over.ranges()
	rep.Overrides = o4 + o6
	rep.Orgs = len(b.orgs)
	rep.Skipped, rep.Problems = b.skipped, b.problems
	rep.Took = time.Since(t0)
	return s, rep, nil
}

// stamps returns the current stamp of every file cfg loads.
func (c *Config) stamps() ([]stamp, error) {
	paths := c.paths()
	out := make([]stamp, len(paths))
	for i, p := range paths {
		st, err := stampOf(p)
		if err != nil {
			return nil, err
		}
		out[i] = st
	}
	return out, nil
}

// slices0 trims spare capacity so a long-lived snapshot holds no slack.
func slices0[T any](s []T) []T { return append([]T(nil), s...) }

// paths lists every file cfg loads, in load order.
func (c *Config) paths() []string {
	p := append(append([]string(nil), c.MMDB...), c.CSV...)
	if c.Overrides != "" {
		p = append(p, c.Overrides)
	}
	return p
}
