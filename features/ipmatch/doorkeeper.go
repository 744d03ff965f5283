package ipmatch

import (
	"hash/maphash"
	"math/bits"
	"sync/atomic"
)

// doorkeeper keeps one-hit addresses out of the cache. A cache Set costs
// several times a range search (an allocation and a hand-off to ristretto's
// policy goroutine), and most addresses on a busy site, scanners above all,
// are seen once. So an address goes to the cache only on its second miss:
// the first one leaves its hash in a slot, the second finds it there. It is
// lossy by design (a slot holds the last hash that fell in it), lock-free,
// and bounded: a power of two of slots at least the cache's size.
type doorkeeper struct {
	seed  maphash.Seed
	mask  uint64
	slots []atomic.Uint64
}

func newDoorkeeper(entries int64) *doorkeeper {
	n := uint64(1) << bits.Len64(uint64(max(entries, 1))-1)
	return &doorkeeper{seed: maphash.MakeSeed(), mask: n - 1, slots: make([]atomic.Uint64, n)}
}

// admit reports whether key was seen in its slot before, and marks it seen.
func (d *doorkeeper) admit(key string) bool {
	h := maphash.String(d.seed, key) | 1 // never the empty slot's 0
	s := &d.slots[h&d.mask]
	if s.Load() == h {
		return true
	}
	s.Store(h)
	return false
}
