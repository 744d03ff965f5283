package features

// The identity stage of issue 8's per-stage benchmarks: what an input
// worker does per event after hygiene. Resolve, then Link a resolved event
// (handing back the visitor's parked events) or Park an anonymous page or
// track. BenchmarkStageIdentity runs Identity, BenchmarkStageIdentityBaseline
// the same written the obvious way (naiveIdentity). One op is one event of
// the generated stream; SetBytes is the mean record size. The per-account
// window update is scorer's BenchmarkStageWindow (scorer.Observe keeps the
// decayed per-rule sums and cap windows).

import (
	"encoding/json"
	"net/url"
	"sort"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/require"

	"github.com/leadscore/leadscore/internal/event"
	"github.com/leadscore/leadscore/internal/generate"
)

// stageSample is how many events a stage benchmark cycles through.
const stageSample = 10_000

// stageEvents returns the first n valid records of the stream `leadscore
// generate` writes by default (seed 1, 2000 accounts), decoded (Raw set),
// and their mean size. Duplicates stay in: de-duplication runs before
// identity, but a re-sent record costs identity the same.
func stageEvents(tb testing.TB, n int) ([]event.Event, int64) {
	tb.Helper()
	g := generate.New(generate.Config{Seed: 1, Accounts: 2000})
	out := make([]event.Event, 0, n)
	total := 0
	for len(out) < n {
		r := g.Next()
		if r.Malformed {
			continue
		}
		var ev event.Event
		require.NoError(tb, event.Decode(r.Value, &ev, event.DefaultLimits()))
		out = append(out, ev)
		total += len(r.Value)
	}
	return out, int64(total / n)
}

// stageMaxPending is engine.max_pending_per_visitor's default.
const stageMaxPending = 64

// resolveAndLink is the input worker's use of Identity for one event.
func resolveAndLink(id *Identity, ev *event.Event) (string, Method, []Pending) {
	a, m := id.Resolve(ev)
	if m == MethodNone {
		if ev.Type == event.TypePage || ev.Type == event.TypeTrack {
			id.Park(ev)
		}
		return "", m, nil
	}
	return a, m, id.Link(ev, a, m)
}

func BenchmarkStageIdentity(b *testing.B) {
	evs, size := stageEvents(b, stageSample)
	id := NewIdentity(nil, stageMaxPending, nil)
	b.ReportAllocs()
	b.SetBytes(size)
	i := 0
	for b.Loop() {
		resolveAndLink(id, &evs[i%len(evs)])
		i++
	}
}

func BenchmarkStageIdentityBaseline(b *testing.B) {
	evs, size := stageEvents(b, stageSample)
	id := newNaiveIdentity(b)
	b.ReportAllocs()
	b.SetBytes(size)
	i := 0
	for b.Loop() {
		id.resolveAndLink(&evs[i%len(evs)])
		i++
	}
}

// TestStageIdentityBaselineAgrees is the oracle check that the baseline is
// honest: fed the same events, both resolve each to the same account by
// the same method and hand back the same parked events, and both end with
// the same links and visitors.
func TestStageIdentityBaselineAgrees(t *testing.T) {
	evs, _ := stageEvents(t, 5000)
	id := NewIdentity(nil, stageMaxPending, nil)
	n := newNaiveIdentity(t)
	methods := map[Method]int{}
	released := 0
	for i := range evs {
		a, m, p := resolveAndLink(id, &evs[i])
		na, nm, np := n.resolveAndLink(&evs[i])
		require.Equal(t, a, na, "event %d: %s", i, evs[i].Raw)
		require.Equal(t, m, nm, "event %d: %s", i, evs[i].Raw)
		require.Equal(t, p, np, "event %d: %s", i, evs[i].Raw)
		methods[m]++
		released += len(p)
	}
	require.Equal(t, id.Persons(), len(n.links))
	require.Equal(t, id.Visitors(), len(n.pending))
	for k, a := range n.links {
		got, ok := id.persons[k]
		require.True(t, ok, k)
		require.Equal(t, a, got, k)
	}
	require.Positive(t, released, "the sample releases parked events")
	t.Logf("methods %v, %d parked events released, %d links, %d visitors waiting", methods, released, len(n.links), len(n.pending))
}

// naiveIdentity is Identity written the obvious way: links in a
// map[string]string keyed "u:"+userId and "a:"+anonymousId, account ids
// normalised with net/url, free-mail domains looked up lower-cased, a
// parked event's properties taken by unmarshalling the record with
// encoding/json, released events ordered with sort.SliceStable.
type naiveIdentity struct {
	links          map[string]string
	pending        map[string][]Pending
	dirtyLinks     map[string]bool
	dirtyVisitors  map[string]bool
	freemail       map[string]bool
	dropped        int
	maxPendingSize int
}

func newNaiveIdentity(tb testing.TB) *naiveIdentity {
	tb.Helper()
	n := &naiveIdentity{
		links: map[string]string{}, pending: map[string][]Pending{},
		dirtyLinks: map[string]bool{}, dirtyVisitors: map[string]bool{},
		freemail: map[string]bool{}, maxPendingSize: stageMaxPending,
	}
	for l := range strings.Lines(freemailList) {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			n.freemail[strings.ToLower(l)] = true
		}
	}
	return n
}

