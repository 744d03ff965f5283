package sinks

import (
	"bytes"
	stdjson "encoding/json"
	"math"
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

func TestScoreChangeJSONMatchesEncodingJSON(t *testing.T) {
	cases := map[string]rows.ScoreChange{
		"empty":   {},
		"example": testChanges("json", 4)[3],
		"escapes": {
			AccountID: "a\"b\\c\n\t\x01<&>", ContactID: "ünïcødé \u2028 \xff invalid",
			Reasons: []rows.Reason{{Rule: "pricing page", Category: "strong", Points: 1e-7}},
		},
		"numbers": {
			Score: 1e21, Fit: 123456789.125, Engagement: -0.000001, PreviousScore: 5e-324,
			Level: 255, Source: rows.Source{Partition: math.MinInt32, Offset: math.MaxInt64},
		},
		"time zone and nanoseconds": {
			AsOf: time.Date(2026, 5, 1, 7, 30, 15, 120000000, time.FixedZone("CST", 8*3600)),
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got := appendScoreChangeJSON(nil, &c)
			require.Equal(t, string(stdlibScoreChangeJSON(t, c)), string(got))
			require.LessOrEqual(t, len(got), scoreChangeJSONSize(&c)+len(c.AccountID)*5, "size estimate is far off")
		})
	}
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
			Reasons: []rows.Reason{{Rule: rule, Category: label, Points: points}},
			AsOf:    time.Unix(0, nanos),
			Source:  rows.Source{Topic: rule, Partition: partition, Offset: offset},
		}
		got := appendScoreChangeJSON(nil, &c)
		require.True(t, stdjson.Valid(got), "invalid JSON: %s", got)
		require.Equal(t, string(stdlibScoreChangeJSON(t, c)), string(got))
	})
}
