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
	// readHandoffs returns every handoff the backend holds durably, in any
	// order.
	readHandoffs func(t *testing.T) []rows.Handoff
	// standing returns the score changes and hand-offs that stand, the way
	// the backend's readers are told to take them (README, "Corrections and
	// retractions"): ClickHouse's rows after FINAL without the retracted
	// ones; a topic's records folded as a consumer does, each record
	// replacing the earlier one of its identity and a retraction removing
	// it.
	standing func(t *testing.T) ([]rows.ScoreChange, []rows.Handoff)
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
		want, wantHandoffs := testChanges("acct", 25), testHandoffs("acct", 9)
		require.NoError(t, h.sink.Write(t.Context(), &rows.Batch{Changes: want[:10], Handoffs: wantHandoffs[:4]}))
		require.NoError(t, h.sink.Write(t.Context(), &rows.Batch{Changes: want[10:], Handoffs: wantHandoffs[4:]}))
		require.NoError(t, h.sink.Flush(t.Context()))
		requireSameChanges(t, want, h.read(t))
		requireSameHandoffs(t, wantHandoffs, h.readHandoffs(t))
		require.NoError(t, h.sink.Close(t.Context()))
	})

	t.Run("Flush with nothing written", func(t *testing.T) {
		h := newHarness(t)
		require.NoError(t, h.sink.Flush(t.Context()))
		require.NoError(t, h.sink.Write(t.Context(), &rows.Batch{}))
		require.NoError(t, h.sink.Flush(t.Context()))
		require.Empty(t, h.read(t))
		require.Empty(t, h.readHandoffs(t))
		require.NoError(t, h.sink.Close(t.Context()))
	})

	t.Run("Write copies the batch", func(t *testing.T) {
		h := newHarness(t)
		want, wantHandoffs := testChanges("copy", 5), testHandoffs("copy", 5)
		b := &rows.Batch{Changes: cloneChanges(want), Handoffs: cloneHandoffs(wantHandoffs)}
		require.NoError(t, h.sink.Write(t.Context(), b))
		// The caller reuses its batch: nothing it does now may show.
		for i := range b.Changes {
			b.Changes[i].AccountID = "overwritten"
			b.Changes[i].Score = -1
			b.Changes[i].Persona = "overwritten"
			if len(b.Changes[i].Reasons) > 0 {
				b.Changes[i].Reasons[0].Rule = "overwritten"
				b.Changes[i].Reasons[0].Count = 999
			}
		}
		for i := range b.Handoffs {
			b.Handoffs[i].AccountID = "overwritten"
			b.Handoffs[i].Recommendation = "overwritten"
			if len(b.Handoffs[i].BestTimes) > 0 {
				b.Handoffs[i].BestTimes[0] = "overwritten"
			}
			if len(b.Handoffs[i].Reasons) > 0 {
				b.Handoffs[i].Reasons[0].Count = 999
			}
		}
		b.Reset()
		require.NoError(t, h.sink.Flush(t.Context()))
		requireSameChanges(t, want, h.read(t))
		requireSameHandoffs(t, wantHandoffs, h.readHandoffs(t))
	})

	t.Run("a replayed batch leaves one row per identity", func(t *testing.T) {
		h := newHarness(t)
		want, wantHandoffs := testChanges("replay", 12), testHandoffs("replay", 6)
		b := &rows.Batch{Changes: want, Handoffs: wantHandoffs}
		require.NoError(t, h.sink.Write(t.Context(), b))
		require.NoError(t, h.sink.Flush(t.Context()))
		// The same input processed again, after the first copy is durable
		// and within one flush.
		require.NoError(t, h.sink.Write(t.Context(), b))
		require.NoError(t, h.sink.Flush(t.Context()))
		require.NoError(t, h.sink.Write(t.Context(), &rows.Batch{
			Changes:  append(cloneChanges(want), want...),
			Handoffs: append(cloneHandoffs(wantHandoffs), wantHandoffs...),
		}))
		require.NoError(t, h.sink.Flush(t.Context()))

		got, gotHandoffs := h.read(t), h.readHandoffs(t)
		requireSameChanges(t, want, distinctChanges(t, got))
		requireSameHandoffs(t, wantHandoffs, distinctHandoffs(t, gotHandoffs))
		if h.collapsesReplays {
			require.Len(t, got, len(want))
			require.Len(t, gotHandoffs, len(wantHandoffs))
		} else {
			require.Len(t, got, 4*len(want))
			require.Len(t, gotHandoffs, 4*len(wantHandoffs))
		}
	})

	t.Run("a correction replaces its row and a retraction removes it", func(t *testing.T) {
		h := newHarness(t)
		changes, handoffs := testChanges("fix", 12), testHandoffs("fix", 8)
		require.NoError(t, h.sink.Write(t.Context(), &rows.Batch{Changes: changes, Handoffs: handoffs}))
		require.NoError(t, h.sink.Flush(t.Context()))

		// An event that arrived late: some rows are written again with new
		// content, some retracted; the rest stand as they were. The
		// retractions carry the identity and the row's time (its
		// partition in ClickHouse), nothing else.
		var (
			fixes, wantChanges        []rows.ScoreChange
			fixHandoffs, wantHandoffs []rows.Handoff
			retractions               []rows.ScoreChange
		)
		for i, c := range changes {
			switch i % 3 {
			case 0:
				wantChanges = append(wantChanges, c)
			case 1:
				c.Cause, c.Score, c.Label, c.Stage = rows.CauseCorrection, c.Score-20.5, "D4", "lead"
				c.Reasons = testReasons(i + 1)
				fixes = append(fixes, c)
				wantChanges = append(wantChanges, c)
			case 2:
				r := rows.ScoreChange{AccountID: c.AccountID, ContactID: c.ContactID, AsOf: c.AsOf, Source: c.Source,
					Cause: rows.CauseRetraction, Retracted: true}
				fixes = append(fixes, r)
				retractions = append(retractions, r)
			}
		}
		for i, ho := range handoffs {
			switch i % 3 {
			case 0:
				wantHandoffs = append(wantHandoffs, ho)
			case 1:
				ho.Score, ho.Recommendation, ho.BestTimes = ho.Score+3.25, "corrected: call today", []string{"Fri 16:00"}
				fixHandoffs = append(fixHandoffs, ho)
				wantHandoffs = append(wantHandoffs, ho)
			case 2:
				fixHandoffs = append(fixHandoffs, rows.Handoff{AccountID: ho.AccountID, ContactID: ho.ContactID, At: ho.At,
					Source: ho.Source, Retracted: true})
			}
		}
		require.NoError(t, h.sink.Write(t.Context(), &rows.Batch{Changes: fixes, Handoffs: fixHandoffs}))
		require.NoError(t, h.sink.Flush(t.Context()))

		gotChanges, gotHandoffs := h.standing(t)
		requireSameChanges(t, wantChanges, gotChanges)
		requireSameHandoffs(t, wantHandoffs, gotHandoffs)

		// The retractions themselves are durable, flag included: a
		// reader that skipped nothing would see them.
		var retracted []rows.ScoreChange
		for _, c := range h.read(t) {
			if c.Retracted {
				retracted = append(retracted, c)
			}
		}
		requireSameChanges(t, retractions, retracted)
		n := 0
		for _, ho := range h.readHandoffs(t) {
			if ho.Retracted {
				n++
			}
		}
		require.Equal(t, len(handoffs)/3, n)
	})

	t.Run("Close flushes, is idempotent and final", func(t *testing.T) {
		h := newHarness(t)
		want, wantHandoffs := testChanges("close", 7), testHandoffs("close", 3)
		require.NoError(t, h.sink.Write(t.Context(), &rows.Batch{Changes: want, Handoffs: wantHandoffs}))
		require.NoError(t, h.sink.Close(t.Context()))
		require.NoError(t, h.sink.Close(t.Context()))
		requireSameChanges(t, want, h.read(t))
		requireSameHandoffs(t, wantHandoffs, h.readHandoffs(t))

		err := h.sink.Write(t.Context(), &rows.Batch{Changes: testChanges("late", 1)})
		require.ErrorIs(t, err, ErrClosed)
		err = h.sink.Write(t.Context(), &rows.Batch{Handoffs: testHandoffs("late", 1)})
		require.ErrorIs(t, err, ErrClosed)
		require.ErrorIs(t, h.sink.Flush(t.Context()), ErrClosed)
		require.NoError(t, h.sink.Close(t.Context()))
	})

	t.Run("concurrent Write and Flush", func(t *testing.T) {
		h := newHarness(t)
		const writers, writes, perWrite = 8, 20, 5
		var (
			wg           sync.WaitGroup
			mu           sync.Mutex
			want         []rows.ScoreChange
			wantHandoffs []rows.Handoff
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
					b.Handoffs = append(b.Handoffs, testHandoffs(fmt.Sprintf("w%d-%d", w, i), i%3)...)
					mu.Lock()
					want = append(want, cloneChanges(b.Changes)...)
					wantHandoffs = append(wantHandoffs, cloneHandoffs(b.Handoffs)...)
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
		requireSameHandoffs(t, wantHandoffs, h.readHandoffs(t))
		require.NoError(t, h.sink.Close(t.Context()))
	})
}

