package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/leadscore/leadscore/internal/event"
)

// Dead-letter record headers (CONTRACT section 2).
const (
	HeaderReason    = "leadscore.error.reason"
	HeaderDetail    = "leadscore.error.detail"
	HeaderTopic     = "leadscore.source.topic"
	HeaderPartition = "leadscore.source.partition"
	HeaderOffset    = "leadscore.source.offset"
)

// maxDetail bounds the detail header: a reason's detail names a field or a
// position, never the record itself.
const maxDetail = 512

// Reason codes of the dead letters the pipeline itself decides (the
// decoder's are event.Reason values).
const (
	// reasonInvalidAccount: the account id the event names is not one
	// (features.CheckNamed).
	reasonInvalidAccount = "invalid_account"
	// reasonFutureTimestamp: the event time is beyond engine.max_future
	// of the wall clock (the decoder reports times after 2106 itself).
	reasonFutureTimestamp = string(event.ReasonFutureTimestamp)
	// reasonInvalidForward: a repartition record the scoring worker could
	// not read. A bug, counted in leadscore_pipeline_forward_bugs_total.
	reasonInvalidForward = "invalid_forward"
	// reasonForwardFailed: a decoded record could not be encoded for the
	// repartition topic. A bug too.
	reasonForwardFailed = "forward_failed"
)

// deadLetters produces unusable records, unchanged, to the DLQ topic.
// Records are produced asynchronously; flush waits for them, so the offsets
// of dead-lettered records are committed only once the DLQ holds them.
type deadLetters struct {
	cl    *kgo.Client
	topic string
	log   *slog.Logger // nil: slog.Default()

	mu   sync.Mutex
	errs []error
	// bugLogged: a forward bug was logged; the metric counts the rest.
	bugLogged atomic.Bool
}

// send produces r to the DLQ: its key, value and headers as they were,
// then the reason, the detail and r's source (topic, partition, offset).
// An original header named as one of those is left out, so a record sent
// back from the DLQ to the input and refused again carries one reason.
func (d *deadLetters) send(r *kgo.Record, reason, detail string) {
	if len(detail) > maxDetail {
		detail = detail[:maxDetail]
	}
	headers := make([]kgo.RecordHeader, 0, len(r.Headers)+5)
	for _, h := range r.Headers {
		switch h.Key {
		case HeaderReason, HeaderDetail, HeaderTopic, HeaderPartition, HeaderOffset:
		default:
			headers = append(headers, h)
		}
	}
	out := &kgo.Record{
		Topic: d.topic,
		Key:   r.Key,
		Value: r.Value,
		Headers: append(headers,
			kgo.RecordHeader{Key: HeaderReason, Value: []byte(reason)},
			kgo.RecordHeader{Key: HeaderDetail, Value: []byte(detail)},
			kgo.RecordHeader{Key: HeaderTopic, Value: []byte(r.Topic)},
			kgo.RecordHeader{Key: HeaderPartition, Value: strconv.AppendInt(nil, int64(r.Partition), 10)},
			kgo.RecordHeader{Key: HeaderOffset, Value: strconv.AppendInt(nil, r.Offset, 10)},
		),
	}
	d.cl.Produce(context.Background(), out, func(_ *kgo.Record, err error) {
		if err != nil {
			d.fail(err)
		}
	})
}

// bug logs, once per session, a repartition record of kind (event, lead,
// merge, fold) that a scoring worker could not read: where it was and what
// kind of error (a decoder reason, or "envelope"), never its content,
// which may hold personal data. rec is the repartition record; src the
// input record it came from, when the envelope said.
func (d *deadLetters) bug(kind string, rec *kgo.Record, src *kgo.Record, err error) {
	if !d.bugLogged.CompareAndSwap(false, true) {
		return
	}
	l := d.log
	if l == nil {
		l = slog.Default()
	}
	class := "envelope"
	var de *event.DecodeError
	if errors.As(err, &de) {
		class = string(de.Reason)
	}
	attrs := []any{"record", kind, "error", class, "topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset}
	if src != nil && src != rec {
		attrs = append(attrs, "source_topic", src.Topic, "source_partition", src.Partition, "source_offset", src.Offset)
	}
	l.Error("a repartition record could not be read, which is a bug: it went to the dead-letter topic as invalid_forward "+
		"(logged once; leadscore_pipeline_forward_bugs_total counts them)", attrs...)
}

// fail records a produce error of the cycle; flush reports it, and the
// cycle is not committed.
func (d *deadLetters) fail(err error) {
	d.mu.Lock()
	d.errs = append(d.errs, err)
	d.mu.Unlock()
}

// reset forgets the errors of an aborted cycle's records.
func (d *deadLetters) reset() {
	d.mu.Lock()
	d.errs = nil
	d.mu.Unlock()
}

// flush waits for every dead letter sent so far and reports produce errors.
func (d *deadLetters) flush(ctx context.Context) error {
	if err := d.cl.Flush(ctx); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	err := errors.Join(d.errs...)
	d.errs = nil
	if err != nil {
		return fmt.Errorf("produce dead letters or forwarded events: %w", err)
	}
	return nil
}
