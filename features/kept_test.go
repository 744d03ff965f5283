package features

import (
	"reflect"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/leadscore/leadscore/internal/event"
)

// What Identity and Location keep beyond an event must not point into the
// event: its strings are carved from a slab of the decoder that other
// events share (event.Decode), so a kept string that is not a copy pins
// the whole slab for as long as it is kept. These tests decode real
// records and check the addresses of what is kept against the event's
// block (from the lowest to the end of the highest of its strings, all in
// one slab) and the record (Raw).

// block is an address range kept strings must lie outside of.
type block struct{ lo, hi uintptr }

// eventBlocks returns the range of ev's strings and the range of its record.
func eventBlocks(ev *event.Event) []block {
	b := block{lo: ^uintptr(0)}
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.String:
			if s := v.String(); s != "" {
				p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
				b.lo, b.hi = min(b.lo, p), max(b.hi, p+uintptr(len(s)))
			}
		case reflect.Struct:
			for i := range v.NumField() {
				if v.Type().Field(i).IsExported() {
					walk(v.Field(i))
				}
			}
		case reflect.Slice:
			if v.Type().Elem().Kind() == reflect.String {
				for i := range v.Len() {
					walk(v.Index(i))
				}
			}
		}
	}
	walk(reflect.ValueOf(ev).Elem())
	raw := uintptr(unsafe.Pointer(unsafe.SliceData(ev.Raw)))
	return []block{b, {raw, raw + uintptr(len(ev.Raw))}}
}

// requireOutside fails when s (a string or []byte) points into a block.
func requireOutside(t *testing.T, blocks []block, what string, s any) {
	t.Helper()
	var p uintptr
	switch s := s.(type) {
	case string:
		if s == "" {
			return
		}
		p = uintptr(unsafe.Pointer(unsafe.StringData(s)))
	case []byte:
		if len(s) == 0 {
			return
		}
		p = uintptr(unsafe.Pointer(unsafe.SliceData(s)))
	}
	for _, b := range blocks {
		require.False(t, p >= b.lo && p < b.hi, "%s points into the event", what)
	}
}

func decode(t *testing.T, rec string) *event.Event {
	t.Helper()
	ev := new(event.Event)
	require.NoError(t, event.Decode([]byte(rec), ev, event.DefaultLimits()))
	return ev
}

func TestParkKeepsCopies(t *testing.T) {
	id := NewIdentity(nil, 4, nil)
	ev := decode(t, `{"type":"track","anonymousId":"anon-1","event":"Demo Requested","timestamp":"2026-03-02T09:00:00Z",`+
		`"context":{"timezone":"Europe/Berlin","page":{"path":"/demo","referrer":"https://www.google.com/"},`+
		`"campaign":{"source":"google","medium":"cpc","name":"spring","term":"crm","content":"ad1"}},`+
		`"properties":{"plan":"pro","seats":12}}`)
	blocks := eventBlocks(ev)
	a, m := id.Resolve(ev)
	require.Equal(t, MethodNone, m)
	require.Empty(t, a)
	id.Park(ev)

	var got []Pending
	var keys []string
	id.Changes(func(string, string) {}, func(k string, p []Pending) { keys, got = append(keys, k), p })
	require.Equal(t, []string{"a:anon-1"}, keys)
	require.Len(t, got, 1)
	p := got[0]
	require.Equal(t, Pending{
		Type: event.TypeTrack, Event: "Demo Requested", Path: "/demo", Time: ev.Time,
		UTM:      event.Campaign{Source: "google", Medium: "cpc", Name: "spring", Term: "crm", Content: "ad1"},
		Props:    []byte(`{"plan":"pro","seats":12}`),
		Timezone: "Europe/Berlin", Referrer: "https://www.google.com/",
	}, p)
	requireOutside(t, blocks, "visitor key", keys[0])
	for what, s := range map[string]any{
		"Event": p.Event, "Path": p.Path, "UTM.Source": p.UTM.Source, "UTM.Medium": p.UTM.Medium,
		"UTM.Name": p.UTM.Name, "UTM.Term": p.UTM.Term, "UTM.Content": p.UTM.Content,
		"Timezone": p.Timezone, "Referrer": p.Referrer, "Props": []byte(p.Props),
	} {
		requireOutside(t, blocks, what, s)
	}
	require.Equal(t, cap(p.Props), len(p.Props), "an append to Props cannot reach the strings")

	// Path from the URL and the referrer from properties are copies too.
	ev = decode(t, `{"type":"page","anonymousId":"anon-1","timestamp":"2026-03-02T09:01:00Z",`+
		`"properties":{"url":"https://acme.example/pricing?x=1","referrer":"https://bing.com/"}}`)
	blocks = eventBlocks(ev)
	id.Park(ev)
	id.Changes(func(string, string) {}, func(k string, p []Pending) { got = p })
	require.Len(t, got, 2)
	require.Equal(t, "/pricing", got[1].Path)
	require.Equal(t, "https://bing.com/", got[1].Referrer)
	requireOutside(t, blocks, "Path", got[1].Path)
	requireOutside(t, blocks, "Referrer", got[1].Referrer)
	requireOutside(t, blocks, "Props", []byte(got[1].Props))
}

