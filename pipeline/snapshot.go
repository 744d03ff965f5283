package pipeline

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/segmentio/encoding/json"

	"github.com/leadscore/leadscore/features"
	"github.com/leadscore/leadscore/internal/event"
	"github.com/leadscore/leadscore/internal/rows"
	"github.com/leadscore/leadscore/scorer"
)

// An account's snapshot is its value in the changelog (a:<account>) and in
// the state store: a compact binary record, version snapshotV1. Older
// versions wrote JSON, which is still read (a JSON value starts with '{').
// The binary form is a sixth of the JSON's size and encodes without
// reflection: snapshots of every changed account are written each cycle.
//
// Layout of version 1 (varint: encoding/binary's zig-zag varint; uvarint:
// its unsigned one; string: uvarint length then bytes; time: byte 0 for
// the zero time, 1 then the unix nanoseconds as a varint, or (outside the
// years 1678-2262) 2 then the unix seconds as a varint and the nanoseconds
// as a uvarint; float: 8 bytes little-endian IEEE 754):
//
//	byte     snapshotV1
//	time     NextDue          first, so snapshotHead reads it cheaply
//	string   RulesVersion
//	uvarint  Version
//	string   Score            scorer.State's AppendBinary
//	campaign FirstTouch, LastTouch: byte 0 (nil) or 1, then five strings
//	emitted  the account's:   byte flags (1 Emitted, 2 EnteredFunnel),
//	         float LastScore, string LastLabel, uvarint LastStage, time Due
//	hours    Hours: uvarint n, then n times (byte slot, uvarint count)
//	visits   byte 0 (nil) or 1, then time First, time Last, uvarint
//	         Sessions, uvarint Pages, uvarint n and n times (string path,
//	         uvarint views), string Organisation, float Confidence,
//	         string Source
//	uvarint  contacts, then each: string id, string Score (State binary),
//	         uvarint n and n string tags, uvarint
//	         Version, string Timezone, hours, string MergedInto, string
//	         IntoAccount, string DuplicateOf, emitted
//	uvarint  anonymous ids, then each: string anonymous id, string contact
//
// Version 2 is version 1 followed by the open tail (tail.go), written
// only for an account that has one:
//
//	bytes    base: the account's version-1 snapshot before the records
//	uvarint  records, then each: varint time (unix ns), string key,
//	         bytes the forwarded record's value
//	uvarint  sealed keys, then each: varint time, uvarint FNV-1a hash
//	varint   fired (unix ns)
//	uvarint  outs, then each: byte kind, uvarint contact hash, string
//	         topic, varint partition, varint offset, varint time, string
//	         from, string to, uvarint digest
//
// A new field means a new version byte; decodeAccount keeps reading the
// older ones.
const (
	snapshotV1 = 0xa1
	snapshotV2 = 0xa2
)

// appendAccount appends a's snapshot to b, with its open tail.
func appendAccount(b []byte, a *account) ([]byte, error) {
	start := len(b)
	b, err := appendAccountState(b, a)
	if err != nil || a.open == nil {
		return b, err
	}
	b[start] = snapshotV2
	tl := a.open
	b = appendBytes(b, tl.buf[:tl.base])
	b = binary.AppendUvarint(b, uint64(len(tl.entries)))
	for i := range tl.entries {
		e := &tl.entries[i]
		b = binary.AppendVarint(b, e.at)
		b = appendBytes(b, tl.key(e))
		b = appendBytes(b, tl.rec(e))
	}
	b = binary.AppendUvarint(b, uint64(len(tl.sealed)))
	for _, s := range tl.sealed {
		b = binary.AppendVarint(b, s.at)
		b = binary.AppendUvarint(b, s.h)
	}
	b = binary.AppendVarint(b, tl.fired)
	b = binary.AppendUvarint(b, uint64(len(tl.outs)))
	for i := range tl.outs {
		o := &tl.outs[i]
		b = append(b, o.kind)
		b = binary.AppendUvarint(b, o.contact)
		b = appendString(b, o.src.Topic)
		b = binary.AppendVarint(b, int64(o.src.Partition))
		b = binary.AppendVarint(b, o.src.Offset)
		b = binary.AppendVarint(b, o.at)
		b = appendString(b, o.from)
		b = appendString(b, o.to)
		b = binary.AppendUvarint(b, o.digest)
	}
	return b, nil
}

func appendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// appendAccountState appends a's version-1 snapshot, without its tail: the
// base of a tail.
func appendAccountState(b []byte, a *account) ([]byte, error) {
	b = append(b, snapshotV1)
	b = appendTime(b, a.NextDue)
	b = appendString(b, a.RulesVersion)
	b = binary.AppendUvarint(b, a.Version)
	var err error
	if b, err = appendState(b, &a.Score); err != nil {
		return nil, err
	}
	b = appendCampaign(b, a.FirstTouch)
	b = appendCampaign(b, a.LastTouch)
	b = appendEmitted(b, &a.emitted)
	b = appendHours(b, &a.Hours)
	b = appendVisits(b, a.Visits)
	b = binary.AppendUvarint(b, uint64(len(a.Contacts)))
	for id, c := range a.Contacts {
		b = appendString(b, id)
		if b, err = appendState(b, &c.Score); err != nil {
			return nil, err
		}
		b = appendStrings(b, c.Tags)
		b = binary.AppendUvarint(b, c.Version)
		b = appendString(b, c.Timezone)
		b = appendHours(b, &c.Hours)
		b = appendString(b, c.MergedInto)
		b = appendString(b, c.IntoAccount)
		b = appendString(b, c.DuplicateOf)
		b = appendEmitted(b, &c.emitted)
	}
	b = binary.AppendUvarint(b, uint64(len(a.Anon)))
	for anon, id := range a.Anon {
		b = appendString(b, anon)
		b = appendString(b, id)
	}
	return b, nil
}

// decodeAccount decodes a snapshot of either format into a, which should
// be zero. It copies what it keeps: v may be reused afterwards.
func decodeAccount(v []byte, a *account) error {
	if len(v) > 0 && v[0] == '{' {
		return json.Unmarshal(v, a)
	}
	if len(v) == 0 || v[0] != snapshotV1 && v[0] != snapshotV2 {
		return errors.New("unknown account snapshot format")
	}
	rd := byteReader{b: v[1:]}
	a.NextDue = rd.time()
	a.RulesVersion = rd.str()
	a.Version = rd.uvarint()
	if err := rd.state(&a.Score); err != nil {
		return err
	}
	a.FirstTouch = rd.campaign()
	a.LastTouch = rd.campaign()
	rd.emitted(&a.emitted)
	rd.hours(&a.Hours)
	a.Visits = rd.visits()
	if n := rd.count(); n > 0 {
		a.Contacts = make(map[string]*contact, n)
		for range n {
			id := rd.str()
			c := &contact{}
			if err := rd.state(&c.Score); err != nil {
				return err
			}
			c.Tags = rd.strs()
			c.Version = rd.uvarint()
			c.Timezone = rd.str()
			rd.hours(&c.Hours)
			c.MergedInto, c.IntoAccount, c.DuplicateOf = rd.str(), rd.str(), rd.str()
			rd.emitted(&c.emitted)
			a.Contacts[id] = c
		}
	}
	if n := rd.count(); n > 0 {
		a.Anon = make(map[string]string, n)
		for range n {
			anon := rd.str()
			a.Anon[anon] = rd.str()
		}
	}
	if v[0] == snapshotV2 {
		a.open = rd.tail()
	}
	if rd.bad {
		return errors.New("truncated account snapshot")
	}
	if len(rd.b) != 0 {
		return fmt.Errorf("account snapshot: %d bytes after its end", len(rd.b))
	}
	return nil
}

// snapshotHead reads the decay due time and the rules version of a
// snapshot of either format without decoding the rest.
func snapshotHead(v []byte) (nextDue time.Time, rulesVersion string, err error) {
	if len(v) > 0 && v[0] == '{' {
		var h struct {
			NextDue      time.Time `json:"next_due"`
			RulesVersion string    `json:"rules_version"`
		}
		err := json.Unmarshal(v, &h)
		return h.NextDue, h.RulesVersion, err
	}
	if len(v) == 0 || v[0] != snapshotV1 && v[0] != snapshotV2 {
		return time.Time{}, "", errors.New("unknown account snapshot format")
	}
	rd := byteReader{b: v[1:]}
	nextDue = rd.time()
	rulesVersion = string(rd.bytes())
	if rd.bad {
		return time.Time{}, "", errors.New("truncated account snapshot")
	}
	return nextDue, rulesVersion, nil
}

