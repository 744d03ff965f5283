package event

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/bits"
	"strconv"
	"sync"
	"unicode/utf8"
	"unsafe"
)

// parser is Decode's fast path: one pass over a record that checks
// everything decodeReference checks before the Segment semantics (UTF-8,
// nesting depth, JSON syntax as encoding/json accepts it, a top-level
// object, the types of known fields, string lengths) and notes where the
// values of known keys lie. It never builds an error: on anything it does not
// accept it reports false and Decode asks decodeReference, which then decides
// the outcome and the reason. So parse may refuse more than it must (a very
// long technologies list), never less; and whatever it accepts must read
// exactly as segmentio/encoding/json reads it into a wire (see
// FuzzDecodeDifferential).
//
// A parser lives on Decode's stack and keeps only offsets into the record;
// build copies the strings the event keeps into one block carved from a
// slab (see slab).
type parser struct {
	data  []byte
	depth int
	lim   Limits

	vals [nFields]span
	// kept has bit f set when vals[f] is a non-empty string or id the event
	// keeps, so build visits only those.
	kept uint64
	nums [4]flexNumber // properties.score, properties.amount, traits.employees, traits.company.employees

	// traits.technologies. tech is the backing array segmentio fills: a
	// repeated key reuses it, and a null element keeps what an earlier
	// array left at its index (the whole array is reset only by null), so
	// techBack counts the elements ever written and techLen the last
	// array's length.
	tech              [maxTech]span
	techBack, techLen int
}

// maxTech bounds the technologies the fast path keeps; a longer list goes to
// decodeReference.
const maxTech = 32

// span is where a value lies in the record: a string's content between its
// quotes, or a number's text. end == 0 means absent (no value ends at
// offset 0 of an object); the top bit of end marks a string with escapes,
// whose decoded length may be shorter than its raw length.
type span struct{ off, end uint32 }

const escBit = 1 << 31

func (s span) esc() bool { return s.end&escBit != 0 }

// raw returns the raw content of s.
func (s span) raw(data []byte) []byte { return data[s.off : s.end&^escBit] }

// size bounds the decoded length of s from above.
func (s span) size() int { return int(s.end&^escBit - s.off) }

// field names a known key. Those below nFields hold scalars the parser
// records in vals; the others are the objects (and the one array) on the
// way to them.
type field uint8

const (
	fType field = iota
	fMessageID
	fAnonymousID
	fUserID
	fPreviousID
	fGroupID
	fEvent
	fTimestamp
	fOriginalTimestamp
	fSentAt
	fReceivedAt
	fContextIP
	fContextGroupID
	fContextTimezone
	fPageURL
	fPagePath
	fPageReferrer
	fPageTitle
	fCampaignSource
	fCampaignMedium
	fCampaignName
	fCampaignTerm
	fCampaignContent
	fPropURL
	fPropPath
	fPropTitle
	fPropReferrer
	fPropTopic
	fPropScore
	fPropSource
	fPropCompetitor
	fPropDomain
	fPropAmount
	fPropCurrency
	fTraitEmail
	fTraitPhone
	fTraitName
	fTraitTitle
	fTraitWechat
	fTraitDomain
	fTraitWebsite
	fTraitIndustry
	fTraitEmployees
	fTraitCountry
	fCompanyName
	fCompanyDomain
	fCompanyIndustry
	fCompanyEmployees
	fCompanyCountry
	nFields

	fTop
	fContext
	fPage
	fCampaign
	fProperties
	fTraits
	fCompany
	fTechnologies
	fUnknown
)

// kind is the wire type of a scalar field, which decides what JSON it
// accepts and what null does.
type kind uint8

const (
	kindString  kind = iota // string: null leaves the field as it is
	kindID                  // idString: string or number; null clears
	kindScratch             // scratch: string, not kept; null clears
	kindNumber              // flexNumber: number or numeric string; null clears
	kindLoose               // looseNumber: as kindNumber, anything else is ignored
)

