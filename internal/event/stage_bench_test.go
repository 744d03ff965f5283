package event_test

// The decode stage of issue 8's per-stage benchmarks: BenchmarkStageDecode
// (the engine's Decode) and BenchmarkStageDecodeBaseline (the same result
// written the obvious way), paired by name by the bench harness. One op is
// one record of the generator's mix; SetBytes is the mean record size.
//
// The package test is external (event_test) because internal/generate
// imports this package.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/leadscore/leadscore/internal/event"
	"github.com/leadscore/leadscore/internal/generate"
)

// stageSample is how many records a stage benchmark cycles through.
const stageSample = 10_000

// stageRecords returns the values of the first n valid records of the
// stream `leadscore generate` writes by default (seed 1, 2000 accounts),
// duplicates included, and their mean size. Malformed records (0.5 % of
// the stream) are left out: the baseline does not implement Limits or the
// reason codes, so on them the two would not compute the same thing.
func stageRecords(tb testing.TB, n int) ([][]byte, int64) {
	tb.Helper()
	g := generate.New(generate.Config{Seed: 1, Accounts: 2000})
	out := make([][]byte, 0, n)
	total := 0
	for len(out) < n {
		r := g.Next()
		if r.Malformed {
			continue
		}
		out = append(out, r.Value)
		total += len(r.Value)
	}
	return out, int64(total / n)
}

