package pipeline

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/leadscore/leadscore/features"

	"github.com/leadscore/leadscore/internal/event"
	"github.com/leadscore/leadscore/internal/rows"
	"github.com/leadscore/leadscore/scorer"
)

func scoringWorker(t *testing.T, r *scorer.Rules) *worker {
	t.Helper()
	return &worker{
		topic: "r", partition: 0, rekeyed: true, rules: r, accounts: map[string]*account{}, metrics: newMetrics(nil),
		maxContacts: 10, scoreEvents: true, latestRules: func() *scorer.Rules { return r },
		sources: map[rows.Source]sourceTime{}, inputs: 1,
	}
}

// TestHandoffOncePerEntry: entering mql hands off once; staying there does
// not; after decay takes the lead back below the exit line, entering again
// hands off again. The account and its contact each.
func TestHandoffOncePerEntry(t *testing.T) {
	r, err := scorer.Parse([]byte(string(scorer.Example())+`handoff:
  recommendations: {"A*": call within 3 days, "*": nurture}
`), "rules.yaml")
	require.NoError(t, err)
	w := scoringWorker(t, r)
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	n := int64(0)
	send := func(at time.Time, ev event.Event) *rows.Batch {
		t.Helper()
		w.batch.Reset()
		ev.Time = at
		n++
		a, err := w.account("acme.com")
		require.NoError(t, err)
		w.scoreEvent("acme.com", a, nil, &ev, rows.Source{Topic: "in", Offset: n}, nil, nil)
		return &w.batch
	}
	group := event.Event{Type: event.TypeGroup, GroupID: "acme.com", Traits: event.Traits{
		Industry: "software", Employees: 300, HasEmployees: true, Country: "US"}} // fit 80: grade A
	track := func(name string) event.Event {
		return event.Event{Type: event.TypeTrack, Event: name, UserID: "u1"}
	}
	b := send(t0, group)
	require.Empty(t, b.Handoffs)
	// 80 fit, engagement 25 + 30: score 0.4*80 + 0.6*55 = 65, a lead.
	b = send(t0.Add(time.Minute), track("Email Replied"))
	require.Empty(t, b.Handoffs)
	b = send(t0.Add(2*time.Minute), track("Event Attended"))
	require.Empty(t, b.Handoffs)
	// +15: engagement 70, score 74: the account and the contact enter mql.
	b = send(t0.Add(3*time.Minute), track("Chat Started"))
	require.Len(t, b.Handoffs, 2)
	for _, h := range b.Handoffs {
		require.Equal(t, "mql", h.Stage)
		require.Equal(t, "A2", h.Label)
		require.Equal(t, "call within 3 days", h.Recommendation)
	}
	require.ElementsMatch(t, []string{"", "u1"}, []string{b.Handoffs[0].ContactID, b.Handoffs[1].ContactID})
	// Still mql: no new hand-off.
	b = send(t0.Add(4*time.Minute), track("Email Replied"))
	require.Empty(t, b.Handoffs)

	// Two months later the lead is cold: the decay changes fire before the
	// next event (mql -> lead, cause decay), which re-engages it.
	b = send(t0.Add(60*24*time.Hour), track("Event Attended"))
	var exits int
	for _, tr := range b.Transitions {
		if tr.FromStage == "mql" && tr.ToStage == "lead" {
			exits++
			require.Equal(t, "leadscore:decay", tr.RecordSource.Topic)
		}
	}
	require.Equal(t, 2, exits, "account and contact left mql by decay")
	require.Empty(t, b.Handoffs, "30 points on a cold lead: score 50, not back in")
	// About 4.9 points were left, +30 +30: engagement 64.9, score 70.9.
	b = send(t0.Add(60*24*time.Hour+time.Minute), track("Event Attended"))
	require.Len(t, b.Handoffs, 2, "a re-entry hands off again")
}

// TestWatermarkIdleInputs: the watermark waits for every input partition,
// follows the oldest active one, and leaves idle ones out (all idle: the
// newest), less the allowed lateness.
func TestWatermarkIdleInputs(t *testing.T) {
	r, err := scorer.Parse(scorer.Example(), "rules.yaml")
	require.NoError(t, err)
	w := scoringWorker(t, r)
	w.inputs, w.lateness = 3, time.Hour
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	p := func(i int32) rows.Source { return rows.Source{Topic: "in", Partition: i} }
	require.NoError(t, w.heard(p(0), t0.Add(5*time.Hour), false))
	require.NoError(t, w.heard(p(1), t0.Add(3*time.Hour), false))
	require.True(t, w.watermark.IsZero(), "partition 2 not heard yet")
	require.NoError(t, w.heard(p(2), t0, true)) // idle, far behind
	require.Equal(t, t0.Add(2*time.Hour), w.watermark, "oldest active (3h) less 1h")
	require.NoError(t, w.heard(p(1), t0.Add(2*time.Hour), false))
	require.Equal(t, t0.Add(2*time.Hour), w.watermark, "never back")
	require.NoError(t, w.heard(p(2), t0.Add(time.Hour), false)) // speaks again, behind
	require.Equal(t, t0.Add(2*time.Hour), w.watermark, "a late-woken partition does not move it back")
	require.NoError(t, w.heard(p(1), t0.Add(9*time.Hour), false))
	require.NoError(t, w.heard(p(2), t0.Add(9*time.Hour), true))
	require.Equal(t, t0.Add(4*time.Hour), w.watermark, "partition 0 (5h) is the oldest active")
	require.NoError(t, w.heard(p(0), t0.Add(5*time.Hour), true))
	require.Equal(t, t0.Add(8*time.Hour), w.watermark, "all idle: the newest (9h) less 1h")
}

