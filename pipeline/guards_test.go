package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/leadscore/leadscore/internal/rows"
)

// The input worker's guards (issue 15): clocks beyond engine.max_future and
// account ids that are not ids go to the dead-letter topic as they came; a
// partition's time moves by at most engine.max_time_jump per record; a
// forwarded record that cannot be scored (a bug) dead-letters its original.

// guardRig is one engine's input worker (partition 0 of the input topic)
// and scoring worker (repartition partition 0), without a consumer group:
// what the input worker forwards, and its heartbeats, are kept in order and
// then given to the scoring worker as the repartition topic would; dead
// letters go to a real embedded broker and are read back as a DLQ consumer
// would. The wall clock is now.
type guardRig struct {
	t      *testing.T
	cfg    Config
	e      *Engine
	in, sc *worker
	cl     *kgo.Client
	// repartition holds the records produced to the repartition topic
	// (forwarded events, heartbeats, lead records), in order.
	repartition []*kgo.Record
	now         time.Time
	changes     []string // the scoring worker's rows, as JSON, in order
}

func newGuardRig(t *testing.T, now time.Time, mod func(*Config)) *guardRig {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Kafka.Embedded.Listen = "127.0.0.1:0"
	cfg.Kafka.Partitions = 1
	cfg.HTTP.Listen = ""
	cfg.Engine.IdlePartitionAfter = 0 // heartbeats follow the records only
	if mod != nil {
		mod(&cfg)
	}
	cluster, err := StartEmbedded(cfg)
	require.NoError(t, err)
	t.Cleanup(cluster.Close)
	cfg.Kafka.Brokers = cluster.ListenAddrs()
	e, err := New(cfg, WithRegisterer(prometheus.NewRegistry()))
	require.NoError(t, err)
	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Kafka.Brokers...))
	require.NoError(t, err)
	t.Cleanup(cl.Close)
	r := &guardRig{t: t, cfg: cfg, e: e, cl: cl, now: now}
	e.inputs, e.repartitions = 1, 1
	e.dlq = &deadLetters{cl: cl, topic: cfg.Kafka.DLQTopic}
	// The records the input worker produces to the repartition topic are
	// copied (forwarded ones come from a pool, which their promise would
	// refill) and kept.
	e.produce = func(rec *kgo.Record, _ func(*kgo.Record, error)) {
		c := *rec
		c.Key, c.Value = bytes.Clone(rec.Key), bytes.Clone(rec.Value)
		r.repartition = append(r.repartition, &c)
	}
	old := nowNano
	nowNano = func() int64 { return r.now.UnixNano() }
	t.Cleanup(func() { nowNano = old })
	r.in = newWorker(e, cfg.Kafka.Topics[0], 0)
	r.sc = newWorker(e, cfg.repartitionTopic(), 0)
	e.workers = map[tp]*worker{{cfg.Kafka.Topics[0], 0}: r.in}
	return r
}

// input runs records through the input worker in batches of size, with
// the heartbeats a commit would send after each.
func (r *guardRig) input(recs []*kgo.Record, size int) {
	r.t.Helper()
	for len(recs) > 0 {
		n := min(size, len(recs))
		require.NoError(r.t, r.in.process(context.Background(), recs[:n], rowCounter{new(int)}))
		require.NoError(r.t, r.e.heartbeats(func(rec *kgo.Record) { r.repartition = append(r.repartition, rec) }))
		recs = recs[n:]
	}
}

// score gives the scoring worker every repartition record so far, one
// record per batch, and keeps the rows it writes.
func (r *guardRig) score() {
	r.t.Helper()
	for i, rec := range r.repartition {
		rec.Topic, rec.Partition, rec.Offset = r.cfg.repartitionTopic(), 0, int64(i)
		require.NoError(r.t, r.sc.process(context.Background(), []*kgo.Record{rec}, r))
	}
	r.repartition = nil
}

// Write keeps a batch's rows as JSON (rows point into reused buffers).
func (r *guardRig) Write(_ context.Context, b *rows.Batch) error {
	for _, part := range []any{b.Changes, b.Transitions, b.Handoffs} {
		v, err := json.Marshal(part)
		if err != nil {
			return err
		}
		if string(v) != "null" {
			r.changes = append(r.changes, string(v))
		}
	}
	return nil
}

