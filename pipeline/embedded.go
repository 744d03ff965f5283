package pipeline

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// StartEmbedded starts the in-process Kafka broker (franz-go's kfake, which
// speaks the real protocol) on cfg.Kafka.Embedded.Listen, with the input and
// output topics created. It always listens on 127.0.0.1; port 0 picks a free
// one. Any Kafka client, kcat included, can produce to it.
//
// Its record size limits follow engine.max_record_bytes (see
// embeddedInputBatchBytes), and when it restarts from a data directory the
// transactions a killed predecessor left open are aborted with markers
// before it returns, so before the engine's producer connects (see
// abortOrphanedTransactions).
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
		// Every topic but the inputs takes the engine's largest batch;
		// the inputs get their smaller limit in configureTopics. Options override
		// what a data directory holds, so a changed max_record_bytes
		// applies on restart.
		kfake.BrokerConfigs(map[string]string{"message.max.bytes": strconv.Itoa(embeddedOutputBatchBytes(cfg))}),
	}
	if cfg.Kafka.Embedded.DataDir != "" {
		opts = append(opts, kfake.DataDir(cfg.Kafka.Embedded.DataDir))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("start embedded kafka on %s: %w", cfg.Kafka.Embedded.Listen, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), embeddedStartTimeout)
	defer cancel()
	if err := configureTopics(ctx, c.ListenAddrs(), cfg, topics); err != nil {
		c.Close()
		return nil, fmt.Errorf("start embedded kafka: %w", err)
	}
	if cfg.Kafka.Embedded.DataDir != "" {
		if err := abortOrphanedTransactions(ctx, c.ListenAddrs()); err != nil {
			c.Close()
			return nil, fmt.Errorf("start embedded kafka from %s: %w", cfg.Kafka.Embedded.DataDir, err)
		}
	}
	return c, nil
}

// embeddedStartTimeout bounds the steps StartEmbedded takes after the broker
// listens, the scan of a data directory's log included.
const embeddedStartTimeout = 5 * time.Minute

// embeddedInputBatchBytes is the largest record batch the embedded broker
// accepts on an input topic: twice engine.max_record_bytes, no less than
// Kafka's default and no more than maxEmbeddedInputBatch. A record somewhat
// over max_record_bytes therefore reaches the engine and is dead-lettered as
// too_large with its bytes, instead of being refused to its producer by a
// broker limit equal to the decoder's (Kafka's default message.max.bytes and
// max_record_bytes are both 1 MiB).
func embeddedInputBatchBytes(cfg Config) int {
	return min(max(2*cfg.Engine.MaxRecordBytes, kafkaDefaultMaxMessageBytes), maxEmbeddedInputBatch)
}

// embeddedOutputBatchBytes is the largest record batch the engine produces
// to the embedded broker, and what the broker accepts on every other topic:
// an input batch plus headroom. A dead letter carries a whole input record
// plus its headers, and a forwarded (repartition) record carries the event
// plus its envelope, so both must fit where the input did.
func embeddedOutputBatchBytes(cfg Config) int {
	return embeddedInputBatchBytes(cfg) + batchHeadroom
}

const (
	// kafkaDefaultMaxMessageBytes is Kafka's (and kfake's) default
	// message.max.bytes.
	kafkaDefaultMaxMessageBytes = 1048588
	// batchHeadroom is what the engine's records may add to an input
	// record: dead-letter headers (the detail is capped at 512 bytes),
	// the forwarded envelope and a visitor's parked events.
	batchHeadroom = 1 << 20
	// maxEmbeddedInputBatch keeps the largest batch, plus franz-go's
	// default fetch size (50 MiB), under its default limit on a response
	// (100 MiB), so no client needs its limits raised.
	maxEmbeddedInputBatch = 32 << 20
)

// configureTopics creates the topics a broker loaded from a data directory
// lacks (kfake seeds topics only into an empty one, so a topic named in the
// configuration since would be missing), then sets max.message.bytes of the
// input topics to embeddedInputBatchBytes; the broker default,
// embeddedOutputBatchBytes, applies to the rest. It runs at every start, as
// topics loaded from a data directory keep the configs they were saved with.
func configureTopics(ctx context.Context, brokers []string, cfg Config, topics []string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return fmt.Errorf("configure topics: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	created, err := adm.CreateTopics(ctx, cfg.Kafka.Partitions, -1, nil, topics...)
	if err != nil {
		return fmt.Errorf("configure topics: %w", err)
	}
	var errs []error
	for _, r := range created.Sorted() {
		if r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists) {
			errs = append(errs, fmt.Errorf("configure topics: create %s: %w", r.Topic, r.Err))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	limit := strconv.Itoa(embeddedInputBatchBytes(cfg))
	altered, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "max.message.bytes", Value: &limit}}, cfg.Kafka.Topics...)
	if err != nil {
		return fmt.Errorf("configure topics: %w", err)
	}
	for _, r := range altered {
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("configure topics: set max.message.bytes of %s: %w", r.Name, r.Err))
		}
	}
	return errors.Join(errs...)
}

