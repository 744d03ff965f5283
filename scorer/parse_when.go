package scorer

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"
	"go.yaml.in/yaml/v3"

	"github.com/leadscore/leadscore/internal/event"
)

// Limits on regular expressions in rules. Go's regexp runs in time linear
// in its input (no backtracking), so a pattern's cost is bounded by its
// compiled size, capped here, times the input, which the decoder caps
// (engine.max_string_bytes).
const (
	maxPatternBytes = 512
	maxPatternInsts = 2000
)

// whenFields are the conditions of a rule's when, for error messages.
var whenFields = []string{
	"type", "event", "path", "path_prefix", "path_regexp",
	"utm_source", "utm_medium", "utm_campaign", "properties",
	"since_last", "count", "competitor", "intent",
}

func (p *parser) when(r *Rules, c *cond, n *yaml.Node, path string) {
	m := p.fields(n, path, whenFields...)
	if m == nil {
		return
	}
	if len(m) == 0 {
		p.errorf(n, path, "needs at least one condition: %s", strings.Join(whenFields, ", "))
		return
	}
	typeOK := true
	if v, has := m["type"]; has {
		typeOK = false
		if s, ok := p.text(v, join(path, "type")); ok {
			switch s {
			case "page":
				c.typ = event.TypePage
			case "track":
				c.typ = event.TypeTrack
			case "identify":
				c.typ = event.TypeIdentify
			case "group":
				c.typ = event.TypeGroup
			case "alias":
				c.typ = event.TypeAlias
			default:
				p.errorf(v, join(path, "type"), "unknown type %q (want one of page, track, identify, group, alias)", s)
			}
			typeOK = c.typ != event.TypeUnknown
		}
	}
	if v, has := m["event"]; has {
		if s, ok := p.text(v, join(path, "event")); ok {
			c.event = s
			if typeOK && c.typ != event.TypeUnknown && c.typ != event.TypeTrack {
				p.errorf(v, join(path, "event"), "an event name needs type track, not %s", c.typ)
			}
			c.typ = event.TypeTrack
		}
	}
	if v, has := m["path"]; has {
		c.path, _ = p.text(v, join(path, "path"))
	}
	if v, has := m["path_prefix"]; has {
		c.pathPrefix, _ = p.text(v, join(path, "path_prefix"))
	}
	if v, has := m["path_regexp"]; has {
		c.pathRe = p.regexp(v, join(path, "path_regexp"))
	}
	for i, k := range [...]string{"utm_source", "utm_medium", "utm_campaign"} {
		if v, has := m[k]; has {
			c.utm[i] = p.textSet(v, join(path, k))
		}
	}
	if v, has := m["properties"]; has {
		ppath := join(path, "properties")
		p.pairs(v, ppath, func(k, pv *yaml.Node) {
			if pc, ok := p.propCond(k.Value, pv, join(ppath, k.Value)); ok {
				c.props = append(c.props, pc)
			}
		})
		if d := deref(v); d != nil && d.Kind == yaml.MappingNode && len(d.Content) == 0 {
			p.errorf(v, ppath, "must not be empty")
		}
		slices.SortFunc(c.props, func(a, b propCond) int { return strings.Compare(a.name, b.name) })
	}
	if v, has := m["since_last"]; has {
		p.sinceLast(c, v, join(path, "since_last"))
	}
	if v, has := m["count"]; has {
		p.count(c, v, join(path, "count"))
	}
	if v, has := m["competitor"]; has {
		if b, ok := p.boolean(v, join(path, "competitor")); ok {
			if !b {
				p.errorf(v, join(path, "competitor"), "only true is meaningful; leave the condition out instead")
			}
			c.competitor = b
		}
	}
	if v, has := m["intent"]; has {
		ipath := join(path, "intent")
		if s, ok := p.text(v, ipath); ok {
			switch {
			case s != "surge":
				p.errorf(v, ipath, "unknown intent condition %q (want surge)", s)
			case !r.intent.enabled:
				p.errorf(v, ipath, "needs an intent section")
			default:
				c.surge = true
			}
		}
	}
}

// textSet reads a text or a list of texts, folded for case-insensitive
// matching.
func (p *parser) textSet(n *yaml.Node, path string) []string {
	d := deref(n)
	if d != nil && d.Kind == yaml.SequenceNode {
		if len(d.Content) == 0 {
			p.errorf(n, path, "must not be empty")
			return []string{}
		}
		out := make([]string, 0, len(d.Content))
		for i, item := range d.Content {
			if s, ok := p.text(item, index(path, i)); ok {
				out = append(out, foldKey(s))
			}
		}
		return out
	}
	s, _ := p.text(n, path)
	return []string{foldKey(s)}
}

