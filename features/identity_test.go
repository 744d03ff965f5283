package features

import (
	"strconv"
	"strings"
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
}

func TestDedupRestore(t *testing.T) {
	const size = DedupChunk*2 + 10
	d := NewDedup(size)
	ids := func(i int) string { return "m-" + strconv.Itoa(i) }
	for i := range size + 100 { // wraps
		d.Seen(ids(i))
	}
	r := NewDedup(size)
	d.Changes(func(c int, h []uint64) { r.RestoreChunk(c, h) })
	r.SetCursor(d.Cursor())
	for i := 100; i < size+100; i++ {
		require.True(t, r.Seen(ids(i)), "id %d is in the window", i)
	}
	require.False(t, r.Seen(ids(99)), "id 99 fell out before the save")

	// Only chunks written since the last save are saved again.
	d.Seen("new")
	var chunks []int
	d.Changes(func(c int, _ []uint64) { chunks = append(chunks, c) })
	require.Equal(t, []int{100 / DedupChunk}, chunks)
}

func TestIdentityChanges(t *testing.T) {
	id := NewIdentity(nil, 4, nil)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	id.Park(&event.Event{Type: event.TypePage, AnonymousID: "v", Time: t0})
	persons, visitors := map[string]string{}, map[string][]Pending{}
	collect := func() {
		id.Changes(func(k, a string) { persons[k] = a }, func(k string, p []Pending) { visitors[k] = p })
	}
	collect()
	require.Len(t, visitors["a:v"], 1)
	ev := &event.Event{Type: event.TypeIdentify, AnonymousID: "v", UserID: "u", Traits: event.Traits{Email: "x@acme.com"}}
	a, m := id.Resolve(ev)
	require.Len(t, id.Link(ev, a, m), 1)
	collect()
	require.Equal(t, map[string]string{"a:v": "acme.com", "u:u": "acme.com"}, persons)
	require.Contains(t, visitors, "a:v")
	require.Nil(t, visitors["a:v"], "handed over: removed")

	r := NewIdentity(nil, 4, nil)
	for k, a := range persons {
		r.RestorePerson(k, a)
	}
	got, _ := r.Resolve(&event.Event{Type: event.TypePage, UserID: "u"})
	require.Equal(t, "acme.com", got)
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

type mapLinks map[string]string

func (m mapLinks) Lookup(key []byte) (string, bool)     { a, ok := m[string(key)]; return a, ok }
func (m mapLinks) TakePending([]byte) ([]Pending, bool) { return nil, false }

type mapPending map[string][]Pending

func (m mapPending) Lookup([]byte) (string, bool) { return "", false }
func (m mapPending) TakePending(key []byte) ([]Pending, bool) {
	p, ok := m[string(key)]
	delete(m, string(key))
	return p, ok
}

// TestEvictPendingAndTakeBack: a visitor's pending events that left memory
// come back whole when the visitor parks another event or is linked, and
// are released once.
func TestEvictPendingAndTakeBack(t *testing.T) {
	id := NewIdentity(nil, 8, nil)
	store := mapPending{}
	id.SetSpill(store)
	at := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	for i := range 6 {
		id.Park(&event.Event{Type: event.TypePage, AnonymousID: "v" + strconv.Itoa(i%3), Time: at.Add(time.Duration(i) * time.Minute)})
	}
	id.Changes(func(string, string) {}, func(string, []Pending) {})
	n, err := id.EvictPending(1, func(k string, p []Pending) error { store[k] = p; return nil })
	require.NoError(t, err)
	require.Equal(t, 2, n)
	require.Equal(t, 1, id.Visitors())
	for k := range store {
		v := k[2:]
		id.Park(&event.Event{Type: event.TypePage, AnonymousID: v, Time: at.Add(time.Hour)})
		require.NotContains(t, store, k, "taken back on park")
		out := id.Link(&event.Event{Type: event.TypeTrack, AnonymousID: v}, "acme.com", MethodGroup)
		require.Len(t, out, 3, "two parked before the eviction, one after")
		require.Empty(t, id.Link(&event.Event{Type: event.TypeTrack, AnonymousID: v}, "acme.com", MethodGroup), "released once")
	}
}

// TestEvictPersonsAndLookup: clean links beyond the limit leave memory, dirty
// ones stay, and an evicted link still resolves (from the store) and is
// not rewritten by Link.
func TestEvictPersonsAndLookup(t *testing.T) {
	id := NewIdentity(nil, 8, nil)
	store := mapLinks{}
	id.SetSpill(store)
	for i := range 10 {
		id.Link(&event.Event{Type: event.TypeTrack, AnonymousID: "v" + strconv.Itoa(i)}, "acme.com", MethodGroup)
	}
	id.Changes(func(string, string) {}, func(string, []Pending) {})
	id.Link(&event.Event{Type: event.TypeTrack, AnonymousID: "dirty"}, "dirty.com", MethodGroup)
	n, err := id.EvictPersons(5, func(k, a string) error { store[k] = a; return nil })
	require.NoError(t, err)
	require.Equal(t, 6, n, "11 resident, limit 5 (90 %% of it rounds to 5)")
	require.Equal(t, 5, id.Persons())
	require.NotContains(t, store, "a:dirty", "a link not yet saved stays")
	for k := range store {
		acct, m := id.Resolve(&event.Event{Type: event.TypePage, AnonymousID: k[2:]})
		require.Equal(t, "acme.com", acct)
		require.Equal(t, MethodPerson, m)
	}
	var rewritten []string
	id.Link(&event.Event{Type: event.TypeTrack, AnonymousID: "v0"}, "acme.com", MethodGroup)
	id.Changes(func(k, _ string) { rewritten = append(rewritten, k) }, func(string, []Pending) {})
	require.Equal(t, []string{"a:dirty"}, rewritten, "an unchanged link from the store is not saved again")
}

// TestCheckNamed: the account id an event names itself is refused when it
// is blank, punctuation, a bare scheme or www., zero, has a control
// character or is longer than the limit, in each of the three fields that
// name it; real ids pass, normalised as before. Resolve never takes a
// refused one.
func TestCheckNamed(t *testing.T) {
	const limit = 64
	fields := map[string]func(v string) event.Event{
		"groupId": func(v string) event.Event {
			return event.Event{Type: event.TypeGroup, GroupID: v}
		},
		"context.groupId": func(v string) event.Event {
			return event.Event{Type: event.TypePage, AnonymousID: "a", Context: event.Context{GroupID: v}}
		},
		"properties.domain": func(v string) event.Event {
			return event.Event{Type: event.TypeTrack, Event: "Intent Signal", Properties: event.Properties{Domain: v}}
		},
	}
	bad := map[string]string{ // id -> what the problem says
		" ":                                 "empty",
		"\t \n":                             "empty",
		".":                                 "no letter",
		"/":                                 "no letter",
		"-":                                 "no letter",
		"0":                                 "no letter",
		"000":                               "no letter",
		"0.0":                               "no letter",
		"https://":                          "no letter",
		"HTTPS://":                          "no letter",
		"http://www.":                       "no letter",
		"www.":                              "no letter",
		"WWW.":                              "no letter",
		"https://0/":                        "no letter",
		"ac\x00me":                          "control character",
		"acme\u0085corp":                    "control character",
		strings.Repeat("a", limit+1):        "65 bytes, limit 64",
		strings.Repeat("x", limit-2) + ".ž": "65 bytes, limit 64",
	}
	good := map[string]string{ // id -> the account
		"ACME.com":                 "acme.com",
		"https://www.acme.com/":    "acme.com",
		"acct-42":                  "acct-42",
		"42":                       "42",
		"Acme Corp":                "Acme Corp",
		"www.x":                    "www.x",
		"bücher.de":                "bücher.de",
		"北京公司":                     "北京公司",
		strings.Repeat("a", limit): strings.Repeat("a", limit),
		"https://www." + strings.Repeat("b", limit-4) + ".io/x": strings.Repeat("b", limit-4) + ".io",
	}
	id := NewIdentity(nil, 4, nil)
	id.SetMaxAccountIDBytes(limit)
	for field, mk := range fields {
		for v, problem := range bad {
			ev := mk(v)
			err := CheckNamed(&ev, limit)
			var ae *AccountError
			require.ErrorAs(t, err, &ae, "%s %q", field, v)
			require.Equal(t, field, ae.Field)
			require.Contains(t, ae.Problem, problem, "%s %q", field, v)
			if len(v) > 16 { // short ones may be words of the message
				require.NotContains(t, err.Error(), v, "the detail does not quote the id")
			}
			a, m := id.Resolve(&ev)
			require.NotEqual(t, MethodGroup, m, "%s %q: Resolve must not take it (got %q)", field, v, a)
		}
		for v, want := range good {
			ev := mk(v)
			require.NoError(t, CheckNamed(&ev, limit), "%s %q", field, v)
			a, m := id.Resolve(&ev)
			require.Equal(t, MethodGroup, m, "%s %q", field, v)
			require.Equal(t, want, a, "%s %q", field, v)
		}
	}
	// Events that name no account pass.
	require.NoError(t, CheckNamed(&event.Event{Type: event.TypePage, AnonymousID: "a"}, limit))
	// properties.domain names an account only on a track.
	require.NoError(t, CheckNamed(&event.Event{Type: event.TypePage, AnonymousID: "a", Properties: event.Properties{Domain: "."}}, limit))
	// The default limit is a DNS name's.
	require.NoError(t, CheckAccount(strings.Repeat("a", 255), 0))
	require.Error(t, CheckAccount(strings.Repeat("a", 256), 0))
}

// TestCompanyDomainNotAnAccount: an identify's traits.company.domain that is
// not an account id (typed into a form: "-", "n/a" is a name, " ") leaves
// the e-mail domain to decide, as an absent one does; the identify is not
// refused for it.
func TestCompanyDomainNotAnAccount(t *testing.T) {
	id := NewIdentity(nil, 4, nil)
	for _, d := range []string{"-", " ", ".", "0", "www."} {
		ev := event.Event{Type: event.TypeIdentify, UserID: "u", Traits: event.Traits{Email: "x@acme.com", Company: event.Company{Domain: d}}}
		require.NoError(t, CheckNamed(&ev, 0), d)
		a, m := id.Resolve(&ev)
		require.Equal(t, "acme.com", a, "company domain %q", d)
		require.Equal(t, MethodPerson, m)
	}
}