// deadLetters reads the DLQ topic to its end.
func (r *guardRig) deadLetters() []*kgo.Record {
	r.t.Helper()
	require.NoError(r.t, r.e.dlq.flush(context.Background()))
	return (&harness{t: r.t, cfg: r.cfg}).consumeAll(r.cfg.Kafka.DLQTopic)
}

// headers returns a record's headers as a map (the last of a name wins) and
// how many there are.
func headers(rec *kgo.Record) (map[string]string, int) {
	m := map[string]string{}
	for _, h := range rec.Headers {
		m[h.Key] = string(h.Value)
	}
	return m, len(rec.Headers)
}

// inputRecord is a record of the input topic's partition 0.
func inputRecord(offset int64, key string, value string) *kgo.Record {
	return &kgo.Record{Topic: "leadscore.events", Partition: 0, Offset: offset, Key: []byte(key), Value: []byte(value),
		Headers: []kgo.RecordHeader{{Key: "trace", Value: []byte("t-" + strconv.FormatInt(offset, 10))}}}
}

// guardStream is a seeded stream of group calls, page views and tracks of
// accounts acct00.com..., every record naming its account, event times
// rising with gaps of up to maxGap, the last at end. Offsets count from 0.
func guardStream(seed uint64, accounts, n int, end time.Time, maxGap time.Duration) []*kgo.Record {
	rng := rand.New(rand.NewPCG(seed, seed^0x5bd1e995))
	gaps := make([]time.Duration, n)
	var total time.Duration
	for i := 1; i < n; i++ {
		gaps[i] = time.Duration(rng.Int64N(int64(maxGap)))
		total += gaps[i]
	}
	at := end.Add(-total)
	var out []*kgo.Record
	for i := range n {
		at = at.Add(gaps[i])
		a := fmt.Sprintf("acct%02d.com", rng.IntN(accounts))
		ts := at.Format(time.RFC3339)
		var v string
		switch k := rng.IntN(10); {
		case i < accounts || k == 0:
			v = fmt.Sprintf(`{"type":"group","messageId":"g-%d","groupId":%q,"timestamp":%q,"traits":{"industry":"software","employees":%d,"country":"US"}}`,
				i, a, ts, 50+rng.IntN(5000))
		case k < 6:
			v = fmt.Sprintf(`{"type":"page","messageId":"p-%d","anonymousId":"v-%d","timestamp":%q,"context":{"groupId":%q},"properties":{"path":"/pricing"}}`,
				i, rng.IntN(50), ts, a)
		default:
			name := []string{"Email Replied", "Chat Started", "Event Attended", "Email Opened"}[rng.IntN(4)]
			v = fmt.Sprintf(`{"type":"track","messageId":"t-%d","event":%q,"timestamp":%q,"context":{"groupId":%q}}`, i, name, ts, a)
		}
		out = append(out, inputRecord(int64(i), "k-"+strconv.Itoa(i), v))
	}
	return out
}

