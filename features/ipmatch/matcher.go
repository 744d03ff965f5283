package ipmatch

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/ristretto/v2"
)

// snapshot is one immutable load of every file: lookups read it without
// locks, a reload replaces it whole.
type snapshot struct {
	gen     uint32
	data    table // CSV and MaxMind ranges
	over    table // override ranges
	entries []entry
	stamps  []stamp
	report  LoadReport
}

// result is a resolved lookup: indexes into a snapshot's entries (-1: none).
// It is what the cache holds, tagged with the snapshot generation it is
// valid for.
type result struct {
	gen     uint32
	over    int32
	dataEnt int32
}

func (s *snapshot) find(a netip.Addr) result {
	return result{gen: s.gen, over: s.over.find(a), dataEnt: s.data.find(a)}
}

// match turns a result into a Match; ok is false when no range holds the
// address.
func (s *snapshot) match(r result) (Match, bool) {
	var m Match
	if r.dataEnt >= 0 {
		e := &s.entries[r.dataEnt]
		m = Match{Account: e.account, Domain: e.domain, Org: e.org, ASN: e.asn,
			Class: e.class, Confidence: e.conf, Source: e.source}
	}
	if r.over >= 0 {
		e := &s.entries[r.over]
		m.Account, m.Class, m.Confidence, m.Source = e.account, ClassCompany, ConfidenceOverride, SourceOverride
		m.Domain = e.domain
	}
	return m, r.over >= 0 || r.dataEnt >= 0
}

// Matcher resolves IP addresses to organisations. It is safe for concurrent
// use; lookups never wait for a reload. Create it with New, keep it current
// with Run, release it with Close.
type Matcher struct {
	cfg     Config
	cls     *classifier
	snap    atomic.Pointer[snapshot]
	cache   *ristretto.Cache[string, result] // nil: no cache
	door    *doorkeeper                      // admits an address to the cache on its second miss
	metrics *Metrics
	onLoad  func(LoadReport)

	reloadMu sync.Mutex // one load at a time; guards gen and failed
	gen      uint32
	failed   []stamp // the files as they were when the last reload failed
	closed   sync.Once
}

// Option adds an optional part to a Matcher.
type Option func(*Matcher)

// WithMetrics counts lookups and reloads in m.
func WithMetrics(m *Metrics) Option { return func(x *Matcher) { x.metrics = m } }

// WithLoadHook calls fn after every load, the first one included: with the
// skipped rows on success, with Err set on failure (then the old data stays).
// fn runs on the loading goroutine and must not call Reload.
func WithLoadHook(fn func(LoadReport)) Option { return func(x *Matcher) { x.onLoad = fn } }

// New validates cfg, loads its files and returns a ready Matcher. A file
// that cannot be loaded is an error; malformed rows are skipped and reported
// through the load hook and Report.
func New(cfg Config, opts ...Option) (*Matcher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("validate ipmatch config: %w", err)
	}
	cls, err := newClassifier(&cfg)
	if err != nil {
		return nil, fmt.Errorf("build ipmatch classifier: %w", err)
	}
	m := &Matcher{cfg: cfg, cls: cls}
	for _, o := range opts {
		o(m)
	}
	if cfg.CacheEntries > 0 {
		m.cache, err = ristretto.NewCache(&ristretto.Config[string, result]{
			NumCounters: cfg.CacheEntries * 10, // ristretto's advice: 10x the entries
			MaxCost:     cfg.CacheEntries,      // every entry costs 1
			BufferItems: 64,
			// The key is not stored, only its hashes: a string key costs
			// no copy and a caller's buffer is not retained.
			IgnoreInternalCost: true,
		})
		if err != nil {
			return nil, fmt.Errorf("create ipmatch cache: %w", err)
		}
		m.door = newDoorkeeper(cfg.CacheEntries)
	}
	if err := m.reload(false); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

// Close releases the cache. It is idempotent; lookups after Close still
// work, uncached.
func (m *Matcher) Close() {
	m.closed.Do(func() {
		if m.cache != nil {
			m.cache.Close()
		}
	})
}

