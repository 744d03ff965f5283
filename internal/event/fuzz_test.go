package event

import (
	"bytes"
	stdjson "encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// FuzzDecode checks Decode against properties that hold for any input, and
// against encoding/json as an independent oracle for JSON syntax. The seeds
// below and in testdata/fuzz/FuzzDecode run in every plain `go test`.
func FuzzDecode(f *testing.F) {
	f.Add(benchPage)
	f.Add([]byte(`{"type":"track","event":"Intent Signal",` + ts + `,"context":{"groupId":"acme.com"},"properties":{"topic":"abm","score":"71","source":"g2"}}`))
	f.Add([]byte(`{"type":"identify","userId":42,` + ts + `,"traits":{"email":"a@b.io","company":{"name":"B","employees":"250"}}}`))
	f.Add([]byte(`{"type":"group","groupId":"acme.com",` + ts + `,"traits":{"employees":12,"technologies":["segment"]}}`))
	f.Add([]byte(`{"type":"alias","previousId":"a","userId":"u","originalTimestamp":"2026-01-05T11:00:00Z","sentAt":"2026-01-05T11:00:30Z","receivedAt":"2026-01-05T10:00:31Z"}`))
	f.Add([]byte(`{"type":"page","anonymousId":"a\u00e9\ud83d",` + ts + `,"x":[[[{"y":"\\\""}]]]}`))
	f.Add([]byte(`{"type":"page","anonymousId":"a","timestamp":12345}`))
	f.Add([]byte(`{"type":"page","anonymousId":"a",` + ts + `,` + "\"x\":\"\xff\"}"))
	f.Add([]byte(`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`))
	f.Add([]byte(`{"type":"page","anonymousId":"a","timest`))
	f.Add([]byte(`null`))

	lims := []Limits{DefaultLimits(), {MaxBytes: 512, MaxDepth: 3, MaxString: 12}}
	known := Reasons()
	f.Fuzz(func(t *testing.T, data []byte) {
		orig := bytes.Clone(data)
		for _, lim := range lims {
			var ev Event
			err := Decode(data, &ev, lim)
			if !bytes.Equal(data, orig) {
				t.Fatal("Decode modified its input")
			}

			// Deterministic, and nothing carries over through the pooled wire
			// or a dirty Event; the second decode, carved from the same
			// slab, leaves the first event's strings as they were.
			snap := cloneStrings(ev)
			dirty := Event{Type: TypeAlias, UserID: "stale", Traits: Traits{Technologies: []string{"x"}}}
			err2 := Decode(data, &dirty, lim)
			if err == nil && !equalEvents(&ev, &snap) {
				t.Fatalf("the second decode changed the first event:\n%+v\n%+v", ev, snap)
			}
			if (err == nil) != (err2 == nil) || (err != nil && err.Error() != err2.Error()) {
				t.Fatalf("second decode: %v, first: %v", err2, err)
			}
			if err == nil && !equalEvents(&ev, &dirty) {
				t.Fatalf("second decode differs:\n%+v\n%+v", dirty, ev)
			}

			if err != nil {
				de, ok := errors.AsType[*DecodeError](err)
				if !ok {
					t.Fatalf("error %T is not a *DecodeError: %v", err, err)
				}
				if !slices.Contains(known, de.Reason) {
					t.Fatalf("unknown reason %q", de.Reason)
				}
				if ev.Type != TypeUnknown || !ev.Time.IsZero() {
					t.Fatalf("event not reset after error: %+v", ev)
				}
				checkSyntaxOracle(t, data, lim, de.Reason)
				continue
			}

			if ev.Type < TypePage || ev.Type > TypeAlias {
				t.Fatalf("decoded without a valid type: %+v", ev)
			}
			if ev.Time.IsZero() || ev.Time.Location().String() != "UTC" || ev.Time.Before(minTime) || ev.Time.After(maxTime) {
				t.Fatalf("decoded with a bad time: %v", ev.Time)
			}
			checkSyntaxOracle(t, data, lim, "")
			checkTypeOracle(t, data, &ev)
		}
	})
}

// cloneStrings returns ev with every string copied out of its block.
func cloneStrings(ev Event) Event {
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.String:
			v.SetString(strings.Clone(v.String()))
		case reflect.Struct:
			for i := range v.NumField() {
				if v.Type().Field(i).IsExported() {
					walk(v.Field(i))
				}
			}
		case reflect.Slice:
			if v.Type().Elem().Kind() == reflect.String && !v.IsNil() {
				c := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
				reflect.Copy(c, v)
				v.Set(c)
				for i := range v.Len() {
					walk(v.Index(i))
				}
			}
		}
	}
	walk(reflect.ValueOf(&ev).Elem())
	return ev
}

func equalEvents(a, b *Event) bool {
	return reflect.DeepEqual(a, b)
}

// checkSyntaxOracle compares the JSON verdict with encoding/json's, for
// inputs that got as far as the syntax check.
func checkSyntaxOracle(t *testing.T, data []byte, lim Limits, r Reason) {
	t.Helper()
	switch r {
	case ReasonTooLarge, ReasonInvalidUTF8, ReasonTooDeep:
		return
	}
	valid := stdjson.Valid(data)
	if (r == ReasonInvalidJSON) == valid {
		t.Fatalf("reason %q but encoding/json.Valid = %v for %q", r, valid, data)
	}
	if valid {
		top := bytes.TrimLeft(data, " \t\r\n")
		if (r == ReasonNotObject) != (top[0] != '{') {
			t.Fatalf("reason %q for top-level %q", r, top[:1])
		}
	}
}

// checkTypeOracle compares a few decoded fields with encoding/json's reading.
func checkTypeOracle(t *testing.T, data []byte, ev *Event) {
	t.Helper()
	var m struct {
		Type      string `json:"type"`
		MessageID any    `json:"messageId"`
	}
	// encoding/json matches keys case-insensitively; skip inputs where that
	// could pick a different key than Decode's exact match.
	var keys map[string]stdjson.RawMessage
	if err := stdjson.Unmarshal(data, &keys); err != nil {
		t.Fatalf("encoding/json rejects a decoded record: %v", err)
	}
	for k := range keys {
		if (k != "type" && k != "messageId") && (bytes.EqualFold([]byte(k), []byte("type")) || bytes.EqualFold([]byte(k), []byte("messageId"))) {
			return
		}
	}
	if err := stdjson.Unmarshal(data, &m); err != nil {
		return // a field encoding/json types differently; Decode's types are checked above
	}
	if m.Type != ev.Type.String() {
		t.Fatalf("type %q, encoding/json reads %q", ev.Type, m.Type)
	}
	if s, ok := m.MessageID.(string); ok && s != ev.MessageID {
		t.Fatalf("messageId %q, encoding/json reads %q", ev.MessageID, s)
	}
}
