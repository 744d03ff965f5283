package pipeline

import (
	"cmp"
	"context"
	"crypto/sha256"
	stdjson "encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/leadscore/leadscore/internal/event"
	"github.com/leadscore/leadscore/internal/generate"
	"github.com/leadscore/leadscore/internal/rows"
)

// tailRecord is a forwarded record of the generated stream, as a scoring
// worker gets it, with its event's time and key.
type tailRecord struct {
	value []byte
	key   string // the account
	at    time.Time
	order string // messageId: the tie-break of the event-time order
}

// forwardedStream runs the generated stream (seed, accounts) through an
// input worker until it has forwarded n event records, and returns them
// with the watermark they carry cleared: the tests drive the scoring
// worker's watermark themselves, from the order they deliver in.
func forwardedStream(t *testing.T, seed int64, accounts, n int) []tailRecord {
	t.Helper()
	e, err := New(DefaultConfig())
	require.NoError(t, err)
	e.inputs, e.repartitions = 1, 1
	var out []*kgo.Record
	e.produce = func(r *kgo.Record, _ func(*kgo.Record, error)) { out = append(out, r) }
	in := newWorker(e, e.cfg.Kafka.Topics[0], 0)
	gen := generate.New(generate.Config{Seed: seed, Accounts: accounts})
	var recs []tailRecord
	var f forwarded
	var ev event.Event
	for off := int64(0); len(recs) < n; off++ {
		g := gen.Next()
		if g.Malformed {
			continue
		}
		out = out[:0]
		r := &kgo.Record{Topic: e.cfg.Kafka.Topics[0], Key: g.Key, Value: g.Value, Offset: off}
		require.NoError(t, in.process(context.Background(), []*kgo.Record{r}, rowCounter{new(int)}))
		for _, fr := range out {
			if fr.Topic != e.cfg.repartitionTopic() || len(fr.Headers) > 0 {
				continue // lead records: de-duplication, not scoring
			}
			require.NoError(t, decodeForward(fr, &f))
			require.NoError(t, event.Decode(f.Raw, &ev, event.Limits{}))
			src := &kgo.Record{Topic: f.Source.Topic, Partition: f.Source.Partition, Offset: f.Source.Offset, Value: f.Raw}
			v, err := appendForward(nil, src, f.Pending, forwardMeta{ip: f.IP, tags: f.Tags})
			require.NoError(t, err)
			recs = append(recs, tailRecord{value: v, key: string(fr.Key), at: ev.Time, order: ev.MessageID})
		}
	}
	return recs
}

// sortByEventTime sorts recs as event-time order has them: by time, ties
// by messageId.
func sortByEventTime(recs []tailRecord) {
	slices.SortStableFunc(recs, func(a, b tailRecord) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return cmp.Compare(a.order, b.order)
	})
}

// tailPoll is how many records a poll of the property test holds.
const tailPoll = 64

// deliver scores recs in the given order on a fresh scoring worker, the
// watermark following the newest event time delivered less the allowed
// lateness, then moves the watermark past everything and returns the hash
// of every account's state and of the rows written, and how many rows
// were corrected or retracted.
func deliver(t *testing.T, e *Engine, recs []tailRecord) (string, float64) {
	h, n, _ := deliverStates(t, e, recs)
	return h, n
}

func deliverStates(t *testing.T, e *Engine, recs []tailRecord) (string, float64, map[string]string) {
	t.Helper()
	return deliverWorker(t, newWorker(e, e.cfg.repartitionTopic(), 0), recs, nil)
}

