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
// its field order, as_of in RFC 3339 UTC (sub-second digits only when
// present), reasons as [{rule, category, points}] (an empty list, never
// null), source as {topic, partition, offset}. Numbers are formatted as
// encoding/json does; a NaN or infinite score, which JSON cannot carry, is
// written as null. Hand-rolled: one pass, no reflection, no allocation
// beyond growing b.
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
	b = append(b, `,"reasons":[`...)
	for i := range c.Reasons {
		r := &c.Reasons[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"rule":`...)
		b = json.AppendEscape(b, r.Rule, 0)
		b = append(b, `,"category":`...)
		b = json.AppendEscape(b, r.Category, 0)
		b = append(b, `,"points":`...)
		b = appendFloat(b, r.Points)
		b = append(b, '}')
	}
	b = append(b, `],"rules_version":`...)
	b = json.AppendEscape(b, c.RulesVersion, 0)
	b = append(b, `,"as_of":"`...)
	b = c.AsOf.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","source":{"topic":`...)
	b = json.AppendEscape(b, c.Source.Topic, 0)
	b = append(b, `,"partition":`...)
	b = strconv.AppendInt(b, int64(c.Source.Partition), 10)
	b = append(b, `,"offset":`...)
	b = strconv.AppendInt(b, c.Source.Offset, 10)
	b = append(b, `}}`...)
	return b
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
	n := 400 + len(c.AccountID) + len(c.ContactID) + len(c.Grade) + len(c.Label) + len(c.Stage) +
		len(c.PreviousLabel) + len(c.PreviousStage) + len(c.RulesVersion) + len(c.Source.Topic)
	for i := range c.Reasons {
		n += 60 + len(c.Reasons[i].Rule) + len(c.Reasons[i].Category)
	}
	return n
}
