package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/plugin/kprom"

	"github.com/leadscore/leadscore/features"
	"github.com/leadscore/leadscore/internal/rows"
	"github.com/leadscore/leadscore/scorer"
	"github.com/leadscore/leadscore/sinks"
)

// shutdownTimeout bounds the final flush, commit and snapshot on stop.
const shutdownTimeout = 30 * time.Second

// Engine runs the consumer group and everything downstream of it.
type Engine struct {
	cfg       Config
	log       *slog.Logger
	reg       prometheus.Registerer
	rules     *scorer.Rules
	ipMatcher features.IPMatcher
	metrics   *metrics

	cl        *kgo.Client
	embedded  *kfake.Cluster
	sinks     []sinks.Sink
	dlq       *deadLetters
	snapshots *snapshotStore

	// mu guards workers. The poll loop holds it while processing and
	// committing; rebalance callbacks take it, and BlockRebalanceOnPoll keeps
	// them from running while a polled batch is being processed.
	mu             sync.Mutex
	workers        map[tp]*worker
	lastFlush      time.Time
	lastSnapshot   time.Time
	pendingRecords int

	ready    atomic.Bool
	sinkErr  atomic.Pointer[error]
	httpAddr atomic.Value // string
}

type tp struct {
	topic     string
	partition int32
}

// Option configures an Engine.
type Option func(*Engine)

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(e *Engine) { e.log = l } }

// WithRegisterer sets where metrics are registered (default none).
func WithRegisterer(r prometheus.Registerer) Option { return func(e *Engine) { e.reg = r } }

// WithIPMatcher sets the IP-to-company matcher (account resolution step 3).
func WithIPMatcher(m features.IPMatcher) Option { return func(e *Engine) { e.ipMatcher = m } }

// New validates cfg, loads the rules and prepares an engine. Nothing
// connects until Run.
func New(cfg Config, opts ...Option) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := &Engine{cfg: cfg, log: slog.Default(), workers: make(map[tp]*worker)}
	for _, o := range opts {
		o(e)
	}
	var err error
	if cfg.Rules == "" {
		e.rules, err = scorer.Parse(scorer.Example(), "example rules")
	} else {
		e.rules, err = scorer.Load(cfg.Rules)
	}
	if err != nil {
		return nil, err
	}
	e.metrics = newMetrics(e.reg)
	e.snapshots = &snapshotStore{dir: filepath.Join(cfg.StateDir, cfg.Kafka.Group)}
	return e, nil
}

// Rules is the rule set the engine scores with.
func (e *Engine) Rules() *scorer.Rules { return e.rules }

// Brokers is where the engine's Kafka is; with the embedded broker, its
// listen address. Valid once Run has started it.
func (e *Engine) Brokers() []string {
	if e.embedded != nil {
		return e.embedded.ListenAddrs()
	}
	return e.cfg.Kafka.Brokers
}

// Ready reports whether the engine has joined its group and its sinks are
// healthy.
func (e *Engine) Ready() bool { return e.ready.Load() && e.sinkErr.Load() == nil }

