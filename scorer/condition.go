package scorer

import (
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/leadscore/leadscore/internal/event"
)

// cond is a rule's compiled `when`: every condition present must hold (they
// are ANDed). Conditions that need no account state are checked first; the
// count condition last, because it records the event.
type cond struct {
	// typ is the call type the rule needs; event.TypeUnknown matches any.
	typ event.Type
	// event is the track event name, matched with strings.EqualFold; empty
	// matches any.
	event string
	// path is an exact page path; pathPrefix a plain, case-sensitive
	// prefix; pathRe a regular expression searched in the path. Empty or
	// nil when absent (the parser rejects empty values, so "" means "no
	// condition").
	path       string
	pathPrefix string
	pathRe     *regexp.Regexp
	// utm holds the accepted UTM source, medium and campaign values, folded
	// (trimmed, lower-case); nil: no condition.
	utm [3][]string
	// props are conditions on properties.<name>.
	props []propCond
	// sinceMin and sinceMax bound the time since the account's previous
	// event; 0 means no bound.
	sinceMin, sinceMax time.Duration
	// competitor: the event mentions a competitor (intent.competitors).
	competitor bool
	// surge: an Intent Signal whose topic is surging after this signal.
	surge bool
	// countMin > 0: this event and the earlier ones matching the other
	// conditions number at least countMin within (t-countWithin, t].
	countMin    int
	countWithin time.Duration
}

// propOp is what a property condition tests.
type propOp uint8

const (
	opEquals propOp = iota + 1 // case-insensitive equality with one of values
	opPrefix                   // case-sensitive prefix
	opRegexp                   // regular expression search
	opRange                    // numeric min/max, inclusive
)

// propCond is one condition on properties.<name>.
type propCond struct {
	name   string
	op     propOp
	values []string // opEquals: folded values
	prefix string
	re     *regexp.Regexp
	// opRange bounds; a missing bound is open.
	min, max       float64
	hasMin, hasMax bool
}

// matchStatic reports whether ev meets every condition that needs no account
// state.
func (c *cond) matchStatic(ev *event.Event, x *matchScratch, r *Rules) bool {
	if c.typ != event.TypeUnknown && ev.Type != c.typ {
		return false
	}
	if c.event != "" && !strings.EqualFold(ev.Event, c.event) {
		return false
	}
	if c.path != "" || c.pathPrefix != "" || c.pathRe != nil {
		p := x.pagePath(ev)
		if c.path != "" && p != c.path {
			return false
		}
		if c.pathPrefix != "" && !strings.HasPrefix(p, c.pathPrefix) {
			return false
		}
		if c.pathRe != nil && !c.pathRe.MatchString(p) {
			return false
		}
	}
	camp := &ev.Context.Campaign
	for i, vals := range c.utm {
		if vals == nil {
			continue
		}
		v := camp.Source
		switch i {
		case 1:
			v = camp.Medium
		case 2:
			v = camp.Name
		}
		if !inFold(vals, v) {
			return false
		}
	}
	for i := range c.props {
		if !c.props[i].match(ev) {
			return false
		}
	}
	if c.competitor && !r.intent.mentionsCompetitor(ev, x) {
		return false
	}
	return true
}

// matchSince checks the time since the account's previous event, last (zero
// when there is none). An account's first event has no previous one: it
// meets a minimum (it has been away forever) and fails a maximum.
func (c *cond) matchSince(t, last time.Time) bool {
	if c.sinceMin == 0 && c.sinceMax == 0 {
		return true
	}
	if last.IsZero() {
		return c.sinceMax == 0
	}
	d := t.Sub(last)
	if c.sinceMin > 0 && d < c.sinceMin {
		return false
	}
	if c.sinceMax > 0 && d > c.sinceMax {
		return false
	}
	return true
}

func (p *propCond) match(ev *event.Event) bool {
	v, ok := ev.Property(p.name)
	if !ok {
		return false
	}
	switch p.op {
	case opEquals:
		return inFold(p.values, v)
	case opPrefix:
		return strings.HasPrefix(v, p.prefix)
	case opRegexp:
		return p.re.MatchString(v)
	case opRange:
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return false
		}
		return (!p.hasMin || f >= p.min) && (!p.hasMax || f <= p.max)
	}
	return false
}

// inFold reports whether v, trimmed, equals one of the folded values
// case-insensitively.
func inFold(vals []string, v string) bool {
	v = strings.TrimSpace(v)
	for _, w := range vals {
		if strings.EqualFold(v, w) {
			return true
		}
	}
	return false
}

// matchScratch caches what several rules read from one event.
type matchScratch struct {
	path     string
	pathDone bool
}

func (x *matchScratch) pagePath(ev *event.Event) string {
	if !x.pathDone {
		x.path, x.pathDone = ev.PagePath(), true
	}
	return x.path
}