func kindOfField(f field) kind {
	switch f {
	case fType, fTimestamp, fOriginalTimestamp, fSentAt, fReceivedAt:
		return kindScratch
	case fAnonymousID, fUserID, fPreviousID, fGroupID, fContextGroupID:
		return kindID
	case fPropScore:
		return kindLoose
	case fPropAmount, fTraitEmployees, fCompanyEmployees:
		return kindNumber
	}
	return kindString
}

// numIndex returns the index in parser.nums of a kindNumber field.
func numIndex(f field) int {
	switch f {
	case fPropScore:
		return 0
	case fPropAmount:
		return 1
	case fTraitEmployees:
		return 2
	}
	return 3
}

// fieldOf returns the field key names in object obj, or fUnknown. Keys are
// case-sensitive, as decodeReference reads them.
func fieldOf(obj field, key string) field {
	switch obj {
	case fTop:
		switch key {
		case "type":
			return fType
		case "messageId":
			return fMessageID
		case "anonymousId":
			return fAnonymousID
		case "userId":
			return fUserID
		case "previousId":
			return fPreviousID
		case "groupId":
			return fGroupID
		case "event":
			return fEvent
		case "timestamp":
			return fTimestamp
		case "originalTimestamp":
			return fOriginalTimestamp
		case "sentAt":
			return fSentAt
		case "receivedAt":
			return fReceivedAt
		case "context":
			return fContext
		case "properties":
			return fProperties
		case "traits":
			return fTraits
		}
	case fContext:
		switch key {
		case "ip":
			return fContextIP
		case "groupId":
			return fContextGroupID
		case "timezone":
			return fContextTimezone
		case "page":
			return fPage
		case "campaign":
			return fCampaign
		}
	case fPage:
		switch key {
		case "url":
			return fPageURL
		case "path":
			return fPagePath
		case "referrer":
			return fPageReferrer
		case "title":
			return fPageTitle
		}
	case fCampaign:
		switch key {
		case "source":
			return fCampaignSource
		case "medium":
			return fCampaignMedium
		case "name":
			return fCampaignName
		case "term":
			return fCampaignTerm
		case "content":
			return fCampaignContent
		}
	case fProperties:
		switch key {
		case "url":
			return fPropURL
		case "path":
			return fPropPath
		case "title":
			return fPropTitle
		case "referrer":
			return fPropReferrer
		case "topic":
			return fPropTopic
		case "score":
			return fPropScore
		case "source":
			return fPropSource
		case "competitor":
			return fPropCompetitor
		case "domain":
			return fPropDomain
		case "amount":
			return fPropAmount
		case "currency":
			return fPropCurrency
		}
	case fTraits:
		switch key {
		case "email":
			return fTraitEmail
		case "phone":
			return fTraitPhone
		case "name":
			return fTraitName
		case "title":
			return fTraitTitle
		case "wechat":
			return fTraitWechat
		case "company":
			return fCompany
		case "domain":
			return fTraitDomain
		case "website":
			return fTraitWebsite
		case "industry":
			return fTraitIndustry
		case "employees":
			return fTraitEmployees
		case "country":
			return fTraitCountry
		case "technologies":
			return fTechnologies
		}
	case fCompany:
		switch key {
		case "name":
			return fCompanyName
		case "domain":
			return fCompanyDomain
		case "industry":
			return fCompanyIndustry
		case "employees":
			return fCompanyEmployees
		case "country":
			return fCompanyCountry
		}
	}
	return fUnknown
}

// maxKey is the longest known key ("originalTimestamp").
const maxKey = 17

// parse reads data and reports whether it is a record decodeReference would
// parse without error, every string within the limits. lim has its defaults
// applied and len(data) is within lim.MaxBytes.
//
// The methods below take the offset to read at and return the offset after
// what they read, or -1 to refuse the record.
func (p *parser) parse(data []byte, lim Limits) bool {
	if len(data) >= escBit {
		return false // spans hold 31-bit offsets
	}
	p.data, p.lim = data, lim
	i := ws(data, 0)
	if i >= len(data) || data[i] != '{' {
		return false
	}
	i = p.object(fTop, i)
	return i >= 0 && ws(data, i) == len(data)
}

// ws skips JSON whitespace.
func ws(d []byte, i int) int {
	for i < len(d) {
		if c := d[i]; c > ' ' || (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
			return i
		}
		i++
	}
	return i
}

