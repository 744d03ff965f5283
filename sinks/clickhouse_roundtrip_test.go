package sinks

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/stretchr/testify/require"

	"github.com/leadscore/leadscore/internal/rows"
)

// TestClickHouseColumnsRoundTrip: every column of every table reads back
// exactly what an independent oracle inserts for the same rows. The sink
// writes three batches in three flushes (so a sent block is reset and
// reused, and a block is pre-sized from another); the oracle inserts the
// same rows one by one through clickhouse-go's batch API into a second
// database, with its own mapping of rows to columns. Both tables are then
// read whole (SELECT *, every column, no FINAL) and compared value by value.
func TestClickHouseColumnsRoundTrip(t *testing.T) {
	s := clickHouseServer(t)
	sinkCfg, oracleCfg := testClickHouseConfig(t, s), testClickHouseConfig(t, s)
	batches := []*rows.Batch{roundTripBatch(0, 7), roundTripBatch(1, 3), roundTripBatch(2, 11)}

	sink := newTestClickHouse(t, sinkCfg, nil)
	for _, b := range batches {
		require.NoError(t, sink.Write(t.Context(), b))
		require.NoError(t, sink.Flush(t.Context()))
	}
	oracle := query(t, oracleCfg)
	for _, b := range batches {
		oracleInsert(t, oracle, b)
	}

	got, want := query(t, sinkCfg), oracle
	var blk chBlock
	for _, tbl := range blk.tables() {
		w := readTable(t, want, tbl.table())
		require.NotEmpty(t, w, tbl.table())
		require.Equal(t, w, readTable(t, got, tbl.table()), tbl.table())
	}
}

