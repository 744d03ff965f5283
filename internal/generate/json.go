package generate

import (
	"strconv"
	"time"
)

// jsonWriter appends JSON to a reused buffer: keys and values in order, with
// commas placed for the caller. It is what keeps Next free of maps and
// reflection.
type jsonWriter struct {
	b     []byte
	first bool // the next key opens an object: no comma before it
}

func (w *jsonWriter) reset() {
	w.b = append(w.b[:0], '{')
	w.first = true
}

func (w *jsonWriter) key(k string) {
	if !w.first {
		w.b = append(w.b, ',')
	}
	w.first = false
	w.b = append(w.b, '"')
	w.b = append(w.b, k...)
	w.b = append(w.b, '"', ':')
}

func (w *jsonWriter) str(k, v string) {
	w.key(k)
	w.b = appendQuoted(w.b, v)
}

// raw writes v unquoted: a number or a pre-built JSON value.
func (w *jsonWriter) raw(k, v string) {
	w.key(k)
	w.b = append(w.b, v...)
}

func (w *jsonWriter) int(k string, v int) {
	w.key(k)
	w.b = strconv.AppendInt(w.b, int64(v), 10)
}

// intOrString writes v as a number, or as a numeric string when asString:
// real payloads do both.
func (w *jsonWriter) intOrString(k string, v int, asString bool) {
	w.key(k)
	if asString {
		w.b = append(w.b, '"')
	}
	w.b = strconv.AppendInt(w.b, int64(v), 10)
	if asString {
		w.b = append(w.b, '"')
	}
}

func (w *jsonWriter) time(k string, t time.Time) {
	w.key(k)
	w.b = append(w.b, '"')
	w.b = t.UTC().AppendFormat(w.b, "2006-01-02T15:04:05.000Z07:00")
	w.b = append(w.b, '"')
}

func (w *jsonWriter) ip(k string, ip [4]byte) {
	w.key(k)
	w.b = append(w.b, '"')
	for i, o := range ip {
		if i > 0 {
			w.b = append(w.b, '.')
		}
		w.b = strconv.AppendUint(w.b, uint64(o), 10)
	}
	w.b = append(w.b, '"')
}

func (w *jsonWriter) strings(k string, vs []string) {
	w.key(k)
	w.b = append(w.b, '[')
	for i, v := range vs {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		w.b = appendQuoted(w.b, v)
	}
	w.b = append(w.b, ']')
}

func (w *jsonWriter) open(k string) {
	w.key(k)
	w.b = append(w.b, '{')
	w.first = true
}

func (w *jsonWriter) close() {
	w.b = append(w.b, '}')
	w.first = false
}

// appendQuoted appends s as a JSON string. Generated strings are plain ASCII
// or UTF-8 names, so the common case copies s whole.
func appendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
