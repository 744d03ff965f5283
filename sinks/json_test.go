package sinks

import (
	"bytes"
	stdjson "encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/leadscore/leadscore/internal/rows"
)

// stdlibScoreChangeJSON is the oracle: encoding/json's output for c, with
// the conventions appendScoreChangeJSON documents (UTC time, reasons never
// null, no HTML escaping).
func stdlibScoreChangeJSON(t testing.TB, c rows.ScoreChange) []byte {
	t.Helper()
	c.AsOf = c.AsOf.UTC()
	if c.Reasons == nil {
		c.Reasons = []rows.Reason{}
	}
	var buf bytes.Buffer
	enc := stdjson.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	require.NoError(t, enc.Encode(c))
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// stdlibHandoffJSON is the oracle of appendHandoffJSON: encoding/json's
// output for h, with UTC time, best_times and reasons never null, no HTML
// escaping.
func stdlibHandoffJSON(t testing.TB, h rows.Handoff) []byte {
	t.Helper()
	h.At = h.At.UTC()
	if h.Reasons == nil {
		h.Reasons = []rows.Reason{}
	}
	if h.BestTimes == nil {
		h.BestTimes = []string{}
	}
	var buf bytes.Buffer
	enc := stdjson.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	require.NoError(t, enc.Encode(h))
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func TestScoreChangeJSONMatchesEncodingJSON(t *testing.T) {
	cases := map[string]rows.ScoreChange{
		"empty":   {},
		"example": testChanges("json", 4)[3],
		"escapes": {
			AccountID: "a\"b\\c\n\t\x01<&>", ContactID: "ünïcødé \u2028 \xff invalid",
			Reasons: []rows.Reason{{Rule: "pricing page", Category: "strong", Points: 1e-7}},
			Persona: "\"exec\" <cto>", Cause: "e\u2029v\\ent",
		},
		"numbers": {
			Score: 1e21, Fit: 123456789.125, Engagement: -0.000001, PreviousScore: 5e-324, Intent: 1e-300,
			Level: 255, Source: rows.Source{Partition: math.MinInt32, Offset: math.MaxInt64},
			Reasons: []rows.Reason{{Count: math.MaxUint32}, {Points: -3.5, Count: 1}},
		},
		"time zone and nanoseconds": {
			AsOf: time.Date(2026, 5, 1, 7, 30, 15, 120000000, time.FixedZone("CST", 8*3600)),
		},
		// A retraction carries its row's identity; the rest may be zero.
		"retraction": {
			AccountID: "acme.com", ContactID: "ada@acme.com", Cause: rows.CauseRetraction, Retracted: true,
			Source: rows.Source{Topic: "leadscore.events", Partition: 2, Offset: 1841},
		},
		"retraction, all else zero": {Retracted: true},
		"correction": func() rows.ScoreChange {
			c := testChanges("json", 4)[2]
			c.Cause = rows.CauseCorrection
			return c
		}(),
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got := appendScoreChangeJSON(nil, &c)
			require.Equal(t, string(stdlibScoreChangeJSON(t, c)), string(got))
			require.LessOrEqual(t, len(got), scoreChangeJSONSize(&c)+len(c.AccountID)*5, "size estimate is far off")
		})
	}
}

func TestHandoffJSONMatchesEncodingJSON(t *testing.T) {
	cases := map[string]rows.Handoff{
		"empty":   {},
		"example": testHandoffs("json", 4)[3],
		"escapes": {
			AccountID: "a\"b\\c\n\t\x01<&>", ContactID: "ünïcødé \u2028 \xff invalid",
			Persona: "\x7f\u2029", Title: "VP \"Growth\" & <Ops>", Recommendation: "call\r\nnow",
			BestTimes: []string{"Tue 10:00", "", "\xfe"},
			Reasons:   []rows.Reason{{Rule: "pricing page", Category: "strong", Points: 1e-7, Count: 3}},
		},
		"numbers": {
			Score: 1e21, Fit: 123456789.125, Engagement: -0.000001, Intent: 5e-324,
			Source:  rows.Source{Partition: math.MinInt32, Offset: math.MaxInt64},
			Reasons: []rows.Reason{{Count: math.MaxUint32}},
		},
		"empty, not nil, lists": {BestTimes: []string{}, Reasons: []rows.Reason{}},
		"time zone and nanoseconds": {
			At: time.Date(2026, 5, 1, 7, 30, 15, 120000000, time.FixedZone("CST", 8*3600)),
		},
		"retraction": {
			AccountID: "acme.com", ContactID: "u-17", Retracted: true,
			Source: rows.Source{Topic: "leadscore.events", Partition: 1, Offset: 77},
		},
		"retraction, all else zero": {Retracted: true},
	}
	for name, h := range cases {
		t.Run(name, func(t *testing.T) {
			got := appendHandoffJSON(nil, &h)
			require.Equal(t, string(stdlibHandoffJSON(t, h)), string(got))
			require.LessOrEqual(t, len(got), handoffJSONSize(&h)+len(h.AccountID)*5, "size estimate is far off")
		})
	}
}