func BenchmarkStageDecode(b *testing.B) {
	recs, size := stageRecords(b, stageSample)
	lim := event.DefaultLimits()
	var ev event.Event
	b.ReportAllocs()
	b.SetBytes(size)
	i := 0
	for b.Loop() {
		if err := event.Decode(recs[i%len(recs)], &ev, lim); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkStageDecodeBaseline decodes with encoding/json into a
// map[string]any (UseNumber), then copies the fields into an Event: the
// obvious way for Segment payloads, whose ids may be strings or numbers and
// whose counts may be numbers or numeric strings, which a plain struct with
// string and float64 fields rejects.
func BenchmarkStageDecodeBaseline(b *testing.B) {
	recs, size := stageRecords(b, stageSample)
	var ev event.Event
	b.ReportAllocs()
	b.SetBytes(size)
	i := 0
	for b.Loop() {
		if err := naiveDecode(recs[i%len(recs)], &ev); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// TestStageDecodeBaselineAgrees is the oracle check that the baseline is
// honest: on every record of the sample both decoders produce the same
// Event.
func TestStageDecodeBaselineAgrees(t *testing.T) {
	recs, _ := stageRecords(t, 3000)
	lim := event.DefaultLimits()
	for i, r := range recs {
		var want, got event.Event
		require.NoError(t, event.Decode(r, &want, lim), "record %d", i)
		require.NoError(t, naiveDecode(r, &got), "record %d", i)
		require.Equal(t, want, got, "record %d: %s", i, r)
	}
}

// naiveDecode is Decode's semantics for well-formed records (no Limits, no
// reason codes), written with encoding/json.
func naiveDecode(data []byte, ev *event.Event) error {
	*ev = event.Event{}
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return fmt.Errorf("decode event: %w", err)
	}
	e := event.Event{
		MessageID:   str(m, "messageId"),
		AnonymousID: id(m, "anonymousId"),
		UserID:      id(m, "userId"),
		PreviousID:  id(m, "previousId"),
		GroupID:     id(m, "groupId"),
		Event:       str(m, "event"),
	}
	switch str(m, "type") {
	case "page":
		e.Type = event.TypePage
	case "track":
		e.Type = event.TypeTrack
	case "identify":
		e.Type = event.TypeIdentify
	case "group":
		e.Type = event.TypeGroup
	case "alias":
		e.Type = event.TypeAlias
	default:
		return errors.New("decode event: missing or unknown type")
	}
	t, err := naiveTime(m)
	if err != nil {
		return err
	}
	e.Time = t

	c := obj(m, "context")
	page, camp := obj(c, "page"), obj(c, "campaign")
	e.Context = event.Context{
		IP: str(c, "ip"), GroupID: id(c, "groupId"), Timezone: str(c, "timezone"),
		Page: event.Page{URL: str(page, "url"), Path: str(page, "path"), Referrer: str(page, "referrer"), Title: str(page, "title")},
		Campaign: event.Campaign{Source: str(camp, "source"), Medium: str(camp, "medium"), Name: str(camp, "name"),
			Term: str(camp, "term"), Content: str(camp, "content")},
	}
	p := obj(m, "properties")
	score, hasScore := num(p, "score")
	amount, _ := num(p, "amount")
	e.Properties = event.Properties{
		URL: str(p, "url"), Path: str(p, "path"), Title: str(p, "title"), Referrer: str(p, "referrer"),
		Topic: str(p, "topic"), Score: score, HasScore: hasScore, Source: str(p, "source"),
		Competitor: str(p, "competitor"), Domain: str(p, "domain"), Amount: amount, Currency: str(p, "currency"),
	}
	tr := obj(m, "traits")
	co := obj(tr, "company")
	coEmployees, _ := num(co, "employees")
	employees, hasEmployees := num(tr, "employees")
	e.Traits = event.Traits{
		Email: str(tr, "email"), Phone: str(tr, "phone"), Name: str(tr, "name"), Title: str(tr, "title"), Wechat: str(tr, "wechat"),
		Company: event.Company{Name: str(co, "name"), Domain: str(co, "domain"), Industry: str(co, "industry"),
			Employees: count(coEmployees), Country: str(co, "country")},
		Domain: str(tr, "domain"), Website: str(tr, "website"), Industry: str(tr, "industry"),
		Employees: count(employees), HasEmployees: hasEmployees, Country: str(tr, "country"),
	}
	if techs, ok := tr["technologies"].([]any); ok && len(techs) > 0 {
		for _, x := range techs {
			s, _ := x.(string)
			e.Traits.Technologies = append(e.Traits.Technologies, s)
		}
	}

	person := e.AnonymousID != "" || e.UserID != ""
	switch {
	case (e.Type == event.TypePage || e.Type == event.TypeIdentify) && !person,
		e.Type == event.TypeTrack && !person && e.Context.GroupID == "" && e.Properties.Domain == "":
		return errors.New("decode event: missing identity")
	case e.Type == event.TypeTrack && e.Event == "":
		return errors.New("decode event: missing event")
	case e.Type == event.TypeGroup && e.GroupID == "":
		return errors.New("decode event: missing group id")
	case e.Type == event.TypeAlias && (e.PreviousID == "" || e.UserID == ""):
		return errors.New("decode event: missing previous id")
	}
	e.Raw = data
	*ev = e
	return nil
}

// naiveTime is Segment's rule: timestamp, else originalTimestamp shifted by
// receivedAt - sentAt.
func naiveTime(m map[string]any) (time.Time, error) {
	parse := func(k string) (time.Time, error) {
		t, err := time.Parse(time.RFC3339Nano, str(m, k))
		if err != nil {
			return time.Time{}, fmt.Errorf("decode event: %s: %w", k, err)
		}
		return t.UTC(), nil
	}
	if str(m, "timestamp") != "" {
		return parse("timestamp")
	}
	orig, err := parse("originalTimestamp")
	if err != nil || str(m, "sentAt") == "" || str(m, "receivedAt") == "" {
		return orig, err
	}
	sent, err := parse("sentAt")
	if err != nil {
		return time.Time{}, err
	}
	recv, err := parse("receivedAt")
	if err != nil {
		return time.Time{}, err
	}
	return recv.Add(-sent.Sub(orig)), nil
}

func obj(m map[string]any, k string) map[string]any {
	o, _ := m[k].(map[string]any)
	return o
}

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

// id reads an identifier Segment allows as a string or a number.
func id(m map[string]any, k string) string {
	switch v := m[k].(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	}
	return ""
}

// num reads a number sent as a JSON number or a numeric string.
func num(m map[string]any, k string) (float64, bool) {
	var s string
	switch v := m[k].(type) {
	case json.Number:
		s = v.String()
	case string:
		s = v
	default:
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}

// count truncates a float count toward zero, saturated at the int64 range.
func count(f float64) int64 {
	switch {
	case f >= math.MaxInt64:
		return math.MaxInt64
	case f <= math.MinInt64:
		return math.MinInt64
	}
	return int64(f)
}
