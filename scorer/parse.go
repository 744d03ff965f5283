package scorer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// The engagement rule categories.
const categories = "strong, medium, weak, negative, intent"

// Parse compiles a rules file (CONTRACT section 3) within [DefaultLimits].
// file names the file in errors.
//
// Parsing is strict: unknown keys, duplicate keys, wrong types and values
// out of range all fail, and every problem is reported at once
// (errors.Join), one per line, each as "file:line: field.path: problem",
// e.g. `rules.yaml:14: engagement.rules[2].cap.per: invalid duration "7x"`,
// up to maxProblems lines and a last one that counts the rest.
// Rule indexes in paths count from 0.
//
// Choices where the contract is silent: version is required; score.min_delta
// is optional and 0 when absent (any score change emits); a cap needs both
// points and per and is only allowed on rules with positive points;
// durations are Go durations plus "d" (24h) and "w" (7d) units.
func Parse(data []byte, file string) (*Rules, error) { return DefaultLimits().Parse(data, file) }

// Load reads and parses the rules file at path within [DefaultLimits].
// Errors name the path.
func Load(path string) (*Rules, error) { return DefaultLimits().Load(path) }

// Parse is [Parse] within the limits l: a file over a limit is refused
// before anything in it is compiled, with every limit it is over named.
func (l Limits) Parse(data []byte, file string) (*Rules, error) {
	if int64(len(data)) > l.MaxFileBytes {
		return nil, l.fileTooLarge(file, strconv.Itoa(len(data)))
	}
	root, err := decodeYAML(data, file)
	if err != nil {
		return nil, err
	}
	p := &parser{file: file, lim: l}
	if p.checkLimits(root); p.problems > 0 {
		return nil, p.err()
	}
	r := p.rules(root)
	if p.problems > 0 {
		return nil, p.err()
	}
	for g := range r.labels {
		for l := range r.labels[g] {
			r.labels[g][l] = gradeLetter(g) + strconv.Itoa(l+1)
		}
	}
	return r, nil
}

// decodeYAML returns the root node of the single YAML document in data.
func decodeYAML(data []byte, file string) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: empty rules file", file)
		}
		return nil, fmt.Errorf("%s: parse yaml: %w", file, err)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, fmt.Errorf("%s: parse yaml: %w", file, err)
	default:
		return nil, fmt.Errorf("%s:%d: more than one yaml document", file, extra.Line)
	}
	if doc.Kind == yaml.DocumentNode {
		if len(doc.Content) == 0 {
			return nil, fmt.Errorf("%s: empty rules file", file)
		}
		return doc.Content[0], nil
	}
	return &doc, nil
}

// maxProblems bounds the problems an error lists: a large broken file
// would otherwise make an error, and a log line, of megabytes.
const maxProblems = 100

// parser walks the YAML node tree, compiling what is valid and collecting
// every problem.
type parser struct {
	file string
	lim  Limits
	errs []error
	// problems counts every problem found, listed in errs or not.
	problems int
}

// err joins the problems found, one per line.
func (p *parser) err() error {
	if more := p.problems - len(p.errs); more > 0 {
		return errors.Join(append(p.errs, fmt.Errorf("%s: %d more problems not listed", p.file, more))...)
	}
	return errors.Join(p.errs...)
}

func (p *parser) errorf(n *yaml.Node, path, format string, args ...any) {
	if p.problems++; p.problems > maxProblems {
		return
	}
	loc := p.file
	if n != nil && n.Line > 0 {
		loc += ":" + strconv.Itoa(n.Line)
	}
	msg := fmt.Sprintf(format, args...)
	if path == "" {
		p.errs = append(p.errs, fmt.Errorf("%s: %s", loc, msg))
		return
	}
	p.errs = append(p.errs, fmt.Errorf("%s: %s: %s", loc, path, msg))
}

