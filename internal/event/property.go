package event

import (
	"bytes"
	"unicode/utf8"
)

// Property returns the value of properties.<name> in the record the event
// was decoded from, for the rules on properties leadscore does not decode
// into fields. A string is returned unescaped; a number or boolean as its
// JSON text (1e3, true). Null, objects, arrays, an absent key and an event
// without Raw report false. When the key appears more than once the last
// one counts, as in encoding/json.
//
// It walks Raw each call without allocating for values without escapes;
// Decode has already checked that Raw is valid JSON within the limits.
func (e *Event) Property(name string) (string, bool) { return e.field("properties", name) }

// Trait returns traits.<name> of the record (an identify's or group's
// traits) the way Property reads properties: for the traits leadscore does
// not decode into fields, such as the CRM's lead owner.
func (e *Event) Trait(name string) (string, bool) { return e.field("traits", name) }

// field returns the scalar value of obj.name in Raw, unescaped.
func (e *Event) field(obj, name string) (string, bool) {
	var props []byte
	if e.Raw == nil && obj == "properties" {
		props = e.props
	} else {
		props, _ = member(e.Raw, obj)
	}
	if len(props) == 0 || props[0] != '{' {
		return "", false
	}
	v, ok := member(props, name)
	if !ok || len(v) == 0 {
		return "", false
	}
	switch v[0] {
	case '"':
		return unquote(v)
	case '{', '[', 'n':
		return "", false
	}
	return string(v), true
}

// PropertiesJSON returns the raw properties object of the record the event
// was decoded from (aliasing Raw), or the one [Event.SetPropertiesJSON]
// gave an event without Raw, or nil when there is none.
func (e *Event) PropertiesJSON() []byte {
	var props []byte
	if e.Raw == nil {
		props = e.props
	} else {
		props, _ = member(e.Raw, "properties")
	}
	if len(props) == 0 || props[0] != '{' {
		return nil
	}
	return props
}

// member returns the raw value of key in the JSON object obj (the last one
// when repeated), or false.
func member(obj []byte, key string) ([]byte, bool) {
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return nil, false
	}
	i++
	var found []byte
	ok := false
	for {
		i = skipSpace(obj, i)
		if i >= len(obj) || obj[i] == '}' {
			return found, ok
		}
		if obj[i] == ',' {
			i++
			continue
		}
		if obj[i] != '"' {
			return found, ok
		}
		end := stringEnd(obj, i+1)
		if end < 0 {
			return found, ok
		}
		k := obj[i : end+1]
		i = skipSpace(obj, end+1)
		if i >= len(obj) || obj[i] != ':' {
			return found, ok
		}
		i = skipSpace(obj, i+1)
		vend := valueEnd(obj, i)
		if vend <= i {
			return found, ok
		}
		if keyEquals(k, key) {
			found, ok = obj[i:vend], true
		}
		i = vend
	}
}

// keyEquals compares a quoted JSON key with name.
func keyEquals(quoted []byte, name string) bool {
	inner := quoted[1 : len(quoted)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner) == name
	}
	s, ok := unquote(quoted)
	return ok && s == name
}

// valueEnd returns the offset just past the JSON value starting at i, or
// -1 on malformed input.
func valueEnd(data []byte, i int) int {
	if i >= len(data) {
		return -1
	}
	switch data[i] {
	case '"':
		end := stringEnd(data, i+1)
		if end < 0 {
			return -1
		}
		return end + 1
	case '{', '[':
		depth := 0
		for j := i; j < len(data); j++ {
			switch data[j] {
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			case '"':
				end := stringEnd(data, j+1)
				if end < 0 {
					return -1
				}
				j = end
			}
		}
		return -1
	}
	j := i
	for j < len(data) {
		switch data[j] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return j
		}
		j++
	}
	return j
}

func skipSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// unquote decodes a quoted JSON string. Strings without escapes are
// converted directly.
func unquote(q []byte) (string, bool) {
	inner := q[1 : len(q)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner), true
	}
	out := make([]byte, 0, len(inner))
	for i := 0; i < len(inner); i++ {
		c := inner[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		if i >= len(inner) {
			return "", false
		}
		switch inner[i] {
		case '"', '\\', '/':
			out = append(out, inner[i])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			if i+4 >= len(inner) {
				return "", false
			}
			r := hex4(inner[i+1 : i+5])
			i += 4
			if r < 0 {
				return "", false
			}
			if 0xD800 <= r && r < 0xDC00 && i+6 < len(inner) && inner[i+1] == '\\' && inner[i+2] == 'u' {
				if lo := hex4(inner[i+3 : i+7]); 0xDC00 <= lo && lo < 0xE000 {
					r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
					i += 6
				}
			}
			if 0xD800 <= r && r < 0xE000 {
				r = utf8.RuneError
			}
			out = utf8.AppendRune(out, r)
		default:
			return "", false
		}
	}
	return string(out), true
}