// object reads the object at i, known object obj or fUnknown to skip it.
func (p *parser) object(obj field, i int) int {
	d := p.data
	p.depth++
	if p.depth > p.lim.MaxDepth {
		return -1
	}
	i = ws(d, i+1)
	if i < len(d) && d[i] == '}' {
		p.depth--
		return i + 1
	}
	for {
		if i >= len(d) || d[i] != '"' {
			return -1
		}
		k, j := str(d, i, p.lim.MaxString)
		if j < 0 {
			return -1
		}
		i = ws(d, j)
		if i >= len(d) || d[i] != ':' {
			return -1
		}
		i = ws(d, i+1)
		if i >= len(d) {
			return -1
		}
		switch f := p.lookup(obj, k); {
		case f < nFields:
			i = p.scalar(f, i)
		case f == fUnknown:
			i = p.skip(i)
		case f == fTechnologies:
			i = p.technologies(i)
		default:
			i = p.child(f, i)
		}
		if i < 0 {
			return -1
		}
		i = ws(d, i)
		if i >= len(d) {
			return -1
		}
		switch d[i] {
		case ',':
			i = ws(d, i+1)
		case '}':
			p.depth--
			return i + 1
		default:
			return -1
		}
	}
}

// lookup returns the field that key k names in object obj.
func (p *parser) lookup(obj field, k span) field {
	if obj == fUnknown {
		return fUnknown
	}
	raw := k.raw(p.data)
	if !k.esc() {
		return fieldOf(obj, unsafe.String(unsafe.SliceData(raw), len(raw)))
	}
	// An escaped key decodes to at most as many bytes as it has; a longer
	// one is no known key.
	var buf [6 * maxKey]byte
	if len(raw) > len(buf) {
		return fUnknown
	}
	b := appendUnescaped(buf[:0], raw)
	return fieldOf(obj, unsafe.String(unsafe.SliceData(b), len(b)))
}

// child reads the value of known object f at i (not at the end of data).
func (p *parser) child(f field, i int) int {
	switch p.data[i] {
	case '{':
		return p.object(f, i)
	case 'n':
		return lit(p.data, i, "null") // a null object leaves its fields as they are
	}
	return -1
}

// scalar reads the value of scalar field f at i (not at the end of data)
// with its wire type's rules; a value of the wrong type is refused.
func (p *parser) scalar(f field, i int) int {
	d := p.data
	k := kindOfField(f)
	if k == kindLoose {
		return p.loose(f, i)
	}
	switch c := d[i]; {
	case c == '"':
		s, j := str(d, i, p.lim.MaxString)
		if j < 0 {
			return -1
		}
		if k == kindNumber {
			// As flexNumber: the raw content must be a JSON number, so an
			// escape refuses it.
			if s.esc() || !p.setNumber(f, s.raw(d)) {
				return -1
			}
			return j
		}
		p.set(f, s)
		return j
	case c == 'n':
		switch k {
		case kindID, kindScratch:
			p.set(f, span{})
		case kindNumber:
			p.nums[numIndex(f)] = flexNumber{}
		}
		return lit(d, i, "null")
	case c == '-' || c >= '0' && c <= '9':
		if k != kindID && k != kindNumber {
			return -1
		}
		j := number(d, i)
		if j < 0 {
			return -1
		}
		if k == kindNumber {
			if !p.setNumber(f, d[i:j]) {
				return -1
			}
			return j
		}
		p.set(f, span{off: uint32(i), end: uint32(j)})
		return j
	}
	return -1
}

// loose reads the value of looseNumber field f at i: a number or numeric
// string sets it, null clears it, and any other JSON value clears it and
// marks it bad, as looseNumber does.
func (p *parser) loose(f field, i int) int {
	d := p.data
	n := &p.nums[numIndex(f)]
	switch c := d[i]; {
	case c == 'n':
		*n = flexNumber{}
		return lit(d, i, "null")
	case c == '"':
		s, j := str(d, i, p.lim.MaxString)
		if j >= 0 && (s.esc() || !p.setNumber(f, s.raw(d))) {
			*n = flexNumber{bad: true}
		}
		return j
	case c == '-' || c >= '0' && c <= '9':
		j := number(d, i)
		if j >= 0 && !p.setNumber(f, d[i:j]) {
			*n = flexNumber{bad: true}
		}
		return j
	}
	j := p.skip(i)
	if j >= 0 {
		*n = flexNumber{bad: true}
	}
	return j
}