// abortOrphanedTransactions writes an abort marker for every transaction a
// killed embedded broker left open, as a real broker's coordinator does when
// the producer's transactional id is initialised again or the transaction
// times out.
//
// kfake persists the log (batches with their producer id, epoch and
// transactional flag) as it is written, but the coordinator's state only at
// a clean Close. When it loads a log that was not closed cleanly it treats a
// transaction without an end marker as aborted, but only in memory: it
// writes no marker. Consumers (franz-go and librdkafka alike) skip an
// aborted transaction's batches until they meet the producer's abort marker,
// so they then also skip every later transaction of that producer (its
// transactional id keeps the producer id across restarts) that falls in the
// same fetch, committed ones included. The engine's restore, which reads a
// changelog partition up to its high watermark, then waits forever for
// records it never gets. And the next load, reading the next commit marker
// of that producer as the end of the old transaction, would expose the
// aborted records as committed.
//
// So after a load the log is read once (batch headers only), each partition's
// producers whose last transactional batch has no end marker are found, and
// an abort marker is written for them. Transactions kfake restored as open (a
// clean Close in the middle of one) are its own to end and are left alone:
// DescribeProducers lists them.
func abortOrphanedTransactions(ctx context.Context, brokers []string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return fmt.Errorf("abort orphaned transactions: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	open, err := openTransactions(ctx, cl, adm)
	if err != nil {
		return fmt.Errorf("abort orphaned transactions: %w", err)
	}
	if len(open) == 0 {
		return nil
	}
	var parts kadm.TopicsSet
	for tp := range open {
		parts.Add(tp.topic, tp.partition)
	}
	described, err := adm.DescribeProducers(ctx, parts)
	if err != nil {
		return fmt.Errorf("abort orphaned transactions: describe producers: %w", err)
	}
	described.EachProducer(func(p kadm.DescribedProducer) {
		delete(open[topicPartition{p.Topic, p.Partition}], p.ProducerID)
	})
	type producer struct {
		id    int64
		epoch int16
	}
	markers := map[producer]kadm.TopicsSet{}
	for tp, producers := range open {
		for id, epoch := range producers {
			k := producer{id, epoch}
			s := markers[k]
			s.Add(tp.topic, tp.partition)
			markers[k] = s
		}
	}
	var reqs []kadm.TxnMarkers
	for k, s := range markers {
		reqs = append(reqs, kadm.TxnMarkers{ProducerID: k.id, ProducerEpoch: k.epoch, Topics: s})
	}
	if len(reqs) == 0 {
		return nil
	}
	resp, err := adm.WriteTxnMarkers(ctx, reqs...)
	if err != nil {
		return fmt.Errorf("abort orphaned transactions: write markers: %w", err)
	}
	var errs []error
	for _, m := range resp {
		for _, t := range m.Topics {
			for _, p := range t.Partitions {
				if p.Err != nil {
					errs = append(errs, fmt.Errorf("abort orphaned transactions: write the abort marker of producer %d to %s/%d: %w", m.ProducerID, t.Topic, p.Partition, p.Err))
				}
			}
		}
	}
	return errors.Join(errs...)
}

type topicPartition struct {
	topic     string
	partition int32
}

// Record batch attributes (Kafka's RecordBatch format).
const (
	batchTransactional = 0x10
	batchControl       = 0x20
)

// openTransactions reads every partition from its log start to its high
// watermark and returns, per partition, the producers (id and epoch) whose
// last transactional batch is not followed by one of their control batches.
func openTransactions(ctx context.Context, cl *kgo.Client, adm *kadm.Client) (map[topicPartition]map[int64]int16, error) {
	md, err := adm.Metadata(ctx)
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	starts, err := adm.ListStartOffsets(ctx, md.Topics.Names()...)
	if err != nil {
		return nil, fmt.Errorf("list start offsets: %w", err)
	}
	if err := starts.Error(); err != nil {
		return nil, fmt.Errorf("list start offsets: %w", err)
	}
	open := map[topicPartition]map[int64]int16{}
	for _, td := range md.Topics.Sorted() {
		for _, pd := range td.Partitions.Sorted() {
			start, _ := starts.Lookup(td.Topic, pd.Partition)
			producers, err := scanPartition(ctx, cl.Broker(int(pd.Leader)), td, pd.Partition, start.Offset)
			if err != nil {
				return nil, fmt.Errorf("read %s/%d: %w", td.Topic, pd.Partition, err)
			}
			if len(producers) > 0 {
				open[topicPartition{td.Topic, pd.Partition}] = producers
			}
		}
	}
	return open, nil
}

// scanPartition fetches a partition read_uncommitted from offset to its high
// watermark, looking only at batch headers.
func scanPartition(ctx context.Context, b *kgo.Broker, td kadm.TopicDetail, partition int32, offset int64) (map[int64]int16, error) {
	open := map[int64]int16{}
	for {
		req := kmsg.NewPtrFetchRequest()
		req.MaxBytes = 32 << 20
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic, rt.TopicID = td.Topic, td.ID
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = partition, offset, req.MaxBytes
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, b)
		if err != nil {
			return nil, err
		}
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
			return nil, err
		}
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			return nil, errors.New("fetch: the response is not for the one partition asked")
		}
		sp := resp.Topics[0].Partitions[0]
		if err := kerr.ErrorForCode(sp.ErrorCode); err != nil {
			return nil, err
		}
		next := offset
		for raw := sp.RecordBatches; len(raw) >= 12; {
			size := 12 + int(int32(binary.BigEndian.Uint32(raw[8:12])))
			if size < 12 || size > len(raw) {
				break // a partial batch at the end of the response
			}
			var batch kmsg.RecordBatch
			if err := batch.ReadFrom(raw[:size]); err != nil {
				return nil, fmt.Errorf("decode the batch at offset %d: %w", int64(binary.BigEndian.Uint64(raw[:8])), err)
			}
			raw = raw[size:]
			if batch.Attributes&batchControl != 0 {
				delete(open, batch.ProducerID)
			} else if batch.Attributes&batchTransactional != 0 {
				open[batch.ProducerID] = batch.ProducerEpoch
			}
			next = batch.FirstOffset + int64(batch.LastOffsetDelta) + 1
		}
		if next >= sp.HighWatermark {
			return open, nil
		}
		if next == offset {
			return nil, fmt.Errorf("fetch at offset %d returned no whole batch below the high watermark %d", offset, sp.HighWatermark)
		}
		offset = next
	}
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
