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
	topics := append(append([]string(nil), cfg.Kafka.Topics...), cfg.Kafka.ScoreChangesTopic, cfg.Kafka.DLQTopic, cfg.changelogTopic())
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

// ensureChangelog creates the changelog topic when it is missing, compacted,
// with as many partitions as the largest input topic, and checks that an
// existing one has enough: input partition p keeps its state in changelog
// partition p.
func ensureChangelog(ctx context.Context, brokers []string, cfg Config) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return fmt.Errorf("ensure changelog: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	name := cfg.changelogTopic()
	td, err := adm.ListTopics(ctx, append([]string{name}, cfg.Kafka.Topics...)...)
	if err != nil {
		return fmt.Errorf("ensure changelog: %w", err)
	}
	need := 0
	for _, t := range cfg.Kafka.Topics {
		if d, ok := td[t]; ok && d.Err == nil {
			need = max(need, len(d.Partitions))
		}
	}
	if need == 0 {
		need = int(cfg.Kafka.Partitions)
	}
	if d, ok := td[name]; ok && d.Err == nil {
		if len(d.Partitions) < need {
			return fmt.Errorf("ensure changelog: topic %s has %d partitions, the input has %d: add partitions to it", name, len(d.Partitions), need)
		}
		return nil
	}
	compact := "compact"
	resp, err := adm.CreateTopic(ctx, int32(need), -1, map[string]*string{"cleanup.policy": &compact}, name)
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("ensure changelog: create %s: %w", name, err)
	}
	if resp.Err != nil && !errors.Is(resp.Err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("ensure changelog: create %s: %w", name, resp.Err)
	}
	return nil
}

// createTopics creates the input and output topics that do not exist yet.
func createTopics(ctx context.Context, cfg Config) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Kafka.Brokers...))
	if err != nil {
		return fmt.Errorf("create topics: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	topics := append(append([]string(nil), cfg.Kafka.Topics...), cfg.Kafka.ScoreChangesTopic, cfg.Kafka.DLQTopic)
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
