package pipeline

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/encoding/json"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/leadscore/leadscore/features"
	"github.com/leadscore/leadscore/features/hygiene"
	"github.com/leadscore/leadscore/internal/statestore"
)

// The changelog is a compacted topic holding every partition's state, as
// Kafka Streams keeps its stores: input partition p's state lives in
// changelog partition p, one record per key, written in the same transaction
// as the outputs and the offset commit of the records that changed it. So the
// last committed transaction's changelog is exactly the state as of the
// committed offsets: a new owner (after a restart, a crash or a rebalance)
// reads the partition back and resumes from the committed offset, and no
// event is counted twice or missed.
//
// Keys are the input topic, a NUL, then a kind and an id:
//
//	a:<account>   the account's state (JSON)
//	p:<person>    the account a person id is linked to
//	v:<visitor>   an anonymous visitor's pending events (JSON); empty value when handed over
//	d:<chunk>     a chunk of the message-id window (little-endian uint64 hashes)
//	c             the window's cursor (JSON)
//	m:<day|source|class>  the partition's IP lookups of that kind (decimal)
//	x:<person>    a rejected lead's person ("1"); empty value when cleared
//	l:<lead>      a lead of the de-duplication index (JSON); empty when it left
//	w             the input partition's event time (decimal Unix nanoseconds)
const (
	kindAccount = 'a'
	kindPerson  = 'p'
	kindVisitor = 'v'
	kindDedup   = 'd'
	kindCursor  = 'c'
	kindIPCount = 'm'
	kindReject  = 'x'
	kindLead    = 'l'
	kindTime    = 'w'
)

func changelogKey(topic string, kind byte, id string) []byte {
	k := make([]byte, 0, len(topic)+3+len(id))
	k = append(k, topic...)
	k = append(k, 0, kind)
	if id != "" {
		k = append(k, ':')
		k = append(k, id...)
	}
	return k
}

type dedupCursor struct {
	Next int  `json:"next"`
	Full bool `json:"full"`
}

// changes produces w's state changed since the last call to the changelog,
// inside the open transaction. Accounts are the caller's: it passes those
// it writes account_scores rows for.
func (w *worker) changes(produce func(*kgo.Record), topic string, accounts []string, ipKeys []ipKey) error {
	rec := func(key, value []byte) {
		produce(&kgo.Record{Topic: topic, Partition: w.partition, Key: key, Value: value})
	}
	for _, k := range ipKeys {
		rec(changelogKey(w.topic, kindIPCount, k.String()), strconv.AppendUint(nil, w.ipCounts[k], 10))
	}
	for k := range w.rejectedDirty {
		var v []byte
		if w.rejected[k] {
			v = []byte("1")
		}
		rec(changelogKey(w.topic, kindReject, k), v)
	}
	clear(w.rejectedDirty)
	var lerr error
	if w.leads != nil {
		w.leads.Changes(func(id string, e *hygiene.DedupEntry) {
			var v []byte
			if e != nil {
				if v, lerr = json.Marshal(e); lerr != nil {
					return
				}
			}
			rec(changelogKey(w.topic, kindLead, id), v)
		})
	}
	if lerr != nil {
		return fmt.Errorf("encode lead: %w", lerr)
	}
	// One buffer holds the cycle's snapshots; each record's value is a
	// slice of it, not reused before the records are produced. It is sized
	// from the last cycle's mean snapshot, so that it rarely grows.
	buf := make([]byte, 0, len(accounts)*(w.snapshotMean+w.snapshotMean/4))
	for _, id := range accounts {
		start := len(buf)
		var err error
		if buf, err = appendAccount(buf, w.accounts[id]); err != nil {
			return fmt.Errorf("encode account %s: %w", id, err)
		}
		rec(changelogKey(w.topic, kindAccount, id), buf[start:len(buf):len(buf)])
	}
	if len(accounts) > 0 {
		w.snapshotMean = len(buf) / len(accounts)
	}
	var err error
	w.identity.Changes(
		func(person, account string) { rec(changelogKey(w.topic, kindPerson, person), []byte(account)) },
		func(visitor string, pending []features.Pending) {
			var v []byte
			if pending != nil {
				if v, err = json.Marshal(pending); err != nil {
					return
				}
			}
			rec(changelogKey(w.topic, kindVisitor, visitor), v)
		})
	if err != nil {
		return fmt.Errorf("encode pending events: %w", err)
	}
	wrote := false
	w.dedup.Changes(func(chunk int, hashes []uint64) {
		v := make([]byte, 8*len(hashes))
		for i, h := range hashes {
			binary.LittleEndian.PutUint64(v[8*i:], h)
		}
		rec(changelogKey(w.topic, kindDedup, strconv.Itoa(chunk)), v)
		wrote = true
	})
	if wrote {
		next, full := w.dedup.Cursor()
		v, _ := json.Marshal(dedupCursor{Next: next, Full: full})
		rec(changelogKey(w.topic, kindCursor, ""), v)
	}
	// The partition's event time is state like the rest: each record moves
	// it by at most engine.max_time_jump from where the records before it
	// left it, so a restart resumes from there rather than from its first
	// record's time.
	if !w.rekeyed && !w.maxTime.Equal(w.timeSaved) {
		rec(changelogKey(w.topic, kindTime, ""), strconv.AppendInt(nil, w.maxTime.UnixNano(), 10))
		w.timeSaved = w.maxTime
	}
	return nil
}

