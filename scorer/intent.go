package scorer

import (
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/leadscore/leadscore/internal/event"
)

// eventIntentSignal is the track event of third-party intent data
// (CONTRACT section 1): properties.topic, score 0..100, source, competitor.
const eventIntentSignal = "Intent Signal"

// maxTopics bounds the intent topics kept per account; beyond it the topic
// with the oldest signal is dropped.
const maxTopics = 32

// dayNum is a UTC day number, the granularity of intent windows.
type dayNum = int32

func dayOf(t time.Time) dayNum { return dayNum(t.Unix() / 86400) }

// intentSpec is the compiled intent section.
type intentSpec struct {
	enabled bool
	// recent and baseline are window lengths in whole days: a topic's
	// recent mean covers the days (D-recent, D], its baseline the days
	// (D-baseline, D-recent], D being the dayNum of the account's AsOf.
	recent, baseline dayNum
	// A topic surges when its recent mean is at least minScore and at least
	// ratio times its baseline mean (any recent mean at or above minScore
	// surges when there is no baseline yet: interest out of nowhere).
	ratio, minScore float64
	// competitors are folded competitor names looked for in intent topics
	// and page paths and URLs.
	competitors []string
}

// TopicIntent is an account's intent signals on one topic, summed per UTC
// dayNum, oldest first, kept for the baseline window.
type TopicIntent struct {
	Topic string      `json:"topic"`
	Days  []IntentDay `json:"days"`
}

// IntentDay sums the intent scores one topic got on one UTC dayNum.
type IntentDay struct {
	Day dayNum  `json:"d"`
	N   uint32  `json:"n"`
	Sum float64 `json:"s"`
}

// observeIntent records an Intent Signal in s and returns the index of its
// topic in s.Intent, or -1 when ev is not a usable signal (no topic or no
// score) or intent is not configured.
func (r *Rules) observeIntent(s *State, ev *event.Event) int {
	sp := &r.intent
	if !sp.enabled || ev.Type != event.TypeTrack || !strings.EqualFold(ev.Event, eventIntentSignal) {
		return -1
	}
	topic := strings.TrimSpace(ev.Properties.Topic)
	if topic == "" || !ev.Properties.HasScore {
		return -1
	}
	score := min(max(ev.Properties.Score, 0), 100)
	d := dayOf(ev.Time)
	if d <= dayOf(s.AsOf)-sp.baseline {
		return -1 // older than any window: it can no longer count
	}
	i := -1
	for j := range s.Intent {
		if strings.EqualFold(s.Intent[j].Topic, topic) {
			i = j
			break
		}
	}
	if i < 0 {
		if len(s.Intent) >= maxTopics {
			s.Intent = dropStalestTopic(s.Intent)
		}
		// A clone: the event's strings share one block, which a kept
		// topic would pin.
		s.Intent = append(s.Intent, TopicIntent{Topic: strings.Clone(topic)})
		i = len(s.Intent) - 1
	}
	ti := &s.Intent[i]
	k := len(ti.Days)
	for k > 0 && ti.Days[k-1].Day > d {
		k--
	}
	if k > 0 && ti.Days[k-1].Day == d {
		ti.Days[k-1].N++
		ti.Days[k-1].Sum += score
	} else {
		ti.Days = append(ti.Days, IntentDay{})
		copy(ti.Days[k+1:], ti.Days[k:])
		ti.Days[k] = IntentDay{Day: d, N: 1, Sum: score}
	}
	return i
}

// dropStalestTopic removes the topic whose newest signal is oldest.
func dropStalestTopic(ts []TopicIntent) []TopicIntent {
	worst, worstDay := 0, dayNum(math.MaxInt32)
	for i := range ts {
		newest := dayNum(math.MinInt32)
		if n := len(ts[i].Days); n > 0 {
			newest = ts[i].Days[n-1].Day
		}
		if newest < worstDay {
			worst, worstDay = i, newest
		}
	}
	copy(ts[worst:], ts[worst+1:])
	ts[len(ts)-1] = TopicIntent{}
	return ts[:len(ts)-1]
}

