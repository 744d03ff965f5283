package event

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/segmentio/encoding/json"
)

// wires are reused: a wire is large and Decode runs once per record.
var wires = sync.Pool{New: func() any { return new(wire) }}

// decodeReference is Decode as it was before the single-pass parser: it
// checks UTF-8, then scan for depth and string lengths, then parses with
// segmentio/encoding/json into a pooled wire. Decode falls back to it for
// every record its fast path does not accept, so the reasons and details of
// errors come from here; tests use it as the oracle for the fast path.
func decodeReference(data []byte, ev *Event, lim Limits) error {
	*ev = Event{}
	lim = lim.orDefault()
	if len(data) > lim.MaxBytes {
		return fail(ReasonTooLarge, "%d bytes, limit %d", len(data), lim.MaxBytes)
	}
	if !utf8.Valid(data) {
		return fail(ReasonInvalidUTF8, "at byte offset %d", invalidUTF8At(data))
	}
	deepAt, long := scan(data, lim.MaxDepth, lim.MaxString)
	if deepAt >= 0 {
		return fail(ReasonTooDeep, "nesting deeper than %d at byte offset %d", lim.MaxDepth, deepAt)
	}

	w := wires.Get().(*wire)
	*w = wire{}
	defer func() {
		*w = wire{} // do not pin the last record's strings
		wires.Put(w)
	}()
	if err := w.unmarshal(data); err != nil {
		return err
	}
	if long {
		if err := checkStrings(w, data, lim.MaxString); err != nil {
			return err
		}
	}
	if err := w.fill(ev); err != nil {
		return err
	}
	ev.Raw = data
	return nil
}

// invalidUTF8At returns the offset of the first byte that is not UTF-8.
func invalidUTF8At(data []byte) int {
	for i := 0; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return -1
}

// scan walks data once, aware of strings and escapes. It returns the offset
// of the first bracket nested deeper than maxDepth (-1 if none) and whether
// any string's raw (still escaped) length exceeds maxString. The raw length
// bounds the decoded length from above, so checkStrings only runs when a
// string may be too long. On malformed input the answer is a best effort;
// the parser reports the syntax error afterwards.
func scan(data []byte, maxDepth, maxString int) (deepAt int, long bool) {
	depth := 0
	for i := 0; i < len(data); i++ {
		switch data[i] {
		case '{', '[':
			depth++
			if depth > maxDepth {
				return i, long
			}
		case '}', ']':
			if depth > 0 {
				depth--
			}
		case '"':
			end := stringEnd(data, i+1)
			if end < 0 {
				return -1, long
			}
			if end-(i+1) > maxString {
				long = true
			}
			i = end
		}
	}
	return -1, long
}

// checkStrings reports the first string longer than max once decoded: a
// known field by its path, else any string by its offset. data is valid JSON.
func checkStrings(w *wire, data []byte, max int) error {
	if path, n := w.longField(max); path != "" {
		return fail(ReasonFieldTooLong, "%s: %d bytes, limit %d", path, n, max)
	}
	for i := 0; i < len(data); i++ {
		if data[i] != '"' {
			continue
		}
		end := stringEnd(data, i+1)
		if end < 0 {
			return nil
		}
		if end-(i+1) > max {
			if n := unescapedLen(data[i+1 : end]); n > max {
				return fail(ReasonFieldTooLong, "string at byte offset %d: %d bytes, limit %d", i, n, max)
			}
		}
		i = end
	}
	return nil
}

// unescapedLen returns the decoded length in bytes of the content of a valid
// JSON string. A lone surrogate counts as U+FFFD, which replaces it.
func unescapedLen(s []byte) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			n++
			continue
		}
		i++ // s is valid, so every escape is complete
		if s[i] != 'u' {
			n++
			continue
		}
		r := hex4(s[i+1:])
		i += 4
		if !utf16.IsSurrogate(r) {
			n += utf8.RuneLen(r)
			continue
		}
		if r < 0xDC00 && i+6 < len(s) && s[i+1] == '\\' && s[i+2] == 'u' {
			if r2 := hex4(s[i+3:]); r2 >= 0xDC00 && r2 < 0xE000 {
				n += 4
				i += 6
				continue
			}
		}
		n += 3
	}
	return n
}

// unmarshal parses data into w, mapping the parser's errors to reasons.
func (w *wire) unmarshal(data []byte) error {
	// Segment keys are camelCase exactly; case-insensitive matching would only
	// cost time and let "UserID" shadow "userId".
	rest, err := json.Parse(data, w, json.DontMatchCaseInsensitiveStructFields)
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		return fail(ReasonInvalidJSON, "byte offset %d: %s", len(data)-len(rest), strings.TrimPrefix(se.Error(), "json: "))
	}
	if len(rest) != 0 {
		// As encoding/json does, trailing bytes win over type errors.
		return fail(ReasonInvalidJSON, "byte offset %d: trailing bytes after the top-level value", len(data)-len(rest))
	}
	// The parser validates the whole top-level value before it reports a type
	// error, so from here on data is valid JSON.
	if b := bytes.TrimLeft(data, " \t\r\n"); len(b) == 0 || b[0] != '{' {
		return fail(ReasonNotObject, "top level is %s", kindOf(b))
	}
	if err == nil {
		return nil
	}
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		if te.Type == typeOutOfRange {
			return fail(ReasonWrongType, "%s: %s is out of range", te.Field, te.Value)
		}
		got := "number"
		if raw, uerr := strconv.Unquote(te.Value); uerr == nil {
			got = kindOf([]byte(raw))
		}
		return fail(ReasonWrongType, "%s: got %s, want %s", te.Field, got, wantOf(te.Type))
	}
	// Neither syntax nor type: a bug in the parser or in a wire type. Still
	// poison, since the same bytes fail the same way on every retry.
	return fail(ReasonInvalidJSON, "%v", err)
}

// kindOf names the JSON kind of the value starting b.
func kindOf(b []byte) string {
	if len(b) == 0 {
		return "nothing"
	}
	switch b[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

var (
	typeString  = reflect.TypeFor[string]()
	typeScratch = reflect.TypeFor[scratch]()
	typeStrings = reflect.TypeFor[[]string]()
	typeID      = reflect.TypeFor[idString]()
	typeNumber  = reflect.TypeFor[flexNumber]()
	// typeOutOfRange marks rangeError's type errors.
	typeOutOfRange = reflect.TypeFor[outOfRange]()
)

// wantOf names, in JSON terms, what a wire field accepts.
func wantOf(t reflect.Type) string {
	switch t {
	case typeString, typeScratch:
		return "string"
	case typeStrings:
		return "array of strings"
	case typeID:
		return "string or number"
	case typeNumber:
		return "number or numeric string"
	}
	if t != nil && t.Kind() == reflect.Struct {
		return "object"
	}
	return fmt.Sprint(t)
}