// TestFutureEventsChangeNothing: events dated beyond engine.max_future of
// the wall clock, by their timestamp (2100, year 9999, MaxInt64 seconds,
// just past the bound) or by a hostile receivedAt that skews their
// originalTimestamp there, go to the DLQ as future_timestamp, as they came,
// and are counted; the scoring worker's rows are those of the same stream
// without them: no account's score, decay or watermark moves.
func TestFutureEventsChangeNothing(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	clean := guardStream(1, 12, 400, now.Add(-time.Hour), 90*time.Minute)
	hostile := []string{
		`{"type":"page","messageId":"f-1","anonymousId":"x","timestamp":"2100-01-01T00:00:00Z","context":{"groupId":"other.com"}}`,
		// What Go writes for time.Unix(math.MaxInt64, 0).
		`{"type":"page","messageId":"f-2","anonymousId":"x","timestamp":"292277026596-12-04T15:30:07Z","context":{"groupId":"other.com"}}`,
		`{"type":"track","messageId":"f-3","event":"Email Replied","timestamp":"9999-12-31T23:59:59Z","context":{"groupId":"acct01.com"}}`,
		`{"type":"page","messageId":"f-4","anonymousId":"x","timestamp":"` + now.Add(25*time.Hour).Format(time.RFC3339) + `","context":{"groupId":"acct02.com"}}`,
		// A sane originalTimestamp and sentAt, a receivedAt in 2100.
		`{"type":"page","messageId":"f-5","anonymousId":"x","originalTimestamp":"2026-06-01T10:00:00Z","sentAt":"2026-06-01T10:00:01Z","receivedAt":"2100-01-01T00:00:00Z","context":{"groupId":"other.com"}}`,
		// ... and one two days ahead.
		`{"type":"track","messageId":"f-6","event":"Chat Started","originalTimestamp":"2026-06-01T10:00:00Z","sentAt":"2026-06-01T10:00:00Z","receivedAt":"` + now.Add(48*time.Hour).Format(time.RFC3339) + `","context":{"groupId":"acct03.com"}}`,
	}
	// The hostile records go in among the clean ones, at offsets of their own.
	mixed := append([]*kgo.Record(nil), clean...)
	want := map[int64][]byte{}
	for i, v := range hostile {
		off := int64(10_000 + i)
		rec := inputRecord(off, "bad-"+strconv.Itoa(i), v)
		want[off] = rec.Value
		at := (i + 1) * len(clean) / (len(hostile) + 1)
		mixed = append(mixed[:at], append([]*kgo.Record{rec}, mixed[at:]...)...)
	}

	run := func(recs []*kgo.Record) *guardRig {
		r := newGuardRig(t, now, nil)
		r.input(recs, 25)
		var wms []time.Time
		for _, rec := range r.repartition {
			var f forwarded
			if isHeartbeat(rec) || controlHeader(rec) != "" {
				continue
			}
			require.NoError(t, decodeForward(rec, &f))
			wms = append(wms, f.Watermark)
		}
		r.score()
		require.NotEmpty(t, r.changes)
		require.False(t, r.sc.watermark.IsZero())
		require.True(t, r.sc.watermark.Before(now), "the watermark stays behind the newest clean event: %s", r.sc.watermark)
		t.Logf("%d records: %d forwarded, %d row batches, watermark %s", len(recs), len(wms), len(r.changes), r.sc.watermark)
		return r
	}
	a, b := run(clean), run(mixed)
	require.Equal(t, a.changes, b.changes, "the hostile records changed rows")
	require.Equal(t, a.sc.watermark, b.sc.watermark)
	require.Equal(t, a.in.maxTime, b.in.maxTime)

	dl := b.deadLetters()
	require.Len(t, dl, len(hostile))
	for _, rec := range dl {
		h, n := headers(rec)
		off, err := strconv.ParseInt(h[HeaderOffset], 10, 64)
		require.NoError(t, err)
		require.Contains(t, want, off)
		require.Equal(t, string(want[off]), string(rec.Value), "the original bytes")
		require.Equal(t, "bad-"+strconv.FormatInt(off-10_000, 10), string(rec.Key), "the original key")
		require.Equal(t, "t-"+h[HeaderOffset], h["trace"], "the original header")
		require.Equal(t, 6, n, "the original header and five of leadscore's")
		require.Equal(t, "future_timestamp", h[HeaderReason], h[HeaderDetail])
		require.Equal(t, "leadscore.events", h[HeaderTopic])
		require.Equal(t, "0", h[HeaderPartition])
		require.NotEmpty(t, h[HeaderDetail])
		require.NotContains(t, h[HeaderDetail], "other.com")
	}
	require.Equal(t, float64(len(hostile)), counterValue(t, b.e.metrics.deadLetters.WithLabelValues("future_timestamp")))
	require.Equal(t, float64(len(hostile)), counterValue(t, b.e.metrics.records.WithLabelValues(resultDeadLetter)))
	require.Zero(t, counterValue(t, a.e.metrics.deadLetters.WithLabelValues("future_timestamp")))
}

// TestFutureDetail: the DLQ detail says how far ahead, in days beyond three.
func TestFutureDetail(t *testing.T) {
	r := newGuardRig(t, time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC), nil)
	r.input([]*kgo.Record{
		inputRecord(0, "", `{"type":"page","anonymousId":"x","timestamp":"2026-06-02T13:30:00Z"}`),
		inputRecord(1, "", `{"type":"page","anonymousId":"x","timestamp":"2026-06-11T12:00:00Z"}`),
		inputRecord(2, "", `{"type":"page","anonymousId":"x","timestamp":"2026-06-02T11:59:59Z"}`), // within 24h
	}, 10)
	dl := r.deadLetters()
	require.Len(t, dl, 2)
	h0, _ := headers(dl[0])
	h1, _ := headers(dl[1])
	require.Equal(t, "event time is 25h30m0s ahead of the wall clock; engine.max_future is 24h0m0s", h0[HeaderDetail])
	require.Equal(t, "event time is 10.0 days ahead of the wall clock; engine.max_future is 24h0m0s", h1[HeaderDetail])
}

