package pipeline

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// StartEmbedded starts the in-process Kafka broker (franz-go's kfake, which
// speaks the real protocol) on cfg.Kafka.Embedded.Listen, with the input and
// output topics created. It always listens on 127.0.0.1; port 0 picks a free
// one. Any Kafka client, kcat included, can produce to it.
func StartEmbedded(cfg Config) (*kfake.Cluster, error) {
	host, portStr, err := net.SplitHostPort(cfg.Kafka.Embedded.Listen)
	if err != nil {
		return nil, fmt.Errorf("start embedded kafka: kafka.embedded.listen: %w", err)
	}
	if host != "127.0.0.1" && host != "localhost" && host != "" {
		return nil, fmt.Errorf("start embedded kafka: kafka.embedded.listen: the embedded broker listens on 127.0.0.1 only, not %q", host)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("start embedded kafka: kafka.embedded.listen: port %q: %w", portStr, err)
	}
	topics := append(append([]string(nil), cfg.Kafka.Topics...), cfg.Kafka.ScoreChangesTopic, cfg.Kafka.HandoffsTopic, cfg.Kafka.RejectedTopic, cfg.Kafka.ContactChangesTopic, cfg.Kafka.DLQTopic, cfg.changelogTopic(), cfg.repartitionTopic())
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(port),
		kfake.SeedTopics(cfg.Kafka.Partitions, topics...),
		kfake.DefaultNumPartitions(int(cfg.Kafka.Partitions)),
	}
	if cfg.Kafka.Embedded.DataDir != "" {
		opts = append(opts, kfake.DataDir(cfg.Kafka.Embedded.DataDir))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("start embedded kafka on %s: %w", cfg.Kafka.Embedded.Listen, err)
	}
	return c, nil
}

// ensureInternalTopics creates the changelog topic (compacted) and the
// repartition topic when they are missing, with as many partitions as the
// largest input topic, and checks that existing ones have enough: input
// partition p keeps its state in changelog partition p, and repartition
// partition p its accounts' state.
func ensureInternalTopics(ctx context.Context, brokers []string, cfg Config) (repartitions, inputs int, err error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return 0, 0, fmt.Errorf("ensure internal topics: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	internal := map[string]map[string]*string{
		cfg.changelogTopic():   {"cleanup.policy": new("compact")},
		cfg.repartitionTopic(): nil,
	}
	names := append([]string{cfg.changelogTopic(), cfg.repartitionTopic()}, cfg.Kafka.Topics...)
	td, err := adm.ListTopics(ctx, names...)
	if err != nil {
		return 0, 0, fmt.Errorf("ensure internal topics: %w", err)
	}
	need := 0
	for _, t := range cfg.Kafka.Topics {
		if d, ok := td[t]; ok && d.Err == nil {
			need = max(need, len(d.Partitions))
			inputs += len(d.Partitions)
		} else {
			inputs += int(cfg.Kafka.Partitions)
		}
	}
	if need == 0 {
		need = int(cfg.Kafka.Partitions)
	}
	var errs []error
	repartitions = need
	for name, configs := range internal {
		if d, ok := td[name]; ok && d.Err == nil {
			if name == cfg.repartitionTopic() {
				repartitions = len(d.Partitions)
			}
			if len(d.Partitions) < need {
				errs = append(errs, fmt.Errorf("ensure internal topics: %s has %d partitions, the input has %d: add partitions to it", name, len(d.Partitions), need))
			}
			continue
		}
		resp, err := adm.CreateTopic(ctx, int32(need), -1, configs, name)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			errs = append(errs, fmt.Errorf("ensure internal topics: create %s: %w", name, err))
		}
	}
	return repartitions, inputs, errors.Join(errs...)
}

// createTopics creates the input and output topics that do not exist yet.
func createTopics(ctx context.Context, cfg Config) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Kafka.Brokers...))
	if err != nil {
		return fmt.Errorf("create topics: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	topics := append(append([]string(nil), cfg.Kafka.Topics...), cfg.Kafka.ScoreChangesTopic, cfg.Kafka.HandoffsTopic, cfg.Kafka.RejectedTopic, cfg.Kafka.ContactChangesTopic, cfg.Kafka.DLQTopic)
	resp, err := adm.CreateTopics(ctx, cfg.Kafka.Partitions, -1, nil, topics...)
	if err != nil {
		return fmt.Errorf("create topics: %w", err)
	}
	var errs []error
	for _, r := range resp.Sorted() {
		if r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists) {
			errs = append(errs, fmt.Errorf("create topic %s: %w", r.Topic, r.Err))
		}
	}
	return errors.Join(errs...)
}
