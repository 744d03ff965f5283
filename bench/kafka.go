package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/leadscore/leadscore/pipeline"
)

// partitions of every topic the harness creates: the engine's default.
const partitions = 4

// broker is the in-process Kafka broker (franz-go's kfake, as the engine's
// embedded one) that every run reads from and writes to.
type broker struct {
	cluster *kfake.Cluster
	addrs   []string
	adm     *kadm.Client
	cl      *kgo.Client
}

func startBroker() (*broker, error) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(partitions))
	if err != nil {
		return nil, fmt.Errorf("start kafka: %w", err)
	}
	addrs := c.ListenAddrs()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("start kafka: %w", err)
	}
	return &broker{cluster: c, addrs: addrs, adm: kadm.NewClient(cl), cl: cl}, nil
}

func (b *broker) close() {
	b.cl.Close()
	b.cluster.Close()
}

func (b *broker) createTopics(ctx context.Context, topics ...string) error {
	resp, err := b.adm.CreateTopics(ctx, partitions, 1, nil, topics...)
	if err != nil {
		return fmt.Errorf("create topics: %w", err)
	}
	return resp.Error()
}

// deleteTopics drops a finished run's topics, so the broker's memory holds
// only the input.
func (b *broker) deleteTopics(ctx context.Context, topics ...string) {
	_, _ = b.adm.DeleteTopics(ctx, topics...)
}

// produceAll writes the events to topic as fast as the broker takes them.
func (b *broker) produceAll(ctx context.Context, topic string, keys, values [][]byte) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.addrs...), kgo.DefaultProduceTopic(topic),
		kgo.ProducerLinger(5*time.Millisecond), kgo.MaxBufferedRecords(100_000))
	if err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	defer cl.Close()
	var (
		mu    sync.Mutex
		first error
	)
	for i := range values {
		cl.Produce(ctx, &kgo.Record{Key: keys[i], Value: values[i]}, func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				first = cmpErr(first, err)
				mu.Unlock()
			}
		})
	}
	err = cl.Flush(ctx)
	mu.Lock()
	defer mu.Unlock()
	if err := errors.Join(first, err); err != nil {
		return fmt.Errorf("produce to %s: %w", topic, err)
	}
	return nil
}

func cmpErr(old, e error) error {
	if old != nil {
		return old
	}
	return e
}

// waitCaughtUp polls every 20 ms until group has committed the end of
// topics, and returns when it saw that.
func (b *broker) waitCaughtUp(ctx context.Context, group string, timeout time.Duration, topics ...string) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		lag, err := pipeline.AdminLag(ctx, b.adm, group, topics...)
		if err == nil && lag == 0 {
			return time.Now(), nil
		}
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("wait for group %s (lag %d, %v): %w", group, lag, err, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
