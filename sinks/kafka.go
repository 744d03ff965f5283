package sinks

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/encoding/json"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/leadscore/leadscore/internal/rows"
)

// Kafka produces score changes to a topic (default leadscore.score-changes),
// one JSON record per rows.ScoreChange keyed by account id, so one account's
// changes stay in order on one partition. With WithHandoffs it also produces
// handoffs, one JSON record per rows.Handoff keyed by account id, to a
// topic of their own. Account scores, funnel transitions and score events
// are not part of the topics' contract and are ignored (score events go to
// ClickHouse only).
//
// Write encodes and hands records to the client's asynchronous Produce; it
// blocks only when the client's buffer is full (kgo.MaxBufferedRecords).
// Flush waits until every record written before it is acknowledged and
// returns the produce errors seen since the previous Flush. A failed record
// is not retried beyond the client's own retries: a Flush error means rows
// were lost, and the caller must not commit the input past them (restarting
// from the last commit replays them; consumers tell replays apart by the
// source field, which a replay repeats).
//
// The client is shared and owned by the caller, who closes it after Close.
// A Kafka is safe for concurrent use.
type Kafka struct {
	cl            *kgo.Client
	topic         string
	handoffsTopic string // "": handoffs are not produced
	rejectedTopic string // "": rejected leads are not produced
	contactsTopic string // "": contact changes are not produced
	m             *sinkMetrics

	// life bounds the records: a record outlives the Write that produced
	// it, so the Write's context must not cancel it once Write returned.
	// Close cancels life when it gives up on the records still in flight.
	life context.Context
	kill context.CancelFunc

	// flushing is a one-slot semaphore held by the running Flush.
	flushing chan struct{}

	mu       sync.Mutex
	gen      uint64         // generation of new records; Flush starts a new one
	inflight map[uint64]int // records produced and not yet acknowledged, by generation
	idle     chan struct{}  // closed when inflight changes, if someone waits
	total    int            // sum of inflight
	firstErr error          // first produce error since the last Flush
	failed   int            // records failed since the last Flush
	closed   bool

	closeOnce sync.Once
	closeErr  error
}

var (
	_ Sink      = (*Kafka)(nil)
	_ Discarder = (*Kafka)(nil)
)

// KafkaOption configures a Kafka sink in NewKafka.
type KafkaOption interface {
	apply(*Kafka)
}

type kafkaOption func(*Kafka)

func (o kafkaOption) apply(k *Kafka) { o(k) }

// WithHandoffs makes the sink produce the batches' handoffs to topic (the
// contract's default is leadscore.handoffs), keyed by account id, in the
// same transaction and under the same Flush as the score changes. Without
// it, or with an empty topic, handoffs are not produced.
func WithHandoffs(topic string) KafkaOption {
	return kafkaOption(func(k *Kafka) { k.handoffsTopic = topic })
}

// WithRejected makes the sink produce the batches' rejected leads to topic
// (default leadscore.rejected), keyed by the lead's userId (else its
// anonymousId), as JSON: the lead's contact data, every reason (code,
// field, value, detail), the source and the original record as "event".
func WithRejected(topic string) KafkaOption {
	return kafkaOption(func(k *Kafka) { k.rejectedTopic = topic })
}

// WithContactChanges makes the sink produce the batches' contact changes
// (job_changed) to topic (default leadscore.contact-changes), keyed by the
// contact's userId (else its anonymousId), as the JSON of
// rows.ContactChange.
func WithContactChanges(topic string) KafkaOption {
	return kafkaOption(func(k *Kafka) { k.contactsTopic = topic })
}

// rejectedJSON is a rejected-topic record.
type rejectedJSON struct {
	At          string           `json:"at"`
	UserID      string           `json:"user_id"`
	AnonymousID string           `json:"anonymous_id"`
	Email       string           `json:"email"`
	Phone       string           `json:"phone"`
	Company     string           `json:"company"`
	Reasons     []rejectedReason `json:"reasons"`
	Source      rows.Source      `json:"source"`
	Event       json.RawMessage  `json:"event"`
}

type rejectedReason struct {
	Code   string `json:"code"`
	Field  string `json:"field"`
	Value  string `json:"value,omitempty"`
	Detail string `json:"detail,omitempty"`
}