func (p *parser) rules(root *yaml.Node) *Rules {
	r := &Rules{}
	m := p.fields(root, "", "version", "fit", "engagement", "score", "stages", "intent", "handoff")
	if m == nil {
		return r
	}
	// intent first: engagement rules and score weights refer to it.
	if n, ok := m["intent"]; ok {
		p.intent(r, n, "intent")
	}
	if n := p.require(m, root, "", "version"); n != nil {
		r.Version, _ = p.text(n, "version")
	}
	if n := p.require(m, root, "", "fit"); n != nil {
		p.fit(r, n, "fit")
	}
	if n := p.require(m, root, "", "engagement"); n != nil {
		p.engagement(r, n, "engagement")
	}
	if n := p.require(m, root, "", "score"); n != nil {
		p.score(r, n, "score")
	}
	if n := p.require(m, root, "", "stages"); n != nil {
		p.stages(r, n, "stages")
	}
	if n, ok := m["handoff"]; ok {
		p.handoff(r, n, "handoff")
	}
	return r
}

func (p *parser) fit(r *Rules, n *yaml.Node, path string) {
	m := p.fields(n, path, "attributes", "grades", "persona")
	if m == nil {
		return
	}
	if a := p.require(m, n, path, "attributes"); a != nil {
		p.attributes(r, a, join(path, "attributes"))
	}
	if v, ok := m["persona"]; ok {
		p.persona(r, v, join(path, "persona"))
	}
	if g := p.require(m, n, path, "grades"); g != nil {
		r.grades = p.thresholds(g, join(path, "grades"), "A", "B", "C")
	}
}

func (p *parser) attributes(r *Rules, n *yaml.Node, path string) {
	seen := map[string]bool{}
	p.pairs(n, path, func(k, v *yaml.Node) {
		name := k.Value
		apath := join(path, name)
		field, kind, ok := lookupAttr(name)
		switch {
		case !ok:
			p.errorf(k, apath, "unknown attribute (want one of %s)", attributeNames)
			return
		case seen[name]:
			p.errorf(k, apath, "duplicate attribute")
			return
		}
		seen[name] = true
		if a, ok := p.attribute(name, field, kind, v, apath); ok {
			r.attrs = append(r.attrs, a)
		}
	})
}

// attribute compiles one attribute spec. The kind of spec is told by its
// keys: bands, any_of (with points), or a points map.
func (p *parser) attribute(name string, field attrField, kind valueKind, n *yaml.Node, path string) (attribute, bool) {
	a := attribute{name: name, field: field}
	m := p.fields(n, path, "points", "bands", "any_of")
	if m == nil {
		return a, false
	}
	pointsN, hasPoints := m["points"]
	bandsN, hasBands := m["bands"]
	anyN, hasAny := m["any_of"]
	nerr := p.problems
	switch {
	case hasBands && hasAny:
		p.errorf(n, path, "bands and any_of exclude each other")
	case hasBands:
		if hasPoints {
			p.errorf(pointsN, join(path, "points"), "not allowed with bands: each band has its own points")
		}
		if kind != kindNumber {
			p.errorf(bandsN, join(path, "bands"), "bands need a numeric attribute; %s is %s, use points or any_of", name, kindName(kind))
			return a, false
		}
		a.bands = p.bands(bandsN, join(path, "bands"))
	case hasAny:
		if kind == kindNumber {
			p.errorf(anyN, join(path, "any_of"), "any_of needs a text or list attribute; %s is a number, use bands", name)
			return a, false
		}
		pts, ok := 0.0, false
		if pn := p.require(m, n, path, "points"); pn != nil {
			if pts, ok = p.number(pn, join(path, "points")); ok && pts == 0 {
				p.errorf(pn, join(path, "points"), "must not be 0")
			}
		}
		a.values, a.other, a.hasOther = p.anyOf(anyN, join(path, "any_of"), pts)
	case hasPoints:
		switch kind {
		case kindNumber:
			p.errorf(pointsN, join(path, "points"), "a points map needs a text attribute; %s is a number, use bands", name)
			return a, false
		case kindList:
			p.errorf(pointsN, join(path, "points"), "a points map needs a single-valued attribute; %s is a list, use any_of with points", name)
			return a, false
		}
		if deref(pointsN).Kind != yaml.MappingNode {
			p.errorf(pointsN, join(path, "points"), "expected a mapping of value: points, got %s (or use any_of with points)", describe(pointsN))
			return a, false
		}
		a.values, a.other, a.hasOther = p.pointsMap(pointsN, join(path, "points"))
	default:
		p.errorf(n, path, "needs one of points (a map), bands or any_of")
	}
	return a, p.problems == nerr
}