// Lookup resolves ip (IPv4, IPv6 or IPv4-mapped IPv6 text). ok is false when
// ip is not an address or no range holds it.
func (m *Matcher) Lookup(ip string) (Match, bool) {
	s := m.snap.Load()
	met := m.metrics
	if met != nil {
		met.lookups.Inc()
	}
	if m.cache != nil {
		if r, ok := m.cache.Get(ip); ok && r.gen == s.gen {
			if met != nil {
				met.cacheHits.Inc()
			}
			return m.count(s.match(r))
		}
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		if met != nil {
			met.invalid.Inc()
		}
		return Match{}, false
	}
	r := s.find(a)
	if m.cache != nil && m.door.admit(ip) {
		m.cache.Set(ip, r, 1)
	}
	return m.count(s.match(r))
}

func (m *Matcher) count(x Match, ok bool) (Match, bool) {
	if ok && m.metrics != nil {
		m.metrics.hits[x.Source][x.Class].Inc()
	}
	return x, ok
}

// MatchIP implements features.IPMatcher: the account ip makes, or ok false
// for unknown addresses and for ISP, mobile, hosting, education and
// unclassified networks.
func (m *Matcher) MatchIP(ip string) (account string, ok bool) {
	x, found := m.Lookup(ip)
	if !found || x.Account == "" {
		return "", false
	}
	return x.Account, true
}

// Report returns the report of the load whose data is in use.
func (m *Matcher) Report() LoadReport { return m.snap.Load().report }

// Reload loads every file again and swaps the new data in. On error the old
// data stays in use.
func (m *Matcher) Reload() error {
	m.reloadMu.Lock()
	defer m.reloadMu.Unlock()
	return m.reloadLocked(true)
}

// ReloadIfChanged reloads when any file's size or modification time differs
// from the data in use, unless the files are exactly as they were when the
// last reload failed (a broken file is reported once, not at every poll).
// A file that is gone counts as changed (the reload then fails and the old
// data stays). It reports whether it tried.
func (m *Matcher) ReloadIfChanged() (bool, error) {
	m.reloadMu.Lock()
	defer m.reloadMu.Unlock()
	cur, err := m.cfg.stamps()
	if err == nil && (sameStamps(cur, m.snap.Load().stamps) || sameStamps(cur, m.failed)) {
		return false, nil
	}
	return true, m.reloadLocked(true)
}

func sameStamps(a, b []stamp) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].same(b[i]) {
			return false
		}
	}
	return true
}

// reload builds a snapshot and publishes it; counted reports the load to
// the reload metrics (every load after the first).
func (m *Matcher) reload(counted bool) error {
	m.reloadMu.Lock()
	defer m.reloadMu.Unlock()
	return m.reloadLocked(counted)
}

func (m *Matcher) reloadLocked(counted bool) error {
	before, _ := m.cfg.stamps() // what a failure is remembered by; nil if a file is gone
	s, rep, err := load(&m.cfg, m.cls)
	if err != nil {
		err = fmt.Errorf("load ip ranges: %w", err)
		rep.Err = err
	}
	if met := m.metrics; met != nil {
		met.skipped.Add(float64(rep.Skipped))
		if counted && err != nil {
			met.reloadErr.Inc()
		} else if counted {
			met.reloadOK.Inc()
		}
	}
	if m.onLoad != nil {
		m.onLoad(rep)
	}
	if err != nil {
		m.failed = before
		return err
	}
	m.failed = nil
	m.gen++
	s.gen = m.gen // cached results of older snapshots no longer match
	s.report = rep
	m.snap.Store(s)
	return nil
}

// Run polls the files every Config.PollInterval and reloads when one
// changed, until ctx is done; it then returns nil. A failed reload keeps the
// old data, is reported through the load hook and metrics, and is tried
// again at the next change.
func (m *Matcher) Run(ctx context.Context) error {
	t := time.NewTicker(m.cfg.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			_, _ = m.ReloadIfChanged() // reported through the hook and metrics
		}
	}
}
