// Package statestore is the on-disk spill area for partition state: the role
// RocksDB plays in Kafka Streams.
//
// A partition worker keeps its hot state (accounts' scoring state, person
// links) in memory. To bound that memory, state evicted from memory is written
// here through a Batch and read back with Namespace.Get when its key returns.
// The compacted changelog topic stays the source of truth: the store is only a
// cache of it, so Open wipes whatever a previous run left, commits never sync
// and pebble's write-ahead log is off. A crash loses nothing that the
// changelog restore on the next partition assignment does not rebuild.
//
// One Store serves the whole process; each (topic, partition, kind) owns a
// Namespace, whose keys can never collide with another's. A worker drops its
// partition's state with Namespace.Clear on revocation and before a restore.
//
// Memory is bounded by Options: pebble's block cache and memtables are
// allocated outside the Go heap (with cgo), so they do not show in Go heap
// metrics or count against GOMEMLIMIT; budget them separately. Stats reports
// them for a gauge.
package statestore