// roundTripBatch returns n rows of every table, seeded by seq, with the
// edge cases of every column type: empty, long (a two-byte length) and
// non-ASCII strings, empty and nil arrays and long ones, times out of
// DateTime's range and with nanoseconds, extreme and special numbers.
func roundTripBatch(seq, n int) *rows.Batch {
	long := strings.Repeat("ü-long value ", 20) // > 127 bytes
	str := func(i int, what string) string {
		return []string{"", fmt.Sprintf("%s-%d-%d", what, seq, i), "héllo ✓ \x00 'quoted' \"x\"", long}[i%4]
	}
	strs := func(i int, what string) []string {
		switch i % 4 {
		case 0:
			return nil
		case 1:
			return []string{}
		case 2:
			return []string{str(i+1, what)}
		}
		out := make([]string, 40)
		for j := range out {
			out[j] = str(j, what)
		}
		return out
	}
	num := func(i int) float64 {
		return []float64{0, -1.5, math.MaxFloat64, math.SmallestNonzeroFloat64, math.Inf(1), math.Inf(-1), math.Copysign(0, -1), 1.0 / 3}[i%8]
	}
	nums := func(i int) []float64 {
		out := make([]float64, i%5)
		for j := range out {
			out[j] = num(i + j)
		}
		return out
	}
	at := func(i int) time.Time {
		return []time.Time{
			time.Date(2026, 3, 14, 9, 26, 53, 589793238, time.FixedZone("X", 5*3600+1800)),
			{}, // before 1970: clamped
			time.Date(2150, 1, 1, 0, 0, 0, 0, time.UTC), // after 2106: clamped
			time.Unix(int64(seq*1000+i)*86_399, 0),
		}[i%4]
	}
	src := func(i int) rows.Source {
		return rows.Source{Topic: str(i+1, "topic"), Partition: []int32{0, math.MaxInt32, math.MinInt32, 7}[i%4],
			Offset: []int64{int64(seq*1000 + i), math.MaxInt64, math.MinInt64, -1}[i%4]}
	}
	reasons := func(i int) []rows.Reason {
		if i%3 == 0 {
			return nil
		}
		out := make([]rows.Reason, i%7)
		for j := range out {
			out[j] = rows.Reason{Rule: str(j+1, "rule"), Category: str(j, "cat"), Points: num(j), Count: []uint32{0, 1, math.MaxUint32}[j%3]}
		}
		return out
	}
	b := &rows.Batch{}
	for i := range n {
		id := fmt.Sprintf("acct-%d-%d", seq, i)
		b.Changes = append(b.Changes, rows.ScoreChange{AccountID: id, ContactID: str(i, "contact"), Score: num(i), Fit: num(i + 1),
			Engagement: num(i + 2), Grade: str(i+1, "grade"), Level: uint8(i * 37), Label: str(i+2, "label"), Stage: str(i+3, "stage"),
			PreviousLabel: str(i, "pl"), PreviousStage: str(i+1, "ps"), PreviousScore: num(i + 3), Reasons: reasons(i),
			RulesVersion: str(i+1, "rv"), AsOf: at(i), Source: src(i), Intent: num(i + 4), Persona: str(i, "persona"), Cause: str(i+2, "cause"),
			Retracted: i%3 == 1})
		b.Scores = append(b.Scores, rows.AccountScore{AccountID: id, ContactID: str(i, "contact"), Score: num(i + 5), Fit: num(i + 6),
			Engagement: num(i + 7), Grade: str(i, "grade"), Level: uint8(255 - i), Label: str(i+1, "label"), Stage: str(i+2, "stage"),
			Reasons: reasons(i + 1), RulesVersion: str(i+3, "rv"), AsOf: at(i + 1), Version: []uint64{0, math.MaxUint64, uint64(i)}[i%3],
			Intent: num(i), Persona: str(i+1, "persona"), BestTimes: strs(i, "bt"), Tags: strs(i+1, "tag")})
		b.Transitions = append(b.Transitions, rows.FunnelTransition{AccountID: id, ContactID: str(i+1, "contact"), FromStage: str(i, "from"),
			ToStage: str(i+1, "to"), At: at(i + 2), Source: str(i+2, "s"), Medium: str(i+3, "m"), Campaign: str(i, "c"),
			LastSource: str(i+1, "ls"), LastMedium: str(i+2, "lm"), LastCampaign: str(i+3, "lc"), RecordSource: src(i + 1),
			Retracted: i%3 == 2})
		b.Handoffs = append(b.Handoffs, rows.Handoff{AccountID: id, ContactID: str(i+2, "contact"), Score: num(i + 1), Fit: num(i + 2),
			Engagement: num(i + 3), Intent: num(i + 4), Label: str(i, "label"), Stage: str(i+1, "stage"), Persona: str(i+2, "persona"),
			Title: str(i+3, "title"), Recommendation: str(i, "rec"), BestTimes: strs(i+2, "bt"), Reasons: reasons(i + 2),
			RulesVersion: str(i+1, "rv"), At: at(i + 3), Source: src(i + 2), Retracted: i%3 == 0})
		b.Events = append(b.Events, rows.ScoreEvent{AccountID: id, ContactID: str(i+3, "contact"), At: at(i), Type: str(i+1, "type"),
			Event: str(i+2, "event"), Path: str(i+3, "path"), Rules: strs(i+3, "rule"), Points: nums(i), Source: src(i + 3),
			Retracted: i%2 == 1})
		views := make([]uint32, i%4)
		for j := range views {
			views[j] = []uint32{0, 1, math.MaxUint32}[j%3]
		}
		b.Visitors = append(b.Visitors, rows.VisitorCompany{AccountID: id, Organisation: str(i+1, "org"), FirstSeen: at(i + 1),
			LastSeen: at(i + 2), Sessions: uint32(i), Pages: math.MaxUint32 - uint32(i), TopPages: strs(i, "page"), TopPageViews: views,
			Confidence: num(i + 5), MatchSource: str(i+2, "ms"), Version: uint64(i) << 40})
		b.IPMatches = append(b.IPMatches, rows.IPMatches{Day: []time.Time{at(0), at(3 + 4*i)}[i%2], // in Date's range: see TestClickHouseDateRange
			MatchSource: str(i+1, "ms"), Class: str(i+2, "class"),
			Topic: str(i+3, "topic"), Partition: int32(i - 3), Lookups: []uint64{0, math.MaxUint64, uint64(i)}[i%3]})
		b.Rejected = append(b.Rejected, rows.RejectedLead{At: at(i + 2), UserID: id, AnonymousID: str(i, "anon"), Email: str(i+1, "email"),
			Phone: str(i+2, "phone"), Company: str(i+3, "company"), Reasons: strs(i+1, "why"), Fields: strs(i+2, "field"),
			Values: strs(i+3, "value"), Details: strs(i, "detail"), Source: src(i)})
		b.Merges = append(b.Merges, rows.LeadMerge{At: at(i + 1), LeadID: id, ExistingID: str(i, "existing"), MatchedID: str(i+1, "matched"),
			Policy: str(i+2, "policy"), Kind: str(i+3, "kind"), Rule: str(i, "rule"), Score: num(i + 2), Action: str(i+1, "action"),
			Owner: str(i+2, "owner"), NotifyOwner: str(i+3, "notify"), LeadSource: str(i, "ls"), ExistingAt: at(i + 2), Source: src(i + 1)})
	}
	return b
}

