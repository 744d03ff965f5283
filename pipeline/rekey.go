package pipeline

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
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
	Source rows.Source `json:"source"`
	// Key and headers are the input record's (format 2 on; nil in records
	// of earlier formats), so that an event the scoring worker cannot
	// score goes to the dead-letter topic as it came (original). The
	// headers stay encoded (count, then key and value each) until then:
	// the scoring worker's hot path does not allocate for them.
	Key     []byte `json:"-"`
	headers []byte
	Pending []features.Pending `json:"pending,omitempty"`
	Raw     json.RawMessage    `json:"event"`
	// Watermark is the input partition's event time when it forwarded the
	// record (advanceTime: the newest event time it had decoded, each
	// record moving it by at most engine.max_time_jump).
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
// Records and their buffers come from a pool and go back to it once the
// client is done with them (their promise), so steady forwarding does not
// allocate.
func (e *Engine) forward(account string, pending []features.Pending, r *kgo.Record, m forwardMeta) error {
	rec := forwardPool.Get().(*kgo.Record)
	v, err := appendForward(rec.Value[:0], r, pending, m)
	if err != nil {
		forwardPool.Put(rec)
		return fmt.Errorf("encode forwarded event: %w", err)
	}
	key := append(rec.Key[:0], account...)
	*rec = kgo.Record{Topic: e.cfg.Kafka.RepartitionTopic, Key: key, Value: v}
	e.produce(rec, e.forwarded)
	return nil
}

// forwardPool holds repartition records whose promise has run.
var forwardPool = sync.Pool{New: func() any { return new(kgo.Record) }}

// maxPooledForward is the largest record buffer kept for reuse; a rare
// big event's buffer goes to the garbage collector instead.
const maxPooledForward = 16 << 10

// onForwarded is the promise of every forwarded record: after it the
// client holds no reference to the record, which goes back to the pool.
func (e *Engine) onForwarded(r *kgo.Record, err error) {
	if err != nil {
		e.dlq.fail(fmt.Errorf("produce to repartition topic: %w", err))
	}
	if cap(r.Value) > maxPooledForward {
		return
	}
	*r = kgo.Record{Key: r.Key[:0], Value: r.Value[:0]}
	forwardPool.Put(r)
}

// forwardFormat is the first byte of a forwarded record in the binary
// format appendForward writes. Format 1 lacked the input record's key and
// headers; records of still earlier versions are JSON and begin with '{'.
// decodeForward reads all three, so an upgrade mid-stream loses nothing.
const (
	forwardFormat1 = 0x01
	forwardFormat  = 0x02
)

// appendForward appends a forwarded record to b: the format byte, the
// source (topic, partition, offset), the input record's key (a nil key
// written apart from an empty one) and headers, the watermark (Unix
// nanoseconds, 0 for none), the IP match (a presence byte, organisation,
// confidence, source), the tags, the pending events (JSON, rare), then the
// event's bytes verbatim: it decoded, so it needs no escaping, and the
// scoring worker reads the header without a JSON parser. Strings are
// length-prefixed (uvarint), integers varints.
func appendForward(b []byte, r *kgo.Record, pending []features.Pending, m forwardMeta) ([]byte, error) {
	b = append(b, forwardFormat)
	b = appendString(b, r.Topic)
	b = binary.AppendVarint(b, int64(r.Partition))
	b = binary.AppendVarint(b, r.Offset)
	b = appendNullable(b, r.Key)
	b = binary.AppendUvarint(b, uint64(len(r.Headers)))
	for _, h := range r.Headers {
		b = appendString(b, h.Key)
		b = appendNullable(b, h.Value)
	}
	var wm int64
	if !m.watermark.IsZero() {
		wm = m.watermark.UnixNano()
	}
	b = binary.AppendVarint(b, wm)
	if m.ip == nil {
		b = append(b, 0)
	} else {
		b = append(b, 1)
		b = appendString(b, m.ip.Org)
		b = appendFloat(b, m.ip.Confidence)
		b = appendString(b, m.ip.Source)
	}
	b = binary.AppendUvarint(b, uint64(len(m.tags)))
	for _, t := range m.tags {
		b = appendString(b, t)
	}
	if len(pending) == 0 {
		b = binary.AppendUvarint(b, 0)
	} else {
		enc, err := json.Marshal(pending)
		if err != nil {
			return nil, err
		}
		b = binary.AppendUvarint(b, uint64(len(enc)))
		b = append(b, enc...)
	}
	return append(b, r.Value...), nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// appendNullable appends bytes that may be nil, as Kafka keys and header
// values may: 0 for nil, else the length plus one, then the bytes.
func appendNullable(b, v []byte) []byte {
	if v == nil {
		return append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(v))+1)
	return append(b, v...)
}

// byteReader reads the binary formats (forwarded records here, account
// snapshots in snapshot.go); the first error sticks.
type byteReader struct {
	b   []byte
	bad bool
}