// TestAdvanceTime: the input partition's time under engine.max_time_jump,
// by hand.
func TestAdvanceTime(t *testing.T) {
	t0 := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	h := time.Hour
	for _, c := range []struct {
		name    string
		p, t    time.Time
		jump    time.Duration
		want    time.Time
		clamped bool
	}{
		{"the first record sets it", time.Time{}, t0, h, t0, false},
		{"the first record sets it however far", time.Time{}, t0.Add(1000 * h), h, t0.Add(1000 * h), false},
		{"within the bound", t0, t0.Add(59 * time.Minute), h, t0.Add(59 * time.Minute), false},
		{"at the bound", t0, t0.Add(h), h, t0.Add(h), false},
		{"beyond the bound: by the bound", t0, t0.Add(h + time.Nanosecond), h, t0.Add(h), true},
		{"far beyond: by the bound", t0, t0.Add(74 * 365 * 24 * h), h, t0.Add(h), true},
		{"older: unchanged", t0, t0.Add(-5 * h), h, t0, false},
		{"equal: unchanged", t0, t0, h, t0, false},
		{"unbounded", t0, t0.Add(74 * 365 * 24 * h), 0, t0.Add(74 * 365 * 24 * h), false},
		{"unbounded, older", t0, t0.Add(-h), 0, t0, false},
	} {
		got, clamped := advanceTime(c.p, c.t, c.jump)
		require.Equal(t, c.want, got, c.name)
		require.Equal(t, c.clamped, clamped, c.name)
	}
}

// TestTimeJumpBound: records dated ahead of their partition's time, but
// within engine.max_future, move it (the watermark every forwarded record
// and heartbeat carries) by at most engine.max_time_jump each, and later
// records confirm a real jump; late records leave it and still count.
// The expected times are computed here from the rule, record by record.
func TestTimeJumpBound(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	for _, jump := range []time.Duration{time.Hour, 10 * time.Minute, 0} {
		t.Run("max_time_jump="+jump.String(), func(t *testing.T) {
			recs := guardStream(2, 8, 300, now.Add(-30*time.Hour), 40*time.Minute)
			// One client 23 hours ahead (within max_future), one late by
			// two days, and a real jump of 20 hours that the records after
			// it confirm.
			recs[100] = inputRecord(100, "", `{"type":"page","anonymousId":"fast","timestamp":"`+now.Add(23*time.Hour).Format(time.RFC3339)+`","context":{"groupId":"acct01.com"}}`)
			recs[150] = inputRecord(150, "", `{"type":"page","anonymousId":"late","timestamp":"`+now.Add(-80*time.Hour).Format(time.RFC3339)+`","context":{"groupId":"acct02.com"}}`)
			for i := 200; i < len(recs); i++ {
				recs[i] = inputRecord(int64(i), "", `{"type":"page","anonymousId":"v","timestamp":"`+
					now.Add(-10*time.Hour+time.Duration(i-200)*time.Minute).Format(time.RFC3339)+`","context":{"groupId":"acct03.com"}}`)
			}
			// The oracle: each record's time, and the partition's after it.
			var p time.Time
			var clamps int
			var want []time.Time
			for _, rec := range recs {
				var v struct{ Timestamp time.Time }
				require.NoError(t, json.Unmarshal(rec.Value, &v))
				switch {
				case p.IsZero() || jump == 0 && v.Timestamp.After(p):
					p = v.Timestamp
				case v.Timestamp.Sub(p) > jump:
					p = p.Add(jump)
					clamps++
				case v.Timestamp.After(p):
					p = v.Timestamp
				}
				want = append(want, p)
			}
			r := newGuardRig(t, now, func(c *Config) {
				c.Engine.MaxTimeJump = Duration(jump)
				c.Engine.AllowedLateness = Duration(time.Hour)
			})
			const batch = 20
			r.input(recs, batch)
			var got []time.Time
			var beats int
			for _, rec := range r.repartition {
				if isHeartbeat(rec) {
					var hb heartbeat
					require.NoError(t, json.Unmarshal(rec.Value, &hb))
					// A heartbeat follows a batch: the partition's time at its end.
					require.Equal(t, want[len(got)-1], hb.Watermark, "heartbeat after record %d", len(got)-1)
					beats++
					continue
				}
				var f forwarded
				require.NoError(t, decodeForward(rec, &f))
				got = append(got, f.Watermark)
			}
			require.Equal(t, want, got, "every forwarded record carries the partition's time")
			require.Equal(t, float64(clamps), counterValue(t, r.e.metrics.timeJumps))
			require.Positive(t, beats)
			if jump > 0 {
				require.Positive(t, clamps)
				for i := 1; i < len(got); i++ {
					require.LessOrEqual(t, got[i].Sub(got[i-1]), jump, "record %d moved the time by more than the bound", i)
				}
				require.Equal(t, want[99].Add(jump), got[100], "the fast client moved it by the bound only")
			} else {
				require.Equal(t, now.Add(23*time.Hour), got[100], "unbounded: the fast client takes the partition's time with it")
			}
			r.score()
			require.Equal(t, want[len(want)-1].Add(-time.Hour), r.sc.watermark, "the scoring worker's watermark: the partition's time less the lateness")
			// Every record was scored, the late one too (result late: an
			// event older than its account's time).
			require.Equal(t, float64(len(recs)), counterValue(t, r.e.metrics.records.WithLabelValues(resultScored))+
				counterValue(t, r.e.metrics.records.WithLabelValues(resultLate)))
			require.Positive(t, counterValue(t, r.e.metrics.records.WithLabelValues(resultLate)))
		})
	}
}