func (n *naiveIdentity) resolveAndLink(ev *event.Event) (string, Method, []Pending) {
	a, m := n.resolve(ev)
	if m == MethodNone {
		if ev.Type == event.TypePage || ev.Type == event.TypeTrack {
			n.park(ev)
		}
		return "", m, nil
	}
	return a, m, n.link(ev, a)
}

func (n *naiveIdentity) resolve(ev *event.Event) (string, Method) {
	switch {
	case ev.Type == event.TypeGroup && ev.GroupID != "":
		return naiveNormalize(ev.GroupID), MethodGroup
	case ev.Context.GroupID != "":
		return naiveNormalize(ev.Context.GroupID), MethodGroup
	case ev.Type == event.TypeTrack && ev.Properties.Domain != "":
		return naiveNormalize(ev.Properties.Domain), MethodGroup
	}
	if ev.Type == event.TypeIdentify {
		if d := ev.Traits.Company.Domain; d != "" {
			return naiveNormalize(d), MethodPerson
		}
		if at := strings.LastIndex(ev.Traits.Email, "@"); at >= 0 && at < len(ev.Traits.Email)-1 {
			if d := naiveNormalize(ev.Traits.Email[at+1:]); naiveIsDomain(d) && !n.freemail[strings.ToLower(d)] {
				return d, MethodPerson
			}
		}
	}
	if ev.UserID != "" {
		if a, ok := n.links["u:"+ev.UserID]; ok {
			return a, MethodPerson
		}
	}
	if ev.AnonymousID != "" {
		if a, ok := n.links["a:"+ev.AnonymousID]; ok {
			return a, MethodPerson
		}
	}
	if ev.Type == event.TypeAlias && ev.PreviousID != "" {
		for _, k := range []string{"u:" + ev.PreviousID, "a:" + ev.PreviousID} {
			if a, ok := n.links[k]; ok {
				return a, MethodPerson
			}
		}
	}
	return "", MethodNone
}

func (n *naiveIdentity) link(ev *event.Event, account string) []Pending {
	var keys []string
	if ev.UserID != "" {
		keys = append(keys, "u:"+ev.UserID)
	}
	if ev.AnonymousID != "" {
		keys = append(keys, "a:"+ev.AnonymousID)
	}
	if ev.Type == event.TypeAlias && ev.PreviousID != "" {
		keys = append(keys, "u:"+ev.PreviousID, "a:"+ev.PreviousID)
	}
	var out []Pending
	for _, k := range keys {
		if n.links[k] != account {
			n.links[k] = account
			n.dirtyLinks[k] = true
		}
		if p, ok := n.pending[k]; ok {
			out = append(out, p...)
			delete(n.pending, k)
			n.dirtyVisitors[k] = true
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

func (n *naiveIdentity) park(ev *event.Event) {
	var key string
	switch {
	case ev.AnonymousID != "":
		key = "a:" + ev.AnonymousID
	case ev.UserID != "":
		key = "u:" + ev.UserID
	default:
		return
	}
	p := Pending{
		Type: ev.Type, Event: ev.Event, Path: ev.PagePath(), Time: ev.Time, UTM: ev.Context.Campaign,
		Timezone: ev.Context.Timezone, Referrer: ev.Context.Page.Referrer,
	}
	if p.Referrer == "" {
		p.Referrer = ev.Properties.Referrer
	}
	var raw struct {
		Properties json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(ev.Raw, &raw); err == nil && len(raw.Properties) > 2 && len(raw.Properties) <= maxPendingProps &&
		raw.Properties[0] == '{' {
		p.Props = raw.Properties
	}
	list := n.pending[key]
	if len(list) >= n.maxPendingSize {
		list = list[1:]
		n.dropped++
	}
	n.pending[key] = append(list, p)
	n.dirtyVisitors[key] = true
}

// naiveNormalize is NormalizeAccount by net/url: the host of the id read
// as a URL, lower-cased, without "www." and a trailing dot, when that
// looks like a domain; else the trimmed id.
func naiveNormalize(s string) string {
	s = strings.TrimSpace(s)
	raw := strings.ToLower(s)
	if !strings.Contains(raw, "://") {
		raw = "//" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return s
	}
	d := strings.TrimSuffix(strings.TrimPrefix(u.Hostname(), "www."), ".")
	if naiveIsDomain(d) {
		return d
	}
	return s
}

// naiveIsDomain: two or more labels of letters, digits and hyphens, not
// starting or ending with a hyphen, the last not all digits.
func naiveIsDomain(d string) bool {
	if len(d) < 3 || len(d) > 253 {
		return false
	}
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || strings.HasPrefix(l, "-") || strings.HasSuffix(l, "-") {
			return false
		}
		for _, r := range l {
			if r != '-' && !unicode.IsDigit(r) && !(r >= 'a' && r <= 'z') && r <= 127 {
				return false
			}
		}
	}
	return strings.TrimLeft(labels[len(labels)-1], "0123456789") != ""
}
