package scorer

import (
	"slices"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"
)

// personaPattern is one entry of fit.persona.titles: a case-insensitive glob
// over the whole title, '*' standing for any run of characters.
type personaPattern struct {
	pattern string // as written, the persona's name
	reason  string // "persona " + pattern, the reason's rule
	parts   []string
	// literal counts the non-'*' bytes: the more, the more specific.
	literal int
	points  float64
}

// match reports whether the folded title matches the glob.
func (p *personaPattern) match(title string) bool {
	parts := p.parts
	if len(parts) == 1 {
		return title == parts[0]
	}
	if !strings.HasPrefix(title, parts[0]) {
		return false
	}
	title = title[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(title, mid)
		if i < 0 {
			return false
		}
		title = title[i+len(mid):]
	}
	return len(title) >= len(last) && strings.HasSuffix(title, last)
}

// compilePersona sorts the patterns most specific first (most literal
// characters; the file order breaks ties), so the first match is the
// persona.
func compilePersona(ps []personaPattern) []personaPattern {
	for i := range ps {
		ps[i].parts = strings.Split(foldKey(ps[i].pattern), "*")
		ps[i].literal = len(strings.ReplaceAll(ps[i].pattern, "*", ""))
		ps[i].reason = "persona " + ps[i].pattern
	}
	slices.SortStableFunc(ps, func(a, b personaPattern) int { return b.literal - a.literal })
	return ps
}

// persona returns the index of the persona a title belongs to, or -1.
func (r *Rules) persona(title string) int {
	if len(r.personas) == 0 {
		return -1
	}
	t := foldKey(title)
	if t == "" {
		return -1
	}
	for i := range r.personas {
		if r.personas[i].match(t) {
			return i
		}
	}
	return -1
}

// Persona returns the persona pattern (as written in fit.persona.titles) a
// job title matches, or "" when none does.
func (r *Rules) Persona(title string) string {
	if i := r.persona(title); i >= 0 {
		return r.personas[i].pattern
	}
	return ""
}

// groupSpec is the compiled engagement.buying_group: points for the number
// of distinct engaged contacts and of distinct personas among them within
// a window of the account's AsOf.
type groupSpec struct {
	enabled  bool
	within   time.Duration
	contacts []step // by min, descending
	personas []step
}

// step awards points from a minimum count up.
type step struct {
	min    int
	points float64
}

// stepPoints returns the points of the highest step n reaches.
func stepPoints(steps []step, n int) float64 {
	for _, s := range steps {
		if n >= s.min {
			return s.points
		}
	}
	return 0
}

// maxMembers bounds the contacts remembered per account for the buying
// group; beyond it the one engaged longest ago is forgotten.
const maxMembers = 64

// Member is a contact that engaged with the account, for the buying group.
type Member struct {
	// Key is a hash of the contact id.
	Key uint64 `json:"k"`
	// Persona is 1 + the persona's index in the rules, 0 for none.
	Persona uint16 `json:"p,omitempty"`
	// Last is the newest engagement, unix seconds.
	Last int64 `json:"t"`
}

// NoteContact records in account state s that the contact engaged at t
// (the pipeline calls it when one of the contact's events matched an
// engagement rule), with the contact's job title for its persona. It is a
// no-op unless the rules have a buying_group.
func (r *Rules) NoteContact(s *State, contact, title string, t time.Time) {
	if !r.group.enabled || contact == "" {
		return
	}
	key := xxhash.Sum64String(contact)
	p := uint16(r.persona(title) + 1)
	ts := t.Unix()
	for i := range s.Group {
		m := &s.Group[i]
		if m.Key == key {
			m.Persona = p
			m.Last = max(m.Last, ts)
			return
		}
	}
	if len(s.Group) >= maxMembers {
		oldest := 0
		for i := range s.Group {
			if s.Group[i].Last < s.Group[oldest].Last {
				oldest = i
			}
		}
		if s.Group[oldest].Last >= ts {
			return
		}
		s.Group[oldest] = Member{Key: key, Persona: p, Last: ts}
		return
	}
	s.Group = append(s.Group, Member{Key: key, Persona: p, Last: ts})
}

// groupCounts returns the distinct engaged contacts and distinct personas
// within the window (asOf-within, asOf].
func (r *Rules) groupCounts(s *State, asOf time.Time) (contacts, personas int) {
	from := asOf.Add(-r.group.within).Unix()
	to := asOf.Unix()
	var seen [4]uint64 // persona bitset, up to 256 personas
	for _, m := range s.Group {
		if m.Last <= from || m.Last > to {
			continue
		}
		contacts++
		if m.Persona > 0 && int(m.Persona) <= 256 {
			b := int(m.Persona - 1)
			if seen[b/64]&(1<<(b%64)) == 0 {
				seen[b/64] |= 1 << (b % 64)
				personas++
			}
		}
	}
	return contacts, personas
}

// pruneGroup forgets members that left the window of asOf.
func (r *Rules) pruneGroup(s *State, asOf time.Time) {
	if len(s.Group) == 0 {
		return
	}
	from := asOf.Add(-r.group.within).Unix()
	out := s.Group[:0]
	for _, m := range s.Group {
		if m.Last > from {
			out = append(out, m)
		}
	}
	clear(s.Group[len(out):])
	s.Group = out
}