// set records the value of scalar field f.
func (p *parser) set(f field, s span) {
	p.vals[f] = s
	if k := kindOfField(f); k != kindString && k != kindID {
		return
	}
	if s.size() > 0 {
		p.kept |= 1 << f
	} else {
		p.kept &^= 1 << f
	}
}

// setNumber parses num as flexNumber does.
func (p *parser) setNumber(f field, num []byte) bool {
	if !isNumber(num) {
		return false
	}
	v, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(num), len(num)), 64)
	if err != nil || math.IsInf(v, 0) {
		return false
	}
	p.nums[numIndex(f)] = flexNumber{v: v, set: true}
	return true
}

// technologies reads traits.technologies, an array of strings, the way
// segmentio decodes into the wire's []string (see parser.tech).
func (p *parser) technologies(i int) int {
	d := p.data
	switch d[i] {
	case 'n':
		p.techBack, p.techLen = 0, 0
		return lit(d, i, "null")
	case '[':
	default:
		return -1
	}
	p.depth++
	if p.depth > p.lim.MaxDepth {
		return -1
	}
	p.techLen = 0
	i = ws(d, i+1)
	if i < len(d) && d[i] == ']' {
		p.depth--
		return i + 1
	}
	for {
		if i >= len(d) || p.techLen == maxTech {
			return -1
		}
		n := p.techLen
		switch d[i] {
		case '"':
			s, j := str(d, i, p.lim.MaxString)
			if j < 0 {
				return -1
			}
			p.tech[n] = s
			i = j
		case 'n':
			if i = lit(d, i, "null"); i < 0 {
				return -1
			}
			if n >= p.techBack {
				p.tech[n] = span{}
			}
		default:
			return -1
		}
		p.techLen++
		p.techBack = max(p.techBack, p.techLen)
		i = ws(d, i)
		if i >= len(d) {
			return -1
		}
		switch d[i] {
		case ',':
			i = ws(d, i+1)
		case ']':
			p.depth--
			return i + 1
		default:
			return -1
		}
	}
}

// skip reads any JSON value at i.
func (p *parser) skip(i int) int {
	d := p.data
	if i >= len(d) {
		return -1
	}
	switch d[i] {
	case '"':
		_, j := str(d, i, p.lim.MaxString)
		return j
	case '{':
		return p.object(fUnknown, i)
	case '[':
		return p.array(i)
	case 't':
		return lit(d, i, "true")
	case 'f':
		return lit(d, i, "false")
	case 'n':
		return lit(d, i, "null")
	}
	return number(d, i)
}

// array skips the array at i.
func (p *parser) array(i int) int {
	d := p.data
	p.depth++
	if p.depth > p.lim.MaxDepth {
		return -1
	}
	i = ws(d, i+1)
	if i < len(d) && d[i] == ']' {
		p.depth--
		return i + 1
	}
	for {
		if i = p.skip(i); i < 0 {
			return -1
		}
		i = ws(d, i)
		if i >= len(d) {
			return -1
		}
		switch d[i] {
		case ',':
			i = ws(d, i+1)
		case ']':
			p.depth--
			return i + 1
		default:
			return -1
		}
	}
}

// lit reads the literal s at i.
func lit(d []byte, i int, s string) int {
	if len(d)-i < len(s) || string(d[i:i+len(s)]) != s {
		return -1
	}
	return i + len(s)
}

// number reads a JSON number (RFC 8259 §6) at i.
func number(d []byte, i int) int {
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i >= len(d):
		return -1
	case d[i] == '0':
		i++
	case d[i] >= '1' && d[i] <= '9':
		i = digits(d, i+1)
	default:
		return -1
	}
	if i < len(d) && d[i] == '.' {
		j := digits(d, i+1)
		if j == i+1 {
			return -1
		}
		i = j
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		j := digits(d, i)
		if j == i {
			return -1
		}
		i = j
	}
	return i
}