// TestForwardEncoding: the hand-written forwarded record decodes to what
// it was built from, with the event verbatim.
func TestForwardEncoding(t *testing.T) {
	raw := []byte(`{"type":"page", "anonymousId":"a\"1","timestamp":"2026-03-02T09:00:00Z","properties":{"x":[1, 2]}}`)
	r := &kgo.Record{Topic: "in\"t", Partition: 3, Offset: 42, Value: raw}
	wm := time.Date(2026, 3, 2, 9, 0, 0, 123, time.UTC)
	pending := []features.Pending{{Type: event.TypePage, Path: "/p", Time: wm}}
	meta := forwardMeta{watermark: wm, ip: &ipMatchInfo{Org: "Acme", Confidence: 0.5, Source: "csv"}, tags: []string{"email_freemail"}}
	b, err := appendForward(nil, r, pending, meta)
	require.NoError(t, err)
	var f forwarded
	require.NoError(t, decodeForward(&kgo.Record{Key: []byte("acme.com"), Value: b}, &f))
	require.Equal(t, rows.Source{Topic: "in\"t", Partition: 3, Offset: 42}, f.Source)
	require.Equal(t, string(raw), string(f.Raw))
	require.True(t, wm.Equal(f.Watermark))
	require.Equal(t, meta.ip, f.IP)
	require.Equal(t, meta.tags, f.Tags)
	require.Len(t, f.Pending, 1)
	require.Equal(t, "/p", f.Pending[0].Path)
	// Nothing optional: only the source and the event.
	b, err = appendForward(nil, r, nil, forwardMeta{})
	require.NoError(t, err)
	require.NoError(t, decodeForward(&kgo.Record{Key: []byte("acme.com"), Value: b}, &f))
	require.Nil(t, f.IP)
	require.Empty(t, f.Pending)
	require.True(t, f.Watermark.IsZero())
	require.Equal(t, string(raw), string(f.Raw))

	// A record of an earlier version (JSON) still reads.
	old, err := json.Marshal(forwarded{Source: rows.Source{Topic: "in", Partition: 1, Offset: 7}, Raw: raw, Watermark: wm, Tags: []string{"x"}})
	require.NoError(t, err)
	require.NoError(t, decodeForward(&kgo.Record{Key: []byte("acme.com"), Value: old}, &f))
	require.Equal(t, rows.Source{Topic: "in", Partition: 1, Offset: 7}, f.Source)
	require.Equal(t, []string{"x"}, f.Tags)
	require.JSONEq(t, string(raw), string(f.Raw))

	// Every truncation of the header is an error, never a panic.
	b, err = appendForward(nil, r, pending, meta)
	require.NoError(t, err)
	header := len(b) - len(raw)
	for n := range header {
		require.Error(t, decodeForward(&kgo.Record{Key: []byte("a"), Value: b[:n]}, &f), "cut at %d", n)
	}
}

// Accounts share their interned first and last touches; a state written
// when touches were values (a zero campaign meant none) reads as before.
func TestTouchesInterned(t *testing.T) {
	w := scoringWorker(t, nil)
	var old, fresh account
	require.NoError(t, json.Unmarshal([]byte(`{"first_touch":{"Source":"","Medium":"","Name":"","Term":"","Content":""},"last_touch":{"Source":"","Medium":"","Name":"","Term":"","Content":""}}`), &old))
	w.internRestored(&old)
	require.Nil(t, old.FirstTouch)
	require.Nil(t, old.LastTouch)
	require.NoError(t, json.Unmarshal([]byte(`{"first_touch":{"Source":"google","Medium":"cpc","Name":"q4","Term":"","Content":""},"last_touch":{"Source":"google","Medium":"cpc","Name":"q4","Term":"","Content":""}}`), &fresh))
	w.internRestored(&fresh)
	require.Same(t, fresh.FirstTouch, fresh.LastTouch)
	require.Equal(t, event.Campaign{Source: "google", Medium: "cpc", Name: "q4"}, *fresh.FirstTouch)
	require.Same(t, fresh.FirstTouch, w.campaign(event.Campaign{Source: "google", Medium: "cpc", Name: "q4"}))
	b, err := json.Marshal(&old)
	require.NoError(t, err)
	require.Contains(t, string(b), `"first_touch":null`)
}