func TestLinkKeepsCopies(t *testing.T) {
	id := NewIdentity(nil, 4, nil)
	for _, rec := range []string{
		// account from the e-mail domain, from the company domain, from
		// context.groupId, from a group call: each already normalised, so
		// NormalizeAccount returns the event's own string.
		`{"type":"identify","userId":"u-1","anonymousId":"a-1","timestamp":"2026-03-02T09:00:00Z","traits":{"email":"li@acme.example"}}`,
		`{"type":"identify","userId":"u-2","timestamp":"2026-03-02T09:00:00Z","traits":{"company":{"domain":"beta.example"}}}`,
		`{"type":"page","anonymousId":"a-3","timestamp":"2026-03-02T09:00:00Z","context":{"groupId":"gamma.example"}}`,
		`{"type":"alias","userId":"u-4","previousId":"a-1","timestamp":"2026-03-02T09:00:00Z"}`,
	} {
		ev := decode(t, rec)
		blocks := eventBlocks(ev)
		a, m := id.Resolve(ev)
		require.NotEqual(t, MethodNone, m, rec)
		id.Link(ev, a, m)
		id.Changes(func(k, a string) {
			requireOutside(t, blocks, "person key "+k, k)
			requireOutside(t, blocks, "account of "+k, a)
		}, func(string, []Pending) {})
	}
	require.Equal(t, 6, id.Persons())
	for k, a := range map[string]string{"u:u-1": "acme.example", "a:a-1": "acme.example", "u:u-2": "beta.example",
		"a:a-3": "gamma.example", "u:u-4": "acme.example"} {
		require.Equal(t, a, id.persons[k], k)
	}
}

func TestLocationKeepsCopy(t *testing.T) {
	ev := decode(t, `{"type":"page","anonymousId":"a","timestamp":"2026-03-02T09:00:00Z","context":{"timezone":"America/Argentina/Ushuaia"}}`)
	blocks := eventBlocks(ev)
	loc := Location(ev.Context.Timezone)
	require.NotNil(t, loc)
	requireOutside(t, blocks, "the location's name", loc.String())
	locMu.Lock()
	defer locMu.Unlock()
	for k := range locations {
		requireOutside(t, blocks, "the cache key", k)
	}
}

// TestPendingRestore: a restored event reads the parked event's
// properties like the original.
func TestPendingRestore(t *testing.T) {
	ev := decode(t, `{"type":"track","anonymousId":"a","event":"Signup","timestamp":"2026-03-02T09:00:00Z",`+
		`"context":{"campaign":{"name":"spring"}},"properties":{"plan":"pro","seats":12,"path":"/x"}}`)
	id := NewIdentity(nil, 4, nil)
	id.Park(ev)
	_, _ = id.Resolve(ev)
	out := id.Link(&event.Event{Type: event.TypeIdentify, AnonymousID: "a"}, "acme.example", MethodGroup)
	require.Len(t, out, 1)
	var got event.Event
	out[0].Restore(&got)
	require.Equal(t, event.TypeTrack, got.Type)
	require.Equal(t, "Signup", got.Event)
	require.Equal(t, "/x", got.PagePath())
	require.Equal(t, "spring", got.Context.Campaign.Name)
	require.True(t, got.Time.Equal(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)))
	for name, want := range map[string]string{"plan": "pro", "seats": "12"} {
		v, ok := got.Property(name)
		require.True(t, ok, name)
		require.Equal(t, want, v, name)
	}
	require.JSONEq(t, `{"plan":"pro","seats":12,"path":"/x"}`, string(got.PropertiesJSON()))
	_, ok := got.Trait("plan")
	require.False(t, ok)

	// Without properties, nothing to read.
	var bare event.Event
	(&Pending{Type: event.TypePage}).Restore(&bare)
	_, ok = bare.Property("plan")
	require.False(t, ok)
	require.Nil(t, bare.PropertiesJSON())
}

// TestIdentityAllocs holds the steady state of Identity to its budget: a
// parked event costs the one block its strings are copied into, a
// resolved event of a known person nothing, a restored event nothing.
func TestIdentityAllocs(t *testing.T) {
	id := NewIdentity(nil, 4, nil)
	page := decode(t, `{"type":"page","anonymousId":"anon-1","timestamp":"2026-03-02T09:00:00Z",`+
		`"context":{"timezone":"Europe/Berlin","page":{"path":"/demo"}},"properties":{"plan":"pro"}}`)
	for range 8 { // the visitor's list at its bound
		id.Park(page)
	}
	require.Equal(t, 1.0, testing.AllocsPerRun(100, func() { id.Park(page) }), "park")

	known := decode(t, `{"type":"page","anonymousId":"a-2","timestamp":"2026-03-02T09:00:00Z","context":{"groupId":"acme.example"}}`)
	a, m := id.Resolve(known)
	require.Empty(t, id.Link(known, a, m))
	require.Zero(t, testing.AllocsPerRun(100, func() {
		a, m := id.Resolve(known)
		id.Link(known, a, m)
	}), "resolve and link a known person")

	out := id.Link(&event.Event{Type: event.TypeIdentify, AnonymousID: "anon-1"}, "beta.example", MethodGroup)
	require.Len(t, out, 4)
	var ev event.Event
	require.Zero(t, testing.AllocsPerRun(100, func() { out[0].Restore(&ev) }), "restore")
}