// testReasons returns row i's reasons: none to three, each field distinct,
// the fit reasons (category fit) counting no events.
func testReasons(i int) []rows.Reason {
	reasons := make([]rows.Reason, i%4)
	for j := range reasons {
		reasons[j] = rows.Reason{
			Rule:     fmt.Sprintf("rule %d;'\"%d", i, j),
			Category: []string{"strong", "fit", "weak", "negative"}[j],
			Points:   float64(10*j) + 0.25,
			Count:    uint32(1 + 7*j + i),
		}
		if reasons[j].Category == "fit" {
			reasons[j].Count = 0
		}
	}
	return reasons
}

// testChanges returns n score changes of account prefix-<i>, each field
// distinct from the others so a swapped column shows. Times are whole UTC
// seconds (what ClickHouse keeps) and reasons vary from none to three.
func testChanges(prefix string, n int) []rows.ScoreChange {
	base := time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)
	out := make([]rows.ScoreChange, n)
	for i := range out {
		reasons := testReasons(i)
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
			Intent:        30 + float64(i)/64,
			Persona:       []string{"", "economic buyer", "champion"}[i%3],
			Cause:         []string{rows.CauseEvent, rows.CauseDecay, rows.CauseRules}[i%3],
		}
	}
	return out
}

// testHandoffs returns n handoffs of account prefix-<i>, each field distinct
// from the others; best times and reasons vary from none to several.
func testHandoffs(prefix string, n int) []rows.Handoff {
	base := time.Date(2026, 2, 27, 16, 5, 9, 0, time.UTC)
	days := []string{"Mon", "Tue", "Wed", "Thu", "Fri"}
	out := make([]rows.Handoff, n)
	for i := range out {
		best := make([]string, i%3)
		for j := range best {
			best[j] = fmt.Sprintf("%s %02d:00", days[(i+j)%5], 8+j+i%4)
		}
		out[i] = rows.Handoff{
			AccountID:      fmt.Sprintf("%s-%03d.example.com", prefix, i),
			ContactID:      []string{"", fmt.Sprintf("lead-%d@%s.example.com", i, prefix)}[i%2],
			Score:          70 + float64(i)/8,
			Fit:            65 + float64(i)/16,
			Engagement:     55 + float64(i)/32,
			Intent:         45 + float64(i)/64,
			Label:          fmt.Sprintf("%s%d", []string{"A", "B"}[i%2], 1+i%2),
			Stage:          "mql",
			Persona:        []string{"champion", "", "economic buyer"}[i%3],
			Title:          fmt.Sprintf("VP \"Growth\" %d", i),
			Recommendation: fmt.Sprintf("call within %d hours", 24+i),
			BestTimes:      best,
			Reasons:        testReasons(i + 1),
			RulesVersion:   fmt.Sprintf("example-%d", 2+i%2),
			At:             base.Add(time.Duration(i) * 53 * time.Hour), // spans months: several partitions
			Source:         rows.Source{Topic: "leadscore.events", Partition: int32(i % 3), Offset: 5000 + int64(i)},
		}
	}
	return out
}

