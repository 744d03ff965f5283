package scorer

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/leadscore/leadscore/internal/event"
)

// workload is a steady stream for one account under the example rules: the
// events cycle through pages (capped rules), e-mail opens (capped), replies
// and a spam report, ten minutes apart, so the cap windows fill, slide and
// prune.
type workload struct {
	r   *Rules
	s   State
	res Result
	evs []*event.Event
	at  time.Time
	i   int
}

func newWorkload(t testing.TB) *workload {
	w := &workload{r: exampleRules(t), at: t0}
	w.s = State{Known: true, Firm: Firmographics{
		Industry: "Software", Employees: 800, HasEmployees: true, Country: "us", Technologies: []string{"Segment", "HubSpot"},
	}}
	w.evs = []*event.Event{
		page(t0, "/pricing"), page(t0, "/docs"), track(t0, "Email Opened"), page(t0, "/pricing/enterprise"),
		track(t0, "Email Replied"), identify(t0), track(t0, "Chat Started"), track(t0, "Email Marked as Spam"),
	}
	// Grow every slice to its working size.
	for range 10_000 {
		w.step()
	}
	return w
}

func (w *workload) next() *event.Event {
	w.at = w.at.Add(10 * time.Minute)
	ev := w.evs[w.i%len(w.evs)]
	w.i++
	ev.Time = w.at
	return ev
}

func (w *workload) step() {
	w.r.Observe(&w.s, w.next())
	w.r.Evaluate(&w.s, &w.res)
}

func TestObserveEvaluateAllocs(t *testing.T) {
	w := newWorkload(t)
	require.NotEmpty(t, w.s.Rules[0].Window, "the workload exercises the caps")
	require.Zero(t, testing.AllocsPerRun(1000, w.step))

	// A late event takes the same path without allocating either.
	late := page(t0, "/pricing")
	require.Zero(t, testing.AllocsPerRun(100, func() {
		late.Time = w.at.Add(-time.Hour)
		w.r.Observe(&w.s, late)
		w.r.Evaluate(&w.s, &w.res)
	}))
}

func BenchmarkObserve(b *testing.B) {
	w := newWorkload(b)
	b.ReportAllocs()
	for b.Loop() {
		w.r.Observe(&w.s, w.next())
	}
}

func BenchmarkEvaluate(b *testing.B) {
	w := newWorkload(b)
	b.ReportAllocs()
	for b.Loop() {
		w.r.Evaluate(&w.s, &w.res)
	}
}
