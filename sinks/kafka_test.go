package sinks

import (
	"context"
	stdjson "encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/leadscore/leadscore/internal/rows"
)

const (
	testTopic         = "leadscore.score-changes"
	testHandoffsTopic = "leadscore.handoffs"
)

// newTestKafka starts an in-process Kafka cluster with the score-changes and
// handoffs topics (3 partitions each) and returns a producing client for it.
func newTestKafka(t *testing.T, opts ...kgo.Opt) (*kfake.Cluster, *kgo.Client) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, testTopic, testHandoffsTopic))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(cl.Close)
	return c, cl
}

// consumeAll reads every record of the score-changes topic up to its
// current end.
func consumeAll(t *testing.T, c *kfake.Cluster) []*kgo.Record {
	t.Helper()
	return consumeTopic(t, c, testTopic)
}

// consumeTopic reads every record of topic up to its current end.
func consumeTopic(t *testing.T, c *kfake.Cluster, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	admin, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	require.NoError(t, err)
	defer admin.Close()
	ends, err := kadm.NewClient(admin).ListEndOffsets(ctx, topic)
	require.NoError(t, err)
	require.NoError(t, ends.Error())
	left := int64(0)
	ends.Each(func(o kadm.ListedOffset) { left += o.Offset })
	if left == 0 {
		return nil
	}

	cons, err := kgo.NewClient(
		kgo.SeedBrokers(c.ListenAddrs()...),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)
	require.NoError(t, err)
	defer cons.Close()
	var out []*kgo.Record
	for int64(len(out)) < left {
		fs := cons.PollFetches(ctx)
		require.NoError(t, ctx.Err(), "consumed %d of %d records", len(out), left)
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		out = append(out, fs.Records()...)
	}
	return out
}

func decodeChanges(t *testing.T, recs []*kgo.Record) []rows.ScoreChange {
	t.Helper()
	out := make([]rows.ScoreChange, 0, len(recs))
	for _, r := range recs {
		var c rows.ScoreChange
		require.NoError(t, stdjson.Unmarshal(r.Value, &c), "%s", r.Value)
		require.Equal(t, c.AccountID, string(r.Key), "records are keyed by account id")
		out = append(out, c)
	}
	return out
}

func decodeHandoffs(t *testing.T, recs []*kgo.Record) []rows.Handoff {
	t.Helper()
	out := make([]rows.Handoff, 0, len(recs))
	for _, r := range recs {
		var h rows.Handoff
		require.NoError(t, stdjson.Unmarshal(r.Value, &h), "%s", r.Value)
		require.Equal(t, h.AccountID, string(r.Key), "records are keyed by account id")
		out = append(out, h)
	}
	return out
}

func TestKafkaConformance(t *testing.T) {
	testSinkConformance(t, func(t *testing.T) harness {
		c, cl := newTestKafka(t)
		return harness{
			sink: NewKafka(cl, testTopic, nil, WithHandoffs(testHandoffsTopic)),
			read: func(t *testing.T) []rows.ScoreChange { return decodeChanges(t, consumeAll(t, c)) },
			readHandoffs: func(t *testing.T) []rows.Handoff {
				return decodeHandoffs(t, consumeTopic(t, c, testHandoffsTopic))
			},
			standing: func(t *testing.T) ([]rows.ScoreChange, []rows.Handoff) {
				changes := fold(decodeChanges(t, consumeAll(t, c)), changeIdentity,
					func(c rows.ScoreChange) bool { return c.Retracted })
				handoffs := fold(decodeHandoffs(t, consumeTopic(t, c, testHandoffsTopic)), handoffIdentity,
					func(h rows.Handoff) bool { return h.Retracted })
				return changes, handoffs
			},
		}
	})
}

