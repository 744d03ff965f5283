package pipeline

import (
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/leadscore/leadscore/features/hygiene"
	"github.com/leadscore/leadscore/internal/event"
	"github.com/leadscore/leadscore/internal/generate"
)

// hygieneWorker is an input worker with the default checker and no other
// parts: what the hygiene stage costs on its own.
func hygieneWorker(tb testing.TB) *worker {
	tb.Helper()
	c, err := hygiene.New(hygiene.DefaultConfig())
	require.NoError(tb, err)
	return &worker{topic: "in", checker: c, metrics: newMetrics(nil)}
}

// generated decodes n valid records of the demo generator.
func generated(tb testing.TB, n int) ([]event.Event, []*kgo.Record) {
	tb.Helper()
	g := generate.New(generate.Config{Seed: 3, Accounts: 500})
	var evs []event.Event
	var recs []*kgo.Record
	for len(evs) < n {
		r := g.Next()
		var ev event.Event
		if r.Malformed || event.Decode(r.Value, &ev, event.DefaultLimits()) != nil {
			continue
		}
		evs = append(evs, ev)
		recs = append(recs, &kgo.Record{Value: append([]byte(nil), r.Value...)})
	}
	return evs, recs
}

// TestHygieneStageAllocs: the common case, an event that is not an
// identify, costs the stage no allocation.
func TestHygieneStageAllocs(t *testing.T) {
	w := hygieneWorker(t)
	ev := event.Event{Type: event.TypePage, AnonymousID: "a-1", UserID: "u-1"}
	w.markRejected(&event.Event{Type: event.TypeIdentify, UserID: "u-2"}, true)
	r := &kgo.Record{}
	require.Zero(t, testing.AllocsPerRun(1000, func() { w.screen(r, &ev) }))
}

// BenchmarkHygieneStage measures the stage per event over the generator's
// event mix, and for the two kinds separately: page and track events (the
// common case) and identifies, whose traits repeat as Segment re-sends them.
func BenchmarkHygieneStage(b *testing.B) {
	evs, recs := generated(b, 20000)
	var ids, others []int
	for i := range evs {
		if evs[i].Type == event.TypeIdentify {
			ids = append(ids, i)
		} else {
			others = append(others, i)
		}
	}
	run := func(name string, idx []int) {
		b.Run(name, func(b *testing.B) {
			w := hygieneWorker(b)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				k := idx[i%len(idx)]
				w.batch.Reset()
				w.screen(recs[k], &evs[k])
				i++
			}
		})
	}
	all := make([]int, len(evs))
	for i := range all {
		all[i] = i
	}
	b.Logf("%d events: %d identifies, %d others", len(evs), len(ids), len(others))
	run("mix", all)
	run("page-track", others)
	run("identify", ids)
}