// pruneIntent drops days that left the baseline window of the dayNum d, and
// topics left without days.
func (r *Rules) pruneIntent(s *State, d dayNum) {
	if len(s.Intent) == 0 {
		return
	}
	from := d - r.intent.baseline // days <= from are out
	out := s.Intent[:0]
	for _, ti := range s.Intent {
		k := 0
		for k < len(ti.Days) && ti.Days[k].Day <= from {
			k++
		}
		if k == len(ti.Days) {
			continue
		}
		if k > 0 {
			ti.Days = append(ti.Days[:0], ti.Days[k:]...)
		}
		out = append(out, ti)
	}
	clear(s.Intent[len(out):])
	s.Intent = out
}

// means returns a topic's recent and baseline means as of dayNum d and whether
// each window holds a signal.
func (sp *intentSpec) means(ti *TopicIntent, d dayNum) (recent float64, hasRecent bool, base float64, hasBase bool) {
	var rn, bn uint32
	var rs, bs float64
	for _, x := range ti.Days {
		switch {
		case x.Day > d:
			// a later dayNum than the account's AsOf cannot happen: signals
			// advance AsOf; skip it defensively
		case x.Day > d-sp.recent:
			rn += x.N
			rs += x.Sum
		case x.Day > d-sp.baseline:
			bn += x.N
			bs += x.Sum
		}
	}
	if rn > 0 {
		recent, hasRecent = rs/float64(rn), true
	}
	if bn > 0 {
		base, hasBase = bs/float64(bn), true
	}
	return recent, hasRecent, base, hasBase
}

// surging reports whether the topic surges as of dayNum d.
func (sp *intentSpec) surging(ti *TopicIntent, d dayNum) bool {
	recent, hasRecent, base, hasBase := sp.means(ti, d)
	if !hasRecent || recent < sp.minScore {
		return false
	}
	return !hasBase || recent >= sp.ratio*base
}

// component is the intent component of the score as of dayNum d: the highest
// recent mean over the account's topics, 0..100, and that topic's index
// (-1 when none has a recent signal).
func (sp *intentSpec) component(s *State, d dayNum) (float64, int) {
	best, at := 0.0, -1
	for i := range s.Intent {
		if m, ok, _, _ := sp.means(&s.Intent[i], d); ok && (at < 0 || m > best) {
			best, at = m, i
		}
	}
	return best, at
}

// mentionsCompetitor reports whether ev names a competitor: an Intent Signal
// with properties.competitor set, or whose topic contains a configured
// competitor name, or a page whose path or URL contains one (e.g.
// /compare/acme-vs-us). Names match case-insensitively.
func (sp *intentSpec) mentionsCompetitor(ev *event.Event, x *matchScratch) bool {
	if ev.Type == event.TypeTrack && strings.EqualFold(ev.Event, eventIntentSignal) {
		if strings.TrimSpace(ev.Properties.Competitor) != "" {
			return true
		}
		return sp.containsCompetitor(ev.Properties.Topic)
	}
	if ev.Type == event.TypePage {
		if sp.containsCompetitor(x.pagePath(ev)) {
			return true
		}
		u := ev.Properties.URL
		if u == "" {
			u = ev.Context.Page.URL
		}
		return sp.containsCompetitor(u)
	}
	return false
}

func (sp *intentSpec) containsCompetitor(s string) bool {
	for _, c := range sp.competitors {
		if containsFold(s, c) {
			return true
		}
	}
	return false
}

// containsFold reports whether s contains the lower-case sub, ignoring the
// case of ASCII letters in s; other runes compare exactly after
// strings.ToLower. It does not allocate for ASCII input.
func containsFold(s, sub string) bool {
	if sub == "" {
		return true
	}
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if !ascii {
		return strings.Contains(strings.ToLower(s), sub)
	}
	for i := 0; i+len(sub) <= len(s); i++ {
		j := 0
		for j < len(sub) {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != sub[j] {
				break
			}
			j++
		}
		if j == len(sub) {
			return true
		}
	}
	return false
}