// propCond compiles one properties condition: exactly one of equals, in,
// prefix, regexp, or min and/or max.
func (p *parser) propCond(name string, n *yaml.Node, path string) (propCond, bool) {
	pc := propCond{name: name}
	m := p.fields(n, path, "equals", "in", "prefix", "regexp", "min", "max")
	if m == nil {
		return pc, false
	}
	nerr := p.problems
	ops := 0
	if v, ok := m["equals"]; ok {
		ops++
		s, _ := p.text(v, join(path, "equals"))
		pc.op, pc.values = opEquals, []string{foldKey(s)}
	}
	if v, ok := m["in"]; ok {
		ops++
		pc.op = opEquals
		if d := deref(v); d == nil || d.Kind != yaml.SequenceNode {
			p.errorf(v, join(path, "in"), "expected a list, got %s", describe(v))
		} else {
			pc.values = p.textSet(v, join(path, "in"))
		}
	}
	if v, ok := m["prefix"]; ok {
		ops++
		pc.op = opPrefix
		pc.prefix, _ = p.text(v, join(path, "prefix"))
	}
	if v, ok := m["regexp"]; ok {
		ops++
		pc.op = opRegexp
		pc.re = p.regexp(v, join(path, "regexp"))
	}
	_, hasMin := m["min"]
	_, hasMax := m["max"]
	if hasMin || hasMax {
		ops++
		pc.op = opRange
		if v, ok := m["min"]; ok {
			pc.min, pc.hasMin = p.number(v, join(path, "min"))
		}
		if v, ok := m["max"]; ok {
			pc.max, pc.hasMax = p.number(v, join(path, "max"))
		}
		if pc.hasMin && pc.hasMax && pc.min > pc.max {
			p.errorf(n, path, "min %s is above max %s", fmtNum(pc.min), fmtNum(pc.max))
		}
	}
	if ops != 1 {
		p.errorf(n, path, "needs exactly one of equals, in, prefix, regexp, or min/max")
	}
	return pc, p.problems == nerr
}

// regexp compiles a Go regular expression within the size limits.
func (p *parser) regexp(n *yaml.Node, path string) *regexp.Regexp {
	s, ok := p.text(n, path)
	if !ok {
		return nil
	}
	if len(s) > maxPatternBytes {
		p.errorf(n, path, "regexp is %d bytes, limit %d", len(s), maxPatternBytes)
		return nil
	}
	re, err := syntax.Parse(s, syntax.Perl)
	if err != nil {
		p.errorf(n, path, "invalid regexp: %v", err)
		return nil
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		p.errorf(n, path, "invalid regexp: %v", err)
		return nil
	}
	if len(prog.Inst) > maxPatternInsts {
		p.errorf(n, path, "regexp too complex: %d instructions, limit %d (large repeat counts multiply)", len(prog.Inst), maxPatternInsts)
		return nil
	}
	return regexp.MustCompile(s)
}

func (p *parser) sinceLast(c *cond, n *yaml.Node, path string) {
	m := p.fields(n, path, "min", "max")
	if m == nil {
		return
	}
	if v, ok := m["min"]; ok {
		c.sinceMin, _ = p.duration(v, join(path, "min"))
	}
	if v, ok := m["max"]; ok {
		c.sinceMax, _ = p.duration(v, join(path, "max"))
	}
	switch {
	case len(m) == 0:
		p.errorf(n, path, "needs min, max or both")
	case c.sinceMin > 0 && c.sinceMax > 0 && c.sinceMin > c.sinceMax:
		p.errorf(n, path, "min %v is above max %v", c.sinceMin, c.sinceMax)
	}
}

// maxCount bounds count.min: the history a count condition keeps per
// account is at most this many times.
const maxCount = 1000

func (p *parser) count(c *cond, n *yaml.Node, path string) {
	m := p.fields(n, path, "min", "within")
	if m == nil {
		return
	}
	if v := p.require(m, n, path, "min"); v != nil {
		if f, ok := p.number(v, join(path, "min")); ok {
			if f != float64(int(f)) || f < 1 || f > maxCount {
				p.errorf(v, join(path, "min"), "must be a whole number from 1 to %d, got %s", maxCount, fmtNum(f))
			} else {
				c.countMin = int(f)
			}
		}
	}
	if v := p.require(m, n, path, "within"); v != nil {
		c.countWithin, _ = p.duration(v, join(path, "within"))
	}
	if c.countMin == 0 || c.countWithin == 0 {
		c.countMin, c.countWithin = 0, 0
	}
}

