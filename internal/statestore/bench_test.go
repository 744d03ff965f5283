package statestore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
)

const (
	benchKeys     = 1_000_000
	benchValueLen = 300
)

// benchFixture is a store holding benchKeys accounts, shared by the read
// benchmarks and built on first use.
var benchFixture struct {
	once sync.Once
	dir  string
	s    *Store
	ns   *Namespace
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if benchFixture.s != nil {
		_ = benchFixture.s.Close()
		_ = os.RemoveAll(benchFixture.dir)
	}
	os.Exit(code)
}

// fixture returns the shared store of benchKeys keys (memKey(i)) with
// benchValueLen-byte values, flushed and fully compacted so that every run
// reads the same LSM shape.
func fixture(b *testing.B) *Namespace {
	b.Helper()
	f := &benchFixture
	f.once.Do(func() {
		f.dir, f.err = os.MkdirTemp("", "statestore-bench-")
		if f.err != nil {
			return
		}
		f.s, f.err = Open(f.dir, Options{})
		if f.err != nil {
			return
		}
		f.ns = f.s.Namespace("leadscore.events/0/a")
		val := make([]byte, benchValueLen)
		rng := rand.New(rand.NewPCG(3, 4))
		batch := f.s.NewBatch()
		defer batch.Close()
		var key []byte
		for i := range uint64(benchKeys) {
			for j := range val {
				val[j] = byte(rng.Uint32())
			}
			key = memKey(key[:0], i)
			batch.Set(f.ns, key, val)
			if batch.Len() == 10_000 {
				if f.err = batch.Commit(); f.err != nil {
					return
				}
			}
		}
		if f.err = batch.Commit(); f.err != nil {
			return
		}
		if f.err = f.s.db.Flush(); f.err != nil {
			return
		}
		if f.err = f.s.db.Compact(context.Background(), f.ns.prefix, f.ns.end, true); f.err != nil {
			return
		}
		// Fill the block cache, so that the first benchmark run does not
		// pay for the others.
		for range 200_000 {
			key = memKey(key[:0], rng.Uint64N(benchKeys))
			if _, f.err = f.ns.Get(key, func([]byte) error { return nil }); f.err != nil {
				return
			}
		}
	})
	if f.err != nil {
		b.Fatal(f.err)
	}
	return f.ns
}

// BenchmarkGet reads accounts uniformly from the million in the fixture:
// about 300 MB of values behind a 32 MiB block cache, so most reads load a
// data block from the file (the page cache, here).
func BenchmarkGet(b *testing.B) { benchGet(b, benchKeys) }

// BenchmarkGetCached reads 1,000 accounts again and again: the blocks they
// live in (one each, about 4 MB) stay in the block cache.
func BenchmarkGetCached(b *testing.B) { benchGet(b, 1_000) }

func benchGet(b *testing.B, keys uint64) {
	ns := fixture(b)
	rng := rand.New(rand.NewPCG(5, 6))
	var key []byte
	n := 0
	start := ns.s.Stats()
	b.ReportAllocs()
	b.SetBytes(benchValueLen)
	for b.Loop() {
		key = memKey(key[:0], rng.Uint64N(keys))
		found, err := ns.Get(key, func(val []byte) error {
			n += len(val)
			return nil
		})
		if err != nil || !found {
			b.Fatal(found, err)
		}
	}
	end := ns.s.Stats()
	hits, misses := end.BlockCacheHits-start.BlockCacheHits, end.BlockCacheMisses-start.BlockCacheMisses
	b.ReportMetric(float64(hits)/float64(max(1, hits+misses)), "cache-hit-ratio")
}

func BenchmarkGetMiss(b *testing.B) {
	ns := fixture(b)
	rng := rand.New(rand.NewPCG(7, 8))
	var key []byte
	b.ReportAllocs()
	for b.Loop() {
		// Keys interleaved with the present ones, so that only the bloom
		// filter, not the key range, rules them out.
		key = memKey(key[:0], benchKeys+rng.Uint64N(1<<40))
		found, err := ns.Get(key, func([]byte) error { return nil })
		if err != nil || found {
			b.Fatal(found, err)
		}
	}
}

func BenchmarkBatchSet(b *testing.B) {
	for _, size := range []int{100, 10_000} {
		b.Run(fmt.Sprint("batch=", size), func(b *testing.B) {
			s, err := Open(b.TempDir(), Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			ns := s.Namespace("leadscore.events/0/a")
			batch := s.NewBatch()
			defer batch.Close()
			val := make([]byte, benchValueLen)
			for j := range val {
				val[j] = byte(j * 7)
			}
			var key []byte
			var i uint64
			b.ReportAllocs()
			b.SetBytes(int64(len(memKey(nil, 0)) + benchValueLen))
			for b.Loop() {
				key = memKey(key[:0], i)
				i++
				batch.Set(ns, key, val)
				if batch.Len() == size {
					if err := batch.Commit(); err != nil {
						b.Fatal(err)
					}
				}
			}
			if err := batch.Commit(); err != nil {
				b.Fatal(err)
			}
		})
	}
}