func kindName(k valueKind) string {
	switch k {
	case kindText:
		return "text"
	case kindNumber:
		return "a number"
	}
	return "a list"
}

// pointsMap compiles a map of value -> points with lower-cased keys and "*"
// as the points for any other non-empty value.
func (p *parser) pointsMap(n *yaml.Node, path string) (values map[string]float64, other float64, hasOther bool) {
	values = map[string]float64{}
	seen := map[string]string{}
	p.pairs(n, path, func(k, v *yaml.Node) {
		vpath := join(path, k.Value)
		pts, ok := p.number(v, vpath)
		key := foldKey(k.Value)
		switch {
		case key == "":
			p.errorf(k, vpath, "empty value")
		case seen[key] != "":
			p.errorf(k, vpath, "duplicate value (values match case-insensitively: same as %q)", seen[key])
		case !ok:
		case key == "*":
			other, hasOther = pts, true
		default:
			values[key] = pts
		}
		if key != "" && seen[key] == "" {
			seen[key] = k.Value
		}
	})
	if len(seen) == 0 && deref(n).Kind == yaml.MappingNode {
		p.errorf(n, path, "must not be empty")
	}
	return values, other, hasOther
}

// anyOf compiles an any_of list: each entry (case-insensitive, "*" for any
// non-empty value) is worth pts.
func (p *parser) anyOf(n *yaml.Node, path string, pts float64) (values map[string]float64, other float64, hasOther bool) {
	values = map[string]float64{}
	items, ok := p.list(n, path)
	if !ok {
		return values, 0, false
	}
	if len(items) == 0 {
		p.errorf(n, path, "must not be empty")
	}
	for i, item := range items {
		ipath := index(path, i)
		s, ok := p.text(item, ipath)
		if !ok {
			continue
		}
		key := foldKey(s)
		if _, dup := values[key]; dup || (key == "*" && hasOther) {
			p.errorf(item, ipath, "duplicate value %q (values match case-insensitively)", s)
			continue
		}
		if key == "*" {
			other, hasOther = pts, true
			continue
		}
		values[key] = pts
	}
	return values, other, hasOther
}

func (p *parser) bands(n *yaml.Node, path string) []band {
	items, ok := p.list(n, path)
	if !ok {
		return nil
	}
	if len(items) == 0 {
		p.errorf(n, path, "must not be empty")
	}
	bands := make([]band, 0, len(items))
	for i, item := range items {
		bpath := index(path, i)
		m := p.fields(item, bpath, "min", "max", "points")
		if m == nil {
			continue
		}
		var b band
		ok := true
		if v, has := m["min"]; has {
			b.min, b.hasMin = p.number(v, join(bpath, "min"))
			ok = ok && b.hasMin
		}
		if v, has := m["max"]; has {
			b.max, b.hasMax = p.number(v, join(bpath, "max"))
			ok = ok && b.hasMax
		}
		if _, hasMin := m["min"]; !hasMin {
			if _, hasMax := m["max"]; !hasMax {
				p.errorf(item, bpath, "needs min, max or both")
				ok = false
			}
		}
		if b.hasMin && b.hasMax && b.min > b.max {
			p.errorf(item, bpath, "min %s is above max %s", fmtNum(b.min), fmtNum(b.max))
			ok = false
		}
		if v := p.require(m, item, bpath, "points"); v != nil {
			var pok bool
			b.points, pok = p.number(v, join(bpath, "points"))
			ok = ok && pok
		} else {
			ok = false
		}
		if ok {
			bands = append(bands, b)
		}
	}
	return bands
}