func (p *parser) boolean(n *yaml.Node, path string) (bool, bool) {
	d := deref(n)
	if d == nil || d.Kind != yaml.ScalarNode || d.ShortTag() != "!!bool" {
		p.errorf(n, path, "expected true or false, got %s", describe(n))
		return false, false
	}
	var b bool
	if err := d.Decode(&b); err != nil {
		p.errorf(n, path, "expected true or false, got %s", describe(n))
		return false, false
	}
	return b, true
}

// intent compiles the intent section. Every key is optional: recent 21d,
// baseline 84d (Bombora's 3 weeks against 12), surge ratio 1.5 and
// min_score 60.
func (p *parser) intent(r *Rules, n *yaml.Node, path string) {
	m := p.fields(n, path, "recent", "baseline", "surge", "competitors")
	if m == nil {
		return
	}
	sp := intentSpec{enabled: true, recent: 21, baseline: 84, ratio: 1.5, minScore: 60}
	days := func(key string, out *dayNum) {
		v, ok := m[key]
		if !ok {
			return
		}
		d, ok := p.duration(v, join(path, key))
		if !ok {
			return
		}
		if d%(24*time.Hour) != 0 {
			p.errorf(v, join(path, key), "must be whole days (intent windows count UTC days), got %v", d)
			return
		}
		if d > 3650*24*time.Hour {
			p.errorf(v, join(path, key), "must be at most 3650d")
			return
		}
		*out = dayNum(d / (24 * time.Hour))
	}
	days("recent", &sp.recent)
	days("baseline", &sp.baseline)
	if sp.baseline <= sp.recent {
		p.errorf(n, path, "baseline (%dd) must be longer than recent (%dd)", sp.baseline, sp.recent)
	}
	if v, ok := m["surge"]; ok {
		spath := join(path, "surge")
		if sm := p.fields(v, spath, "ratio", "min_score"); sm != nil {
			if rv, ok := sm["ratio"]; ok {
				if f, ok := p.number(rv, join(spath, "ratio")); ok {
					if f < 1 {
						p.errorf(rv, join(spath, "ratio"), "must be >= 1, got %s", fmtNum(f))
					}
					sp.ratio = f
				}
			}
			if mv, ok := sm["min_score"]; ok {
				if f, ok := p.number(mv, join(spath, "min_score")); ok {
					if f < 0 || f > 100 {
						p.errorf(mv, join(spath, "min_score"), "must be within 0..100, got %s", fmtNum(f))
					}
					sp.minScore = f
				}
			}
		}
	}
	if v, ok := m["competitors"]; ok {
		cpath := join(path, "competitors")
		if items, ok := p.list(v, cpath); ok {
			for i, item := range items {
				if s, ok := p.text(item, index(cpath, i)); ok {
					sp.competitors = append(sp.competitors, foldKey(s))
				}
			}
		}
	}
	r.intent = sp
}

// persona compiles fit.persona: titles, a map of case-insensitive title
// globs to points.
func (p *parser) persona(r *Rules, n *yaml.Node, path string) {
	m := p.fields(n, path, "titles")
	if m == nil {
		return
	}
	v := p.require(m, n, path, "titles")
	if v == nil {
		return
	}
	tpath := join(path, "titles")
	seen := map[string]bool{}
	var ps []personaPattern
	p.pairs(v, tpath, func(k, pv *yaml.Node) {
		kpath := join(tpath, k.Value)
		key := foldKey(k.Value)
		pts, ok := p.number(pv, kpath)
		switch {
		case key == "" || strings.Trim(key, "*") == "":
			p.errorf(k, kpath, "a title pattern needs some text besides *")
		case seen[key]:
			p.errorf(k, kpath, "duplicate title pattern (patterns match case-insensitively)")
		case ok:
			ps = append(ps, personaPattern{pattern: strings.TrimSpace(k.Value), points: pts})
		}
		seen[key] = true
	})
	if len(seen) == 0 {
		p.errorf(v, tpath, "must not be empty")
	}
	if len(ps) > 255 {
		p.errorf(v, tpath, "at most 255 title patterns")
		return
	}
	r.personas = compilePersona(ps)
}