// minNano and maxNano bound the times UnixNano can represent (years 1678
// to 2262); others are written as seconds and nanoseconds.
var minNano, maxNano = time.Unix(0, math.MinInt64), time.Unix(0, math.MaxInt64)

func appendTime(b []byte, t time.Time) []byte {
	switch {
	case t.IsZero():
		return append(b, 0)
	case t.Before(minNano) || t.After(maxNano):
		return binary.AppendUvarint(binary.AppendVarint(append(b, 2), t.Unix()), uint64(t.Nanosecond()))
	default:
		return binary.AppendVarint(append(b, 1), t.UnixNano())
	}
}

func appendFloat(b []byte, f float64) []byte {
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
}

// appendStrings writes a list's length, then its strings. An empty list
// reads back as nil, as with JSON's omitempty.
func appendStrings(b []byte, l []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(l)))
	for _, s := range l {
		b = appendString(b, s)
	}
	return b
}

// appendState writes s's binary encoding, length-prefixed.
func appendState(b []byte, s *scorer.State) ([]byte, error) {
	// Room for the length, then the state after it; the length is put in
	// front once known, moving the state when it needs more than 2 bytes.
	start := len(b)
	b = append(b, 0, 0)
	b, err := s.AppendBinary(b)
	if err != nil {
		return nil, err
	}
	n := len(b) - start - 2
	var lb [binary.MaxVarintLen64]byte
	ln := binary.PutUvarint(lb[:], uint64(n))
	switch {
	case ln == 2:
	case ln == 1:
		copy(b[start+1:], b[start+2:])
		b = b[:len(b)-1]
	default:
		b = append(b, lb[:ln-2]...)
		copy(b[start+ln:], b[start+2:start+2+n])
	}
	copy(b[start:], lb[:ln])
	return b, nil
}

func appendCampaign(b []byte, c *event.Campaign) []byte {
	if c == nil {
		return append(b, 0)
	}
	b = append(b, 1)
	for _, s := range [...]string{c.Source, c.Medium, c.Name, c.Term, c.Content} {
		b = appendString(b, s)
	}
	return b
}

func appendEmitted(b []byte, e *emitted) []byte {
	var flags byte
	if e.Emitted {
		flags |= 1
	}
	if e.EnteredFunnel {
		flags |= 2
	}
	b = append(b, flags)
	b = appendFloat(b, e.LastScore)
	b = appendString(b, e.LastLabel)
	b = binary.AppendUvarint(b, uint64(e.LastStage))
	return appendTime(b, e.Due)
}

func appendHours(b []byte, h *features.Hours) []byte {
	b = binary.AppendUvarint(b, uint64(len(h.Slots)))
	for _, s := range h.Slots {
		b = binary.AppendUvarint(append(b, s.Slot), uint64(s.N))
	}
	return b
}

func appendVisits(b []byte, v *Visits) []byte {
	if v == nil {
		return append(b, 0)
	}
	b = append(b, 1)
	b = appendTime(b, v.First)
	b = appendTime(b, v.Last)
	b = binary.AppendUvarint(b, uint64(v.Sessions))
	b = binary.AppendUvarint(b, uint64(v.Pages))
	b = binary.AppendUvarint(b, uint64(len(v.Paths)))
	for p, n := range v.Paths {
		b = binary.AppendUvarint(appendString(b, p), uint64(n))
	}
	b = appendString(b, v.Organisation)
	b = appendFloat(b, v.Confidence)
	return appendString(b, v.Source)
}

// The readers below go with the appenders above; like byteReader's own,
// the first error sticks in rd.bad and later reads return zero values.

func (r *byteReader) str() string { return string(r.bytes()) }

// count reads a length that must fit in what is left (each element takes
// at least a byte), so corrupt input cannot make a huge allocation.
func (r *byteReader) count() int {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.bad = true
		return 0
	}
	return int(n)
}

