package pipeline

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// txnLog is a transactional producer of the test and the records it has
// committed: the oracle of what a read_committed consumer must see.
type txnLog struct {
	t      *testing.T
	topics []string
	cl     *kgo.Client
	want   map[string]int // "topic key value" -> count
	n      int            // records produced, for distinct values
}

func (l *txnLog) connect(brokers []string, txid string) {
	l.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.TransactionalID(txid),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	require.NoError(l.t, err)
	l.t.Cleanup(cl.Close)
	l.cl = cl
}

// txn produces n records spread over every topic and both partitions in one
// transaction, then commits it, aborts it, or leaves it open (end nil).
func (l *txnLog) txn(tag string, n int, end *kgo.TransactionEndTry) {
	l.t.Helper()
	ctx := context.Background()
	require.NoError(l.t, l.cl.BeginTransaction())
	var produced []string
	for i := range n {
		topic := l.topics[i%len(l.topics)]
		v := fmt.Sprintf("%s-%d", tag, l.n)
		l.n++
		require.NoError(l.t, l.cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: int32(i/len(l.topics)) % 2, Key: []byte(tag), Value: []byte(v)}).FirstErr())
		produced = append(produced, topic+" "+tag+" "+v)
	}
	if end == nil {
		return
	}
	require.NoError(l.t, l.cl.EndTransaction(ctx, *end))
	if *end == kgo.TryCommit {
		for _, r := range produced {
			l.want[r]++
		}
	}
}

var (
	commit = new(kgo.TryCommit)
	abort  = new(kgo.TryAbort)
)

// crashCopy copies a running broker's data directory: the files as a
// SIGKILL would leave them, since kfake writes every batch and log entry
// before it answers the request, and a killed process loses nothing the
// kernel already holds. Close then saves to the original, not the copy.
func crashCopy(t *testing.T, dir string) string {
	t.Helper()
	to := filepath.Join(t.TempDir(), "crashed")
	out, err := exec.Command("cp", "-a", dir, to).CombinedOutput()
	require.NoError(t, err, "%s", out)
	return to
}

// stableOffsets returns each partition's high watermark and last stable
// offset.
func stableOffsets(t *testing.T, brokers []string, topics []string) (hwm, lso map[string]int64) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	require.NoError(t, err)
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx := context.Background()
	ends, err := adm.ListEndOffsets(ctx, topics...)
	require.NoError(t, err)
	stable, err := adm.ListCommittedOffsets(ctx, topics...)
	require.NoError(t, err)
	hwm, lso = map[string]int64{}, map[string]int64{}
	ends.Each(func(o kadm.ListedOffset) { hwm[fmt.Sprintf("%s/%d", o.Topic, o.Partition)] = o.Offset })
	stable.Each(func(o kadm.ListedOffset) { lso[fmt.Sprintf("%s/%d", o.Topic, o.Partition)] = o.Offset })
	require.NoError(t, ends.Error())
	require.NoError(t, stable.Error())
	return hwm, lso
}

// readCommitted reads topics with franz-go, read_committed, up to each
// partition's last stable offset.
func readCommitted(t *testing.T, brokers []string, topics []string) map[string]int {
	t.Helper()
	_, lso := stableOffsets(t, brokers, topics)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(), kgo.FetchMaxWait(100*time.Millisecond))
	require.NoError(t, err)
	defer cl.Close()
	need := map[string]int64{}
	for k, o := range lso {
		if o > 0 {
			need[k] = o - 1 // a record or a marker: both are polled
		}
	}
	got := map[string]int{}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for len(need) > 0 {
		f := cl.PollFetches(ctx)
		require.NoError(t, ctx.Err(), "read_committed: partitions not read to their last stable offset: %v (read %v)", need, got)
		f.EachRecord(func(r *kgo.Record) {
			k := fmt.Sprintf("%s/%d", r.Topic, r.Partition)
			if last, ok := need[k]; ok && r.Offset >= last {
				delete(need, k)
			}
			if !r.Attrs.IsControl() {
				got[r.Topic+" "+string(r.Key)+" "+string(r.Value)]++
			}
		})
	}
	return got
}