func (p *parser) engagement(r *Rules, n *yaml.Node, path string) {
	m := p.fields(n, path, "half_life", "rules", "levels", "buying_group")
	if m == nil {
		return
	}
	if v, ok := m["buying_group"]; ok {
		p.buyingGroup(r, v, join(path, "buying_group"))
	}
	if v := p.require(m, n, path, "half_life"); v != nil {
		r.halfLife, _ = p.duration(v, join(path, "half_life"))
	}
	if v := p.require(m, n, path, "rules"); v != nil {
		rpath := join(path, "rules")
		items, _ := p.list(v, rpath)
		names := map[string]int{}
		for i, item := range items {
			ru, ok := p.rule(r, item, index(rpath, i), names, i)
			if ok {
				ru.id = ru.identity()
				r.rules = append(r.rules, ru)
			}
		}
	}
	if v := p.require(m, n, path, "levels"); v != nil {
		r.levels = p.thresholds(v, join(path, "levels"), "1", "2", "3")
	}
}

// rule compiles one engagement rule; names maps the names seen so far to
// their index, for the uniqueness check.
func (p *parser) rule(r *Rules, n *yaml.Node, path string, names map[string]int, i int) (rule, bool) {
	var ru rule
	m := p.fields(n, path, "name", "category", "when", "points", "cap")
	if m == nil {
		return ru, false
	}
	nerr := p.problems
	if v := p.require(m, n, path, "name"); v != nil {
		if name, ok := p.text(v, join(path, "name")); ok {
			if j, dup := names[name]; dup {
				p.errorf(v, join(path, "name"), "duplicate rule name %q (also rules[%d])", name, j)
			} else {
				names[name] = i
			}
			ru.name = name
		}
	}
	if v := p.require(m, n, path, "category"); v != nil {
		if c, ok := p.text(v, join(path, "category")); ok {
			switch c {
			case "strong", "medium", "weak", "negative", "intent":
				ru.category = c
			default:
				p.errorf(v, join(path, "category"), "unknown category %q (want one of %s)", c, categories)
			}
		}
	}
	if v := p.require(m, n, path, "when"); v != nil {
		p.when(r, &ru.when, v, join(path, "when"))
	}
	pointsOK := false
	if v := p.require(m, n, path, "points"); v != nil {
		ru.points, pointsOK = p.number(v, join(path, "points"))
		if pointsOK && ru.points == 0 {
			p.errorf(v, join(path, "points"), "must not be 0")
			pointsOK = false
		}
	}
	if v, has := m["cap"]; has {
		cpath := join(path, "cap")
		if pointsOK && ru.points < 0 {
			p.errorf(v, cpath, "a cap is only allowed on rules with positive points")
		} else {
			p.capSpec(&ru, v, cpath)
		}
	}
	return ru, p.problems == nerr
}

func (p *parser) capSpec(ru *rule, n *yaml.Node, path string) {
	m := p.fields(n, path, "points", "per")
	if m == nil {
		return
	}
	var pts float64
	var per time.Duration
	ok := true
	if v := p.require(m, n, path, "points"); v != nil {
		var pok bool
		if pts, pok = p.number(v, join(path, "points")); pok && pts <= 0 {
			p.errorf(v, join(path, "points"), "must be > 0, got %s", fmtNum(pts))
			pok = false
		}
		ok = ok && pok
	} else {
		ok = false
	}
	if v := p.require(m, n, path, "per"); v != nil {
		var pok bool
		per, pok = p.duration(v, join(path, "per"))
		ok = ok && pok
	} else {
		ok = false
	}
	if ok {
		ru.capPoints, ru.capPer = pts, per
	}
}

func (p *parser) score(r *Rules, n *yaml.Node, path string) {
	m := p.fields(n, path, "weights", "min_delta")
	if m == nil {
		return
	}
	if v := p.require(m, n, path, "weights"); v != nil {
		wpath := join(path, "weights")
		if w := p.fields(v, wpath, "fit", "engagement", "intent"); w != nil {
			fitOK, engOK := false, false
			if f := p.require(w, v, wpath, "fit"); f != nil {
				r.wFit, fitOK = p.nonNegative(f, join(wpath, "fit"))
			}
			if e := p.require(w, v, wpath, "engagement"); e != nil {
				r.wEng, engOK = p.nonNegative(e, join(wpath, "engagement"))
			}
			if in, ok := w["intent"]; ok {
				if r.wIntent, _ = p.nonNegative(in, join(wpath, "intent")); r.wIntent > 0 && !r.intent.enabled {
					p.errorf(in, join(wpath, "intent"), "needs an intent section")
				}
			}
			if fitOK && engOK && r.wFit == 0 && r.wEng == 0 {
				p.errorf(v, wpath, "fit and engagement must not both be 0")
			}
		}
	}
	if v, has := m["min_delta"]; has {
		r.minDelta, _ = p.nonNegative(v, join(path, "min_delta"))
	}
}

