package features

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/leadscore/leadscore/internal/event"
)

func TestNormalizeAccount(t *testing.T) {
	for in, want := range map[string]string{
		"acme.com":                   "acme.com",
		"ACME.com":                   "acme.com",
		"https://www.Acme.com/about": "acme.com",
		"acme.com:8443":              "acme.com",
		"  Acme.co.uk. ":             "acme.co.uk",
		"Acme Corp":                  "Acme Corp",
		"acct_123":                   "acct_123",
		"10.0.0.1":                   "10.0.0.1",
		"bücher.de":                  "bücher.de",
	} {
		require.Equal(t, want, NormalizeAccount(in), in)
	}
}

func TestResolveOrder(t *testing.T) {
	ts := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	id := NewIdentity(ipMap{"203.0.113.7": "ipco.com"}, 4, []string{"Corp-Mail.example"})

	f := func(ev event.Event, wantAcct string, wantM Method) {
		t.Helper()
		ev.Time = ts
		a, m := id.Resolve(&ev)
		require.Equal(t, wantAcct, a)
		require.Equal(t, wantM, m)
		id.Link(&ev, a, m)
	}
	// 1. groupId wins over everything, normalised.
	f(event.Event{Type: event.TypePage, AnonymousID: "a1", Context: event.Context{GroupID: "WWW.Acme.com", IP: "203.0.113.7"}}, "acme.com", MethodGroup)
	// the anonymous id is now linked: step 2 by person.
	f(event.Event{Type: event.TypePage, AnonymousID: "a1"}, "acme.com", MethodPerson)
	// identify: company domain, then e-mail domain, free-mail never.
	f(event.Event{Type: event.TypeIdentify, UserID: "u2", Traits: event.Traits{Email: "x@gmail.com", Company: event.Company{Domain: "Beta.io"}}}, "beta.io", MethodPerson)
	f(event.Event{Type: event.TypeIdentify, UserID: "u3", Traits: event.Traits{Email: "x@Gamma.org"}}, "gamma.org", MethodPerson)
	f(event.Event{Type: event.TypeIdentify, UserID: "u4", Traits: event.Traits{Email: "x@gmail.com"}}, "", MethodNone)
	f(event.Event{Type: event.TypeIdentify, UserID: "u5", Traits: event.Traits{Email: "x@corp-mail.example"}}, "", MethodNone)
	// 3. IP, and an IP match does not link the person.
	f(event.Event{Type: event.TypePage, AnonymousID: "a9", Context: event.Context{IP: "203.0.113.7"}}, "ipco.com", MethodIP)
	f(event.Event{Type: event.TypePage, AnonymousID: "a9"}, "", MethodNone)
	// intent with only a domain.
	f(event.Event{Type: event.TypeTrack, Event: "Intent Signal", Properties: event.Properties{Domain: "delta.com"}}, "delta.com", MethodGroup)
}

func TestPendingMovesOnLink(t *testing.T) {
	id := NewIdentity(nil, 2, nil)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	page := func(anon string, min int, path string) *event.Event {
		return &event.Event{Type: event.TypePage, AnonymousID: anon, Time: t0.Add(time.Duration(min) * time.Minute), Properties: event.Properties{Path: path}}
	}
	for i, p := range []string{"/a", "/b", "/pricing"} {
		ev := page("v1", i, p)
		_, m := id.Resolve(ev)
		require.Equal(t, MethodNone, m)
		id.Park(ev)
	}
	require.Equal(t, uint64(1), id.Dropped(), "bound of 2 drops the oldest")

	// alias links the anonymous id to a user who is then identified.
	al := &event.Event{Type: event.TypeAlias, UserID: "u1", PreviousID: "v1", Time: t0.Add(time.Hour)}
	_, m := id.Resolve(al)
	require.Equal(t, MethodNone, m)
	idf := &event.Event{Type: event.TypeIdentify, UserID: "u1", AnonymousID: "v1", Traits: event.Traits{Email: "a@acme.com"}}
	acct, m := id.Resolve(idf)
	require.Equal(t, "acme.com", acct)
	got := id.Link(idf, acct, m)
	require.Len(t, got, 2)
	require.Equal(t, "/b", got[0].Path)
	require.Equal(t, "/pricing", got[1].Path)
	require.Zero(t, id.Visitors())
	require.Nil(t, id.Link(idf, acct, m), "pending events are handed over once")
}

func TestDedupWindow(t *testing.T) {
	d := NewDedup(3)
	require.False(t, d.Seen("a"))
	require.True(t, d.Seen("a"))
	require.False(t, d.Seen("b"))
	require.False(t, d.Seen("c"))
	require.False(t, d.Seen("d")) // evicts a
	require.False(t, d.Seen("a"), "a fell out of the window")
	require.True(t, d.Seen("d"))

	r := NewDedup(3)
	r.Restore(d.Hashes())
	require.Equal(t, d.Hashes(), r.Hashes())
	require.True(t, r.Seen("a"))
	require.False(t, r.Seen("b"), "b was evicted by a")
}

func TestDedupAllocs(t *testing.T) {
	d := NewDedup(1024)
	ids := []string{"m-1", "m-2", "m-3"}
	for _, id := range ids {
		d.Seen(id)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		for _, id := range ids {
			d.Seen(id)
		}
	})
	require.Zero(t, allocs)
}

type ipMap map[string]string

func (m ipMap) MatchIP(ip string) (string, bool) { a, ok := m[ip]; return a, ok }