// TestKafkaRecordFormat checks the record against CONTRACT section 2 with a
// generic JSON decoder.
func TestKafkaRecordFormat(t *testing.T) {
	c, cl := newTestKafka(t)
	sink := NewKafka(cl, testTopic, nil)
	change := rows.ScoreChange{
		AccountID: "acme.com", ContactID: "ada@acme.com",
		Score: 72.5, Fit: 67.3, Engagement: 85, Grade: "B", Level: 1, Label: "B1", Stage: "mql",
		PreviousLabel: "B2", PreviousStage: "lead", PreviousScore: 61.25,
		Reasons: []rows.Reason{
			{Rule: "pricing page", Category: "strong", Points: 40, Count: 3},
			{Rule: "email open", Category: "weak", Points: 4.5, Count: 1},
			{Rule: "industry saas", Category: "fit", Points: 12},
		},
		RulesVersion: "example-1",
		AsOf:         time.Date(2026, 5, 1, 7, 30, 15, 250_000_000, time.FixedZone("CST", 8*3600)),
		Source:       rows.Source{Topic: "leadscore.events", Partition: 2, Offset: 9001},
		Intent:       37.5, Persona: "champion", Cause: rows.CauseDecay,
	}
	noReasons := change
	noReasons.AccountID, noReasons.Reasons = "initech.com", nil
	require.NoError(t, sink.Write(t.Context(), &rows.Batch{Changes: []rows.ScoreChange{change, noReasons}}))
	require.NoError(t, sink.Flush(t.Context()))

	recs := consumeAll(t, c)
	require.Len(t, recs, 2)
	byKey := map[string]map[string]any{}
	for _, r := range recs {
		var v map[string]any
		require.NoError(t, stdjson.Unmarshal(r.Value, &v))
		byKey[string(r.Key)] = v
	}
	require.Equal(t, map[string]any{
		"account_id": "acme.com", "contact_id": "ada@acme.com",
		"score": 72.5, "fit": 67.3, "engagement": 85.0,
		"grade": "B", "level": 1.0, "label": "B1", "stage": "mql",
		"previous_label": "B2", "previous_stage": "lead", "previous_score": 61.25,
		"reasons": []any{
			map[string]any{"rule": "pricing page", "category": "strong", "points": 40.0, "count": 3.0},
			map[string]any{"rule": "email open", "category": "weak", "points": 4.5, "count": 1.0},
			map[string]any{"rule": "industry saas", "category": "fit", "points": 12.0, "count": 0.0},
		},
		"rules_version": "example-1",
		"as_of":         "2026-04-30T23:30:15.25Z",
		"source":        map[string]any{"topic": "leadscore.events", "partition": 2.0, "offset": 9001.0},
		"intent":        37.5, "persona": "champion", "cause": "decay",
	}, byKey["acme.com"])
	require.Equal(t, []any{}, byKey["initech.com"]["reasons"], "no reasons is an empty list, not null")
}

// TestKafkaHandoffRecordFormat checks a handoffs record with a generic JSON
// decoder: every field of rows.Handoff under its json name.
func TestKafkaHandoffRecordFormat(t *testing.T) {
	c, cl := newTestKafka(t)
	sink := NewKafka(cl, testTopic, nil, WithHandoffs(testHandoffsTopic))
	h := rows.Handoff{
		AccountID: "acme.com", ContactID: "ada@acme.com",
		Score: 81.5, Fit: 70.25, Engagement: 90, Intent: 12.5,
		Label: "A1", Stage: "mql", Persona: "economic buyer", Title: "VP Sales",
		Recommendation: "call within 24 hours",
		BestTimes:      []string{"Tue 10:00", "Thu 15:00"},
		Reasons: []rows.Reason{
			{Rule: "pricing page", Category: "strong", Points: 40, Count: 3},
			{Rule: "seniority vp", Category: "fit", Points: 15},
		},
		RulesVersion: "example-2",
		At:           time.Date(2026, 5, 1, 7, 30, 15, 0, time.FixedZone("CST", 8*3600)),
		Source:       rows.Source{Topic: "leadscore.events", Partition: 1, Offset: 77},
	}
	bare := rows.Handoff{AccountID: "initech.com", Stage: "mql"}
	require.NoError(t, sink.Write(t.Context(), &rows.Batch{Handoffs: []rows.Handoff{h, bare}}))
	require.NoError(t, sink.Flush(t.Context()))

	require.Empty(t, consumeAll(t, c), "handoffs stay off the score-changes topic")
	recs := consumeTopic(t, c, testHandoffsTopic)
	require.Len(t, recs, 2)
	byKey := map[string]map[string]any{}
	for _, r := range recs {
		var v map[string]any
		require.NoError(t, stdjson.Unmarshal(r.Value, &v))
		byKey[string(r.Key)] = v
	}
	require.Equal(t, map[string]any{
		"account_id": "acme.com", "contact_id": "ada@acme.com",
		"score": 81.5, "fit": 70.25, "engagement": 90.0, "intent": 12.5,
		"label": "A1", "stage": "mql", "persona": "economic buyer", "title": "VP Sales",
		"recommendation": "call within 24 hours",
		"best_times":     []any{"Tue 10:00", "Thu 15:00"},
		"reasons": []any{
			map[string]any{"rule": "pricing page", "category": "strong", "points": 40.0, "count": 3.0},
			map[string]any{"rule": "seniority vp", "category": "fit", "points": 15.0, "count": 0.0},
		},
		"rules_version": "example-2",
		"at":            "2026-04-30T23:30:15Z",
		"source":        map[string]any{"topic": "leadscore.events", "partition": 1.0, "offset": 77.0},
	}, byKey["acme.com"])
	require.Equal(t, []any{}, byKey["initech.com"]["best_times"], "no best times is an empty list, not null")
	require.Equal(t, []any{}, byKey["initech.com"]["reasons"], "no reasons is an empty list, not null")
}

