package features

import "github.com/cespare/xxhash/v2"

// Dedup remembers the most recent message ids of one partition, so a message
// that Segment delivers twice is applied once. It keeps 64-bit hashes, not the
// ids: 8 bytes an entry plus the map's overhead, and at a window of a million
// ids a collision is about one in ten million.
//
// The window is a count, not a time: the oldest id is forgotten when a new
// one arrives at capacity.
type Dedup struct {
	seen map[uint64]struct{}
	ring []uint64
	next int
	full bool
}

// NewDedup returns a window that remembers up to size ids (at least 1).
func NewDedup(size int) *Dedup {
	if size < 1 {
		size = 1
	}
	return &Dedup{seen: make(map[uint64]struct{}, size), ring: make([]uint64, size)}
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
	d.next++
	if d.next == len(d.ring) {
		d.next = 0
		d.full = true
	}
}

// Len is the number of ids remembered.
func (d *Dedup) Len() int { return len(d.seen) }

// Hashes returns the remembered hashes, oldest first, for a snapshot.
func (d *Dedup) Hashes() []uint64 {
	if !d.full {
		return append([]uint64(nil), d.ring[:d.next]...)
	}
	out := make([]uint64, 0, len(d.ring))
	out = append(out, d.ring[d.next:]...)
	return append(out, d.ring[:d.next]...)
}

// Restore refills the window from a snapshot's hashes, oldest first. Hashes
// beyond the window's size drop the oldest.
func (d *Dedup) Restore(hashes []uint64) {
	if len(hashes) > len(d.ring) {
		hashes = hashes[len(hashes)-len(d.ring):]
	}
	for _, h := range hashes {
		if _, ok := d.seen[h]; !ok {
			d.insert(h)
		}
	}
}
