package pipeline

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/leadscore/leadscore/features/ipmatch"
	"github.com/leadscore/leadscore/internal/event"
	"github.com/leadscore/leadscore/internal/rows"
)

// Website visitor identification. An input worker resolves an anonymous
// visitor's event to a company by its IP address (account resolution step
// 3) through ipLookups, which counts every lookup by UTC day, match source
// and class for ip_matches. A scoring worker keeps, per account, the page
// views whose IP matched the account, for visitor_companies.

// ipLookup is what the engine needs of an IP matcher: the full match.
// *ipmatch.Matcher has it.
type ipLookup interface {
	Lookup(ip string) (ipmatch.Match, bool)
}

// ipKey is an ip_matches key: day (unix days), match source, class.
type ipKey struct {
	day    int32
	source string
	class  string
}

func (k ipKey) String() string {
	return strconv.Itoa(int(k.day)) + "|" + k.source + "|" + k.class
}

func parseIPKey(s string) (ipKey, bool) {
	parts := strings.Split(s, "|")
	if len(parts) != 3 {
		return ipKey{}, false
	}
	d, err := strconv.Atoi(parts[0])
	if err != nil {
		return ipKey{}, false
	}
	return ipKey{day: int32(d), source: parts[1], class: parts[2]}, true
}

// ipLookups is an input worker's features.IPMatcher: it matches through
// the engine's matcher and counts the lookup for the worker's current event.
type ipLookups struct{ w *worker }

// MatchIP implements features.IPMatcher.
func (l ipLookups) MatchIP(ip string) (string, bool) {
	w := l.w
	m, ok := w.ip.Lookup(ip)
	k := ipKey{day: int32(w.ev.Time.Unix() / 86400), class: "none"}
	if ok {
		k.source, k.class = m.Source.String(), m.Class.String()
	}
	if w.ipCounts == nil {
		w.ipCounts = map[ipKey]uint64{}
		w.ipDirty = map[ipKey]struct{}{}
	}
	w.ipCounts[k]++
	w.ipDirty[k] = struct{}{}
	if !ok || m.Account == "" {
		return "", false
	}
	w.lastMatch = &ipMatchInfo{Org: m.Org, Confidence: m.Confidence, Source: m.Source.String()}
	return m.Account, true
}

// ipMatchInfo travels with an event forwarded because its IP matched a
// company: what visitor_companies reports about the match.
type ipMatchInfo struct {
	Org        string  `json:"org,omitempty"`
	Confidence float64 `json:"confidence"`
	Source     string  `json:"source"`
}

// ipRows appends an ip_matches row for each count changed since the last
// call and returns their keys.
func (w *worker) ipRows(b *rows.Batch) []ipKey {
	if len(w.ipDirty) == 0 {
		return nil
	}
	keys := make([]ipKey, 0, len(w.ipDirty))
	for k := range w.ipDirty {
		b.IPMatches = append(b.IPMatches, rows.IPMatches{
			Day: time.Unix(int64(k.day)*86400, 0).UTC(), MatchSource: k.source, Class: k.class,
			Topic: w.topic, Partition: w.partition, Lookups: w.ipCounts[k],
		})
		keys = append(keys, k)
	}
	clear(w.ipDirty)
	return keys
}

// Visits is what an account's IP-matched page views add up to.
type Visits struct {
	First    time.Time `json:"first"`
	Last     time.Time `json:"last"`
	Sessions uint32    `json:"sessions"`
	Pages    uint32    `json:"pages"`
	// Paths counts views per path, at most maxVisitPaths of them: when full,
	// a new path replaces the least viewed one and inherits its count
	// (space-saving), so the top paths stay right for skewed traffic.
	Paths        map[string]uint32 `json:"paths,omitempty"`
	Organisation string            `json:"org,omitempty"`
	Confidence   float64           `json:"confidence"`
	Source       string            `json:"source,omitempty"`

	dirty bool
}

const (
	maxVisitPaths = 32
	topVisitPaths = 5
	sessionGap    = 30 * time.Minute
)

// visit records a page view whose IP matched the account.
func (v *Visits) visit(ev *event.Event, m *ipMatchInfo) {
	t := ev.Time
	switch {
	case v.Pages == 0:
		v.First, v.Last, v.Sessions = t, t, 1
	case t.Sub(v.Last) > sessionGap:
		v.Sessions++
	}
	if t.After(v.Last) {
		v.Last = t
	}
	if t.Before(v.First) {
		v.First = t
	}
	v.Pages++
	if p := ev.PagePath(); p != "" {
		if v.Paths == nil {
			v.Paths = map[string]uint32{}
		}
		if _, ok := v.Paths[p]; ok {
			v.Paths[p]++
		} else if len(v.Paths) < maxVisitPaths {
			v.Paths[strings.Clone(p)] = 1 // the event's strings share one block: do not pin it
		} else {
			low, lowN := "", uint32(0)
			for q, n := range v.Paths {
				if low == "" || n < lowN || (n == lowN && q < low) {
					low, lowN = q, n
				}
			}
			delete(v.Paths, low)
			v.Paths[strings.Clone(p)] = lowN + 1
		}
	}
	if m.Confidence >= v.Confidence {
		v.Confidence, v.Source, v.Organisation = m.Confidence, m.Source, m.Org
	}
	v.dirty = true
}

// row is the account's visitor_companies row.
func (v *Visits) row(id string, version uint64) rows.VisitorCompany {
	type pc struct {
		p string
		n uint32
	}
	all := make([]pc, 0, len(v.Paths))
	for p, n := range v.Paths {
		all = append(all, pc{p, n})
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].n != all[j].n {
			return all[i].n > all[j].n
		}
		return all[i].p < all[j].p
	})
	r := rows.VisitorCompany{
		AccountID: id, Organisation: v.Organisation, FirstSeen: v.First, LastSeen: v.Last,
		Sessions: v.Sessions, Pages: v.Pages, TopPages: []string{}, TopPageViews: []uint32{},
		Confidence: v.Confidence, MatchSource: v.Source, Version: version,
	}
	for i := 0; i < len(all) && i < topVisitPaths; i++ {
		r.TopPages = append(r.TopPages, all[i].p)
		r.TopPageViews = append(r.TopPageViews, all[i].n)
	}
	return r
}
