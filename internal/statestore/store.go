package statestore

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"
)

const (
	defaultCacheBytes    = 32 << 20
	defaultMemTableBytes = 16 << 20

	// lockName is the store's lock file in the directory given to Open. It is
	// also the mark that the directory belongs to a store: Open empties only a
	// directory that is empty or holds this file, so a mistyped path cannot
	// make it delete unrelated data.
	lockName = "STATESTORE.LOCK"
	// memTableReserve is how many memtables pebble keeps reserved in the
	// block cache in steady state: the mutable one plus the one being
	// flushed or stashed for reuse.
	memTableReserve = 2
	// dbName is the subdirectory pebble lives in.
	dbName = "db"
)

// errClosed is returned by every method called after Close.
var errClosed = errors.New("store closed")

// Options bounds the store's memory.
//
// The store holds about CacheBytes + 2*MemTableBytes (the block cache plus
// the mutable and the flushing memtable), allocated outside the Go heap when
// cgo is on, plus small Go-heap state (open table readers, iterators).
type Options struct {
	CacheBytes    int64 // pebble block cache; 0 = 32 MiB
	MemTableBytes int   // pebble memtable size; 0 = 16 MiB
}

// Store is a pebble database used as a disposable cache of changelog state.
// Its methods, and those of its Namespaces, are safe for concurrent use; a
// Batch is not. Close must not run concurrently with other calls.
type Store struct {
	db     *pebble.DB
	lock   io.Closer // held on lockName until Close
	dir    string
	closed atomic.Bool

	closeMu  sync.Mutex
	closeErr error
}

// Open creates (or empties) dir and opens a store in it. Previous contents are
// removed. To guard against deleting unrelated files, Open fails on a
// non-empty directory that was not made by Open; it also fails while another
// Store (in this or another process) has dir open.
func Open(dir string, opts Options) (*Store, error) {
	if opts.CacheBytes < 0 || opts.MemTableBytes < 0 {
		return nil, fmt.Errorf("statestore: open %s: negative memory bound (cache %d, memtable %d)",
			dir, opts.CacheBytes, opts.MemTableBytes)
	}
	cacheBytes := opts.CacheBytes
	if cacheBytes == 0 {
		cacheBytes = defaultCacheBytes
	}
	memTableBytes := opts.MemTableBytes
	if memTableBytes == 0 {
		memTableBytes = defaultMemTableBytes
	}

	lock, err := claimDir(dir)
	if err != nil {
		return nil, fmt.Errorf("statestore: open %s: %w", dir, err)
	}

	// pebble charges memtables to the block cache (Cache.Reserve): the
	// mutable memtable and the one flushing or kept for recycling. Without
	// room for them a 32 MiB cache with 16 MiB memtables caches nothing.
	cache := pebble.NewCache(cacheBytes + memTableReserve*int64(memTableBytes))
	// The DB takes its own reference; ours is released whatever Open does.
	defer cache.Unref()
	po := &pebble.Options{
		Cache:              cache,
		MemTableSize:       uint64(memTableBytes),
		DisableWAL:         true,
		FormatMajorVersion: pebble.FormatNewest, // always a fresh store: no compatibility to keep
		Logger:             quietLogger{},
	}
	// Bloom filters let a miss (an account never evicted) skip every table's
	// data blocks; Get asks for them in the last level too. 10 bits per key:
	// about 1% false positives, 1.25 bytes of cache per key.
	for i := range po.Levels {
		po.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	db, err := pebble.Open(filepath.Join(dir, dbName), po)
	if err != nil {
		_ = lock.Close()
		return nil, fmt.Errorf("statestore: open %s: %w", dir, err)
	}
	return &Store{db: db, lock: lock, dir: dir}, nil
}

// claimDir creates dir, takes its lock and removes everything else in it.
func claimDir(dir string) (io.Closer, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	owned := len(entries) == 0
	for _, e := range entries {
		if e.Name() == lockName {
			owned = true
		}
	}
	if !owned {
		return nil, fmt.Errorf("directory is not empty and holds no %s: refusing to empty it", lockName)
	}
	// pebble's lock is an fcntl lock plus an in-process registry, so it also
	// stops a second Open of the same dir within this process.
	lock, err := vfs.Default.Lock(filepath.Join(dir, lockName))
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	// The lock file is never removed, so a crash while emptying leaves a
	// directory that is still recognised as ours.
	for _, e := range entries {
		if e.Name() == lockName {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			_ = lock.Close()
			return nil, fmt.Errorf("remove previous contents: %w", err)
		}
	}
	return lock, nil
}

// Close closes the store and releases its directory. It is idempotent: later
// calls return the first call's result. The directory's contents are left for
// the next Open to remove.
func (s *Store) Close() error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed.Load() {
		return s.closeErr
	}
	s.closed.Store(true)
	var errs []error
	if err := s.db.Close(); err != nil {
		errs = append(errs, err)
	}
	if err := s.lock.Close(); err != nil {
		errs = append(errs, fmt.Errorf("unlock: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		s.closeErr = fmt.Errorf("statestore: close %s: %w", s.dir, err)
	}
	return s.closeErr
}

// Stats is a snapshot of the store's footprint, for gauges.
type Stats struct {
	// DiskBytes is the space the store's files take on disk, including
	// files that are obsolete but not yet deleted.
	DiskBytes uint64
	// MemTableBytes is the memory held by memtables (live and zombie).
	MemTableBytes uint64
	// BlockCacheBytes is the memory held by the block cache.
	BlockCacheBytes int64
	// BlockCacheHits and BlockCacheMisses count block cache lookups since Open.
	BlockCacheHits, BlockCacheMisses int64
	// Tables is the number of live sstables, and ReadAmp the number of
	// sublevels a read may have to look at (memtables excluded).
	Tables  int64
	ReadAmp int
}

// Stats reports the store's current footprint; the zero Stats after Close.
func (s *Store) Stats() Stats {
	if s.closed.Load() {
		return Stats{}
	}
	m := s.db.Metrics()
	return Stats{
		DiskBytes:        m.DiskSpaceUsage(),
		MemTableBytes:    m.MemTable.Size + m.MemTable.ZombieSize,
		BlockCacheBytes:  m.BlockCache.Size,
		BlockCacheHits:   m.BlockCache.Hits,
		BlockCacheMisses: m.BlockCache.Misses,
		Tables:           m.Total().TablesCount,
		ReadAmp:          m.ReadAmp(),
	}
}

// quietLogger drops pebble's informational logs (every flush and compaction
// would otherwise be printed to stderr), passes its errors to slog, and keeps
// pebble's contract that Fatalf does not return: it panics, which stops the
// process (pebble calls it from background goroutines too) with a stack.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any) {}

func (quietLogger) Errorf(format string, args ...any) {
	slog.Error("statestore: pebble: " + fmt.Sprintf(format, args...))
}

func (quietLogger) Fatalf(format string, args ...any) {
	panic("statestore: pebble: " + fmt.Sprintf(format, args...))
}
