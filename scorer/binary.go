package scorer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

// The binary format of a State, for snapshots (the changelog, the local
// store). It carries exactly what a JSON round trip of the State carries, in
// a fraction of the bytes and the time: see BenchmarkStateEncodeBinary.
//
// Version 1, in this order (uvarint and varint are encoding/binary's;
// fixed64 is 8 bytes little-endian; float is a fixed64 of the IEEE 754
// bits, so exact; count is a uvarint, 0 for a nil slice and n+1 for n
// elements, since a JSON round trip keeps null and [] apart; a time is a
// uvarint, 0 for the zero time and otherwise 1 + the zig-zag of its unix
// nanoseconds minus a base, wrapping):
//
//	field                     encoding
//	version                   1 byte, 0x01 (never '{', which starts the JSON of older snapshots)
//	string block              uvarint total length, then the bytes of every string below, in this order
//	flags                     1 byte: Stage (bits 0-2), CRM (bits 3-5), Known (bit 6), Firm.HasEmployees (bit 7)
//	AsOf                      time, base 0
//	Last                      time, base AsOf (0 when AsOf is zero); every later time has the same base
//	Firm.Employees            varint
//	Firm.Industry             uvarint length (the bytes are the next ones of the string block)
//	Firm.Country              uvarint length
//	Firm.Technologies         count, then a uvarint length each
//	Title                     uvarint length
//	Rules                     count, then each RuleState:
//	  ID                        fixed64 (a hash: uvarint would average ~9.9 bytes)
//	  Points, Sum               float, float
//	  Count                     uvarint
//	  RuleHist and its Window   uvarint: 0 no RuleHist, 1 a RuleHist with a nil Window,
//	                            n+2 a Window of n entries, each At (time) and Points (float)
//	  Times                     only when there is a RuleHist: count, then a time each
//	Intent                    count, then each TopicIntent:
//	  Topic                     uvarint length
//	  Days                      count, then each IntentDay: Day as a varint delta from the
//	                            previous Day (the first from AsOf's day), N uvarint, Sum float
//	Group                     count, then each Member: Key fixed64, Persona uvarint,
//	                          Last varint delta from AsOf's unix seconds (wrapping)
//
// Nothing follows. Evolving it: a new field (or any change of the above)
// takes a new version byte, written from then on; UnmarshalBinary keeps
// decoding every older version. binaryFields lists what version 1 carries
// and a test compares it with the types, so a field added to State or a
// type in it without a new version fails the build's tests.
//
// What differs from JSON, by design: times decode in UTC, whatever their
// location when encoded (the pipeline's times are UTC: event.Decode makes
// them so); strings are kept byte for byte, where JSON would replace
// invalid UTF-8. Like JSON, encoding fails for an unknown stage and for NaN
// or infinite floats; it also fails for a time outside the unix-nanosecond
// range (years 1678 to 2262; event times are 1970..2106).

// stateBinaryV1 is the version byte of the format above.
const stateBinaryV1 = 0x01

// binaryFields lists, for State and every struct type it contains, the
// fields format version 1 carries (time.Time is a leaf). The guard test
// TestStateBinaryFields fails when a type has a field this list lacks.
var binaryFields = map[string][]string{
	"State":         {"Firm", "Title", "AsOf", "Last", "Known", "Stage", "CRM", "Rules", "Intent", "Group"},
	"Firmographics": {"Industry", "Employees", "HasEmployees", "Country", "Technologies"},
	"RuleState":     {"ID", "Points", "Sum", "Count", "RuleHist"},
	"RuleHist":      {"Window", "Times"},
	"Earned":        {"At", "Points"},
	"TopicIntent":   {"Topic", "Days"},
	"IntentDay":     {"Day", "N", "Sum"},
	"Member":        {"Key", "Persona", "Last"},
}

// Stage, CRM, Known and HasEmployees share the flags byte.
const (
	flagStageBits    = 3
	flagStageMask    = 1<<flagStageBits - 1
	flagKnown        = 1 << 6
	flagHasEmployees = 1 << 7
)

// The fewest bytes an element of each list takes, to bound a count read
// from corrupt input before allocating for it.
const (
	minRuleBytes   = 8 + 8 + 8 + 1 + 1
	minEarnedBytes = 1 + 8
	minTopicBytes  = 1 + 1
	minDayBytes    = 1 + 1 + 8
	minMemberBytes = 8 + 1 + 1
)