// TestInvalidAccountDeadLettered: an account id an event names that is not
// one, in each of the three fields that name one, goes to the DLQ as
// invalid_account with the original bytes, key, headers and source, and
// is neither forwarded nor counted in the partition's time; real ids are
// forwarded keyed by their normal form.
func TestInvalidAccountDeadLettered(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	ts := now.Add(-time.Hour).Format(time.RFC3339)
	fields := map[string]func(id string) string{
		"groupId": func(id string) string {
			return fmt.Sprintf(`{"type":"group","groupId":%q,"timestamp":%q}`, id, ts)
		},
		"context.groupId": func(id string) string {
			return fmt.Sprintf(`{"type":"page","anonymousId":"a","context":{"groupId":%q},"timestamp":%q}`, id, ts)
		},
		"properties.domain": func(id string) string {
			return fmt.Sprintf(`{"type":"track","event":"Intent Signal","properties":{"domain":%q,"topic":"crm","score":80},"timestamp":%q}`, id, ts)
		},
	}
	bad := []string{" ", "\t", ".", "/", "0", "https://", "www.", strings.Repeat("a", 65)}
	good := map[string]string{"ACME.com": "acme.com", "https://www.acme.com/": "acme.com", "acct-42": "acct-42", strings.Repeat("b", 64): strings.Repeat("b", 64)}
	var recs []*kgo.Record
	wantBad := map[int64]string{} // offset -> field
	var wantKeys []string
	for field, mk := range fields {
		for _, id := range bad {
			off := int64(len(recs))
			recs = append(recs, inputRecord(off, "key-"+strconv.FormatInt(off, 10), mk(id)))
			wantBad[off] = field
		}
		for id, norm := range good {
			recs = append(recs, inputRecord(int64(len(recs)), "", mk(id)))
			wantKeys = append(wantKeys, norm)
		}
	}
	// The bad ones are dated later than the good: had they counted, the
	// partition's time would show it.
	r := newGuardRig(t, now, func(c *Config) { c.Engine.MaxAccountIDBytes = 64 })
	r.input(recs, 7)
	var keys []string
	for _, rec := range r.repartition {
		if !isHeartbeat(rec) && controlHeader(rec) == "" {
			keys = append(keys, string(rec.Key))
		}
	}
	require.ElementsMatch(t, wantKeys, keys)

	dl := r.deadLetters()
	require.Len(t, dl, len(wantBad))
	for _, rec := range dl {
		h, n := headers(rec)
		off, err := strconv.ParseInt(h[HeaderOffset], 10, 64)
		require.NoError(t, err)
		field, ok := wantBad[off]
		require.True(t, ok, "offset %d is not a bad id", off)
		require.Equal(t, "invalid_account", h[HeaderReason])
		require.Contains(t, h[HeaderDetail], "invalid account id in "+field+": ")
		require.Equal(t, string(recs[off].Value), string(rec.Value))
		require.Equal(t, "key-"+h[HeaderOffset], string(rec.Key))
		require.Equal(t, "t-"+h[HeaderOffset], h["trace"])
		require.Equal(t, 6, n)
		require.Equal(t, "leadscore.events", h[HeaderTopic])
		require.Equal(t, "0", h[HeaderPartition])
	}
	require.Equal(t, float64(len(wantBad)), counterValue(t, r.e.metrics.deadLetters.WithLabelValues("invalid_account")))

	// And the scoring worker scores every forwarded one: nothing fails
	// there as invalid_forward.
	r.score()
	require.Zero(t, counterValue(t, r.e.metrics.deadLetters.WithLabelValues("invalid_forward")))
	require.Len(t, r.sc.accounts, 3)
}

