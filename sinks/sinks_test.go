package sinks

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/leadscore/leadscore/internal/rows"
)

// harness is one sink under test with its own backend.
type harness struct {
	sink Sink
	// read returns every score change the backend holds durably, in any
	// order.
	read func(t *testing.T) []rows.ScoreChange
	// collapsesReplays tells whether a row written twice is read back once
	// (ClickHouse after FINAL) or twice, byte-identical (Kafka: consumers
	// deduplicate on the source field).
	collapsesReplays bool
}

// testSinkConformance runs the behaviour every Sink must have against the
// sinks newHarness makes, each test with a fresh sink and backend.
func testSinkConformance(t *testing.T, newHarness func(t *testing.T) harness) {
	t.Run("written rows are readable after Flush", func(t *testing.T) {
		h := newHarness(t)
		want := testChanges("acct", 25)
		require.NoError(t, h.sink.Write(t.Context(), &rows.Batch{Changes: want[:10]}))
		require.NoError(t, h.sink.Write(t.Context(), &rows.Batch{Changes: want[10:]}))
		require.NoError(t, h.sink.Flush(t.Context()))
		requireSameChanges(t, want, h.read(t))
		require.NoError(t, h.sink.Close(t.Context()))
	})

	t.Run("Flush with nothing written", func(t *testing.T) {
		h := newHarness(t)
		require.NoError(t, h.sink.Flush(t.Context()))
		require.NoError(t, h.sink.Write(t.Context(), &rows.Batch{}))
		require.NoError(t, h.sink.Flush(t.Context()))
		require.Empty(t, h.read(t))
		require.NoError(t, h.sink.Close(t.Context()))
	})

	t.Run("Write copies the batch", func(t *testing.T) {
		h := newHarness(t)
		want := testChanges("copy", 5)
		b := &rows.Batch{Changes: cloneChanges(want)}
		require.NoError(t, h.sink.Write(t.Context(), b))
		// The caller reuses its batch: nothing it does now may show.
		for i := range b.Changes {
			b.Changes[i].AccountID = "overwritten"
			b.Changes[i].Score = -1
			if len(b.Changes[i].Reasons) > 0 {
				b.Changes[i].Reasons[0].Rule = "overwritten"
			}
		}
		b.Reset()
		require.NoError(t, h.sink.Flush(t.Context()))
		requireSameChanges(t, want, h.read(t))
	})

	t.Run("a replayed batch leaves one row per identity", func(t *testing.T) {
		h := newHarness(t)
		want := testChanges("replay", 12)
		require.NoError(t, h.sink.Write(t.Context(), &rows.Batch{Changes: want}))
		require.NoError(t, h.sink.Flush(t.Context()))
		// The same input processed again, after the first copy is durable
		// and within one flush.
		require.NoError(t, h.sink.Write(t.Context(), &rows.Batch{Changes: want}))
		require.NoError(t, h.sink.Flush(t.Context()))
		require.NoError(t, h.sink.Write(t.Context(), &rows.Batch{Changes: append(cloneChanges(want), want...)}))
		require.NoError(t, h.sink.Flush(t.Context()))

		got := h.read(t)
		requireSameChanges(t, want, distinctChanges(t, got))
		if h.collapsesReplays {
			require.Len(t, got, len(want))
		} else {
			require.Len(t, got, 4*len(want))
		}
	})

	t.Run("Close flushes, is idempotent and final", func(t *testing.T) {
		h := newHarness(t)
		want := testChanges("close", 7)
		require.NoError(t, h.sink.Write(t.Context(), &rows.Batch{Changes: want}))
		require.NoError(t, h.sink.Close(t.Context()))
		require.NoError(t, h.sink.Close(t.Context()))
		requireSameChanges(t, want, h.read(t))

		err := h.sink.Write(t.Context(), &rows.Batch{Changes: testChanges("late", 1)})
		require.ErrorIs(t, err, ErrClosed)
		require.ErrorIs(t, h.sink.Flush(t.Context()), ErrClosed)
		require.NoError(t, h.sink.Close(t.Context()))
	})

	t.Run("concurrent Write and Flush", func(t *testing.T) {
		h := newHarness(t)
		const writers, writes, perWrite = 8, 20, 5
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			want []rows.ScoreChange
		)
		ctx, cancel := context.WithCancel(t.Context())
		flushed := make(chan error, 1)
		go func() { // a committer flushing while the workers write
			var err error
			for ctx.Err() == nil && err == nil {
				err = h.sink.Flush(ctx)
			}
			if ctx.Err() != nil {
				err = nil
			}
			flushed <- err
		}()
		for w := range writers {
			wg.Go(func() {
				b := &rows.Batch{} // reused, as a worker does
				for i := range writes {
					b.Reset()
					b.Changes = append(b.Changes, testChanges(fmt.Sprintf("w%d-%d", w, i), perWrite)...)
					mu.Lock()
					want = append(want, cloneChanges(b.Changes)...)
					mu.Unlock()
					if err := h.sink.Write(t.Context(), b); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		cancel()
		require.NoError(t, <-flushed)
		require.NoError(t, h.sink.Flush(t.Context()))
		require.Len(t, want, writers*writes*perWrite)
		requireSameChanges(t, want, h.read(t))
		require.NoError(t, h.sink.Close(t.Context()))
	})
}

// testChanges returns n score changes of account prefix-<i>, each field
// distinct from the others so a swapped column shows. Times are whole UTC
// seconds (what ClickHouse keeps) and reasons vary from none to three.
func testChanges(prefix string, n int) []rows.ScoreChange {
	base := time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)
	out := make([]rows.ScoreChange, n)
	for i := range out {
		reasons := make([]rows.Reason, i%4)
		for j := range reasons {
			reasons[j] = rows.Reason{
				Rule:     fmt.Sprintf("rule %d;'\"%d", i, j),
				Category: []string{"strong", "medium", "weak", "negative"}[j],
				Points:   float64(10*j) + 0.25,
			}
		}
		out[i] = rows.ScoreChange{
			AccountID:     fmt.Sprintf("%s-%03d.example.com", prefix, i),
			ContactID:     []string{"", fmt.Sprintf("user-%d@%s.example.com", i, prefix)}[i%2],
			Score:         50 + float64(i)/8,
			Fit:           60 + float64(i)/16,
			Engagement:    40 + float64(i)/32,
			Grade:         []string{"A", "B", "C", "D"}[i%4],
			Level:         uint8(1 + i%4),
			Label:         fmt.Sprintf("%s%d", []string{"A", "B", "C", "D"}[i%4], 1+i%4),
			Stage:         []string{"lead", "mql", "opportunity"}[i%3],
			PreviousLabel: "D4",
			PreviousStage: "visitor",
			PreviousScore: float64(i) / 4,
			Reasons:       reasons,
			RulesVersion:  "example-1",
			AsOf:          base.Add(time.Duration(i) * 37 * time.Hour), // spans months: several partitions
			Source:        rows.Source{Topic: "leadscore.events", Partition: int32(i % 3), Offset: 1000 + int64(i)},
		}
	}
	return out
}

func cloneChanges(cs []rows.ScoreChange) []rows.ScoreChange {
	out := slices.Clone(cs)
	for i := range out {
		out[i].Reasons = slices.Clone(out[i].Reasons)
	}
	return out
}

func changeIdentity(c rows.ScoreChange) string {
	return fmt.Sprintf("%s\x00%s\x00%s\x00%d\x00%d", c.AccountID, c.ContactID, c.Source.Topic, c.Source.Partition, c.Source.Offset)
}

// normalizeChanges makes changes comparable: sorted by identity, times in
// UTC, no reasons as nil.
func normalizeChanges(cs []rows.ScoreChange) []rows.ScoreChange {
	out := cloneChanges(cs)
	for i := range out {
		out[i].AsOf = out[i].AsOf.UTC()
		if len(out[i].Reasons) == 0 {
			out[i].Reasons = nil
		}
	}
	slices.SortFunc(out, func(a, b rows.ScoreChange) int { return cmp.Compare(changeIdentity(a), changeIdentity(b)) })
	return out
}

func requireSameChanges(t *testing.T, want, got []rows.ScoreChange) {
	t.Helper()
	require.Equal(t, normalizeChanges(want), normalizeChanges(got))
}

// distinctChanges keeps one row per identity, failing when two rows of one
// identity differ: a replay must reproduce its row exactly.
func distinctChanges(t *testing.T, cs []rows.ScoreChange) []rows.ScoreChange {
	t.Helper()
	seen := make(map[string]rows.ScoreChange)
	var out []rows.ScoreChange
	for _, c := range normalizeChanges(cs) {
		id := changeIdentity(c)
		if prev, ok := seen[id]; ok {
			require.Equal(t, prev, c, "two rows of identity %q differ", id)
			continue
		}
		seen[id] = c
		out = append(out, c)
	}
	return out
}