// AppendBinary appends s in the binary format (version 1, documented above)
// to b and returns the extended buffer. It does not allocate when b has
// room. On error b is returned as it was.
func (s *State) AppendBinary(b []byte) ([]byte, error) {
	e := encoder{b: b}
	e.state(s)
	if e.err != nil {
		return b, fmt.Errorf("encode state: %w", e.err)
	}
	return e.b, nil
}

// UnmarshalBinary sets s to the State encoded in data by AppendBinary (any
// version it ever wrote). It keeps no reference to data: the strings are
// copied, all of them into one allocation. It reuses the backing arrays of
// s's slices and s's rule histories where they are large enough, so a
// State that shares them (a shallow copy of s) must not be used after. On
// error s is the zero State.
func (s *State) UnmarshalBinary(data []byte) error {
	if err := s.unmarshalBinary(data); err != nil {
		*s = State{}
		return fmt.Errorf("decode state: %w", err)
	}
	return nil
}

func (s *State) unmarshalBinary(data []byte) error {
	if len(data) == 0 {
		return errTruncated
	}
	d := decoder{data: data, p: 1}
	switch data[0] {
	case stateBinaryV1:
		d.stateV1(s)
	case '{':
		return errors.New("JSON, not the binary format")
	default:
		return fmt.Errorf("unknown format version %d", data[0])
	}
	return d.err
}

// encoder appends a State; err is the first problem met.
type encoder struct {
	b   []byte
	err error
}

func (e *encoder) state(s *State) {
	if s.Stage > StageLost || s.CRM > StageLost {
		e.err = fmt.Errorf("unknown stage %d or crm stage %d", s.Stage, s.CRM)
		return
	}
	e.b = append(e.b, stateBinaryV1)

	f := &s.Firm
	n := len(f.Industry) + len(f.Country) + len(s.Title)
	for _, t := range f.Technologies {
		n += len(t)
	}
	for i := range s.Intent {
		n += len(s.Intent[i].Topic)
	}
	e.b = binary.AppendUvarint(e.b, uint64(n))
	e.b = append(e.b, f.Industry...)
	e.b = append(e.b, f.Country...)
	for _, t := range f.Technologies {
		e.b = append(e.b, t...)
	}
	e.b = append(e.b, s.Title...)
	for i := range s.Intent {
		e.b = append(e.b, s.Intent[i].Topic...)
	}

	flags := byte(s.Stage) | byte(s.CRM)<<flagStageBits
	if s.Known {
		flags |= flagKnown
	}
	if f.HasEmployees {
		flags |= flagHasEmployees
	}
	e.b = append(e.b, flags)
	e.time(s.AsOf, 0)
	base := nanos(s.AsOf)
	e.time(s.Last, base)
	e.b = binary.AppendVarint(e.b, f.Employees)
	e.b = binary.AppendUvarint(e.b, uint64(len(f.Industry)))
	e.b = binary.AppendUvarint(e.b, uint64(len(f.Country)))
	e.count(f.Technologies == nil, len(f.Technologies))
	for _, t := range f.Technologies {
		e.b = binary.AppendUvarint(e.b, uint64(len(t)))
	}
	e.b = binary.AppendUvarint(e.b, uint64(len(s.Title)))

	e.count(s.Rules == nil, len(s.Rules))
	for i := range s.Rules {
		rs := &s.Rules[i]
		e.b = binary.LittleEndian.AppendUint64(e.b, rs.ID)
		e.float(rs.Points)
		e.float(rs.Sum)
		e.b = binary.AppendUvarint(e.b, uint64(rs.Count))
		h := rs.RuleHist
		switch {
		case h == nil:
			e.b = append(e.b, 0)
			continue
		case h.Window == nil:
			e.b = append(e.b, 1)
		default:
			e.b = binary.AppendUvarint(e.b, uint64(len(h.Window))+2)
		}
		for _, w := range h.Window {
			e.time(w.At, base)
			e.float(w.Points)
		}
		e.count(h.Times == nil, len(h.Times))
		for _, t := range h.Times {
			e.time(t, base)
		}
	}

	e.count(s.Intent == nil, len(s.Intent))
	day := int64(dayOf(s.AsOf))
	for i := range s.Intent {
		ti := &s.Intent[i]
		e.b = binary.AppendUvarint(e.b, uint64(len(ti.Topic)))
		e.count(ti.Days == nil, len(ti.Days))
		prev := day
		for _, x := range ti.Days {
			e.b = binary.AppendVarint(e.b, int64(x.Day)-prev)
			prev = int64(x.Day)
			e.b = binary.AppendUvarint(e.b, uint64(x.N))
			e.float(x.Sum)
		}
	}

	e.count(s.Group == nil, len(s.Group))
	sec := s.AsOf.Unix()
	for _, m := range s.Group {
		e.b = binary.LittleEndian.AppendUint64(e.b, m.Key)
		e.b = binary.AppendUvarint(e.b, uint64(m.Persona))
		e.b = binary.AppendVarint(e.b, m.Last-sec)
	}
}