func digits(d []byte, i int) int {
	for i < len(d) && d[i] >= '0' && d[i] <= '9' {
		i++
	}
	return i
}

// SWAR constants: a byte of ones, and the high bit of every byte.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// special marks, in the high bit of its byte, the first byte of x (read
// little-endian) that a string scan must look at: a quote, a backslash, a
// control character or a non-ASCII byte. Bytes after the first marked one
// may be marked wrongly (borrows); the first never is.
func special(x uint64) uint64 {
	q := x ^ (ones * '"')
	b := x ^ (ones * '\\')
	return ((q-ones)&^q | (b-ones)&^b | (x-ones*0x20)&^x | x) & highs
}

// str reads the string whose opening quote is at i, checking escapes, UTF-8
// and its decoded length against maxLen, and returns its content and the
// offset after its closing quote.
func str(d []byte, i, maxLen int) (span, int) {
	start := i + 1
	i = start
	shrink := 0 // raw bytes minus decoded bytes
	esc := false
	for {
		for i+8 <= len(d) {
			if m := special(binary.LittleEndian.Uint64(d[i:])); m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
			i += 8
		}
		if i >= len(d) {
			return span{}, -1
		}
		switch c := d[i]; {
		case c == '"':
			if i-start-shrink > maxLen {
				return span{}, -1
			}
			s := span{off: uint32(start), end: uint32(i)}
			if esc {
				s.end |= escBit
			}
			return s, i + 1
		case c == '\\':
			esc = true
			if i+1 >= len(d) {
				return span{}, -1
			}
			switch d[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
				shrink++
			case 'u':
				r, ok := hexRune(d, i+2)
				if !ok {
					return span{}, -1
				}
				i += 6
				switch {
				case r < 0xD800 || r >= 0xE000:
					shrink += 6 - utf8.RuneLen(r)
				case r < 0xDC00 && i+1 < len(d) && d[i] == '\\' && d[i+1] == 'u':
					if r2, ok := hexRune(d, i+2); ok && r2 >= 0xDC00 && r2 < 0xE000 {
						i += 6
						shrink += 12 - 4
					} else {
						shrink += 6 - 3 // U+FFFD; the next escape is read on its own
					}
				default:
					shrink += 6 - 3 // a lone surrogate reads as U+FFFD
				}
			default:
				return span{}, -1
			}
		case c < 0x20:
			return span{}, -1
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(d[i:])
			if r == utf8.RuneError && size == 1 {
				return span{}, -1
			}
			i += size
		}
	}
}