// deliverWorker is deliverStates on w, calling each (if not nil) after
// every poll.
func deliverWorker(t *testing.T, w *worker, recs []tailRecord, each func()) (string, float64, map[string]string) {
	t.Helper()
	w.metrics = newMetrics(nil)
	folded := rowFold{}
	in := rows.Source{Topic: DefaultConfig().Kafka.Topics[0]}
	// Polls of up to tailPoll records; after each, the watermark follows.
	var newest time.Time
	for i := 0; i < len(recs); i += tailPoll {
		var poll []*kgo.Record
		for j, r := range recs[i:min(i+tailPoll, len(recs))] {
			poll = append(poll, &kgo.Record{Topic: w.topic, Key: []byte(r.key), Value: r.value, Offset: int64(i + j)})
			if r.at.After(newest) {
				newest = r.at
			}
		}
		require.NoError(t, w.process(context.Background(), poll, folded))
		require.NoError(t, w.heard(in, newest, false))
		require.NoError(t, folded.Write(context.Background(), &w.batch)) // decay the watermark fired
		w.batch.Reset()
		if each != nil {
			each()
		}
	}
	require.NoError(t, w.heard(in, newest.Add(10*365*24*time.Hour), false))
	require.NoError(t, folded.Write(context.Background(), &w.batch))
	for id, a := range w.accounts {
		require.Nil(t, a.open, "%s: the watermark passed every record, so no tail stays open", id)
		require.True(t, a.NextDue.IsZero() || a.NextDue.After(w.watermark), "%s: a decay change due before the watermark did not fire", id)
	}
	states := map[string]string{}
	for id, a := range w.accounts {
		states[id] = string(canonicalState(t, a))
	}
	for k, v := range folded {
		states["row "+k] = v
	}
	require.NotEmpty(t, folded)
	fixes := counterVecTotal(t, w.metrics.corrections) + counterVecTotal(t, w.metrics.retractions)
	return stateHash(t, w) + folded.hash(), fixes, states
}

// rowFold is what a reader of the tables (after FINAL, retracted rows left
// out) or of the topics (the last record per identity, retractions
// removing) holds: each row by its identity, its content without its
// cause (a correction says "correction").
type rowFold map[string]string

func (f rowFold) Write(_ context.Context, b *rows.Batch) error {
	put := func(key string, retracted bool, row any) {
		if retracted {
			delete(f, key)
			return
		}
		v, _ := stdjson.Marshal(row)
		f[key] = string(v)
	}
	src := func(s rows.Source) string { return fmt.Sprintf("%s/%d/%d", s.Topic, s.Partition, s.Offset) }
	for _, r := range b.Changes {
		r.Cause = ""
		put("c "+r.AccountID+"|"+r.ContactID+"|"+src(r.Source), r.Retracted, r)
	}
	for _, r := range b.Transitions {
		put(fmt.Sprintf("t %s|%s|%d|%s|%s|%s", r.AccountID, r.ContactID, r.At.Unix(), r.FromStage, r.ToStage, src(r.RecordSource)), r.Retracted, r)
	}
	for _, r := range b.Handoffs {
		put("h "+r.AccountID+"|"+r.ContactID+"|"+src(r.Source), r.Retracted, r)
	}
	for _, r := range b.Events {
		put(fmt.Sprintf("e %s|%s|%d|%s", r.AccountID, r.ContactID, r.At.Unix(), src(r.Source)), r.Retracted, r)
	}
	return nil
}

func (f rowFold) hash() string {
	h := sha256.New()
	for _, k := range slices.Sorted(maps.Keys(f)) {
		h.Write([]byte(k))
		h.Write([]byte(f[k]))
	}
	return string(h.Sum(nil))
}

// stateHash hashes every account's state, in account order. The standard
// library's JSON sorts map keys and writes floats exactly.
func stateHash(t *testing.T, w *worker) string {
	t.Helper()
	h := sha256.New()
	for _, id := range slices.Sorted(func(yield func(string) bool) {
		for id := range w.accounts {
			if !yield(id) {
				return
			}
		}
	}) {
		h.Write([]byte(id))
		h.Write(canonicalState(t, w.accounts[id]))
	}
	return string(h.Sum(nil))
}

// canonicalState is a's state as JSON (the standard library's, which sorts
// map keys and writes floats exactly), without its contacts' versions:
// those also count rebuilds that did not touch the contact (see tail.go).
// The account's own version is kept: records and decay steps only.
func canonicalState(t *testing.T, a *account) []byte {
	t.Helper()
	c := *a
	c.Contacts = map[string]*contact{}
	for id, ct := range a.Contacts {
		cc := *ct
		cc.Version = 0
		c.Contacts[id] = &cc
	}
	v, err := stdjson.Marshal(&c)
	require.NoError(t, err)
	return v
}