// brokenRestore is set only by the leadscore_broken_restore build tag.
var brokenRestore = false

// restore rebuilds w's state from its changelog partition: every committed
// record up to the partition's end, the newest per key winning.
func (e *Engine) restore(ctx context.Context, w *worker) (records int, err error) {
	if brokenRestore {
		return 0, nil
	}
	topic := e.cfg.changelogTopic()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(e.Brokers()...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {w.partition: kgo.NewOffset().AtStart()}}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		kgo.WithLogger(kgoLogger{e.log}),
	)
	if err != nil {
		return 0, fmt.Errorf("restore %s: %w", w.key(), err)
	}
	defer cl.Close()
	end, err := e.changelogEnd(ctx, kadm.NewClient(cl), topic, w.partition)
	if err != nil {
		return 0, fmt.Errorf("restore %s: %w", w.key(), err)
	}
	var spill *statestore.Batch
	for _, ns := range []*statestore.Namespace{w.spill, w.links, w.visitors, w.timerNS} {
		if ns == nil {
			continue
		}
		// The store caches this partition's changelog: start it afresh.
		if err := ns.Clear(); err != nil {
			return 0, fmt.Errorf("restore %s: %w", w.key(), err)
		}
		spill = e.store.NewBatch()
		defer spill.Close()
	}
	w.storeNext = time.Time{}
	w.accountsSpilled, w.linksSpilled, w.visitorsSpilled = false, false, false
	limit := e.restoreLimit(w)
	w.now = nowNano()
	prefix := w.topic + "\x00"
	var cursor *dedupCursor
	last := int64(-1)
	for last < end-1 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return records, fmt.Errorf("restore %s: %w", w.key(), err)
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = errors.Join(ferr, err) })
		if ferr != nil {
			return records, fmt.Errorf("restore %s: %w", w.key(), ferr)
		}
		for it := fs.RecordIter(); !it.Done(); {
			r := it.Next()
			last = r.Offset
			if r.Attrs.IsControl() || !strings.HasPrefix(string(r.Key), prefix) || len(r.Key) < len(prefix)+1 {
				continue
			}
			records++
			kind, id := r.Key[len(prefix)], ""
			if len(r.Key) > len(prefix)+2 {
				id = string(r.Key[len(prefix)+2:])
			}
			var err error
			switch kind {
			case kindAccount:
				err = w.restoreAccount(id, r.Value, limit, spill)
			case kindPerson:
				err = w.restorePerson(id, string(r.Value), limit, spill)
			case kindVisitor:
				err = w.restorePending(id, r.Value, e.cfg.Engine.MaxResidentVisitors/max(1, e.repartitions), spill)
			default:
				err = w.restoreRecord(kind, id, r.Value, &cursor)
			}
			if err != nil {
				return records, fmt.Errorf("restore %s: offset %d: %w", w.key(), r.Offset, err)
			}
		}
	}
	if cursor != nil {
		w.dedup.SetCursor(cursor.Next, cursor.Full)
	}
	if spill != nil {
		if err := spill.Commit(); err != nil {
			return records, fmt.Errorf("restore %s: %w", w.key(), err)
		}
	}
	w.rebuildTimers()
	w.rescoreRestored = w.rekeyed
	return records, nil
}

