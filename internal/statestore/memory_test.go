package statestore

import (
	"bufio"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// rssBytes returns the process's resident set size from /proc/self/status.
func rssBytes(t testing.TB) int64 { return procStatus(t, "VmRSS:") }

// peakRSSBytes returns the process's peak resident set size since the last
// resetPeakRSS.
func peakRSSBytes(t testing.TB) int64 { return procStatus(t, "VmHWM:") }

// resetPeakRSS resets the peak resident set size to the current one, and
// reports whether the kernel allowed it (Linux 4.0 and later).
func resetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// procStatus returns the size on the line of /proc/self/status that begins
// with field.
func procStatus(t testing.TB, field string) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			require.NoError(t, err)
			return kb << 10
		}
	}
	require.NoError(t, sc.Err())
	t.Fatalf("no %s in /proc/self/status", field)
	return 0
}

// memKey is the key of account i: a bijection of i that spreads consecutive
// accounts across the key space, as evictions do.
func memKey(dst []byte, i uint64) []byte {
	return binary.BigEndian.AppendUint64(dst, i*0x9e3779b97f4a7c15)
}

// memValue is account i's value, checkable on read-back: its index, then
// incompressible bytes from pool.
func memValue(dst []byte, pool []byte, i uint64) []byte {
	dst = binary.BigEndian.AppendUint64(dst[:0], i)
	off := int(i*7919) % (len(pool) - memValueLen)
	return append(dst, pool[off:off+memValueLen-8]...)
}

const memValueLen = 300

// TestMemoryBounded writes far more state than the memory budget and checks
// that it went to disk: the process's RSS grows by less than 256 MiB.
func TestMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 2M keys (~600 MB)")
	}
	if raceEnabled {
		// Under -race, RSS counts the detector's shadow memory, and pebble
		// turns on its invariant checks: the writes take minutes, not 20 s.
		t.Skip("measures RSS; run without -race")
	}
	if runtime.GOOS != "linux" {
		t.Skip("reads VmRSS from /proc/self/status")
	}
	const (
		keys      = 2_000_000
		batchSize = 10_000
		sample    = 20_000
		budget    = 256 << 20
	)
	pool := make([]byte, 1<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range pool {
		pool[i] = byte(rng.Uint32())
	}
	runtime.GC()
	debug.FreeOSMemory()
	before := rssBytes(t)
	// The kernel's high-water mark catches peaks between our samples.
	hwm := resetPeakRSS()

	s := openTest(t, Options{}) // the defaults: 32 MiB cache, 16 MiB memtables
	ns := s.Namespace("leadscore.events/0/a")
	b := s.NewBatch()
	defer b.Close()
	var key, val []byte
	peak := before
	start := time.Now()
	for i := range uint64(keys) {
		key = memKey(key[:0], i)
		val = memValue(val, pool, i)
		b.Set(ns, key, val)
		if b.Len() == batchSize {
			require.NoError(t, b.Commit())
			if i%(20*batchSize) == batchSize-1 {
				peak = max(peak, rssBytes(t))
			}
		}
	}
	require.NoError(t, b.Commit())
	peak = max(peak, rssBytes(t))
	written := s.Stats()
	writeTime := time.Since(start)
	start = time.Now()

	for j := range uint64(sample) {
		i := rng.Uint64N(keys)
		found, err := ns.Get(memKey(key[:0], i), func(got []byte) error {
			require.Equal(t, memValue(val, pool, i), got)
			return nil
		})
		require.NoError(t, err)
		require.True(t, found, "account %d", i)
		found, err = ns.Get(memKey(key[:0], keys+j), func([]byte) error { return nil })
		require.NoError(t, err)
		require.False(t, found)
	}
	readTime := time.Since(start)
	after := rssBytes(t)
	peak = max(peak, after)
	if hwm {
		peak = max(peak, peakRSSBytes(t))
	}

	const mib = 1 << 20
	t.Logf("wrote %d keys (%d MiB of values) in %v; after writes %+v", keys, keys*memValueLen/mib, writeTime, written)
	t.Logf("read %d hits and %d misses in %v; after reads %+v", sample, sample, readTime, s.Stats())
	t.Logf("RSS before %d MiB, peak %d MiB (+%d; kernel high-water mark: %v), after reads %d MiB (+%d)",
		before/mib, peak/mib, (peak-before)/mib, hwm, after/mib, (after-before)/mib)
	require.Greater(t, written.DiskBytes, uint64(keys*memValueLen/2), "the data is on disk")
	require.Less(t, peak-before, int64(budget), "RSS growth")
}