// Run consumes until ctx is cancelled, then flushes, commits, saves state and
// leaves the group. It returns nil after a clean stop.
func (e *Engine) Run(ctx context.Context) (err error) {
	if len(e.cfg.Kafka.Brokers) == 0 {
		if e.embedded, err = StartEmbedded(e.cfg); err != nil {
			return err
		}
		defer e.embedded.Close()
		e.log.Info("embedded kafka broker started", "addr", e.embedded.ListenAddrs())
	} else if e.cfg.Kafka.CreateTopics {
		if err := createTopics(ctx, e.cfg); err != nil {
			return err
		}
	}
	if err := e.connect(); err != nil {
		return err
	}
	defer e.closeSinks()
	defer e.cl.Close()

	stopHTTP, err := e.serveHTTP()
	if err != nil {
		return err
	}
	defer stopHTTP()

	if err := e.loop(ctx); err != nil {
		// Rows of the records in flight may be missing: commit nothing, a
		// restart replays from the last commit.
		e.ready.Store(false)
		return err
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	e.mu.Lock()
	err = e.flushCommit(stopCtx, true)
	e.mu.Unlock()
	e.ready.Store(false)
	if err != nil {
		return fmt.Errorf("stop: %w", err)
	}
	e.log.Info("stopped cleanly: sinks flushed, offsets committed, state saved")
	return nil
}

// connect builds the Kafka client and the sinks.
func (e *Engine) connect() error {
	kc := e.cfg.Kafka
	opts := []kgo.Opt{
		kgo.SeedBrokers(e.Brokers()...),
		kgo.ClientID(kc.ClientID),
		kgo.ConsumerGroup(kc.Group),
		kgo.ConsumeTopics(kc.Topics...),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsAssigned(e.onAssigned),
		kgo.OnPartitionsRevoked(e.onRevoked),
		kgo.OnPartitionsLost(e.onLost),
		kgo.AdjustFetchOffsetsFn(e.adjustOffsets),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ProducerLinger(5 * time.Millisecond),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
		kgo.WithLogger(kgoLogger{e.log}),
	}
	if e.reg != nil {
		opts = append(opts, kgo.WithHooks(kprom.NewMetrics("leadscore", kprom.Registerer(e.reg), kprom.Subsystem("kafka"))))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("create kafka client: %w", err)
	}
	e.cl = cl
	e.dlq = &deadLetters{cl: cl, topic: kc.DLQTopic}
	e.sinks = append(e.sinks, sinks.NewKafka(cl, kc.ScoreChangesTopic, e.reg))
	if !e.cfg.ClickHouse.Disabled {
		ch, err := sinks.NewClickHouse(e.cfg.ClickHouse.sinkConfig(), e.log, e.reg)
		if err != nil {
			cl.Close()
			return err
		}
		e.sinks = append(e.sinks, ch)
	}
	return nil
}

func (c ClickHouseConfig) sinkConfig() sinks.ClickHouseConfig {
	return sinks.ClickHouseConfig{
		Addr: c.Addr, Database: c.Database, Username: c.Username, Password: c.Password,
		DialTimeout: c.DialTimeout.D(), MaxBufferRows: c.MaxBufferRows,
	}
}

// SinkConfig is the ClickHouse sink configuration, for migrations.
func (c ClickHouseConfig) SinkConfig() sinks.ClickHouseConfig { return c.sinkConfig() }

func (e *Engine) closeSinks() {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	for i := len(e.sinks) - 1; i >= 0; i-- {
		if err := e.sinks[i].Close(ctx); err != nil {
			e.log.Error("close sink", "err", err)
		}
	}
}

// loop polls, processes each partition's records on its worker, and flushes
// and commits on the flush interval. A poll waits at most one interval, so
// the interval is kept when no records arrive.
func (e *Engine) loop(ctx context.Context) error {
	e.lastFlush, e.lastSnapshot = time.Now(), time.Now()
	for {
		pctx, cancel := context.WithTimeout(ctx, e.cfg.Engine.FlushInterval.D())
		fetches := e.cl.PollRecords(pctx, e.cfg.Engine.MaxPollRecords)
		cancel()
		if ctx.Err() != nil {
			e.cl.AllowRebalance()
			return nil
		}
		if fetches.IsClientClosed() {
			return errors.New("kafka client closed")
		}
		fetches.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				e.log.Warn("fetch", "topic", t, "partition", p, "err", err)
			}
		})
		e.ready.Store(true)
		err := e.processFetches(ctx, fetches)
		e.cl.AllowRebalance()
		if err != nil {
			return err
		}
	}
}

// processFetches hands each partition's records to its worker, in parallel,
// then flushes if due.
func (e *Engine) processFetches(ctx context.Context, fetches kgo.Fetches) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var wg sync.WaitGroup
	var errMu sync.Mutex
	var errs []error
	out := multiWriter(e.sinks)
	// Rows are written with a context a shutdown does not cancel: a batch is
	// written whole or the loop fails, never half.
	wctx := context.WithoutCancel(ctx)
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		if len(p.Records) == 0 {
			return
		}
		w := e.workers[tp{p.Topic, p.Partition}]
		if w == nil {
			// Not ours any more (revoked between fetch and poll).
			return
		}
		e.pendingRecords += len(p.Records)
		wg.Go(func() {
			if err := w.process(wctx, p.Records, out); err != nil {
				errMu.Lock()
				errs = append(errs, err)
				errMu.Unlock()
			}
		})
	})
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := e.maybeFlush(ctx, false); err != nil && ctx.Err() == nil {
		return err
	}
	// A flush cut short by a stop is retried whole by the final flush: sinks
	// keep what they could not write.
	return nil
}

// maybeFlush flushes and commits when the interval passed or enough rows
// are waiting. Called with mu held.
func (e *Engine) maybeFlush(ctx context.Context, force bool) error {
	if !force && time.Since(e.lastFlush) < e.cfg.Engine.FlushInterval.D() && e.pendingRecords < e.cfg.Engine.FlushRecords {
		return nil
	}
	return e.flushCommit(ctx, false)
}