// hexRune reads the four hex digits at d[i:].
func hexRune(d []byte, i int) (rune, bool) {
	if i+4 > len(d) {
		return 0, false
	}
	var r rune
	for _, c := range d[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// appendUnescaped appends the decoded content s of a string str accepted:
// a lone surrogate becomes U+FFFD, as in encoding/json and segmentio.
func appendUnescaped(dst, s []byte) []byte {
	for len(s) > 0 {
		j := bytes.IndexByte(s, '\\')
		if j < 0 {
			return append(dst, s...)
		}
		dst = append(dst, s[:j]...)
		s = s[j:]
		c := s[1]
		switch c {
		case 'b':
			c = '\b'
		case 'f':
			c = '\f'
		case 'n':
			c = '\n'
		case 'r':
			c = '\r'
		case 't':
			c = '\t'
		case 'u':
			r := hex4(s[2:])
			s = s[6:]
			if r >= 0xD800 && r < 0xE000 {
				if r < 0xDC00 && len(s) >= 6 && s[0] == '\\' && s[1] == 'u' {
					if r2 := hex4(s[2:]); r2 >= 0xDC00 && r2 < 0xE000 {
						r = 0x10000 + (r-0xD800)<<10 + (r2 - 0xDC00)
						s = s[6:]
					} else {
						r = utf8.RuneError
					}
				} else {
					r = utf8.RuneError
				}
			}
			dst = utf8.AppendRune(dst, r)
			continue
		}
		dst = append(dst, c)
		s = s[2:]
	}
	return dst
}

// segment returns what the Segment semantics read of the call. Its strings
// alias the record unless they have escapes.
func (p *parser) segment() segment {
	return segment{
		typ:               p.scratch(p.vals[fType]),
		timestamp:         p.scratch(p.vals[fTimestamp]),
		originalTimestamp: p.scratch(p.vals[fOriginalTimestamp]),
		sentAt:            p.scratch(p.vals[fSentAt]),
		recvd:             p.scratch(p.vals[fReceivedAt]),
		anonymousID:       p.kept&(1<<fAnonymousID) != 0,
		userID:            p.kept&(1<<fUserID) != 0,
		previousID:        p.kept&(1<<fPreviousID) != 0,
		groupID:           p.kept&(1<<fGroupID) != 0,
		event:             p.kept&(1<<fEvent) != 0,
		contextGroupID:    p.kept&(1<<fContextGroupID) != 0,
		propertiesDomain:  p.kept&(1<<fPropDomain) != 0,
	}
}

// scratch returns the content of a string the event does not keep.
func (p *parser) scratch(s span) string {
	raw := s.raw(p.data)
	if s.esc() {
		return string(appendUnescaped(make([]byte, 0, len(raw)), raw))
	}
	return unsafe.String(unsafe.SliceData(raw), len(raw))
}

// build copies the values parse found into ev, which is zero but for Type
// and Time. The strings ev keeps share one block, sized from the raw
// lengths (an upper bound of the decoded ones) and carved from a slab, so a
// kept string keeps the other events of its slab alive (see slab).
func (p *parser) build(ev *Event) {
	size := 0
	for m := p.kept; m != 0; m &= m - 1 {
		size += p.vals[bits.TrailingZeros64(m)].size()
	}
	for i := range p.techLen {
		size += p.tech[i].size()
	}
	a := arena{data: p.data}
	var s *slab
	if size > 0 {
		s = slabs.Get().(*slab)
		a.b = s.carve(size)
	}
	for m := p.kept; m != 0; m &= m - 1 {
		f := field(bits.TrailingZeros64(m))
		*ev.stringField(f) = a.copy(p.vals[f])
	}
	if p.techLen > 0 {
		t := make([]string, p.techLen)
		for i := range t {
			t[i] = a.copy(p.tech[i])
		}
		ev.Traits.Technologies = t
	}
	if s != nil {
		s.commit(size, len(a.b))
		slabs.Put(s)
	}
	ev.Properties.Score, ev.Properties.HasScore, ev.Properties.ScoreIgnored = p.nums[0].v, p.nums[0].set, p.nums[0].bad
	ev.Properties.Amount = p.nums[1].v
	ev.Traits.Employees, ev.Traits.HasEmployees = p.nums[2].int(), p.nums[2].set
	ev.Traits.Company.Employees = p.nums[3].int()
}

// arena hands out strings copied from a record into one buffer whose
// capacity was computed beforehand, so appends never move it.
type arena struct {
	data []byte // the record
	b    []byte
}

func (a *arena) copy(s span) string {
	start := len(a.b)
	if s.esc() {
		a.b = appendUnescaped(a.b, s.raw(a.data))
	} else {
		a.b = append(a.b, s.raw(a.data)...)
	}
	if len(a.b) == start {
		return ""
	}
	return unsafe.String(&a.b[start], len(a.b)-start)
}

// slab is a block the decoder carves events' string blocks from, one after
// the other, so that an event's strings cost a fraction of an allocation.
// What lies before len(b) was handed out and is never written again: a
// string never changes under whoever holds it, and the GC frees a slab once
// no string of it is referenced (nothing is reset or reused by hand). A
// full slab is left to the GC and a new one is made.
//
// slabSize is the trade-off between allocations and what a kept string
// pins. The generated mix keeps 171 bytes of strings per event on average
// (p99 325), so 8 KiB serves about 45 events: 0.02 allocations a decode.
// The price falls on code that keeps a decoded string without cloning it
// (the rule Decode documents): such a string pins its whole slab, 8 KiB,
// not the ~200 bytes of its own event. 16 KiB would halve the allocations
// and double that price. An event whose strings need more than maxCarve
// (1 KiB) gets a block of its own, exactly its size: a big event would
// otherwise start a new slab and waste what the old one had left, so the
// space lost at the end of a slab stays below maxCarve.
//
// Decode is a function, not a method of a long-lived decoder, so the slabs
// live in a sync.Pool: each goroutine that decodes takes one for the time
// of a build. The pool may drop a slab at a GC; its strings stay valid.
type slab struct{ b []byte }

const (
	slabSize = 8 << 10
	maxCarve = slabSize / 8
)

var slabs = sync.Pool{New: func() any { return new(slab) }}

// carve returns an empty buffer of capacity n (n > 0) for one event's
// strings: the free end of the slab, a new slab's start when the free end
// is too short, or a block of its own when n exceeds maxCarve. The
// capacity is exact, so appends within n never reach another event's
// strings.
func (s *slab) carve(n int) []byte {
	if n > maxCarve {
		return make([]byte, 0, n)
	}
	if cap(s.b)-len(s.b) < n {
		s.b = make([]byte, 0, slabSize)
	}
	l := len(s.b)
	return s.b[l : l : l+n]
}

// commit marks the first used bytes of what carve(n) returned as handed
// out; the rest (escapes decode shorter than they are written) stays free.
func (s *slab) commit(n, used int) {
	if n <= maxCarve {
		s.b = s.b[:len(s.b)+used]
	}
}

// stringField returns ev's field for a kindString or kindID field.
func (ev *Event) stringField(f field) *string {
	switch f {
	case fMessageID:
		return &ev.MessageID
	case fAnonymousID:
		return &ev.AnonymousID
	case fUserID:
		return &ev.UserID
	case fPreviousID:
		return &ev.PreviousID
	case fGroupID:
		return &ev.GroupID
	case fEvent:
		return &ev.Event
	case fContextIP:
		return &ev.Context.IP
	case fContextGroupID:
		return &ev.Context.GroupID
	case fContextTimezone:
		return &ev.Context.Timezone
	case fPageURL:
		return &ev.Context.Page.URL
	case fPagePath:
		return &ev.Context.Page.Path
	case fPageReferrer:
		return &ev.Context.Page.Referrer
	case fPageTitle:
		return &ev.Context.Page.Title
	case fCampaignSource:
		return &ev.Context.Campaign.Source
	case fCampaignMedium:
		return &ev.Context.Campaign.Medium
	case fCampaignName:
		return &ev.Context.Campaign.Name
	case fCampaignTerm:
		return &ev.Context.Campaign.Term
	case fCampaignContent:
		return &ev.Context.Campaign.Content
	case fPropURL:
		return &ev.Properties.URL
	case fPropPath:
		return &ev.Properties.Path
	case fPropTitle:
		return &ev.Properties.Title
	case fPropReferrer:
		return &ev.Properties.Referrer
	case fPropTopic:
		return &ev.Properties.Topic
	case fPropSource:
		return &ev.Properties.Source
	case fPropCompetitor:
		return &ev.Properties.Competitor
	case fPropDomain:
		return &ev.Properties.Domain
	case fPropCurrency:
		return &ev.Properties.Currency
	case fTraitEmail:
		return &ev.Traits.Email
	case fTraitPhone:
		return &ev.Traits.Phone
	case fTraitName:
		return &ev.Traits.Name
	case fTraitTitle:
		return &ev.Traits.Title
	case fTraitWechat:
		return &ev.Traits.Wechat
	case fTraitDomain:
		return &ev.Traits.Domain
	case fTraitWebsite:
		return &ev.Traits.Website
	case fTraitIndustry:
		return &ev.Traits.Industry
	case fTraitCountry:
		return &ev.Traits.Country
	case fCompanyName:
		return &ev.Traits.Company.Name
	case fCompanyDomain:
		return &ev.Traits.Company.Domain
	case fCompanyIndustry:
		return &ev.Traits.Company.Industry
	case fCompanyCountry:
		return &ev.Traits.Company.Country
	}
	panic("event: not a string field")
}