func (p *parser) stages(r *Rules, n *yaml.Node, path string) {
	m := p.fields(n, path, "mql")
	if m == nil {
		return
	}
	v := p.require(m, n, path, "mql")
	if v == nil {
		return
	}
	mpath := join(path, "mql")
	mm := p.fields(v, mpath, "enter", "exit")
	if mm == nil {
		return
	}
	enterOK, exitOK := false, false
	if e := p.require(mm, v, mpath, "enter"); e != nil {
		r.mqlEnter, enterOK = p.number(e, join(mpath, "enter"))
	}
	if e := p.require(mm, v, mpath, "exit"); e != nil {
		r.mqlExit, exitOK = p.number(e, join(mpath, "exit"))
	}
	if enterOK && exitOK && r.mqlExit > r.mqlEnter {
		p.errorf(v, mpath, "exit %s is above enter %s: hysteresis needs enter >= exit", fmtNum(r.mqlExit), fmtNum(r.mqlEnter))
	}
}

// thresholds reads three strictly descending thresholds under keys.
func (p *parser) thresholds(n *yaml.Node, path string, keys ...string) [3]float64 {
	var out [3]float64
	m := p.fields(n, path, keys...)
	if m == nil {
		return out
	}
	ok := true
	for i, k := range keys {
		v := p.require(m, n, path, k)
		if v == nil {
			ok = false
			continue
		}
		var vok bool
		out[i], vok = p.number(v, join(path, k))
		ok = ok && vok
	}
	if ok && (out[0] <= out[1] || out[1] <= out[2]) {
		p.errorf(n, path, "thresholds must be strictly descending: %s %s > %s %s > %s %s",
			keys[0], fmtNum(out[0]), keys[1], fmtNum(out[1]), keys[2], fmtNum(out[2]))
	}
	return out
}

// fields checks that n is a mapping with text keys, each one of known and
// given once, and returns the value node of each key. It returns nil (after
// reporting it) when n is not a mapping.
func (p *parser) fields(n *yaml.Node, path string, known ...string) map[string]*yaml.Node {
	out := map[string]*yaml.Node{}
	ok := p.pairs(n, path, func(k, v *yaml.Node) {
		kpath := join(path, k.Value)
		switch {
		case !slices.Contains(known, k.Value):
			p.errorf(k, kpath, "unknown field (want one of %s)", strings.Join(known, ", "))
		case out[k.Value] != nil:
			p.errorf(k, kpath, "duplicate field")
		default:
			out[k.Value] = v
		}
	})
	if !ok {
		return nil
	}
	return out
}

// pairs calls visit for each key/value of mapping n whose key is a scalar,
// reporting other keys, and reports whether n was a mapping.
func (p *parser) pairs(n *yaml.Node, path string, visit func(k, v *yaml.Node)) bool {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		p.errorf(n, path, "expected a mapping, got %s", describe(n))
		return false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), n.Content[i+1]
		if k == nil || k.Kind != yaml.ScalarNode {
			p.errorf(k, path, "expected a text key, got %s", describe(k))
			continue
		}
		visit(k, v)
	}
	return true
}

// require returns m[key], reporting it missing (at parent's line) when absent.
func (p *parser) require(m map[string]*yaml.Node, parent *yaml.Node, path, key string) *yaml.Node {
	if v, ok := m[key]; ok {
		return v
	}
	p.errorf(deref(parent), join(path, key), "is required")
	return nil
}

func (p *parser) list(n *yaml.Node, path string) ([]*yaml.Node, bool) {
	n = deref(n)
	if n == nil || n.Kind != yaml.SequenceNode {
		p.errorf(n, path, "expected a list, got %s", describe(n))
		return nil, false
	}
	return n.Content, true
}