// flushCommit is the commit frontier: write the account_scores rows of
// changed accounts, flush every sink and the dead letters, and only then
// commit each partition's next offset. Snapshots follow when due (or when
// final). Called with mu held.
func (e *Engine) flushCommit(ctx context.Context, final bool) error {
	start := time.Now()
	var b rows.Batch
	for _, w := range e.workers {
		w.scoreRows(&b)
	}
	if b.Len() > 0 {
		if err := multiWriter(e.sinks).Write(ctx, &b); err != nil {
			return err
		}
	}
	for _, s := range e.sinks {
		if err := s.Flush(ctx); err != nil {
			e.setSinkErr(err)
			return fmt.Errorf("flush sink: %w", err)
		}
	}
	if err := e.dlq.flush(ctx); err != nil {
		return err
	}
	e.setSinkErr(nil)
	offsets := make(map[string]map[int32]kgo.EpochOffset)
	for k, w := range e.workers {
		if w.next < 0 || w.next == w.committed {
			continue
		}
		if offsets[k.topic] == nil {
			offsets[k.topic] = make(map[int32]kgo.EpochOffset)
		}
		offsets[k.topic][k.partition] = kgo.EpochOffset{Epoch: w.epoch, Offset: w.next}
	}
	if len(offsets) > 0 {
		if err := e.commit(ctx, offsets); err != nil {
			return err
		}
		for k, w := range e.workers {
			if o, ok := offsets[k.topic][k.partition]; ok {
				w.committed = o.Offset
			}
		}
		e.metrics.commits.Inc()
	}
	e.pendingRecords = 0
	e.lastFlush = time.Now()
	e.metrics.cycle.Observe(time.Since(start).Seconds())
	si := e.cfg.Engine.SnapshotInterval.D()
	if final || (si > 0 && time.Since(e.lastSnapshot) >= si) {
		for _, w := range e.workers {
			e.saveSnapshot(w)
		}
		e.lastSnapshot = time.Now()
	}
	return nil
}

func (e *Engine) commit(ctx context.Context, offsets map[string]map[int32]kgo.EpochOffset) error {
	var cerr error
	e.cl.CommitOffsetsSync(ctx, offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			cerr = err
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if perr := kerr.ErrorForCode(p.ErrorCode); perr != nil {
					cerr = errors.Join(cerr, fmt.Errorf("%s/%d: %w", t.Topic, p.Partition, perr))
				}
			}
		}
	})
	if cerr != nil {
		return fmt.Errorf("commit offsets: %w", cerr)
	}
	return nil
}

func (e *Engine) saveSnapshot(w *worker) {
	if w.next < 0 || w.next == w.snapshotted || w.next != w.committed {
		return
	}
	if err := e.snapshots.save(w); err != nil {
		e.log.Error("save snapshot", "partition", w.key(), "err", err)
		return
	}
	w.snapshotted = w.next
	e.metrics.snapshots.Inc()
}

func (e *Engine) setSinkErr(err error) {
	if err == nil {
		e.sinkErr.Store(nil)
		return
	}
	e.sinkErr.Store(&err)
}

// onAssigned creates a worker per new partition and restores its snapshot.
func (e *Engine) onAssigned(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for topic, parts := range assigned {
		for _, p := range parts {
			k := tp{topic, p}
			if e.workers[k] != nil {
				continue
			}
			w := newWorker(e, topic, p)
			snap, ok, err := e.snapshots.load(topic, p)
			switch {
			case err != nil:
				e.log.Error("restore partition state", "partition", w.key(), "err", err)
			case ok && snap.RulesVersion != e.rules.Version:
				e.log.Warn("snapshot was made with other rules; starting the partition empty",
					"partition", w.key(), "snapshot_rules", snap.RulesVersion, "rules", e.rules.Version)
			case ok:
				w.restore(snap)
				e.metrics.accounts.Add(float64(len(w.accounts)))
				e.log.Info("partition state restored", "partition", w.key(), "next", snap.Next, "accounts", len(w.accounts))
			}
			e.workers[k] = w
			e.metrics.partitions.Inc()
		}
	}
}

// adjustOffsets starts a restored partition at the offset its snapshot
// covers, which is at or below the committed offset: records in between are
// replayed, and their rows carry the same identities as before.
func (e *Engine) adjustOffsets(_ context.Context, offsets map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for topic, parts := range offsets {
		for p := range parts {
			if w := e.workers[tp{topic, p}]; w != nil && w.next >= 0 {
				parts[p] = kgo.NewOffset().At(w.next).WithEpoch(-1)
			}
		}
	}
	return offsets, nil
}

// onRevoked flushes, commits and snapshots before giving partitions up.
func (e *Engine) onRevoked(ctx context.Context, _ *kgo.Client, revoked map[string][]int32) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.flushCommit(ctx, false); err != nil {
		e.log.Error("flush and commit on revoke", "err", err)
	}
	e.dropWorkers(revoked, true)
}

// onLost drops partitions without committing: another member owns them now.
func (e *Engine) onLost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.dropWorkers(lost, false)
}

func (e *Engine) dropWorkers(parts map[string][]int32, save bool) {
	for topic, ps := range parts {
		for _, p := range ps {
			k := tp{topic, p}
			w := e.workers[k]
			if w == nil {
				continue
			}
			if save {
				e.saveSnapshot(w)
			}
			e.metrics.accounts.Sub(float64(len(w.accounts)))
			e.metrics.partitions.Dec()
			delete(e.workers, k)
		}
	}
}

// multiWriter writes a batch to every sink.
type multiWriter []sinks.Sink

func (m multiWriter) Write(ctx context.Context, b *rows.Batch) error {
	for _, s := range m {
		if err := s.Write(ctx, b); err != nil {
			return err
		}
	}
	return nil
}