// kcatCommitted reads topics with kcat (librdkafka), read_committed, to
// their end.
func kcatCommitted(t *testing.T, brokers []string, topics []string) map[string]int {
	t.Helper()
	got := map[string]int{}
	for _, topic := range topics {
		out, err := exec.Command("kcat", "-C", "-b", brokers[0], "-t", topic, "-X", "isolation.level=read_committed",
			"-X", "fetch.wait.max.ms=10", "-o", "beginning", "-e", "-q", "-f", "%t %k %s\n").CombinedOutput()
		require.NoError(t, err, "kcat: %s", out)
		for line := range strings.Lines(string(out)) {
			got[strings.TrimSuffix(line, "\n")]++
		}
	}
	return got
}

// checkCommitted: both clients see exactly the committed records, and on
// every partition the last stable offset is the high watermark.
func checkCommitted(t *testing.T, brokers []string, l *txnLog, when string) {
	t.Helper()
	start := time.Now()
	defer func() { t.Logf("%s: %s", when, time.Since(start)) }()
	require.Equal(t, l.want, readCommitted(t, brokers, l.topics), "%s: franz-go read_committed", when)
	t.Logf("kgo %s", time.Since(start))
	require.Equal(t, l.want, kcatCommitted(t, brokers, l.topics), "%s: kcat read_committed", when)
	t.Logf("kcat %s", time.Since(start))
	hwm, lso := stableOffsets(t, brokers, l.topics)
	require.Equal(t, hwm, lso, "%s: last stable offsets are the high watermarks", when)
}

// TestEmbeddedRestartAbortsOpenTransactions restarts the embedded broker
// from its data directory after a crash with transactions open: consumers
// see exactly what was committed, before and after the producers come back,
// and after a second crash.
func TestEmbeddedRestartAbortsOpenTransactions(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Kafka.Embedded.Listen = "127.0.0.1:0"
	cfg.Kafka.Partitions = 2
	cfg.Kafka.Embedded.DataDir = t.TempDir()
	c, err := StartEmbedded(cfg)
	require.NoError(t, err)
	topics := []string{cfg.Kafka.ScoreChangesTopic, cfg.repartitionTopic()}
	l := &txnLog{t: t, topics: topics, want: map[string]int{}}
	other := &txnLog{t: t, topics: topics, want: l.want}
	l.connect(c.ListenAddrs(), "leadscore-a")
	other.connect(c.ListenAddrs(), "leadscore-b")
	l.txn("committed", 12, commit)
	other.txn("other", 4, commit)
	l.txn("aborted", 4, abort)
	other.txn("other-open", 4, nil)
	l.txn("open", 8, nil)

	// The crash: both transactions open.
	dir := crashCopy(t, cfg.Kafka.Embedded.DataDir)
	c.Close()
	cfg.Kafka.Embedded.DataDir = dir
	c, err = StartEmbedded(cfg)
	require.NoError(t, err)
	brokers := c.ListenAddrs()
	checkCommitted(t, brokers, l, "after the crash")

	// The producer is back under its transactional id and commits more:
	// all of it is visible, nothing before it is hidden.
	l.connect(brokers, "leadscore-a")
	l.txn("after", 6, commit)
	checkCommitted(t, brokers, l, "after a commit of the restarted producer")

	// A second crash, a transaction open again: the first crash's open
	// transaction stays aborted.
	l.txn("open-again", 6, nil)
	dir = crashCopy(t, dir)
	c.Close()
	cfg.Kafka.Embedded.DataDir = dir
	c, err = StartEmbedded(cfg)
	require.NoError(t, err)
	brokers = c.ListenAddrs()
	checkCommitted(t, brokers, l, "after the second crash")

	// A clean stop in the middle of a transaction is kfake's own to end:
	// the transaction is still open after the restart (the last stable
	// offset waits), and the producer's return aborts it.
	l.connect(brokers, "leadscore-a")
	l.txn("open-at-stop", 4, nil)
	c.Close()
	c, err = StartEmbedded(cfg)
	require.NoError(t, err)
	defer c.Close()
	brokers = c.ListenAddrs()
	hwm, lso := stableOffsets(t, brokers, topics)
	require.NotEqual(t, hwm, lso, "the transaction open at the stop holds the last stable offset")
	require.Equal(t, l.want, readCommitted(t, brokers, topics), "before the producer returns")
	l.connect(brokers, "leadscore-a")
	_, _, err = l.cl.ProducerID(context.Background()) // InitProducerID
	require.NoError(t, err)
	checkCommitted(t, brokers, l, "after the producer re-initialised")
	l.txn("last", 4, commit)
	checkCommitted(t, brokers, l, "after the producer committed again")
}

