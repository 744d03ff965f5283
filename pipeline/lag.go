package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// GroupLag is how many records of topics the group has not committed yet:
// the sum over partitions of end offset minus committed offset (the whole
// partition when nothing is committed).
func GroupLag(ctx context.Context, brokers []string, group string, topics ...string) (int64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return 0, fmt.Errorf("group lag: %w", err)
	}
	defer cl.Close()
	return AdminLag(ctx, kadm.NewClient(cl), group, topics...)
}

// AdminLag is GroupLag through an admin client the caller keeps, for
// callers that ask often (the benchmark harness waiting for a catch-up).
func AdminLag(ctx context.Context, adm *kadm.Client, group string, topics ...string) (int64, error) {
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return 0, fmt.Errorf("group lag: list end offsets: %w", err)
	}
	committed, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return 0, fmt.Errorf("group lag: fetch offsets: %w", err)
	}
	var lag int64
	var lerr error
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			lerr = o.Err
			return
		}
		at := int64(0)
		if c, ok := committed.Lookup(o.Topic, o.Partition); ok && c.Err == nil && c.At >= 0 {
			at = c.At
		}
		lag += o.Offset - at
	})
	if lerr != nil {
		return 0, fmt.Errorf("group lag: %w", lerr)
	}
	return lag, nil
}

// WaitCaughtUp polls until the group has committed every record of topics,
// or ctx ends.
func WaitCaughtUp(ctx context.Context, brokers []string, group string, topics ...string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return fmt.Errorf("wait for group %s: %w", group, err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		lag, err := AdminLag(ctx, adm, group, topics...)
		if err == nil && lag == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for group %s to catch up (lag %d, last error %v): %w", group, lag, err, ctx.Err())
		case <-t.C:
		}
	}
}