func encodeRejected(r *rows.RejectedLead) ([]byte, error) {
	v := rejectedJSON{
		At: r.At.UTC().Format(time.RFC3339Nano), UserID: r.UserID, AnonymousID: r.AnonymousID,
		Email: r.Email, Phone: r.Phone, Company: r.Company, Reasons: []rejectedReason{}, Source: r.Source,
		Event: r.Raw,
	}
	if !json.Valid(r.Raw) {
		v.Event = nil
	}
	for i := range r.Reasons {
		rr := rejectedReason{Code: r.Reasons[i]}
		if i < len(r.Fields) {
			rr.Field = r.Fields[i]
		}
		if i < len(r.Values) {
			rr.Value = r.Values[i]
		}
		if i < len(r.Details) {
			rr.Detail = r.Details[i]
		}
		v.Reasons = append(v.Reasons, rr)
	}
	return json.Marshal(v)
}

// NewKafka returns a Kafka sink producing score changes to topic with cl,
// and what opts add. Metrics go to reg (nil: none).
func NewKafka(cl *kgo.Client, topic string, reg prometheus.Registerer, opts ...KafkaOption) *Kafka {
	life, kill := context.WithCancel(context.Background())
	k := &Kafka{
		cl:       cl,
		topic:    topic,
		m:        newSinkMetrics(reg, "kafka"),
		life:     life,
		kill:     kill,
		flushing: make(chan struct{}, 1),
		inflight: make(map[uint64]int),
	}
	for _, o := range opts {
		o.apply(k)
	}
	return k
}

// Write produces one record per score change in b, and one per handoff
// with WithHandoffs. ctx bounds the wait for buffer space; cancelling it
// after Write returned does not cancel the records.
func (k *Kafka) Write(ctx context.Context, b *rows.Batch) error {
	handoffs, rejected, contacts := b.Handoffs, b.Rejected, b.Contacts
	if k.handoffsTopic == "" {
		handoffs = nil
	}
	if k.contactsTopic == "" {
		contacts = nil
	}
	if k.rejectedTopic == "" {
		rejected = nil
	}
	// Encode first: a record that cannot be encoded fails the batch before
	// anything is produced.
	var rejectedValues [][]byte
	for i := range rejected {
		v, err := encodeRejected(&rejected[i])
		if err != nil {
			return fmt.Errorf("write kafka: encode rejected lead: %w", err)
		}
		rejectedValues = append(rejectedValues, v)
	}
	var contactValues [][]byte
	for i := range contacts {
		v, err := json.Marshal(&contacts[i])
		if err != nil {
			return fmt.Errorf("write kafka: encode contact change: %w", err)
		}
		contactValues = append(contactValues, v)
	}
	n := len(b.Changes) + len(handoffs) + len(rejected) + len(contacts)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("write kafka: %w", err)
	}
	k.mu.Lock()
	if k.closed {
		k.mu.Unlock()
		return fmt.Errorf("write kafka: %w", ErrClosed)
	}
	if n == 0 {
		k.mu.Unlock()
		return nil
	}
	gen := k.gen
	k.inflight[gen] += n
	k.total += n
	k.m.buffered.Set(float64(k.total))
	k.mu.Unlock()

	// The records' context: cancelled by ctx while this Write still
	// produces (blocked on a full buffer), detached from it afterwards, and
	// released when the last record is done.
	rctx, cancel := context.WithCancel(k.life)
	stop := context.AfterFunc(ctx, cancel)
	var left atomic.Int64
	left.Store(int64(n))
	promise := func(table string) func(*kgo.Record, error) {
		return func(r *kgo.Record, err error) {
			if err != nil {
				err = fmt.Errorf("produce to %s: %w", r.Topic, err)
			}
			k.done(gen, table, err)
			if left.Add(-1) == 0 {
				cancel()
			}
		}
	}
	if len(b.Changes) > 0 {
		p := promise("score_changes")
		for i := range b.Changes {
			c := &b.Changes[i]
			// Key and value share one allocation; the record owns it.
			buf := make([]byte, 0, len(c.AccountID)+scoreChangeJSONSize(c))
			buf = append(buf, c.AccountID...)
			buf = appendScoreChangeJSON(buf, c)
			k.cl.Produce(rctx, &kgo.Record{
				Topic: k.topic,
				Key:   buf[:len(c.AccountID):len(c.AccountID)],
				Value: buf[len(c.AccountID):],
			}, p)
		}
	}
	if len(handoffs) > 0 {
		p := promise("handoffs")
		for i := range handoffs {
			h := &handoffs[i]
			buf := make([]byte, 0, len(h.AccountID)+handoffJSONSize(h))
			buf = append(buf, h.AccountID...)
			buf = appendHandoffJSON(buf, h)
			k.cl.Produce(rctx, &kgo.Record{
				Topic: k.handoffsTopic,
				Key:   buf[:len(h.AccountID):len(h.AccountID)],
				Value: buf[len(h.AccountID):],
			}, p)
		}
	}
	if len(rejected) > 0 {
		p := promise("rejected_leads")
		for i := range rejected {
			key := rejected[i].UserID
			if key == "" {
				key = rejected[i].AnonymousID
			}
			k.cl.Produce(rctx, &kgo.Record{Topic: k.rejectedTopic, Key: []byte(key), Value: rejectedValues[i]}, p)
		}
	}
	if len(contacts) > 0 {
		p := promise("contact_changes")
		for i := range contacts {
			key := contacts[i].UserID
			if key == "" {
				key = contacts[i].AnonymousID
			}
			k.cl.Produce(rctx, &kgo.Record{Topic: k.contactsTopic, Key: []byte(key), Value: contactValues[i]}, p)
		}
	}
	if !stop() {
		return fmt.Errorf("write kafka: %w", ctx.Err())
	}
	return nil
}