// oracleInsert inserts b row by row with clickhouse-go's batch API, the
// sink's former path, with the column mapping of the schema written out
// here.
func oracleInsert(t *testing.T, conn driver.Conn, b *rows.Batch) {
	t.Helper()
	// DateTime and Date take what fits them: the sink clamps the rest to
	// the ends of their range.
	clamp := func(at time.Time) time.Time {
		return time.Unix(min(max(at.Unix(), 0), math.MaxUint32), 0).UTC()
	}
	day := func(at time.Time) time.Time {
		at = at.UTC()
		return time.Date(at.Year(), at.Month(), at.Day(), 0, 0, 0, 0, time.UTC)
	}
	// flag is what a UInt8 flag column holds for b.
	flag := func(b bool) uint8 {
		if b {
			return 1
		}
		return 0
	}
	type reasonArrays struct {
		rule, category []string
		points         []float64
		count          []uint32
	}
	split := func(rs []rows.Reason) (r reasonArrays) {
		for _, x := range rs {
			r.rule, r.category = append(r.rule, x.Rule), append(r.category, x.Category)
			r.points, r.count = append(r.points, x.Points), append(r.count, x.Count)
		}
		return r
	}
	insert := func(table, columns string, n int, row func(i int) []any) {
		t.Helper()
		batch, err := conn.PrepareBatch(context.Background(), "INSERT INTO "+table+" ("+columns+")")
		require.NoError(t, err)
		defer batch.Close()
		for i := range n {
			require.NoError(t, batch.Append(row(i)...), table)
		}
		require.NoError(t, batch.Send(), table)
	}
	insert("score_changes", `account_id, contact_id, as_of, score, fit, engagement, grade, level, label, stage,
		previous_label, previous_stage, previous_score, reasons_rule, reasons_category, reasons_points, reasons_count,
		rules_version, source_topic, source_partition, source_offset, intent, persona, cause, retracted`, len(b.Changes), func(i int) []any {
		c := &b.Changes[i]
		r := split(c.Reasons)
		return []any{c.AccountID, c.ContactID, clamp(c.AsOf), c.Score, c.Fit, c.Engagement, c.Grade, c.Level, c.Label, c.Stage,
			c.PreviousLabel, c.PreviousStage, c.PreviousScore, r.rule, r.category, r.points, r.count,
			c.RulesVersion, c.Source.Topic, c.Source.Partition, c.Source.Offset, c.Intent, c.Persona, c.Cause, flag(c.Retracted)}
	})
	insert("account_scores", `account_id, contact_id, score, fit, engagement, grade, level, label, stage,
		reasons_rule, reasons_category, reasons_points, reasons_count, rules_version, as_of, version, intent, persona,
		best_times, tags`, len(b.Scores), func(i int) []any {
		s := &b.Scores[i]
		r := split(s.Reasons)
		return []any{s.AccountID, s.ContactID, s.Score, s.Fit, s.Engagement, s.Grade, s.Level, s.Label, s.Stage,
			r.rule, r.category, r.points, r.count, s.RulesVersion, clamp(s.AsOf), s.Version, s.Intent, s.Persona,
			s.BestTimes, s.Tags}
	})
	insert("funnel_transitions", `account_id, contact_id, from_stage, to_stage, at, source, medium, campaign,
		last_source, last_medium, last_campaign, source_topic, source_partition, source_offset, retracted`, len(b.Transitions), func(i int) []any {
		f := &b.Transitions[i]
		return []any{f.AccountID, f.ContactID, f.FromStage, f.ToStage, clamp(f.At), f.Source, f.Medium, f.Campaign,
			f.LastSource, f.LastMedium, f.LastCampaign, f.RecordSource.Topic, f.RecordSource.Partition, f.RecordSource.Offset,
			flag(f.Retracted)}
	})
	insert("handoffs", `account_id, contact_id, at, score, fit, engagement, intent, label, stage, persona, title,
		recommendation, best_times, reasons_rule, reasons_category, reasons_points, reasons_count, rules_version,
		source_topic, source_partition, source_offset, retracted`, len(b.Handoffs), func(i int) []any {
		h := &b.Handoffs[i]
		r := split(h.Reasons)
		return []any{h.AccountID, h.ContactID, clamp(h.At), h.Score, h.Fit, h.Engagement, h.Intent, h.Label, h.Stage, h.Persona, h.Title,
			h.Recommendation, h.BestTimes, r.rule, r.category, r.points, r.count, h.RulesVersion,
			h.Source.Topic, h.Source.Partition, h.Source.Offset, flag(h.Retracted)}
	})
	insert("score_events", `account_id, contact_id, at, type, event, path, rules, points,
		source_topic, source_partition, source_offset, retracted`, len(b.Events), func(i int) []any {
		e := &b.Events[i]
		return []any{e.AccountID, e.ContactID, clamp(e.At), e.Type, e.Event, e.Path, e.Rules, e.Points,
			e.Source.Topic, e.Source.Partition, e.Source.Offset, flag(e.Retracted)}
	})
	insert("visitor_companies", `account_id, organisation, first_seen, last_seen, sessions, pages, top_pages,
		top_page_views, confidence, match_source, version`, len(b.Visitors), func(i int) []any {
		v := &b.Visitors[i]
		return []any{v.AccountID, v.Organisation, clamp(v.FirstSeen), clamp(v.LastSeen), v.Sessions, v.Pages, v.TopPages,
			v.TopPageViews, v.Confidence, v.MatchSource, v.Version}
	})
	insert("ip_matches", `day, match_source, class, source_topic, source_partition, lookups`, len(b.IPMatches), func(i int) []any {
		m := &b.IPMatches[i]
		return []any{day(m.Day), m.MatchSource, m.Class, m.Topic, m.Partition, m.Lookups}
	})
	insert("rejected_leads", `at, user_id, anonymous_id, email, phone, company, reasons, fields, field_values, details,
		source_topic, source_partition, source_offset`, len(b.Rejected), func(i int) []any {
		r := &b.Rejected[i]
		return []any{clamp(r.At), r.UserID, r.AnonymousID, r.Email, r.Phone, r.Company, r.Reasons, r.Fields, r.Values, r.Details,
			r.Source.Topic, r.Source.Partition, r.Source.Offset}
	})
	insert("lead_merges", `at, lead_id, existing_id, matched_id, policy, kind, rule, score, action, owner, notify_owner,
		lead_source, existing_at, source_topic, source_partition, source_offset`, len(b.Merges), func(i int) []any {
		m := &b.Merges[i]
		return []any{clamp(m.At), m.LeadID, m.ExistingID, m.MatchedID, m.Policy, m.Kind, m.Rule, m.Score, m.Action, m.Owner, m.NotifyOwner,
			m.LeadSource, clamp(m.ExistingAt), m.Source.Topic, m.Source.Partition, m.Source.Offset}
	})
}

