package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
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

// deadLetters produces unusable records, unchanged, to the DLQ topic.
// Records are produced asynchronously; flush waits for them, so the offsets
// of dead-lettered records are committed only once the DLQ holds them.
type deadLetters struct {
	cl    *kgo.Client
	topic string

	mu   sync.Mutex
	errs []error
}

func (d *deadLetters) send(r *kgo.Record, reason, detail string) {
	if len(detail) > maxDetail {
		detail = detail[:maxDetail]
	}
	out := &kgo.Record{
		Topic: d.topic,
		Key:   r.Key,
		Value: r.Value,
		Headers: []kgo.RecordHeader{
			{Key: HeaderReason, Value: []byte(reason)},
			{Key: HeaderDetail, Value: []byte(detail)},
			{Key: HeaderTopic, Value: []byte(r.Topic)},
			{Key: HeaderPartition, Value: strconv.AppendInt(nil, int64(r.Partition), 10)},
			{Key: HeaderOffset, Value: strconv.AppendInt(nil, r.Offset, 10)},
		},
	}
	d.cl.Produce(context.Background(), out, func(_ *kgo.Record, err error) {
		if err != nil {
			d.fail(err)
		}
	})
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