// count appends a slice's length: 0 for nil, n+1 otherwise.
func (e *encoder) count(isNil bool, n int) {
	if isNil {
		e.b = append(e.b, 0)
		return
	}
	e.b = binary.AppendUvarint(e.b, uint64(n)+1)
}

func (e *encoder) float(f float64) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		if e.err == nil {
			e.err = fmt.Errorf("unsupported float %v", f)
		}
		return
	}
	e.b = binary.LittleEndian.AppendUint64(e.b, math.Float64bits(f))
}

// time appends t relative to base (unix nanoseconds).
func (e *encoder) time(t time.Time, base int64) {
	if t.IsZero() {
		e.b = append(e.b, 0)
		return
	}
	n := t.UnixNano()
	zz := zigzag(n - base)
	// The delta of MinInt64 is the one whose 1+zig-zag wraps to the zero
	// time's 0: two times 292 years apart.
	if !time.Unix(0, n).Equal(t) || zz == math.MaxUint64 {
		if e.err == nil {
			e.err = fmt.Errorf("time %s out of range", t.Format(time.RFC3339Nano))
		}
		return
	}
	e.b = binary.AppendUvarint(e.b, zz+1)
}

// nanos is t in unix nanoseconds, 0 for the zero time: the base of the
// times relative to AsOf.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func zigzag(v int64) uint64   { return uint64(v<<1) ^ uint64(v>>63) }
func unzigzag(u uint64) int64 { return int64(u>>1) ^ -int64(u&1) }

var errTruncated = errors.New("truncated input")

// decoder reads a State; err is the first problem met, after which every
// read returns zero and counts are 0, so decoding runs to its end without
// allocating for garbage.
type decoder struct {
	data []byte
	p    int
	err  error
	strs string // the string block
	sp   int    // the next unread byte of strs
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *decoder) stateV1(s *State) {
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.data)-d.p) {
		d.fail(errTruncated)
	}
	if d.err != nil {
		return
	}
	d.strs = string(d.data[d.p : d.p+int(n)])
	d.p += int(n)

	flags := d.byte()
	s.Stage, s.CRM = Stage(flags&flagStageMask), Stage(flags>>flagStageBits&flagStageMask)
	if s.Stage > StageLost || s.CRM > StageLost {
		d.fail(fmt.Errorf("unknown stage %d or crm stage %d", s.Stage, s.CRM))
	}
	s.Known = flags&flagKnown != 0
	f := &s.Firm
	f.HasEmployees = flags&flagHasEmployees != 0
	s.AsOf = d.time(0)
	base := nanos(s.AsOf)
	s.Last = d.time(base)
	f.Employees = d.varint()
	f.Industry = d.str()
	f.Country = d.str()
	k, isNil := d.count(1)
	f.Technologies = resize(f.Technologies, k, isNil)
	for i := range f.Technologies {
		f.Technologies[i] = d.str()
	}
	s.Title = d.str()

	k, isNil = d.count(minRuleBytes)
	s.Rules = resize(s.Rules, k, isNil)
	for i := range s.Rules {
		rs := &s.Rules[i]
		rs.ID = d.fixed64()
		rs.Points = d.float()
		rs.Sum = d.float()
		rs.Count = uint32(d.bounded(math.MaxUint32, "rule count"))
		tag := d.uvarint()
		if tag == 0 {
			rs.RuleHist = nil
			continue
		}
		h := rs.RuleHist
		if h == nil {
			h = &RuleHist{}
			rs.RuleHist = h
		}
		k, isNil = 0, tag == 1
		if tag > 1 {
			k = d.length(tag-2, minEarnedBytes)
		}
		h.Window = resize(h.Window, k, isNil)
		for j := range h.Window {
			h.Window[j] = Earned{At: d.time(base), Points: d.float()}
		}
		k, isNil = d.count(1)
		h.Times = resize(h.Times, k, isNil)
		for j := range h.Times {
			h.Times[j] = d.time(base)
		}
	}

	k, isNil = d.count(minTopicBytes)
	s.Intent = resize(s.Intent, k, isNil)
	day := int64(dayOf(s.AsOf))
	for i := range s.Intent {
		ti := &s.Intent[i]
		ti.Topic = d.str()
		k, isNil = d.count(minDayBytes)
		ti.Days = resize(ti.Days, k, isNil)
		prev := day
		for j := range ti.Days {
			// prev is an int32 and a delta an int64: the sum wraps only
			// far outside the int32 range, where it is rejected.
			v := prev + d.varint()
			if v < math.MinInt32 || v > math.MaxInt32 {
				d.fail(fmt.Errorf("intent day %d out of range", v))
			}
			prev = v
			ti.Days[j] = IntentDay{Day: dayNum(v), N: uint32(d.bounded(math.MaxUint32, "intent count")), Sum: d.float()}
		}
	}

	k, isNil = d.count(minMemberBytes)
	s.Group = resize(s.Group, k, isNil)
	sec := s.AsOf.Unix()
	for i := range s.Group {
		s.Group[i] = Member{Key: d.fixed64(), Persona: uint16(d.bounded(math.MaxUint16, "persona")), Last: sec + d.varint()}
	}

	if d.err == nil && d.sp != len(d.strs) {
		d.fail(fmt.Errorf("corrupt: %d string bytes unused", len(d.strs)-d.sp))
	}
	if d.err == nil && d.p != len(d.data) {
		d.fail(fmt.Errorf("corrupt: %d trailing bytes", len(d.data)-d.p))
	}
}

