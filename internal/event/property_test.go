package event

import (
	"encoding/json"
	"strconv"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// propertyOracle answers Property with encoding/json, independently of the
// scanner: it decodes properties into a map and formats the value.
func propertyOracle(t *testing.T, raw []byte, name string) (string, bool) {
	t.Helper()
	var top struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if json.Unmarshal(raw, &top) != nil || top.Properties == nil {
		return "", false
	}
	v, ok := top.Properties[name]
	if !ok {
		return "", false
	}
	var s string
	if string(v) != "null" && json.Unmarshal(v, &s) == nil {
		return s, true
	}
	var x any
	require.NoError(t, json.Unmarshal(v, &x))
	switch x.(type) {
	case nil, map[string]any, []any:
		return "", false
	}
	return string(v), true
}

func TestProperty(t *testing.T) {
	records := []string{
		`{"type":"track","properties":{"plan":"enterprise","seats":250,"trial":true,"n":null,"o":{"plan":"x"},"a":[1,"plan"]}}`,
		`{"properties" : { "plan" : "Pro\u00e9 \"x\"" , "plan":"last"} , "type":"page"}`,
		`{"context":{"properties":{"plan":"nested"}},"type":"page"}`,
		`{"properties":{"pl\u0061n":"escaped key","url":"https:\/\/a.b\/c?d=1"}}`,
		`{"properties":{"emoji":"\ud83d\ude00","bad":"\ud83d"}}`,
		`{"properties":"not an object"}`,
		`{"type":"page"}`,
		`{"properties":{}}`,
		`{"properties":{"x":-1.5e3,"plan":"p"}}`,
	}
	names := []string{"plan", "seats", "trial", "n", "o", "a", "url", "emoji", "bad", "x", "missing"}
	for i, rec := range records {
		for _, name := range names {
			ev := Event{Raw: []byte(rec)}
			got, gotOK := ev.Property(name)
			want, wantOK := propertyOracle(t, []byte(rec), name)
			require.Equal(t, wantOK, gotOK, "record %d %s", i, name)
			require.Equal(t, want, got, "record %d %s", i, name)
		}
	}
	var none Event
	_, ok := none.Property("plan")
	require.False(t, ok)
}

func TestPropertyAfterDecode(t *testing.T) {
	rec := []byte(`{"type":"track","event":"Plan Chosen","userId":"u1","timestamp":"2026-01-02T03:04:05Z","properties":{"plan":"Enterprise","seats":` + strconv.Itoa(40) + `}}`)
	var ev Event
	require.NoError(t, Decode(rec, &ev, DefaultLimits()))
	v, ok := ev.Property("plan")
	require.True(t, ok)
	require.Equal(t, "Enterprise", v)
	v, ok = ev.Property("seats")
	require.True(t, ok)
	require.Equal(t, "40", v)
}

func FuzzProperty(f *testing.F) {
	f.Add([]byte(`{"properties":{"plan":"a\"b","k":[{"plan":1}],"plan":2}}`), "plan")
	f.Add([]byte(`{"properties":{"\u0070":"q"}}`), "p")
	f.Fuzz(func(t *testing.T, raw []byte, name string) {
		var probe any
		if !utf8.Valid(raw) || json.Unmarshal(raw, &probe) != nil {
			return // Property only sees records Decode accepted (encoding/json takes invalid UTF-8)
		}
		ev := Event{Raw: raw}
		got, gotOK := ev.Property(name)
		want, wantOK := propertyOracle(t, raw, name)
		if gotOK != wantOK || (gotOK && got != want) {
			t.Fatalf("Property(%q) = %q, %v; encoding/json says %q, %v", name, got, gotOK, want, wantOK)
		}
	})
}

func TestTrait(t *testing.T) {
	rec := []byte(`{"type":"identify","userId":"u1","timestamp":"2026-01-02T03:04:05Z","traits":{"email":"a@b.co","owner":"rep-7","properties":{"owner":"no"}},"properties":{"owner":"wrong"}}`)
	var ev Event
	require.NoError(t, Decode(rec, &ev, DefaultLimits()))
	v, ok := ev.Trait("owner")
	require.True(t, ok)
	require.Equal(t, "rep-7", v)
	_, ok = ev.Trait("missing")
	require.False(t, ok)
	v, _ = ev.Property("owner")
	require.Equal(t, "wrong", v)
}