// done accounts for one finished record of generation gen, for table (the
// rows metric's label: score_changes or handoffs).
func (k *Kafka) done(gen uint64, table string, err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.inflight[gen]--; k.inflight[gen] == 0 {
		delete(k.inflight, gen)
	}
	k.total--
	k.m.buffered.Set(float64(k.total))
	if err != nil {
		k.m.errors.Inc()
		k.failed++
		if k.firstErr == nil {
			k.firstErr = err
		}
	} else {
		k.m.rows.WithLabelValues(table).Inc()
	}
	if k.idle != nil {
		close(k.idle)
		k.idle = nil
	}
}

// Flush waits until every record written before the call is acknowledged
// (or failed) and returns ctx's error, if it ended the wait, joined with the
// first produce error since the previous Flush.
func (k *Kafka) Flush(ctx context.Context) error {
	k.mu.Lock()
	closed := k.closed
	k.mu.Unlock()
	if closed {
		return fmt.Errorf("flush kafka: %w", ErrClosed)
	}
	return k.flush(ctx)
}

func (k *Kafka) flush(ctx context.Context) error {
	select {
	case k.flushing <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("flush kafka: wait for the running flush: %w", ctx.Err())
	}
	defer func() { <-k.flushing }()
	start := time.Now()

	k.mu.Lock()
	gen := k.gen
	k.gen++
	k.mu.Unlock()

	// cl.Flush waits for everything buffered in the shared client; then wait
	// for our own records of this and earlier generations, which also
	// covers records failed before the client buffered them (their promises
	// run asynchronously, outside cl.Flush's count).
	waitErr := k.cl.Flush(ctx)
	if waitErr == nil {
		waitErr = k.waitGen(ctx, gen)
	}

	k.mu.Lock()
	prodErr, failed := k.firstErr, k.failed
	k.firstErr, k.failed = nil, 0
	k.mu.Unlock()
	if prodErr != nil {
		prodErr = fmt.Errorf("%d records failed, first: %w", failed, prodErr)
	}
	if err := errors.Join(waitErr, prodErr); err != nil {
		return fmt.Errorf("flush kafka: %w", err)
	}
	k.m.flush.Observe(time.Since(start).Seconds())
	return nil
}

// waitGen waits until no record of generation gen or earlier is in flight.
func (k *Kafka) waitGen(ctx context.Context, gen uint64) error {
	k.mu.Lock()
	for {
		busy := false
		for g := range k.inflight {
			if g <= gen {
				busy = true
				break
			}
		}
		if !busy {
			k.mu.Unlock()
			return nil
		}
		if k.idle == nil {
			k.idle = make(chan struct{})
		}
		idle := k.idle
		k.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-idle:
		}
		k.mu.Lock()
	}
}

// Discard is for after the caller aborted the transaction its records were
// produced in (they fail with kgo.ErrAborting): it waits, until ctx is done,
// for the records still in flight, then forgets their errors.
func (k *Kafka) Discard(ctx context.Context) {
	k.mu.Lock()
	gen := k.gen
	k.gen++
	k.mu.Unlock()
	_ = k.waitGen(ctx, gen)
	k.mu.Lock()
	k.firstErr, k.failed = nil, 0
	k.mu.Unlock()
}

// Close stops accepting rows and flushes until ctx is done; records still in
// flight then are failed and counted in the error. It does not close the
// client. Close is idempotent: later calls return the first one's result.
func (k *Kafka) Close(ctx context.Context) error {
	k.closeOnce.Do(func() {
		k.mu.Lock()
		k.closed = true
		k.mu.Unlock()
		err := k.flush(ctx)
		if err != nil {
			k.mu.Lock()
			dropped := k.total
			k.mu.Unlock()
			err = fmt.Errorf("close kafka: %d records in flight: %w", dropped, err)
		}
		k.kill()
		k.closeErr = err
	})
	return k.closeErr
}
