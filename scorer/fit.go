package scorer

import (
	"strings"
	"unicode/utf8"
)

// attrField names the Firmographics field an attribute reads.
type attrField uint8

const (
	fieldIndustry attrField = iota + 1
	fieldEmployees
	fieldCountry
	fieldTechnologies
)

// valueKind is the shape of an attribute's value, which decides the spec
// kinds it accepts: text takes a points map or any_of, a number takes bands,
// a list takes any_of.
type valueKind uint8

const (
	kindText valueKind = iota + 1
	kindNumber
	kindList
)

// lookupAttr maps a rules-file attribute name to its field and value kind.
func lookupAttr(name string) (attrField, valueKind, bool) {
	switch name {
	case "industry":
		return fieldIndustry, kindText, true
	case "employees":
		return fieldEmployees, kindNumber, true
	case "country":
		return fieldCountry, kindText, true
	case "technologies":
		return fieldTechnologies, kindList, true
	}
	return 0, 0, false
}

// attributeNames lists the attributes lookupAttr knows, for error messages.
const attributeNames = "industry, employees, country, technologies"

// attribute is one compiled fit attribute. Both spec kinds for text and list
// values compile to values/other: a points map directly, an any_of list as a
// map whose entries all carry the any_of points.
type attribute struct {
	name  string
	field attrField
	// values maps lower-cased values to points; other is the "*" entry.
	values   map[string]float64
	other    float64
	hasOther bool
	// bands are the employees bands, first match wins.
	bands []band
}

// band is an inclusive range of a numeric attribute.
type band struct {
	min, max       float64
	hasMin, hasMax bool
	points         float64
}

// score returns the points f earns for a; 0 when the attribute is missing or
// matches nothing.
func (a *attribute) score(f *Firmographics) float64 {
	switch a.field {
	case fieldIndustry:
		p, _ := a.text(f.Industry)
		return p
	case fieldCountry:
		p, _ := a.text(f.Country)
		return p
	case fieldEmployees:
		if !f.HasEmployees {
			return 0
		}
		v := float64(f.Employees)
		for i := range a.bands {
			b := &a.bands[i]
			if (!b.hasMin || v >= b.min) && (!b.hasMax || v <= b.max) {
				return b.points
			}
		}
	case fieldTechnologies:
		// any_of: the attribute scores once, whichever entry matches.
		for _, v := range f.Technologies {
			if p, ok := a.text(v); ok {
				return p
			}
		}
	}
	return 0
}

// text matches one value case-insensitively, "*" matching any other
// non-empty value. Surrounding white space is ignored.
func (a *attribute) text(v string) (float64, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if p, ok := lookupFold(a.values, v); ok {
		return p, true
	}
	if a.hasOther {
		return a.other, true
	}
	return 0, false
}

// lookupFold looks s up in a map of lower-cased keys without allocating for
// short ASCII values (the compiler does not copy for m[string(b)]); other
// values go through strings.ToLower, as the keys did.
func lookupFold(m map[string]float64, s string) (float64, bool) {
	var buf [64]byte
	if len(s) <= len(buf) {
		ascii := true
		b := buf[:len(s)]
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c >= utf8.RuneSelf {
				ascii = false
				break
			}
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			b[i] = c
		}
		if ascii {
			p, ok := m[string(b)]
			return p, ok
		}
	}
	p, ok := m[strings.ToLower(s)]
	return p, ok
}

// foldKey is how rules-file values are stored: trimmed and lower-cased, the
// same folding lookupFold applies to account values.
func foldKey(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
