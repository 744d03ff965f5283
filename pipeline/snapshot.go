package pipeline

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/segmentio/encoding/json"

	"github.com/leadscore/leadscore/features"
)

// snapshotFormat is bumped when the layout of a snapshot changes.
const snapshotFormat = 1

// snapshot is one partition's state together with the offset it covers:
// restoring it and consuming from Next gives the same results as never
// having stopped. It is written only after the sinks flushed and the offsets
// were committed, so every row derived from records below Next is durable.
type snapshot struct {
	Format       int                       `json:"format"`
	Topic        string                    `json:"topic"`
	Partition    int32                     `json:"partition"`
	Next         int64                     `json:"next"`
	Epoch        int32                     `json:"epoch"`
	RulesVersion string                    `json:"rules_version"`
	Dedup        []uint64                  `json:"dedup"`
	Identity     features.IdentitySnapshot `json:"identity"`
	Accounts     map[string]*account       `json:"accounts"`
}

// snapshotStore keeps snapshots as files under dir/<group>/.
type snapshotStore struct {
	dir string
}

func (s *snapshotStore) path(topic string, partition int32) string {
	return filepath.Join(s.dir, topic+"-"+strconv.Itoa(int(partition))+".json")
}

// save writes w's state atomically (temporary file, fsync, rename).
func (s *snapshotStore) save(w *worker) error {
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return fmt.Errorf("save snapshot: %w", err)
	}
	snap := snapshot{
		Format: snapshotFormat, Topic: w.topic, Partition: w.partition, Next: w.next, Epoch: w.epoch,
		RulesVersion: w.rules.Version, Dedup: w.dedup.Hashes(), Identity: w.identity.Snapshot(),
		Accounts: w.accounts,
	}
	final := s.path(w.topic, w.partition)
	tmp, err := os.CreateTemp(s.dir, ".snapshot-*")
	if err != nil {
		return fmt.Errorf("save snapshot: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	bw := bufio.NewWriterSize(tmp, 1<<20)
	if err := json.NewEncoder(bw).Encode(&snap); err != nil {
		tmp.Close()
		return fmt.Errorf("save snapshot %s: %w", final, err)
	}
	if err := bw.Flush(); err != nil {
		tmp.Close()
		return fmt.Errorf("save snapshot %s: %w", final, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("save snapshot %s: %w", final, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save snapshot %s: %w", final, err)
	}
	if err := os.Rename(tmp.Name(), final); err != nil {
		return fmt.Errorf("save snapshot %s: %w", final, err)
	}
	return nil
}

// load reads the snapshot of a partition; ok is false when there is none.
func (s *snapshotStore) load(topic string, partition int32) (*snapshot, bool, error) {
	f, err := os.Open(s.path(topic, partition))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("load snapshot: %w", err)
	}
	defer f.Close()
	var snap snapshot
	if err := json.NewDecoder(bufio.NewReaderSize(f, 1<<20)).Decode(&snap); err != nil {
		return nil, false, fmt.Errorf("load snapshot %s: %w", f.Name(), err)
	}
	if snap.Format != snapshotFormat {
		return nil, false, fmt.Errorf("load snapshot %s: format %d, want %d", f.Name(), snap.Format, snapshotFormat)
	}
	return &snap, true, nil
}

// restore puts a snapshot's state into w.
func (w *worker) restore(s *snapshot) {
	w.next, w.epoch = s.Next, s.Epoch
	w.snapshotted = s.Next
	w.dedup.Restore(s.Dedup)
	w.identity.Restore(s.Identity)
	if s.Accounts != nil {
		w.accounts = s.Accounts
	}
}