// TestArrivalOrderProperty: 10 000 events over 1 000 accounts of the
// generated stream, delivered to a scoring worker in 100 random orders
// within the allowed lateness, with redelivered duplicates added, leave
// every account in the same state as delivering them in event-time order,
// and the rows written, folded by identity as a reader of the tables or
// topics does (corrections replacing, retractions removing), are the rows
// event-time order writes.
func TestArrivalOrderProperty(t *testing.T) {
	recs := forwardedStream(t, 7, 1000, 10_000)
	lateness := DefaultConfig().Engine.AllowedLateness.D()
	byTime := slices.Clone(recs)
	sortByEventTime(byTime)
	e, err := New(DefaultConfig())
	require.NoError(t, err)
	e.inputs, e.repartitions = 1, 1
	e.produce = func(*kgo.Record, func(*kgo.Record, error)) {}
	want, fixes, wantStates := deliverStates(t, e, byTime)
	require.Zero(t, fixes, "in event-time order nothing arrives late")

	orders := 100
	if testing.Short() {
		orders = 3
	}
	if raceOn() {
		orders = 8 // the race detector makes each order about ten times slower
	}
	seed := uint64(11)
	if raceOn() {
		seed = 13 // other orders than the full run's first eight
	}
	r := rand.New(rand.NewPCG(seed, seed+1))
	for i := range orders {
		// Each record arrives at its event time plus a random delay under
		// the allowed lateness, and a twentieth arrive a second time:
		// whatever arrives after a record is at most the lateness older
		// than it, so never older than the watermark.
		type arrival struct {
			at  time.Time
			rec tailRecord
		}
		var as []arrival
		for _, rec := range recs {
			as = append(as, arrival{rec.at.Add(time.Duration(r.Int64N(int64(lateness)))), rec})
			if r.IntN(20) == 0 {
				as = append(as, arrival{rec.at.Add(time.Duration(r.Int64N(int64(lateness)))), rec})
			}
		}
		slices.SortStableFunc(as, func(a, b arrival) int { return a.at.Compare(b.at) })
		order := make([]tailRecord, len(as))
		for j, a := range as {
			order[j] = a.rec
		}
		got, fixes, states := deliverStates(t, e, order)
		require.Positive(t, fixes, "order %d: records arrived late and changed rows", i)
		if got != want {
			diff := 0
			for _, id := range slices.Sorted(func(yield func(string) bool) {
				for id := range wantStates {
					if !yield(id) {
						return
					}
				}
			}) {
				if states[id] != wantStates[id] {
					diff++
					if diff <= 2 {
						t.Logf("%s:\nwant %s\ngot  %s", id, wantStates[id], states[id])
					}
				}
			}
			t.Logf("order %d: %d of %d accounts differ", i, diff, len(wantStates))
		}
		require.Equal(t, want, got, "order %d: the same events, another state", i)
	}
}

func counterVecTotal(t *testing.T, v *prometheus.CounterVec) float64 {
	t.Helper()
	ch := make(chan prometheus.Metric, 16)
	go func() { v.Collect(ch); close(ch) }()
	n := 0.0
	for m := range ch {
		var d dto.Metric
		require.NoError(t, m.Write(&d))
		n += d.GetCounter().GetValue()
	}
	return n
}

// TestTailCut: past engine.max_tail_records an account's oldest records
// become final early, so no tail holds more than the limit; records that
// arrive in event-time order give the same state and rows as without the
// limit.
func TestTailCut(t *testing.T) {
	recs := forwardedStream(t, 7, 50, 3000)
	sortByEventTime(recs)
	e, err := New(DefaultConfig())
	require.NoError(t, err)
	e.inputs, e.repartitions = 1, 1
	want, _, wantStates := deliverStates(t, e, recs)

	w := newWorker(e, e.cfg.repartitionTopic(), 0)
	w.maxTail = 8
	got, _, gotStates := deliverWorker(t, w, recs, func() {
		for id, a := range w.accounts {
			if a.open != nil {
				require.LessOrEqual(t, len(a.open.entries), 8, id)
			}
		}
	})
	require.Positive(t, counterValue(t, w.metrics.tailsCut), "accounts with more than 8 records within the lateness")
	n := 0
	for k, v := range wantStates {
		if gotStates[k] != v && n < 3 {
			n++
			t.Logf("%s\nwant %s\ngot  %s", k, v, gotStates[k])
		}
	}
	require.Equal(t, want, got)
}
