package scorer

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/leadscore/leadscore/internal/event"
)

// cappedWorkload is one account under testdata/full.yaml receiving pages
// that match the capped rules (pricing, competitor research), the count
// rule (pricing streak) and intent signals, at irregular intervals with
// some events late, so every history fills, slides, prunes and sees events
// out of order.
type cappedWorkload struct {
	r   *Rules
	s   State
	evs []*event.Event
	rng *rand.Rand
	at  time.Time
	i   int
}

func newCappedWorkload(tb testing.TB) *cappedWorkload {
	tb.Helper()
	r, err := Load("testdata/full.yaml")
	require.NoError(tb, err)
	intent := track(t0, "Intent Signal")
	intent.Properties.Topic, intent.Properties.Score, intent.Properties.HasScore = "marketing automation", 80, true
	w := &cappedWorkload{r: r, at: t0, rng: rand.New(rand.NewPCG(1, 2))}
	w.evs = []*event.Event{
		page(t0, "/pricing"), page(t0, "/pricing/enterprise"), page(t0, "/compare/marketo-vs-us"),
		intent, page(t0, "/docs/api/x"), page(t0, "/pricing"), track(t0, "Email Replied"),
	}
	for range 10_000 {
		w.step()
	}
	return w
}

func (w *cappedWorkload) step() {
	ev := w.evs[w.i%len(w.evs)]
	w.i++
	// Mostly minutes to hours apart, a tenth of the events up to an hour
	// late.
	w.at = w.at.Add(time.Duration(w.rng.ExpFloat64() * float64(3*time.Hour)))
	ev.Time = w.at
	if w.rng.IntN(10) == 0 {
		ev.Time = w.at.Add(-time.Duration(w.rng.Int64N(int64(time.Hour))))
	}
	w.r.Observe(&w.s, ev)
}

func BenchmarkObserveCapped(b *testing.B) {
	w := newCappedWorkload(b)
	b.ReportAllocs()
	for b.Loop() {
		w.step()
	}
}

// A capped rule in steady state appends to the capacity its history
// already has: pruning shifts the entries in place.
func TestObserveCappedAllocs(t *testing.T) {
	w := newCappedWorkload(t)
	require.NotEmpty(t, w.s.Rules[0].Window, "the workload exercises the caps")
	require.NotEmpty(t, w.s.Rules[8].Times, "and the count")
	require.Zero(t, testing.AllocsPerRun(1000, w.step))
}

// BenchmarkObserveCappedNew is the cost of states that have not grown
// yet (a new account or contact): each op is a fresh State's first 40
// events of the capped workload.
func BenchmarkObserveCappedNew(b *testing.B) {
	w := newCappedWorkload(b)
	b.ReportAllocs()
	for b.Loop() {
		w.s = State{}
		for range 40 {
			w.step()
		}
	}
}