func TestKafkaIgnoresScoresTransitionsAndEvents(t *testing.T) {
	c, cl := newTestKafka(t)
	reg := prometheus.NewPedanticRegistry()
	sink := NewKafka(cl, testTopic, reg) // no WithHandoffs: handoffs are ignored too
	require.NoError(t, sink.Write(t.Context(), &rows.Batch{Scores: testScores("k", 3), Transitions: testTransitions("k", 2),
		Handoffs: testHandoffs("k", 2), Events: testEvents("k", 5)}))
	require.NoError(t, sink.Write(t.Context(), &rows.Batch{Changes: testChanges("k", 4), Scores: testScores("k", 3), Handoffs: testHandoffs("k", 1)}))
	require.NoError(t, sink.Flush(t.Context()))
	require.Len(t, consumeAll(t, c), 4)
	require.Empty(t, consumeTopic(t, c, testHandoffsTopic))
	require.Equal(t, 4.0, gatheredValue(t, reg, metricRows, "kafka", "score_changes"))
	require.Zero(t, gatheredValue(t, reg, metricBuffered, "kafka", ""))
	require.EqualValues(t, 1, gatheredValue(t, reg, metricFlush, "kafka", ""))
}

func TestKafkaHandoffs(t *testing.T) {
	c, cl := newTestKafka(t)
	reg := prometheus.NewPedanticRegistry()
	sink := NewKafka(cl, testTopic, reg, WithHandoffs(testHandoffsTopic))
	changes, handoffs := testChanges("h", 4), testHandoffs("h", 6)
	require.NoError(t, sink.Write(t.Context(), &rows.Batch{Handoffs: handoffs[:2], Events: testEvents("h", 3)}))
	require.NoError(t, sink.Write(t.Context(), &rows.Batch{Changes: changes, Handoffs: handoffs[2:]}))
	require.NoError(t, sink.Flush(t.Context()))
	requireSameChanges(t, changes, decodeChanges(t, consumeAll(t, c)))
	requireSameHandoffs(t, handoffs, decodeHandoffs(t, consumeTopic(t, c, testHandoffsTopic)))
	require.Equal(t, 4.0, gatheredValue(t, reg, metricRows, "kafka", "score_changes"))
	require.Equal(t, 6.0, gatheredValue(t, reg, metricRows, "kafka", "handoffs"))
	require.Zero(t, gatheredValue(t, reg, metricBuffered, "kafka", ""))

	// One account's handoffs keep their order: one key, one partition.
	again := testHandoffs("ordered", 1)
	for i := range 3 {
		again[0].Source.Offset = int64(100 + i)
		require.NoError(t, sink.Write(t.Context(), &rows.Batch{Handoffs: again}))
	}
	require.NoError(t, sink.Flush(t.Context()))
	var offsets []int64
	for _, h := range decodeHandoffs(t, consumeTopic(t, c, testHandoffsTopic)) {
		if h.AccountID == again[0].AccountID {
			offsets = append(offsets, h.Source.Offset)
		}
	}
	require.Equal(t, []int64{100, 101, 102}, offsets)
}

// TestKafkaHandoffErrorsReportedByFlush: a handoff the broker cannot take
// fails the Flush like a score change does, naming its topic.
func TestKafkaHandoffErrorsReportedByFlush(t *testing.T) {
	c, cl := newTestKafka(t, kgo.ProducerBatchMaxBytes(2048))
	sink := NewKafka(cl, testTopic, nil, WithHandoffs(testHandoffsTopic))
	good := testHandoffs("ok", 3)
	huge := testHandoffs("huge", 1)
	huge[0].Recommendation = strings.Repeat("x", 4096)
	require.NoError(t, sink.Write(t.Context(), &rows.Batch{Handoffs: good[:1], Changes: testChanges("ok", 2)}))
	require.NoError(t, sink.Write(t.Context(), &rows.Batch{Handoffs: huge}))
	require.NoError(t, sink.Write(t.Context(), &rows.Batch{Handoffs: good[1:]}))
	err := sink.Flush(t.Context())
	require.ErrorIs(t, err, kerr.MessageTooLarge)
	require.ErrorContains(t, err, "1 records failed")
	require.ErrorContains(t, err, testHandoffsTopic)
	require.NoError(t, sink.Flush(t.Context()), "an error is reported once")
	requireSameHandoffs(t, good, decodeHandoffs(t, consumeTopic(t, c, testHandoffsTopic)))
	require.Len(t, consumeAll(t, c), 2)
}

