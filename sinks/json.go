package sinks

import (
	"math"
	"strconv"
	"time"

	"github.com/segmentio/encoding/json"

	"github.com/leadscore/leadscore/internal/rows"
)

// appendScoreChangeJSON appends the JSON value of a score-changes record
// (CONTRACT section 2) to b: the json field names of rows.ScoreChange in
// its field order, as encoding/json writes the struct. as_of is RFC 3339 UTC
// (sub-second digits only when present), reasons [{rule, category, points,
// count}] (an empty list, never null), source {topic, partition, offset}.
// Numbers are formatted as encoding/json does; a NaN or infinite score,
// which JSON cannot carry, is written as null. "retracted":true comes last,
// on a retraction only (omitempty): consumers that never see a retraction
// read the records they always read. A retraction's other fields may be
// zero values (a zero as_of is 0001-01-01T00:00:00Z, as encoding/json
// writes it). Hand-rolled: one pass, no reflection, no allocation beyond
// growing b.
func appendScoreChangeJSON(b []byte, c *rows.ScoreChange) []byte {
	b = append(b, `{"account_id":`...)
	b = json.AppendEscape(b, c.AccountID, 0)
	b = append(b, `,"contact_id":`...)
	b = json.AppendEscape(b, c.ContactID, 0)
	b = append(b, `,"score":`...)
	b = appendFloat(b, c.Score)
	b = append(b, `,"fit":`...)
	b = appendFloat(b, c.Fit)
	b = append(b, `,"engagement":`...)
	b = appendFloat(b, c.Engagement)
	b = append(b, `,"grade":`...)
	b = json.AppendEscape(b, c.Grade, 0)
	b = append(b, `,"level":`...)
	b = strconv.AppendUint(b, uint64(c.Level), 10)
	b = append(b, `,"label":`...)
	b = json.AppendEscape(b, c.Label, 0)
	b = append(b, `,"stage":`...)
	b = json.AppendEscape(b, c.Stage, 0)
	b = append(b, `,"previous_label":`...)
	b = json.AppendEscape(b, c.PreviousLabel, 0)
	b = append(b, `,"previous_stage":`...)
	b = json.AppendEscape(b, c.PreviousStage, 0)
	b = append(b, `,"previous_score":`...)
	b = appendFloat(b, c.PreviousScore)
	b = append(b, `,"reasons":`...)
	b = appendReasonsJSON(b, c.Reasons)
	b = append(b, `,"rules_version":`...)
	b = json.AppendEscape(b, c.RulesVersion, 0)
	b = append(b, `,"as_of":`...)
	b = appendTimeJSON(b, c.AsOf)
	b = append(b, `,"source":`...)
	b = appendSourceJSON(b, &c.Source)
	b = append(b, `,"intent":`...)
	b = appendFloat(b, c.Intent)
	b = append(b, `,"persona":`...)
	b = json.AppendEscape(b, c.Persona, 0)
	b = append(b, `,"cause":`...)
	b = json.AppendEscape(b, c.Cause, 0)
	if c.Retracted {
		b = append(b, `,"retracted":true`...)
	}
	b = append(b, '}')
	return b
}

