package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/leadscore/leadscore/internal/generate"
)

// Produce sends n generated records to topic, at rate records per second
// (0: as fast as the broker takes them), and waits until all are
// acknowledged. It returns how many were acknowledged.
func Produce(ctx context.Context, brokers []string, topic string, g *generate.Generator, n int, rate float64) (int, error) {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.DefaultProduceTopic(topic),
		kgo.ProducerLinger(2*time.Millisecond),
		kgo.MaxBufferedRecords(50_000),
	)
	if err != nil {
		return 0, fmt.Errorf("produce: %w", err)
	}
	defer cl.Close()
	var (
		mu    sync.Mutex
		acked int
		errs  []error
	)
	start := time.Now()
	for i := 0; i < n; i++ {
		if ctx.Err() != nil {
			break
		}
		if rate > 0 {
			if d := time.Until(start.Add(time.Duration(float64(i) / rate * float64(time.Second)))); d > 0 {
				select {
				case <-time.After(d):
				case <-ctx.Done():
				}
			}
		}
		rec := g.Next()
		cl.Produce(ctx, &kgo.Record{Key: rec.Key, Value: rec.Value}, func(_ *kgo.Record, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if len(errs) < 10 {
					errs = append(errs, err)
				}
				return
			}
			acked++
		})
	}
	ferr := cl.Flush(context.WithoutCancel(ctx))
	mu.Lock()
	defer mu.Unlock()
	if err := errors.Join(append(errs, ferr, ctx.Err())...); err != nil {
		return acked, fmt.Errorf("produce: %w", err)
	}
	return acked, nil
}