// TestKafkaProduceErrorsReportedByFlush: a record the broker cannot take
// fails, the next Flush reports it (once), and the records around it are
// delivered.
func TestKafkaProduceErrorsReportedByFlush(t *testing.T) {
	c, cl := newTestKafka(t, kgo.ProducerBatchMaxBytes(2048))
	reg := prometheus.NewPedanticRegistry()
	sink := NewKafka(cl, testTopic, reg)
	good := testChanges("ok", 3)
	huge := testChanges("huge", 1)
	huge[0].RulesVersion = strings.Repeat("x", 4096) // larger than a batch may be
	require.NoError(t, sink.Write(t.Context(), &rows.Batch{Changes: good[:2]}))
	require.NoError(t, sink.Write(t.Context(), &rows.Batch{Changes: huge}))
	require.NoError(t, sink.Write(t.Context(), &rows.Batch{Changes: good[2:]}))

	err := sink.Flush(t.Context())
	require.ErrorIs(t, err, kerr.MessageTooLarge)
	require.ErrorContains(t, err, "1 records failed")
	require.Equal(t, 1.0, gatheredValue(t, reg, metricErrors, "kafka", ""))
	require.NoError(t, sink.Flush(t.Context()), "an error is reported once")
	requireSameChanges(t, good, decodeChanges(t, consumeAll(t, c)))
}

func TestKafkaWriteContextDoesNotOutliveWrite(t *testing.T) {
	c, cl := newTestKafka(t, kgo.ProducerLinger(50*time.Millisecond))
	sink := NewKafka(cl, testTopic, nil)
	want := testChanges("ctx", 5)
	ctx, cancel := context.WithCancel(t.Context())
	require.NoError(t, sink.Write(ctx, &rows.Batch{Changes: want}))
	cancel() // the worker's context ends while the records linger
	require.NoError(t, sink.Flush(t.Context()))
	requireSameChanges(t, want, decodeChanges(t, consumeAll(t, c)))

	require.ErrorIs(t, sink.Write(ctx, &rows.Batch{Changes: want}), context.Canceled)
}

func TestKafkaCloseLeavesClientOpen(t *testing.T) {
	c, cl := newTestKafka(t)
	sink := NewKafka(cl, testTopic, nil)
	require.NoError(t, sink.Close(t.Context()))
	require.NoError(t, cl.ProduceSync(t.Context(), &kgo.Record{Topic: testTopic, Value: []byte("{}")}).FirstErr())
	require.Len(t, consumeAll(t, c), 1)
}

func TestKafkaFlushRespectsContext(t *testing.T) {
	c, cl := newTestKafka(t, kgo.RecordRetries(1_000_000), kgo.RecordDeliveryTimeout(time.Minute))
	sink := NewKafka(cl, testTopic, nil)
	// The topic disappears: records cannot be delivered.
	adm := kadm.NewClient(cl)
	_, err := adm.DeleteTopics(t.Context(), testTopic)
	require.NoError(t, err)
	_ = c
	require.NoError(t, sink.Write(t.Context(), &rows.Batch{Changes: testChanges("lost", 2)}))
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, sink.Flush(ctx), context.DeadlineExceeded)

	ctx, cancel = context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	err = sink.Close(ctx)
	require.ErrorContains(t, err, "2 records in flight")
	require.Equal(t, err, sink.Close(t.Context()), "Close returns its first result")
}

func BenchmarkKafkaEncode(b *testing.B) {
	changes := testChanges("bench", 100)
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		buf = appendScoreChangeJSON(buf[:0], &changes[n%len(changes)])
		n++
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkKafkaEncodeHandoff(b *testing.B) {
	handoffs := testHandoffs("bench", 100)
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		buf = appendHandoffJSON(buf[:0], &handoffs[n%len(handoffs)])
		n++
	}
	b.SetBytes(int64(len(buf)))
}

// TestKafkaDiscardForgetsAbortedRecords: after the caller aborted the
// records (here: failed by the broker), Discard waits for them and forgets
// their errors, so the redone work's Flush succeeds.
func TestKafkaDiscardForgetsAbortedRecords(t *testing.T) {
	c, cl := newTestKafka(t, kgo.ProducerBatchMaxBytes(2048))
	sink := NewKafka(cl, testTopic, nil)
	huge := testChanges("huge", 1)
	huge[0].RulesVersion = strings.Repeat("x", 4096)
	require.NoError(t, sink.Write(t.Context(), &rows.Batch{Changes: huge}))
	sink.Discard(t.Context())
	good := testChanges("ok", 2)
	require.NoError(t, sink.Write(t.Context(), &rows.Batch{Changes: good}))
	require.NoError(t, sink.Flush(t.Context()), "the discarded record's error is forgotten")
	requireSameChanges(t, good, decodeChanges(t, consumeAll(t, c)))
}