func cloneHandoffs(hs []rows.Handoff) []rows.Handoff {
	out := slices.Clone(hs)
	for i := range out {
		out[i].BestTimes = slices.Clone(out[i].BestTimes)
		out[i].Reasons = slices.Clone(out[i].Reasons)
	}
	return out
}

func handoffIdentity(h rows.Handoff) string {
	return fmt.Sprintf("%s\x00%s\x00%s\x00%d\x00%d", h.AccountID, h.ContactID, h.Source.Topic, h.Source.Partition, h.Source.Offset)
}

// normalizeHandoffs makes handoffs comparable: sorted by identity, times in
// UTC, no best times or reasons as nil.
func normalizeHandoffs(hs []rows.Handoff) []rows.Handoff {
	out := cloneHandoffs(hs)
	for i := range out {
		out[i].At = out[i].At.UTC()
		if len(out[i].BestTimes) == 0 {
			out[i].BestTimes = nil
		}
		if len(out[i].Reasons) == 0 {
			out[i].Reasons = nil
		}
	}
	slices.SortFunc(out, func(a, b rows.Handoff) int { return cmp.Compare(handoffIdentity(a), handoffIdentity(b)) })
	return out
}

func requireSameHandoffs(t *testing.T, want, got []rows.Handoff) {
	t.Helper()
	require.Equal(t, normalizeHandoffs(want), normalizeHandoffs(got))
}

// distinctHandoffs keeps one row per identity, failing when two rows of one
// identity differ.
func distinctHandoffs(t *testing.T, hs []rows.Handoff) []rows.Handoff {
	t.Helper()
	return distinct(t, normalizeHandoffs(hs), handoffIdentity)
}

// fold takes records of one kind as a consumer of the topic does: in the
// order read (one identity's records share a key, hence a partition, and
// come in the order produced), a record replaces the earlier one of its
// identity, and a retraction removes it.
func fold[T any](recs []T, identity func(T) string, retracted func(T) bool) []T {
	last := map[string]int{}
	var order []string
	for i, r := range recs {
		id := identity(r)
		if _, ok := last[id]; !ok {
			order = append(order, id)
		}
		last[id] = i
	}
	var out []T
	for _, id := range order {
		if r := recs[last[id]]; !retracted(r) {
			out = append(out, r)
		}
	}
	return out
}

// distinct keeps the first row of each identity of rs, failing when two
// rows of one identity differ: a replay must reproduce its row exactly.
func distinct[T any](t *testing.T, rs []T, identity func(T) string) []T {
	t.Helper()
	seen := make(map[string]T)
	var out []T
	for _, r := range rs {
		id := identity(r)
		if prev, ok := seen[id]; ok {
			require.Equal(t, prev, r, "two rows of identity %q differ", id)
			continue
		}
		seen[id] = r
		out = append(out, r)
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
	return distinct(t, normalizeChanges(cs), changeIdentity)
}