// buyingGroup compiles engagement.buying_group.
func (p *parser) buyingGroup(r *Rules, n *yaml.Node, path string) {
	m := p.fields(n, path, "within", "contacts", "personas")
	if m == nil {
		return
	}
	g := groupSpec{enabled: true}
	if v := p.require(m, n, path, "within"); v != nil {
		g.within, _ = p.duration(v, join(path, "within"))
	}
	if v, ok := m["contacts"]; ok {
		g.contacts = p.steps(v, join(path, "contacts"))
	}
	if v, ok := m["personas"]; ok {
		g.personas = p.steps(v, join(path, "personas"))
	}
	if len(g.contacts) == 0 && len(g.personas) == 0 {
		p.errorf(n, path, "needs contacts, personas or both")
	}
	r.group = g
}

// steps reads a list of {min, points}, returned by min descending.
func (p *parser) steps(n *yaml.Node, path string) []step {
	items, ok := p.list(n, path)
	if !ok {
		return nil
	}
	if len(items) == 0 {
		p.errorf(n, path, "must not be empty")
	}
	var out []step
	seen := map[int]bool{}
	for i, item := range items {
		ipath := index(path, i)
		m := p.fields(item, ipath, "min", "points")
		if m == nil {
			continue
		}
		var st step
		ok := true
		if v := p.require(m, item, ipath, "min"); v != nil {
			f, fok := p.number(v, join(ipath, "min"))
			if fok && (f != float64(int(f)) || f < 1 || f > maxMembers) {
				p.errorf(v, join(ipath, "min"), "must be a whole number from 1 to %d, got %s", maxMembers, fmtNum(f))
				fok = false
			}
			if fok && seen[int(f)] {
				p.errorf(v, join(ipath, "min"), "duplicate min %s", fmtNum(f))
				fok = false
			}
			st.min, ok = int(f), ok && fok
			seen[st.min] = true
		} else {
			ok = false
		}
		if v := p.require(m, item, ipath, "points"); v != nil {
			var pok bool
			st.points, pok = p.number(v, join(ipath, "points"))
			ok = ok && pok
		} else {
			ok = false
		}
		if ok {
			out = append(out, st)
		}
	}
	slices.SortFunc(out, func(a, b step) int { return b.min - a.min })
	return out
}

// handoff compiles the handoff section: recommendations, a map of label
// patterns (A1, A*, *1, *) to advice.
func (p *parser) handoff(r *Rules, n *yaml.Node, path string) {
	m := p.fields(n, path, "recommendations")
	if m == nil {
		return
	}
	v := p.require(m, n, path, "recommendations")
	if v == nil {
		return
	}
	rpath := join(path, "recommendations")
	seen := map[string]bool{}
	p.pairs(v, rpath, func(k, tv *yaml.Node) {
		kpath := join(rpath, k.Value)
		g, l, ok := parseLabelPattern(k.Value)
		text, tok := p.text(tv, kpath)
		switch {
		case !ok:
			p.errorf(k, kpath, "not a label pattern: want a label such as A1, a grade with any level (A*), any grade with a level (*1), or *")
		case seen[k.Value]:
			p.errorf(k, kpath, "duplicate label pattern")
		case tok:
			r.handoff = append(r.handoff, recommendation{grade: g, level: l, text: text})
		}
		seen[k.Value] = true
	})
}

// identity hashes what a rule counts: its when and its cap, not its name,
// category, points or place in the file.
func (ru *rule) identity() uint64 {
	c := &ru.when
	var b strings.Builder
	fmt.Fprintf(&b, "type=%d\x00event=%s\x00path=%s\x00prefix=%s\x00", c.typ, strings.ToLower(c.event), c.path, c.pathPrefix)
	if c.pathRe != nil {
		fmt.Fprintf(&b, "re=%s\x00", c.pathRe.String())
	}
	for i, vals := range c.utm {
		if vals != nil {
			sorted := slices.Sorted(slices.Values(vals))
			fmt.Fprintf(&b, "utm%d=%q\x00", i, sorted)
		}
	}
	for _, pc := range c.props {
		fmt.Fprintf(&b, "prop=%s/%d/%q/%s/", pc.name, pc.op, slices.Sorted(slices.Values(pc.values)), pc.prefix)
		if pc.re != nil {
			b.WriteString(pc.re.String())
		}
		fmt.Fprintf(&b, "/%v%s/%v%s\x00", pc.hasMin, strconv.FormatFloat(pc.min, 'g', -1, 64), pc.hasMax, strconv.FormatFloat(pc.max, 'g', -1, 64))
	}
	fmt.Fprintf(&b, "since=%d/%d\x00count=%d/%d\x00comp=%v\x00surge=%v\x00cap=%s/%d",
		c.sinceMin, c.sinceMax, c.countMin, c.countWithin, c.competitor, c.surge,
		strconv.FormatFloat(ru.capPoints, 'g', -1, 64), ru.capPer)
	return xxhash.Sum64String(b.String())
}