func TestHandoffJSONAllocs(t *testing.T) {
	h := testHandoffs("alloc", 4)[3]
	buf := make([]byte, 0, 4096)
	allocs := testing.AllocsPerRun(100, func() { buf = appendHandoffJSON(buf[:0], &h) })
	require.Zero(t, allocs)
}

func FuzzHandoffJSON(f *testing.F) {
	f.Add("acme.com", "ada@acme.com", "B1", "VP Sales", "Tue 10:00", 72.5, 20.0, uint32(3), int32(2), int64(42), int64(1_700_000_000_123_456_789))
	f.Add("a\"\\\n\x00", "\xff\xfe", "\u2028<>&", "", "", -1e-7, 1e22, uint32(0), int32(-1), int64(-1), int64(0))
	f.Fuzz(func(t *testing.T, account, contact, label, title, bestTime string, score, points float64, count uint32, partition int32, offset, nanos int64) {
		if math.IsNaN(score) || math.IsInf(score, 0) || math.IsNaN(points) || math.IsInf(points, 0) {
			t.Skip("encoding/json rejects non-finite numbers")
		}
		h := rows.Handoff{
			AccountID: account, ContactID: contact, Label: label, Title: title, Persona: bestTime,
			Score: score, Intent: points, Recommendation: title + label,
			BestTimes: []string{bestTime, label},
			Reasons:   []rows.Reason{{Rule: title, Category: label, Points: points, Count: count}},
			At:        time.Unix(0, nanos),
			Source:    rows.Source{Topic: bestTime, Partition: partition, Offset: offset},
			Retracted: count%2 == 1,
		}
		if count%3 == 0 { // no best times nor reasons: empty lists
			h.BestTimes, h.Reasons = nil, nil
		}
		got := appendHandoffJSON(nil, &h)
		require.True(t, stdjson.Valid(got), "invalid JSON: %s", got)
		require.Equal(t, string(stdlibHandoffJSON(t, h)), string(got))
	})
}

// TestRetractedJSON: a retraction says so, last, and only a retraction
// does (the omitempty of rows' json tags: records that are not retractions
// read as they always did).
func TestRetractedJSON(t *testing.T) {
	c := rows.ScoreChange{AccountID: "acme.com", Cause: rows.CauseRetraction, Retracted: true}
	got := string(appendScoreChangeJSON(nil, &c))
	require.True(t, strings.HasSuffix(got, `,"cause":"retraction","retracted":true}`), got)
	require.Contains(t, got, `"as_of":"0001-01-01T00:00:00Z"`, "a zero time is written as encoding/json writes it")
	c.Retracted, c.Cause = false, rows.CauseCorrection
	require.NotContains(t, string(appendScoreChangeJSON(nil, &c)), "retracted")

	h := rows.Handoff{AccountID: "acme.com", Retracted: true}
	got = string(appendHandoffJSON(nil, &h))
	require.True(t, strings.HasSuffix(got, `"offset":0},"retracted":true}`), got)
	h.Retracted = false
	require.NotContains(t, string(appendHandoffJSON(nil, &h)), "retracted")
}

func TestScoreChangeJSONNonFiniteIsNull(t *testing.T) {
	got := appendScoreChangeJSON(nil, &rows.ScoreChange{Score: math.NaN(), Fit: math.Inf(1)})
	var m map[string]any
	require.NoError(t, stdjson.Unmarshal(got, &m))
	require.Nil(t, m["score"])
	require.Nil(t, m["fit"])
}

func TestScoreChangeJSONAllocs(t *testing.T) {
	c := testChanges("alloc", 4)[3]
	buf := make([]byte, 0, 4096)
	allocs := testing.AllocsPerRun(100, func() { buf = appendScoreChangeJSON(buf[:0], &c) })
	require.Zero(t, allocs)
}

func FuzzScoreChangeJSON(f *testing.F) {
	f.Add("acme.com", "", "B1", "pricing page", 72.5, 20.0, uint8(1), int32(2), int64(42), int64(1_700_000_000_123_456_789))
	f.Add("a\"\\\n\x00", "\xff\xfe", "\u2028<>&", "", -1e-7, 1e22, uint8(255), int32(-1), int64(-1), int64(0))
	f.Fuzz(func(t *testing.T, account, contact, label, rule string, score, points float64, level uint8, partition int32, offset, nanos int64) {
		if math.IsNaN(score) || math.IsInf(score, 0) || math.IsNaN(points) || math.IsInf(points, 0) {
			t.Skip("encoding/json rejects non-finite numbers")
		}
		c := rows.ScoreChange{
			AccountID: account, ContactID: contact, Label: label, Score: score, Level: level,
			Reasons: []rows.Reason{{Rule: rule, Category: label, Points: points, Count: uint32(offset)}},
			AsOf:    time.Unix(0, nanos),
			Source:  rows.Source{Topic: rule, Partition: partition, Offset: offset},
			Intent:  points, Persona: contact + rule, Cause: label,
			Retracted: level%2 == 1,
		}
		got := appendScoreChangeJSON(nil, &c)
		require.True(t, stdjson.Valid(got), "invalid JSON: %s", got)
		require.Equal(t, string(stdlibScoreChangeJSON(t, c)), string(got))
	})
}