// changelogEnd is the offset to restore a changelog partition up to: its
// high watermark once every transaction open on it has ended, so that every
// record below it is decided. The last stable offset alone is not enough: a
// changelog partition has several writers (input partition p and
// repartition partition p may be owned by different instances), and another
// writer's open transaction would hide records the previous owner committed
// after it began. A dead previous owner's open transaction ends when its
// successor fences it or when it times out.
func (e *Engine) changelogEnd(ctx context.Context, adm *kadm.Client, topic string, partition int32) (int64, error) {
	lookup := func(list func(context.Context, ...string) (kadm.ListedOffsets, error)) (int64, error) {
		offs, err := list(ctx, topic)
		if err != nil {
			return 0, fmt.Errorf("list offsets of %s: %w", topic, err)
		}
		o, ok := offs.Lookup(topic, partition)
		if !ok || o.Err != nil {
			return 0, fmt.Errorf("changelog %s has no partition %d (it needs as many partitions as the input): %v", topic, partition, o.Err)
		}
		return o.Offset, nil
	}
	end, err := lookup(adm.ListEndOffsets)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	warned := false
	for {
		stable, err := lookup(adm.ListCommittedOffsets)
		if err != nil {
			return 0, err
		}
		if stable >= end {
			return end, nil
		}
		if !warned && time.Since(start) > 2*time.Second {
			warned = true
			e.log.Warn("waiting for transactions open on the changelog to end (a dead owner's ends when it times out)",
				"topic", topic, "partition", partition, "stable", stable, "end", end)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (w *worker) restoreRecord(kind byte, id string, v []byte, cursor **dedupCursor) error {
	switch kind {
	case kindPerson:
		w.identity.RestorePerson(id, string(v))
	case kindVisitor:
		var p []features.Pending
		if len(v) > 0 {
			if err := json.Unmarshal(v, &p); err != nil {
				return fmt.Errorf("decode visitor %s: %w", id, err)
			}
		}
		w.identity.RestorePending(id, p)
	case kindDedup:
		chunk, err := strconv.Atoi(id)
		if err != nil || len(v)%8 != 0 {
			return fmt.Errorf("decode message-id chunk %q", id)
		}
		h := make([]uint64, len(v)/8)
		for i := range h {
			h[i] = binary.LittleEndian.Uint64(v[8*i:])
		}
		w.dedup.RestoreChunk(chunk, h)
	case kindLead:
		if len(v) == 0 || w.checker == nil {
			return nil // left the index: expiry drops it again
		}
		var e hygiene.DedupEntry
		if err := json.Unmarshal(v, &e); err != nil {
			return fmt.Errorf("decode lead %s: %w", id, err)
		}
		w.leadIndex().Restore([]hygiene.DedupEntry{e})
	case kindReject:
		if len(v) == 0 {
			delete(w.rejected, id)
			return nil
		}
		if w.rejected == nil {
			w.rejected = map[string]bool{}
			w.rejectedDirty = map[string]struct{}{}
		}
		w.rejected[id] = true
	case kindIPCount:
		k, ok := parseIPKey(id)
		n, err := strconv.ParseUint(string(v), 10, 64)
		if !ok || err != nil {
			return fmt.Errorf("decode ip lookup count %q", id)
		}
		if w.ipCounts == nil {
			w.ipCounts = map[ipKey]uint64{}
			w.ipDirty = map[ipKey]struct{}{}
		}
		w.ipCounts[k] = n
	case kindTime:
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			return fmt.Errorf("decode partition time %q", v)
		}
		w.maxTime = time.Unix(0, n).UTC()
		w.timeSaved = w.maxTime
	case kindCursor:
		c := &dedupCursor{}
		if err := json.Unmarshal(v, c); err != nil {
			return fmt.Errorf("decode message-id cursor: %w", err)
		}
		*cursor = c
	default:
		return fmt.Errorf("unknown changelog key kind %q", kind)
	}
	return nil
}
