package pipeline

import "strings"

// maxInterned bounds each of a worker's interning tables; past it values
// are cloned per holder, as they would be without interning.
const maxInterned = 4096

// interner keeps one copy of the small vocabularies account state repeats
// across accounts: industries, countries, technology lists, job titles,
// time zones. Each interned value is cloned out of the event it came from
// (an event's strings share one block, which a kept string would pin) and
// shared by every account holding it, so holders must not modify an
// interned list. One worker owns it.
type interner struct {
	strs  map[string]string
	lists map[string][]string
	buf   []byte
}

// str returns the interned copy of s ("" for "").
func (in *interner) str(s string) string {
	if s == "" {
		return ""
	}
	if v, ok := in.strs[s]; ok {
		return v
	}
	v := strings.Clone(s)
	if len(in.strs) < maxInterned {
		if in.strs == nil {
			in.strs = map[string]string{}
		}
		in.strs[v] = v
	}
	return v
}

// list returns the interned copy of l, its elements interned too; nil for
// nil, an empty list for an empty one.
func (in *interner) list(l []string) []string {
	if len(l) == 0 {
		if l == nil {
			return nil
		}
		return []string{}
	}
	// The key: the elements, each followed by a zero byte. A list with a
	// zero byte in an element is not interned: its key could be another's.
	in.buf = in.buf[:0]
	for _, s := range l {
		if strings.IndexByte(s, 0) >= 0 {
			v := make([]string, len(l))
			for i, s := range l {
				v[i] = strings.Clone(s)
			}
			return v
		}
		in.buf = append(append(in.buf, s...), 0)
	}
	if v, ok := in.lists[string(in.buf)]; ok {
		return v
	}
	v := make([]string, len(l))
	for i, s := range l {
		v[i] = in.str(s)
	}
	if len(in.lists) < maxInterned {
		if in.lists == nil {
			in.lists = map[string][]string{}
		}
		in.lists[string(in.buf)] = v
	}
	return v
}