func (r *byteReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *byteReader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *byteReader) bytes() []byte {
	n := r.uvarint()
	if r.bad || n > uint64(len(r.b)) {
		r.bad = true
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// nullable reads what appendNullable wrote (nil for nil).
func (r *byteReader) nullable() []byte {
	n := r.uvarint()
	if r.bad || n == 0 {
		return nil
	}
	if n-1 > uint64(len(r.b)) {
		r.bad = true
		return nil
	}
	v := r.b[: n-1 : n-1]
	r.b = r.b[n-1:]
	return v
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
	// Idle: the input partition has had no record for
	// engine.idle_partition_after; scoring workers leave it out of their
	// watermark until it speaks again.
	Idle bool `json:"idle,omitempty"`
}

// beatDue reports whether an input worker owes the scoring workers a
// heartbeat: its event time moved, or it went idle.
func (w *worker) beatDue(now time.Time) bool {
	if w.rekeyed {
		return false
	}
	return w.maxTime.After(w.beat) || (w.idleAfter > 0 && !w.idleSent && now.Sub(w.lastRecord) >= w.idleAfter)
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

// decodeForward reads a forwarded record into f (reset first). f.Raw and
// f.Key alias r.Value; the topic is kept from f when it is the same, so a
// worker reusing f allocates nothing for the header of a plain event. When
// the envelope cannot be read, f is left empty; when it was read but names
// no account or no event, f holds what it read (original).
func decodeForward(r *kgo.Record, f *forwarded) error {
	topic := f.Source.Topic
	*f = forwarded{} // tags and pending are kept by the contact: never reused
	var err error
	if len(r.Value) > 0 && r.Value[0] == '{' {
		if err = json.Unmarshal(r.Value, f); err != nil {
			err = fmt.Errorf("decode forwarded event: %w", err)
		}
	} else {
		err = f.readBinary(r.Value, topic)
	}
	if err != nil {
		*f = forwarded{}
		return err
	}
	if len(r.Key) == 0 || len(f.Raw) == 0 {
		return errors.New("decode forwarded event: no account or no event")
	}
	return nil
}

// original is the input record f was forwarded from, as the input worker
// read it (without a key or headers when f is of an earlier format):
// what the dead-letter topic gets for an event that cannot be scored.
func (f *forwarded) original() *kgo.Record {
	r := &kgo.Record{Topic: f.Source.Topic, Partition: f.Source.Partition, Offset: f.Source.Offset,
		Key: f.Key, Value: f.Raw}
	rd := byteReader{b: f.headers}
	if n := rd.uvarint(); n > 0 {
		r.Headers = make([]kgo.RecordHeader, 0, n)
		for range n {
			k := string(rd.bytes())
			r.Headers = append(r.Headers, kgo.RecordHeader{Key: k, Value: rd.nullable()})
		}
	}
	return r
}

func (f *forwarded) readBinary(v []byte, topic string) error {
	if len(v) == 0 || (v[0] != forwardFormat && v[0] != forwardFormat1) {
		return errors.New("decode forwarded event: unknown format")
	}
	rd := byteReader{b: v[1:]}
	if t := rd.bytes(); string(t) == topic {
		f.Source.Topic = topic
	} else {
		f.Source.Topic = string(t)
	}
	f.Source.Partition = int32(rd.varint())
	f.Source.Offset = rd.varint()
	if v[0] == forwardFormat {
		f.Key = rd.nullable()
		start := rd.b
		n := rd.uvarint()
		if n > uint64(len(rd.b)) {
			rd.bad = true // each header takes at least two bytes
		}
		for i := uint64(0); i < n && !rd.bad; i++ {
			rd.bytes()
			rd.nullable()
		}
		if !rd.bad {
			f.headers = start[:len(start)-len(rd.b)]
		}
	}
	if wm := rd.varint(); wm != 0 {
		f.Watermark = time.Unix(0, wm).UTC()
	}
	if len(rd.b) > 0 && rd.b[0] == 1 {
		rd.b = rd.b[1:]
		ip := &ipMatchInfo{Org: string(rd.bytes())}
		ip.Confidence = rd.float()
		ip.Source = string(rd.bytes())
		f.IP = ip
	} else if len(rd.b) > 0 {
		rd.b = rd.b[1:]
	} else {
		rd.bad = true
	}
	n := rd.uvarint()
	if n > 0 && n <= uint64(len(rd.b)) {
		f.Tags = make([]string, 0, n)
		for i := uint64(0); i < n && !rd.bad; i++ {
			f.Tags = append(f.Tags, string(rd.bytes()))
		}
	} else if n > 0 {
		rd.bad = true
	}
	if p := rd.bytes(); len(p) > 0 && !rd.bad {
		if err := json.Unmarshal(p, &f.Pending); err != nil {
			return fmt.Errorf("decode forwarded event: pending: %w", err)
		}
	}
	if rd.bad {
		return errors.New("decode forwarded event: truncated header")
	}
	f.Raw = rd.b
	return nil
}
