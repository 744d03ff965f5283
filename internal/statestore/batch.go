package statestore

import (
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// Batch buffers writes to any namespaces of one Store (the one that made it)
// and applies them atomically. It is not safe for concurrent use; one worker
// owns it and reuses it after each Commit. Its buffer is kept for reuse up to
// 1 MiB (pebble's default); a bigger one is dropped at Commit.
type Batch struct {
	s *Store
	b *pebble.Batch
}

// NewBatch returns an empty batch. Close it when done.
func (s *Store) NewBatch() *Batch {
	return &Batch{s: s, b: s.db.NewBatch()}
}

// Set buffers setting key to val in ns. It copies key and val.
func (b *Batch) Set(ns *Namespace, key, val []byte) {
	op := b.b.SetDeferred(len(ns.prefix)+len(key), len(val))
	copy(op.Key[copy(op.Key, ns.prefix):], key)
	copy(op.Value, val)
	_ = op.Finish() // only indexed batches can fail, and this one is not
}

// Delete buffers deleting key from ns. It copies key.
func (b *Batch) Delete(ns *Namespace, key []byte) {
	op := b.b.DeleteDeferred(len(ns.prefix) + len(key))
	copy(op.Key[copy(op.Key, ns.prefix):], key)
	_ = op.Finish()
}

// Len reports the number of operations buffered since the last Commit.
func (b *Batch) Len() int {
	return int(b.b.Count())
}

// Commit applies the buffered operations atomically, without syncing: the
// store is a cache, and what a crash loses is restored from the changelog.
// Afterwards the batch is empty and reusable, whether Commit failed or not.
func (b *Batch) Commit() error {
	defer b.b.Reset()
	if b.b.Empty() {
		return nil
	}
	if b.s.closed.Load() {
		return fmt.Errorf("statestore: commit batch: %w", errClosed)
	}
	if err := b.b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("statestore: commit batch of %d: %w", b.b.Count(), err)
	}
	return nil
}

// Close discards the batch and whatever it still buffers. It is idempotent.
func (b *Batch) Close() {
	if b.b == nil {
		return
	}
	_ = b.b.Close() // fails only on a second close, which b.b = nil prevents
	b.b = nil
}