// readTable returns every row of table, every column, each row printed
// column by column (floats exactly, times in UTC), sorted.
func readTable(t *testing.T, conn driver.Conn, table string) []string {
	t.Helper()
	rs, err := conn.Query(context.Background(), "SELECT * FROM "+table)
	require.NoError(t, err)
	defer rs.Close()
	types := rs.ColumnTypes()
	var out []string
	for rs.Next() {
		dest := make([]any, len(types))
		for i, ct := range types {
			dest[i] = reflect.New(ct.ScanType()).Interface()
		}
		require.NoError(t, rs.Scan(dest...))
		var b strings.Builder
		for i, d := range dest {
			v := reflect.ValueOf(d).Elem().Interface()
			if tm, ok := v.(time.Time); ok {
				v = tm.UTC()
			}
			fmt.Fprintf(&b, "%s=%#v; ", types[i].Name(), v)
		}
		out = append(out, b.String())
	}
	require.NoError(t, rs.Err())
	slices.Sort(out)
	return out
}

// TestClickHouseDateRange: a Date outside the column's range is clamped to
// its ends, as DateTime is (clickhouse-go, the oracle above, refuses them).
func TestClickHouseDateRange(t *testing.T) {
	for _, tc := range []struct {
		at   time.Time
		want string
	}{
		{time.Time{}, "1970-01-01"},
		{time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC), "1970-01-01"},
		{time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), "1970-01-01"},
		{time.Date(2026, 3, 14, 23, 59, 59, 999, time.UTC), "2026-03-14"},
		{time.Date(2026, 3, 15, 1, 0, 0, 0, time.FixedZone("X", 2*3600)), "2026-03-14"}, // the UTC day
		{time.Date(2149, 6, 6, 12, 0, 0, 0, time.UTC), "2149-06-06"},
		{time.Date(2149, 6, 7, 0, 0, 0, 0, time.UTC), "2149-06-06"},
		{time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), "2149-06-06"},
	} {
		require.Equal(t, tc.want, date(tc.at).Time().UTC().Format(time.DateOnly), tc.at)
	}
}