func (r *byteReader) byte1() byte {
	if len(r.b) == 0 {
		r.bad = true
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *byteReader) time() time.Time {
	switch r.byte1() {
	case 0:
		return time.Time{}
	case 1:
		return time.Unix(0, r.varint()).UTC()
	case 2:
		sec := r.varint()
		return time.Unix(sec, int64(r.uvarint()%1e9)).UTC()
	default:
		r.bad = true
		return time.Time{}
	}
}

func (r *byteReader) float() float64 {
	if len(r.b) < 8 {
		r.bad = true
		return 0
	}
	f := math.Float64frombits(binary.LittleEndian.Uint64(r.b))
	r.b = r.b[8:]
	return f
}

func (r *byteReader) strs() []string {
	n := r.count()
	if n == 0 {
		return nil
	}
	l := make([]string, n)
	for i := range l {
		l[i] = r.str()
	}
	return l
}

func (r *byteReader) state(s *scorer.State) error {
	v := r.bytes()
	if r.bad {
		return errors.New("truncated account snapshot")
	}
	return s.UnmarshalBinary(v)
}

func (r *byteReader) campaign() *event.Campaign {
	switch r.byte1() {
	case 0:
		return nil
	case 1:
		return &event.Campaign{Source: r.str(), Medium: r.str(), Name: r.str(), Term: r.str(), Content: r.str()}
	default:
		r.bad = true
		return nil
	}
}

func (r *byteReader) emitted(e *emitted) {
	flags := r.byte1()
	e.Emitted, e.EnteredFunnel = flags&1 != 0, flags&2 != 0
	e.LastScore = r.float()
	e.LastLabel = r.str()
	e.LastStage = r.stage()
	e.Due = r.time()
}

// stage reads a stage by its code: the scorer.Stage constant's value,
// which the format fixes (TestSnapshotStageCodes).
func (r *byteReader) stage() scorer.Stage {
	s := r.uvarint()
	if s > uint64(scorer.StageLost) {
		r.bad = true
		return 0
	}
	return scorer.Stage(s)
}

func (r *byteReader) hours(h *features.Hours) {
	n := r.count()
	if n == 0 {
		return
	}
	h.Slots = make([]features.HourCount, n)
	for i := range h.Slots {
		h.Slots[i].Slot = r.byte1()
		h.Slots[i].N = uint32(r.uvarint())
	}
}

func (r *byteReader) visits() *Visits {
	switch r.byte1() {
	case 0:
		return nil
	case 1:
	default:
		r.bad = true
		return nil
	}
	v := &Visits{First: r.time(), Last: r.time(), Sessions: uint32(r.uvarint()), Pages: uint32(r.uvarint())}
	if n := r.count(); n > 0 {
		v.Paths = make(map[string]uint32, n)
		for range n {
			p := r.str()
			v.Paths[p] = uint32(r.uvarint())
		}
	}
	v.Organisation = r.str()
	v.Confidence = r.float()
	v.Source = r.str()
	return v
}

// tail reads an open tail (version 2), copying what it keeps.
func (r *byteReader) tail() *tail {
	tl := &tail{}
	if base := r.bytes(); len(base) > 0 {
		tl.buf = append([]byte(nil), base...)
		tl.base = len(base)
	}
	if n := r.count(); n > 0 {
		tl.entries = make([]tailEntry, n)
		for i := range tl.entries {
			at := r.varint()
			key := r.bytes()
			tl.entries[i] = tl.add(at, string(key), r.bytes())
		}
	}
	if n := r.count(); n > 0 {
		tl.sealed = make([]sealedKey, n)
		for i := range tl.sealed {
			tl.sealed[i] = sealedKey{at: r.varint(), h: r.uvarint()}
		}
	}
	tl.fired = r.varint()
	if n := r.count(); n > 0 {
		tl.outs = make([]tailOut, n)
		for i := range tl.outs {
			o := &tl.outs[i]
			if len(r.b) == 0 {
				r.bad = true
				break
			}
			o.kind, r.b = r.b[0], r.b[1:]
			o.contact = r.uvarint()
			o.src = rows.Source{Topic: r.str(), Partition: int32(r.varint()), Offset: r.varint()}
			o.at = r.varint()
			o.from, o.to = r.str(), r.str()
			o.digest = r.uvarint()
			o.idx = -1 // written: no batch holds it
		}
	}
	if len(tl.entries) > 0 && tl.base == 0 {
		r.bad = true // records without the account before them
	}
	return tl
}