// text reads a non-empty scalar. Any scalar counts (version: 1 is "1").
func (p *parser) text(n *yaml.Node, path string) (string, bool) {
	n = deref(n)
	if n == nil || n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" {
		p.errorf(n, path, "expected text, got %s", describe(n))
		return "", false
	}
	if strings.TrimSpace(n.Value) == "" {
		p.errorf(n, path, "must not be empty")
		return "", false
	}
	return n.Value, true
}

// number reads a finite YAML int or float.
func (p *parser) number(n *yaml.Node, path string) (float64, bool) {
	n = deref(n)
	if n == nil || n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!int" && n.ShortTag() != "!!float") {
		p.errorf(n, path, "expected a number, got %s", describe(n))
		return 0, false
	}
	var v float64
	if err := n.Decode(&v); err != nil {
		p.errorf(n, path, "invalid number %s", quote(n.Value))
		return 0, false
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		p.errorf(n, path, "must be a finite number, got %s", quote(n.Value))
		return 0, false
	}
	return v, true
}

func (p *parser) nonNegative(n *yaml.Node, path string) (float64, bool) {
	v, ok := p.number(n, path)
	if ok && v < 0 {
		p.errorf(deref(n), path, "must be >= 0, got %s", fmtNum(v))
		return 0, false
	}
	return v, ok
}

func (p *parser) duration(n *yaml.Node, path string) (time.Duration, bool) {
	n = deref(n)
	if n == nil || n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" {
		p.errorf(n, path, "expected a duration such as 14d or 12h, got %s", describe(n))
		return 0, false
	}
	d, err := parseDuration(n.Value)
	if err != nil {
		p.errorf(n, path, "%v", err)
		return 0, false
	}
	return d, true
}

// parseDuration reads a Go duration that may also use the units d (24h) and
// w (7d), e.g. 14d, 1w, 1d12h, 90m. It must be > 0.
func parseDuration(s string) (time.Duration, error) {
	invalid := fmt.Errorf("invalid duration %s", quote(s))
	if s == "" {
		return 0, invalid
	}
	var total time.Duration
	for rest := s; rest != ""; {
		i := 0
		for i < len(rest) && (rest[i] == '.' || '0' <= rest[i] && rest[i] <= '9') {
			i++
		}
		j := i
		for j < len(rest) && rest[j] != '.' && (rest[j] < '0' || rest[j] > '9') {
			j++
		}
		num, unit := rest[:i], rest[i:j]
		if num == "" || unit == "" {
			return 0, invalid
		}
		var d time.Duration
		switch unit {
		case "d", "w":
			f, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return 0, invalid
			}
			day := 24 * time.Hour
			if unit == "w" {
				day *= 7
			}
			ns := f * float64(day)
			if ns >= math.MaxInt64 {
				return 0, invalid
			}
			d = time.Duration(ns)
		default:
			var err error
			if d, err = time.ParseDuration(num + unit); err != nil {
				return 0, invalid
			}
		}
		if total > math.MaxInt64-d {
			return 0, invalid
		}
		total += d
		rest = rest[j:]
	}
	if total <= 0 {
		return 0, fmt.Errorf("duration %s must be > 0", quote(s))
	}
	return total, nil
}

// deref follows aliases to the node they name.
func deref(n *yaml.Node) *yaml.Node {
	for range 32 {
		if n == nil || n.Kind != yaml.AliasNode {
			return n
		}
		n = n.Alias
	}
	return n
}

// describe names a node's shape for an error message.
func describe(n *yaml.Node) string {
	n = deref(n)
	switch {
	case n == nil || n.Kind == 0:
		return "nothing"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null":
		return "null"
	case n.Kind == yaml.ScalarNode:
		return quote(n.Value)
	}
	return "an unsupported node"
}

// quote quotes user text for a message, shortened so a message stays one
// readable line.
func quote(s string) string {
	const maxLen = 64
	if len(s) > maxLen {
		s = s[:maxLen] + "..."
	}
	return strconv.Quote(s)
}

// join appends key to a field path: .key for plain keys, ["key"] otherwise.
func join(path, key string) string {
	plain := key != ""
	for i := 0; i < len(key) && plain; i++ {
		c := key[i]
		plain = c == '_' || c == '-' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
	}
	switch {
	case !plain:
		return path + "[" + quote(key) + "]"
	case path == "":
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

func fmtNum(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