// TestForwardBugDeadLettersOriginal: a repartition record the scoring worker
// cannot read is a bug. It is counted by kind and logged once, without the
// record's content; a forwarded event goes to the DLQ as invalid_forward as
// the input record it came from (bytes, key, headers, source), a record
// whose envelope does not read, and a broken merge record, as themselves.
func TestForwardBugDeadLettersOriginal(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	r := newGuardRig(t, now, nil)
	var logs bytes.Buffer
	r.e.dlq.log = slog.New(slog.NewTextHandler(&logs, nil))
	in := func(off int64, value string) *kgo.Record {
		rec := inputRecord(off, "visitor-"+strconv.FormatInt(off, 10), value)
		rec.Topic, rec.Partition = "events-b", 7
		return rec
	}
	fwd := func(account string, rec *kgo.Record) *kgo.Record {
		v, err := appendForward(nil, rec, nil, forwardMeta{watermark: now.Add(-time.Hour)})
		require.NoError(t, err)
		return &kgo.Record{Key: []byte(account), Value: v}
	}
	noAccount := in(41, `{"type":"page","anonymousId":"a","timestamp":"2026-06-01T10:00:00Z","traits":{"email":"jane@acme.com"}}`)
	undecodable := in(42, `{"type":"page","anonymousId":"a","traits":{"email":"jane@acme.com"}}`) // no timestamp
	envelope := &kgo.Record{Key: []byte("acme.com"), Value: []byte("\x7fjane@acme.com")}
	merge := &kgo.Record{Key: []byte("acme.com"), Value: []byte(`{"lead":`), Headers: []kgo.RecordHeader{{Key: headerMerge}}}
	ok := in(43, `{"type":"page","anonymousId":"a","timestamp":"2026-06-01T10:00:00Z"}`)
	r.repartition = []*kgo.Record{fwd("", noAccount), fwd("acme.com", undecodable), envelope, merge, fwd("acme.com", ok)}
	r.score()

	dl := r.deadLetters()
	require.Len(t, dl, 4)
	for i, orig := range []*kgo.Record{noAccount, undecodable} {
		h, n := headers(dl[i])
		require.Equal(t, "invalid_forward", h[HeaderReason])
		require.Equal(t, string(orig.Value), string(dl[i].Value), "the original bytes, not the envelope")
		require.Equal(t, string(orig.Key), string(dl[i].Key))
		require.Equal(t, "t-"+strconv.FormatInt(orig.Offset, 10), h["trace"])
		require.Equal(t, 6, n)
		require.Equal(t, "events-b", h[HeaderTopic])
		require.Equal(t, "7", h[HeaderPartition])
		require.Equal(t, strconv.FormatInt(orig.Offset, 10), h[HeaderOffset])
	}
	for i, own := range []*kgo.Record{envelope, merge} {
		d := dl[2+i]
		h, _ := headers(d)
		require.Equal(t, "invalid_forward", h[HeaderReason])
		require.Equal(t, string(own.Value), string(d.Value))
		require.Equal(t, r.cfg.repartitionTopic(), h[HeaderTopic])
	}
	m := r.e.metrics.forwardBugs
	require.Equal(t, 3.0, counterValue(t, m.WithLabelValues("event")))
	require.Equal(t, 1.0, counterValue(t, m.WithLabelValues("merge")))
	require.Equal(t, 4.0, counterValue(t, r.e.metrics.deadLetters.WithLabelValues("invalid_forward")))
	require.Equal(t, 1.0, counterValue(t, r.e.metrics.records.WithLabelValues(resultScored)), "the good one is scored")
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	require.Len(t, lines, 1, "logged once: %s", logs.String())
	require.Contains(t, lines[0], "source_offset=41")
	require.NotContains(t, lines[0], "jane", "no personal data in the log")
	require.NotContains(t, lines[0], "acme.com", "no account in the log")
}