// resize returns v with n elements (nil when isNil), reusing its backing
// array when it is large enough. The elements are stale: the caller sets
// every field. Elements cut off are cleared so they pin nothing.
func resize[T any](v []T, n int, isNil bool) []T {
	if isNil {
		return nil
	}
	if cap(v) < n || v == nil {
		return make([]T, n) // not nil, even empty
	}
	if n < len(v) {
		clear(v[n:])
	}
	return v[:n]
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if d.p >= len(d.data) {
		d.fail(errTruncated)
		return 0
	}
	d.p++
	return d.data[d.p-1]
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.data[d.p:])
	if n <= 0 {
		if n == 0 {
			d.fail(errTruncated)
		} else {
			d.fail(errors.New("corrupt: varint overflows 64 bits"))
		}
		return 0
	}
	d.p += n
	return v
}

func (d *decoder) varint() int64 {
	return unzigzag(d.uvarint())
}

// bounded reads a uvarint no greater than limit.
func (d *decoder) bounded(limit uint64, what string) uint64 {
	v := d.uvarint()
	if v > limit {
		d.fail(fmt.Errorf("corrupt: %s %d out of range", what, v))
		return 0
	}
	return v
}

func (d *decoder) fixed64() uint64 {
	if d.err != nil {
		return 0
	}
	if len(d.data)-d.p < 8 {
		d.fail(errTruncated)
		return 0
	}
	v := binary.LittleEndian.Uint64(d.data[d.p:])
	d.p += 8
	return v
}

func (d *decoder) float() float64 {
	f := math.Float64frombits(d.fixed64())
	if math.IsNaN(f) || math.IsInf(f, 0) {
		d.fail(fmt.Errorf("corrupt: float %v", f))
		return 0
	}
	return f
}

// count reads a slice's length written by encoder.count, checked against
// the bytes left for elements of at least minBytes each.
func (d *decoder) count(minBytes int) (n int, isNil bool) {
	v := d.uvarint()
	if d.err != nil {
		return 0, false
	}
	if v == 0 {
		return 0, true
	}
	return d.length(v-1, minBytes), false
}

// length checks that n elements of at least minBytes each can follow.
func (d *decoder) length(n uint64, minBytes int) int {
	if d.err != nil {
		return 0
	}
	if n > uint64((len(d.data)-d.p)/minBytes) {
		d.fail(errTruncated)
		return 0
	}
	return int(n)
}

// str reads a string's length and returns its bytes from the string block.
func (d *decoder) str() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.strs)-d.sp) {
		d.fail(errors.New("corrupt: string overruns the string block"))
		return ""
	}
	s := d.strs[d.sp : d.sp+int(n)]
	d.sp += int(n)
	return s
}

// time reads a time written by encoder.time with the same base.
func (d *decoder) time(base int64) time.Time {
	v := d.uvarint()
	if v == 0 {
		return time.Time{}
	}
	return time.Unix(0, base+unzigzag(v-1)).UTC()
}