// appendHandoffJSON appends the JSON value of a handoffs record to b: the
// json field names of rows.Handoff in its field order, with the conventions
// of appendScoreChangeJSON (at in RFC 3339 UTC; best_times and reasons an
// empty list, never null; a non-finite number as null; "retracted":true
// last, on a retraction only).
func appendHandoffJSON(b []byte, h *rows.Handoff) []byte {
	b = append(b, `{"account_id":`...)
	b = json.AppendEscape(b, h.AccountID, 0)
	b = append(b, `,"contact_id":`...)
	b = json.AppendEscape(b, h.ContactID, 0)
	b = append(b, `,"score":`...)
	b = appendFloat(b, h.Score)
	b = append(b, `,"fit":`...)
	b = appendFloat(b, h.Fit)
	b = append(b, `,"engagement":`...)
	b = appendFloat(b, h.Engagement)
	b = append(b, `,"intent":`...)
	b = appendFloat(b, h.Intent)
	b = append(b, `,"label":`...)
	b = json.AppendEscape(b, h.Label, 0)
	b = append(b, `,"stage":`...)
	b = json.AppendEscape(b, h.Stage, 0)
	b = append(b, `,"persona":`...)
	b = json.AppendEscape(b, h.Persona, 0)
	b = append(b, `,"title":`...)
	b = json.AppendEscape(b, h.Title, 0)
	b = append(b, `,"recommendation":`...)
	b = json.AppendEscape(b, h.Recommendation, 0)
	b = append(b, `,"best_times":[`...)
	for i, s := range h.BestTimes {
		if i > 0 {
			b = append(b, ',')
		}
		b = json.AppendEscape(b, s, 0)
	}
	b = append(b, `],"reasons":`...)
	b = appendReasonsJSON(b, h.Reasons)
	b = append(b, `,"rules_version":`...)
	b = json.AppendEscape(b, h.RulesVersion, 0)
	b = append(b, `,"at":`...)
	b = appendTimeJSON(b, h.At)
	b = append(b, `,"source":`...)
	b = appendSourceJSON(b, &h.Source)
	if h.Retracted {
		b = append(b, `,"retracted":true`...)
	}
	b = append(b, '}')
	return b
}

// appendReasonsJSON appends rs as [{rule, category, points, count}], an
// empty list when there are none.
func appendReasonsJSON(b []byte, rs []rows.Reason) []byte {
	b = append(b, '[')
	for i := range rs {
		r := &rs[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"rule":`...)
		b = json.AppendEscape(b, r.Rule, 0)
		b = append(b, `,"category":`...)
		b = json.AppendEscape(b, r.Category, 0)
		b = append(b, `,"points":`...)
		b = appendFloat(b, r.Points)
		b = append(b, `,"count":`...)
		b = strconv.AppendUint(b, uint64(r.Count), 10)
		b = append(b, '}')
	}
	return append(b, ']')
}

// appendTimeJSON appends t as a quoted RFC 3339 time in UTC, as
// encoding/json writes a UTC time.Time.
func appendTimeJSON(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

func appendSourceJSON(b []byte, s *rows.Source) []byte {
	b = append(b, `{"topic":`...)
	b = json.AppendEscape(b, s.Topic, 0)
	b = append(b, `,"partition":`...)
	b = strconv.AppendInt(b, int64(s.Partition), 10)
	b = append(b, `,"offset":`...)
	b = strconv.AppendInt(b, s.Offset, 10)
	return append(b, '}')
}

// appendFloat formats f as encoding/json does (the ES6 number format):
// plain decimals for magnitudes in [1e-6, 1e21), exponent form otherwise.
func appendFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 -> e-9, as encoding/json writes it.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// scoreChangeJSONSize estimates the encoded size of c, to allocate once.
func scoreChangeJSONSize(c *rows.ScoreChange) int {
	return 470 + len(c.AccountID) + len(c.ContactID) + len(c.Grade) + len(c.Label) + len(c.Stage) +
		len(c.PreviousLabel) + len(c.PreviousStage) + len(c.RulesVersion) + len(c.Source.Topic) +
		len(c.Persona) + len(c.Cause) + reasonsJSONSize(c.Reasons)
}

// handoffJSONSize estimates the encoded size of h, to allocate once.
func handoffJSONSize(h *rows.Handoff) int {
	n := 420 + len(h.AccountID) + len(h.ContactID) + len(h.Label) + len(h.Stage) + len(h.Persona) +
		len(h.Title) + len(h.Recommendation) + len(h.RulesVersion) + len(h.Source.Topic) +
		reasonsJSONSize(h.Reasons)
	for _, s := range h.BestTimes {
		n += 3 + len(s)
	}
	return n
}

func reasonsJSONSize(rs []rows.Reason) int {
	n := 0
	for i := range rs {
		n += 80 + len(rs[i].Rule) + len(rs[i].Category)
	}
	return n
}
