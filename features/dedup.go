package features

import "github.com/cespare/xxhash/v2"

// DedupChunk is how many ring slots one changelog record of the window
// holds: 4096 hashes, 32 KiB, well under Kafka's default record limit.
const DedupChunk = 4096

// Dedup remembers the most recent message ids of one partition, so a message
// that Segment delivers twice is applied once. It keeps 64-bit hashes, not the
// ids: 8 bytes an entry plus the map's overhead, and at a window of a million
// ids a collision is about one in ten million.
//
// The window is a count, not a time: the oldest id is forgotten when a new
// one arrives at capacity. The ring is saved to the changelog in chunks of
// DedupChunk slots; only chunks written since the last save are saved again.
type Dedup struct {
	seen  map[uint64]struct{}
	ring  []uint64
	next  int
	full  bool
	dirty map[int]struct{} // chunk indexes changed since the last Changes
}

// NewDedup returns a window that remembers up to size ids (at least 1).
func NewDedup(size int) *Dedup {
	if size < 1 {
		size = 1
	}
	return &Dedup{seen: make(map[uint64]struct{}, size), ring: make([]uint64, size), dirty: make(map[int]struct{})}
}

// Seen reports whether id was seen within the window, and remembers it.
func (d *Dedup) Seen(id string) bool {
	h := xxhash.Sum64String(id)
	if _, ok := d.seen[h]; ok {
		return true
	}
	d.insert(h)
	return false
}

// insert remembers h, forgetting the oldest hash at capacity.
func (d *Dedup) insert(h uint64) {
	if d.full {
		delete(d.seen, d.ring[d.next])
	}
	d.ring[d.next] = h
	d.seen[h] = struct{}{}
	d.dirty[d.next/DedupChunk] = struct{}{}
	d.next++
	if d.next == len(d.ring) {
		d.next = 0
		d.full = true
	}
}

// Len is the number of ids remembered.
func (d *Dedup) Len() int { return len(d.seen) }

// Cursor is the ring's write position and whether it has wrapped: with the
// chunks, all a restore needs.
func (d *Dedup) Cursor() (next int, full bool) { return d.next, d.full }

// Changes calls fn with every chunk written since the last call (the slice
// aliases the ring: encode it before returning) and forgets them.
func (d *Dedup) Changes(fn func(chunk int, hashes []uint64)) {
	for c := range d.dirty {
		lo := c * DedupChunk
		fn(c, d.ring[lo:min(lo+DedupChunk, len(d.ring))])
		delete(d.dirty, c)
	}
}

// RestoreChunk puts a saved chunk back into the ring. Call SetCursor once all
// chunks are back. A chunk from a larger window is cut to this one.
func (d *Dedup) RestoreChunk(chunk int, hashes []uint64) {
	lo := chunk * DedupChunk
	if lo >= len(d.ring) {
		return
	}
	copy(d.ring[lo:min(lo+DedupChunk, len(d.ring))], hashes)
}

// SetCursor finishes a restore: it sets the write position and rebuilds the
// index from the ring.
func (d *Dedup) SetCursor(next int, full bool) {
	if next >= len(d.ring) {
		next, full = 0, true
	}
	d.next, d.full = next, full
	clear(d.seen)
	n := len(d.ring)
	if !full {
		n = next
	}
	for _, h := range d.ring[:n] {
		d.seen[h] = struct{}{}
	}
	clear(d.dirty)
}
