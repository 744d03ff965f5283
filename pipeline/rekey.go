package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/segmentio/encoding/json"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/leadscore/leadscore/features"
	"github.com/leadscore/leadscore/internal/rows"
)

// Events arrive keyed by visitor, but an account's state must live in one
// place. So scoring is two steps, as Kafka Streams repartitions: the worker
// of an input partition resolves each event's account and forwards it, inside
// the cycle's transaction, to the repartition topic keyed by the account; the
// worker of the account's repartition partition scores it. Whatever instance
// owns that partition owns the account.

// forwarded is a repartition record's value: the original event, the input
// record it came from (the identity of the rows it produces), and the
// anonymous events its identity link released, to be scored first.
type forwarded struct {
	Source  rows.Source        `json:"source"`
	Pending []features.Pending `json:"pending,omitempty"`
	Raw     json.RawMessage    `json:"event"`
	// Watermark is the input partition's event time when it forwarded the
	// record: the newest event time it had decoded.
	Watermark time.Time `json:"wm"`
	// IP is set when the event was resolved by its IP address.
	IP *ipMatchInfo `json:"ip,omitempty"`
	// Tags are the hygiene codes an identify was found suspicious for
	// (free-mail, a role account...), kept with the contact.
	Tags []string `json:"tags,omitempty"`
}

// forwardMeta is what an input worker adds to a forwarded event.
type forwardMeta struct {
	watermark time.Time
	ip        *ipMatchInfo
	tags      []string
}

// forward produces a resolved event to the repartition topic. Records of one
// account go to one partition (the key's hash), in the order produced.
func (e *Engine) forward(account string, pending []features.Pending, r *kgo.Record, m forwardMeta) error {
	v, err := appendForward(make([]byte, 0, len(r.Value)+160), r, pending, m)
	if err != nil {
		return fmt.Errorf("encode forwarded event: %w", err)
	}
	e.cl.Produce(context.Background(), &kgo.Record{Topic: e.cfg.repartitionTopic(), Key: []byte(account), Value: v},
		func(_ *kgo.Record, err error) {
			if err != nil {
				e.dlq.fail(fmt.Errorf("produce to repartition topic: %w", err))
			}
		})
	return nil
}

// appendForward appends the JSON of a forwarded record to b. The event is
// copied verbatim (it decoded, so it is JSON): encoding it through a
// RawMessage would validate and re-escape every byte of it again.
func appendForward(b []byte, r *kgo.Record, pending []features.Pending, m forwardMeta) ([]byte, error) {
	b = append(b, `{"source":{"topic":`...)
	b = json.AppendEscape(b, r.Topic, 0)
	b = append(b, `,"partition":`...)
	b = strconv.AppendInt(b, int64(r.Partition), 10)
	b = append(b, `,"offset":`...)
	b = strconv.AppendInt(b, r.Offset, 10)
	b = append(b, '}')
	if !m.watermark.IsZero() {
		b = append(b, `,"wm":"`...)
		b = m.watermark.UTC().AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
	}
	for _, part := range []struct {
		key  string
		v    any
		skip bool
	}{
		{`,"pending":`, pending, len(pending) == 0},
		{`,"ip":`, m.ip, m.ip == nil},
		{`,"tags":`, m.tags, len(m.tags) == 0},
	} {
		if part.skip {
			continue
		}
		enc, err := json.Marshal(part.v)
		if err != nil {
			return nil, err
		}
		b = append(b, part.key...)
		b = append(b, enc...)
	}
	b = append(b, `,"event":`...)
	b = append(b, r.Value...)
	return append(b, '}'), nil
}

// A watermark heartbeat tells every repartition partition how far an input
// partition's event time has come, so that scoring workers' watermarks move
// even when an input partition forwards nothing to them. It is a record
// without a key, sent to a named partition, with the header
// leadscore.watermark; its value is a heartbeat as JSON.
const headerWatermark = "leadscore.watermark"

type heartbeat struct {
	Topic     string    `json:"topic"`
	Partition int32     `json:"partition"`
	Watermark time.Time `json:"wm"`
	// Idle: the input partition has had no record for idleAfter; scoring
	// workers leave it out of their watermark until it speaks again.
	Idle bool `json:"idle,omitempty"`
}

// idleAfter is how long an input partition goes without records before its
// heartbeat says idle, as Flink marks idle sources: an empty partition must
// not hold every decay change back.
const idleAfter = 30 * time.Second

// beatDue reports whether an input worker owes the scoring workers a
// heartbeat: its event time moved, or it went idle.
func (w *worker) beatDue(now time.Time) bool {
	if w.rekeyed {
		return false
	}
	return w.maxTime.After(w.beat) || (!w.idleSent && now.Sub(w.lastRecord) >= idleAfter)
}

// heartbeats produces, inside the open transaction, a heartbeat from every
// input worker that owes one to every repartition partition.
func (e *Engine) heartbeats(produce func(*kgo.Record)) error {
	now := time.Now()
	for _, w := range e.workers {
		if !w.beatDue(now) {
			continue
		}
		hb := heartbeat{Topic: w.topic, Partition: w.partition, Watermark: w.maxTime}
		if !w.maxTime.After(w.beat) {
			hb.Idle, w.idleSent = true, true
		} else {
			w.idleSent = false
		}
		v, err := json.Marshal(hb)
		if err != nil {
			return fmt.Errorf("encode watermark heartbeat: %w", err)
		}
		for p := range int32(e.repartitions) {
			produce(&kgo.Record{Topic: e.cfg.repartitionTopic(), Partition: p, Value: v,
				Headers: []kgo.RecordHeader{{Key: headerWatermark}}})
		}
		w.beat = w.maxTime
	}
	return nil
}

func isHeartbeat(r *kgo.Record) bool {
	return r.Key == nil && len(r.Headers) == 1 && r.Headers[0].Key == headerWatermark
}

func decodeForward(r *kgo.Record) (*forwarded, error) {
	var f forwarded
	if err := json.Unmarshal(r.Value, &f); err != nil {
		return nil, fmt.Errorf("decode forwarded event: %w", err)
	}
	if len(r.Key) == 0 || len(f.Raw) == 0 {
		return nil, errors.New("decode forwarded event: no account or no event")
	}
	return &f, nil
}
