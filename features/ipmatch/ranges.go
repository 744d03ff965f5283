package ipmatch

import (
	"container/heap"
	"encoding/binary"
	"net/netip"
	"slices"
)

// u128 is an IPv6 address (or an IPv4 one in lo) as a number.
type u128 struct{ hi, lo uint64 }

func u128Of(a netip.Addr) u128 {
	if a.Is4() {
		b := a.As4()
		return u128{lo: uint64(binary.BigEndian.Uint32(b[:]))}
	}
	b := a.As16()
	return u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

func (a u128) cmp(b u128) int {
	switch {
	case a.hi < b.hi:
		return -1
	case a.hi > b.hi:
		return 1
	case a.lo < b.lo:
		return -1
	case a.lo > b.lo:
		return 1
	}
	return 0
}

func (a u128) less(b u128) bool { return a.hi < b.hi || a.hi == b.hi && a.lo < b.lo }

// next is a+1; ok is false when a is the largest value (of its family:
// max is 2^32-1 for IPv4, 2^128-1 for IPv6).
func (a u128) next(max u128) (u128, bool) {
	if a == max {
		return a, false
	}
	if a.lo == ^uint64(0) {
		return u128{a.hi + 1, 0}, true
	}
	return u128{a.hi, a.lo + 1}, true
}

func (a u128) prev() u128 {
	if a.lo == 0 {
		return u128{a.hi - 1, ^uint64(0)}
	}
	return u128{a.hi, a.lo - 1}
}

func (a u128) sub(b u128) u128 {
	lo := a.lo - b.lo
	borrow := uint64(0)
	if a.lo < b.lo {
		borrow = 1
	}
	return u128{a.hi - b.hi - borrow, lo}
}

var (
	maxV4 = u128{lo: 1<<32 - 1}
	maxV6 = u128{^uint64(0), ^uint64(0)}
)

// span is an inclusive range during a build, with what decides overlaps:
// higher prio wins, then the narrower range, then the lower seq (loaded
// first).
type span struct {
	start, end u128
	ent        uint32
	prio       uint8
	seq        uint32
}

// better orders spans by precedence: negative when a beats b.
func better(a, b *span) int {
	if a.prio != b.prio {
		return int(b.prio) - int(a.prio)
	}
	if c := a.end.sub(a.start).cmp(b.end.sub(b.start)); c != 0 {
		return c
	}
	switch {
	case a.seq < b.seq:
		return -1
	case a.seq > b.seq:
		return 1
	}
	return 0
}

type spanHeap []span

func (h spanHeap) Len() int           { return len(h) }
func (h spanHeap) Less(i, j int) bool { return better(&h[i], &h[j]) < 0 }
func (h spanHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *spanHeap) Push(x any)        { *h = append(*h, x.(span)) }
func (h *spanHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// flatten turns possibly overlapping spans of one family into sorted,
// disjoint ones: each address gets the best span covering it. Adjacent
// results with the same entry are merged. in is reordered.
func flatten(in []span, max u128) []span {
	if len(in) == 0 {
		return nil
	}
	order := func(a, b span) int {
		if c := a.start.cmp(b.start); c != 0 {
			return c
		}
		return better(&a, &b)
	}
	if !slices.IsSortedFunc(in, order) {
		slices.SortFunc(in, order)
	}
	disjoint := true
	for i := 1; i < len(in); i++ {
		if !in[i-1].end.less(in[i].start) {
			disjoint = false
			break
		}
	}
	// Disjoint input (one dataset, the common case) is merged in place:
	// the write index never passes the read index.
	out := in[:0]
	if !disjoint {
		out = make([]span, 0, len(in))
	}
	emit := func(start, end u128, ent uint32) {
		if n := len(out); n > 0 && out[n-1].ent == ent {
			if nx, ok := out[n-1].end.next(max); ok && nx == start {
				out[n-1].end = end
				return
			}
		}
		out = append(out, span{start: start, end: end, ent: ent})
	}
	if disjoint {
		for i := range in {
			emit(in[i].start, in[i].end, in[i].ent)
		}
		return out
	}
	// Sweep: active spans in a heap, best on top; the answer changes only
	// where a span starts or the best one ends.
	h := &spanHeap{}
	i := 0
	var pos u128
	for i < len(in) || h.Len() > 0 {
		if h.Len() == 0 {
			pos = in[i].start
		}
		for i < len(in) && in[i].start == pos {
			heap.Push(h, in[i])
			i++
		}
		for h.Len() > 0 && (*h)[0].end.less(pos) {
			heap.Pop(h) // ended before pos
		}
		if h.Len() == 0 {
			continue
		}
		top := (*h)[0]
		end := top.end
		if i < len(in) && !end.less(in[i].start) {
			end = in[i].start.prev() // in[i].start > pos: all at pos are pushed
		}
		emit(pos, end, top.ent)
		nx, ok := end.next(max)
		if !ok {
			break
		}
		pos = nx
	}
	return out
}

// table is a compact sorted-range index: parallel arrays, disjoint ranges
// sorted by start, ent indexing the snapshot's entries. IPv4 ranges take 12
// bytes, IPv6 ones 36.
type table struct {
	start4, end4, ent4 []uint32
	start6, end6       []u128
	ent6               []uint32
	// idx4[p] is the number of IPv4 ranges starting before p<<16, so a
	// search for an address with top 16 bits p looks only at
	// start4[idx4[p]:idx4[p+1]] (a handful) instead of the whole array.
	// Built for large tables only (it costs 256 KiB); nil otherwise.
	idx4 []uint32
}

// minIndexed is the number of IPv4 ranges from which a table gets idx4.
const minIndexed = 4096

// newTable builds the index from flattened spans of each family.
func newTable(v4, v6 []span) table {
	t := table{
		start4: make([]uint32, len(v4)),
		end4:   make([]uint32, len(v4)),
		ent4:   make([]uint32, len(v4)),
		start6: make([]u128, len(v6)),
		end6:   make([]u128, len(v6)),
		ent6:   make([]uint32, len(v6)),
	}
	for i, s := range v4 {
		t.start4[i], t.end4[i], t.ent4[i] = uint32(s.start.lo), uint32(s.end.lo), s.ent
	}
	for i, s := range v6 {
		t.start6[i], t.end6[i], t.ent6[i] = s.start, s.end, s.ent
	}
	if len(v4) >= minIndexed {
		t.idx4 = make([]uint32, 1<<16+1)
		i := 0
		for p := range 1 << 16 {
			for i < len(t.start4) && t.start4[i]>>16 < uint32(p) {
				i++
			}
			t.idx4[p] = uint32(i)
		}
		t.idx4[1<<16] = uint32(len(t.start4))
	}
	return t
}

// find4 returns the entry of the range holding ip, or -1.
func (t *table) find4(ip uint32) int32 {
	// i: the number of ranges starting at or before ip.
	i, j := 0, len(t.start4)
	if t.idx4 != nil {
		i, j = int(t.idx4[ip>>16]), int(t.idx4[ip>>16+1])
	}
	for i < j {
		h := int(uint(i+j) >> 1)
		if t.start4[h] <= ip {
			i = h + 1
		} else {
			j = h
		}
	}
	if i == 0 || ip > t.end4[i-1] {
		return -1
	}
	return int32(t.ent4[i-1])
}

// find6 returns the entry of the range holding ip, or -1.
func (t *table) find6(ip u128) int32 {
	i, j := 0, len(t.start6)
	for i < j {
		h := int(uint(i+j) >> 1)
		if !ip.less(t.start6[h]) {
			i = h + 1
		} else {
			j = h
		}
	}
	if i == 0 || t.end6[i-1].less(ip) {
		return -1
	}
	return int32(t.ent6[i-1])
}

// find returns the entry of the range holding a, or -1. IPv4-mapped IPv6
// addresses are looked up as IPv4.
func (t *table) find(a netip.Addr) int32 {
	a = a.Unmap()
	if a.Is4() {
		b := a.As4()
		return t.find4(binary.BigEndian.Uint32(b[:]))
	}
	return t.find6(u128Of(a))
}

// ranges is the number of ranges of each family.
func (t *table) ranges() (v4, v6 int) { return len(t.start4), len(t.start6) }