// TestEmbeddedTooLarge: a record over engine.max_record_bytes (the default,
// 1 MiB) reaches an engine running the embedded broker and is dead-lettered
// as too_large with its bytes; one over twice the limit is refused to its
// producer.
func TestEmbeddedTooLarge(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Kafka.Embedded.Listen = freeListen(t)
	cfg.Kafka.Partitions = 1
	cfg.ClickHouse.Disabled = true
	cfg.HTTP.Listen = ""
	cfg.Engine.StateDir = t.TempDir()
	cfg.Engine.FlushInterval = Duration(50 * time.Millisecond)
	cfg.Log.Level = "warn"
	e, err := New(cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })
	brokers := []string{cfg.Kafka.Embedded.Listen}

	big := make([]byte, 3<<19) // 1.5 MiB, incompressible
	_, _ = rand.Read(big)
	huge := make([]byte, 5<<19) // 2.5 MiB
	_, _ = rand.Read(huge)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ProducerBatchMaxBytes(8<<20),
		kgo.RecordRetries(3), kgo.UnknownTopicRetries(-1))
	require.NoError(t, err)
	defer cl.Close()
	pctx, pcancel := context.WithTimeout(ctx, time.Minute)
	defer pcancel()
	require.NoError(t, cl.ProduceSync(pctx, &kgo.Record{Topic: cfg.Kafka.Topics[0], Key: []byte("big"), Value: big}).FirstErr())
	require.ErrorIs(t, cl.ProduceSync(pctx, &kgo.Record{Topic: cfg.Kafka.Topics[0], Key: []byte("huge"), Value: huge}).FirstErr(),
		kerr.MessageTooLarge, "twice max_record_bytes is the embedded broker's limit on an input")

	dl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(cfg.Kafka.DLQTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	require.NoError(t, err)
	defer dl.Close()
	var got []*kgo.Record
	for len(got) == 0 {
		f := dl.PollFetches(pctx)
		require.NoError(t, pctx.Err(), "no dead letter within a minute")
		got = append(got, f.Records()...)
	}
	require.Len(t, got, 1)
	hd := map[string]string{}
	for _, h := range got[0].Headers {
		hd[h.Key] = string(h.Value)
	}
	require.Equal(t, "too_large", hd[HeaderReason], "detail: %s", hd[HeaderDetail])
	require.Equal(t, "big", string(got[0].Key))
	require.True(t, bytes.Equal(big, got[0].Value), "the dead letter carries the original %d bytes, got %d", len(big), len(got[0].Value))
}

// freeListen is a free 127.0.0.1 address to listen on.
func freeListen(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

// TestEmbeddedTopicsOnRestart: a broker restarted from its data directory
// has the topics named in the configuration since, and the inputs' size
// limit of the current max_record_bytes.
func TestEmbeddedTopicsOnRestart(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Kafka.Embedded.Listen = "127.0.0.1:0"
	cfg.Kafka.Partitions = 2
	cfg.Kafka.Embedded.DataDir = t.TempDir()
	c, err := StartEmbedded(cfg)
	require.NoError(t, err)
	c.Close()
	cfg.Kafka.Topics = append(cfg.Kafka.Topics, "more.events")
	cfg.Engine.MaxRecordBytes = 3 << 20
	c, err = StartEmbedded(cfg)
	require.NoError(t, err)
	defer c.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	require.NoError(t, err)
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx := context.Background()
	td, err := adm.ListTopics(ctx, cfg.Kafka.Topics...)
	require.NoError(t, err)
	for _, topic := range cfg.Kafka.Topics {
		require.NoError(t, td[topic].Err, topic)
		require.Len(t, td[topic].Partitions, 2, topic)
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, cfg.Kafka.Topics...)
	require.NoError(t, err)
	for _, rc := range rcs {
		require.NoError(t, rc.Err, rc.Name)
		v := map[string]string{}
		for _, c := range rc.Configs {
			v[c.Key] = c.MaybeValue()
		}
		require.Equal(t, strconv.Itoa(6<<20), v["max.message.bytes"], "%s: twice max_record_bytes", rc.Name)
	}
}
