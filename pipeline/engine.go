package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"

	"github.com/leadscore/leadscore/features"
	"github.com/leadscore/leadscore/features/hygiene"
	"github.com/leadscore/leadscore/features/ipmatch"
	"github.com/leadscore/leadscore/internal/rows"
	"github.com/leadscore/leadscore/internal/statestore"
	"github.com/leadscore/leadscore/scorer"
	"github.com/leadscore/leadscore/sinks"
)

const (
	// shutdownTimeout bounds the final flush and commit on stop.
	shutdownTimeout = 30 * time.Second
	// transactionTimeout is the Kafka transaction timeout: a cycle must
	// commit within it. A cycle's ClickHouse flush is bounded by
	// clickhouse.flush_timeout, at most maxFlushTimeout.
	transactionTimeout = time.Minute
	maxFlushTimeout    = 30 * time.Second
)

// Engine runs the consumer group and everything downstream of it.
//
// Work is done in cycles, each one Kafka transaction: poll and process
// records (rebalances stay blocked), and when the flush interval is up, write
// the changed state to the changelog, flush ClickHouse, then commit the
// transaction, which holds the score changes, dead letters, changelog
// records and the consumed offsets together. Only then are rebalances
// allowed, so a rebalance never meets an open transaction.
type Engine struct {
	cfg       Config
	log       *slog.Logger
	reg       prometheus.Registerer
	rules     atomic.Pointer[scorer.Rules]
	ipMatcher features.IPMatcher
	// ipLookup, when set, matches visitor IPs for the input workers (and
	// counts lookups); ipm is the engine's own matcher, reloaded on change.
	ipLookup ipLookup
	ipm      *ipmatch.Matcher
	checker  *hygiene.Checker // nil: hygiene off
	// forwarded is onForwarded as a func value made once: a method value
	// made per record would allocate.
	forwarded, controlled func(*kgo.Record, error)
	// produce sends a record of the repartition topic into the open
	// transaction (the client's Produce; tests drive workers without one).
	produce func(*kgo.Record, func(*kgo.Record, error))
	metrics *metrics

	sess *kgo.GroupTransactSession
	cl   *kgo.Client
	gen  uint64 // counts sessions; callbacks of a replaced one are ignored
	// restoreErr: a partition assigned by the last poll could not be
	// restored; the loop replaces the session.
	restoreErr error
	// noClientMetrics: a replaced session's client metrics could not be
	// unregistered, so new clients go without.
	noClientMetrics bool
	ch              *sinks.ClickHouse
	embedded        *kfake.Cluster
	sinks           []sinks.Sink
	dlq             *deadLetters
	store           *statestore.Store // evicted accounts; nil without a cap or TTL
	// repartitions is the repartition topic's partition count, which
	// shares engine.max_resident_accounts between scoring workers.
	repartitions int
	// inputs counts the input partitions, all of which a scoring worker
	// must hear from before its watermark moves.
	inputs    int
	lastSweep time.Time

	// mu guards workers and the cycle. The loop holds it while processing
	// and committing; rebalance callbacks take it.
	mu              sync.Mutex
	workers         map[tp]*worker
	inTxn           bool // a transaction is open and holds work
	revokedSinceEnd bool // a revoke ran since the last End: reset the session
	cycleStart      time.Time
	cycleRecords    int
	// cycleFrom is the first offset polled in the cycle of each partition:
	// where to rewind after an End that did not commit, which itself
	// rewinds only partitions that have a committed offset.
	cycleFrom map[string]map[int32]kgo.EpochOffset
	// sinkDown: a flush timed out; fetching is paused until the sinks
	// answer a probe, at nextProbe.
	sinkDown  bool
	nextProbe time.Time

	ready atomic.Bool
	// sinkErr is the loop's view of the sinks (a flush that failed),
	// pingErr the prober's (watchSinks); either makes the engine not ready.
	sinkErr, pingErr atomic.Pointer[error]
	// healthMu orders updates of leadscore_pipeline_sink_down from the
	// loop and the prober; a leaf lock, held for no I/O.
	healthMu sync.Mutex
	// brokerWait bounds the wait for the brokers at start (tests shorten
	// it; zero is defaultBrokerWait).
	brokerWait time.Duration
	httpAddr   atomic.Value // string

	// rulesFile is the rules file the engine polls (nil: the example
	// rules); rulesProblem the last problem logged about it, which is not
	// logged again (pollRules).
	rulesFile    *rulesFile
	rulesProblem string
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
// A matcher that also has Lookup (as *ipmatch.Matcher) gets its lookups
// counted in ip_matches and its matches reported in visitor_companies.
func WithIPMatcher(m features.IPMatcher) Option {
	return func(e *Engine) {
		e.ipMatcher = m
		if l, ok := m.(ipLookup); ok {
			e.ipLookup = l
		}
	}
}

// New validates cfg, loads the rules and prepares an engine. Nothing
// connects until Run.
func New(cfg Config, opts ...Option) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	// Resolved once: the topic names every forwarded record.
	cfg.Kafka.RepartitionTopic = cfg.repartitionTopic()
	e := &Engine{cfg: cfg, log: slog.Default(), workers: make(map[tp]*worker)}
	e.forwarded, e.controlled = e.onForwarded, e.onControlled
	e.produce = func(r *kgo.Record, promise func(*kgo.Record, error)) {
		e.cl.Produce(context.Background(), r, promise)
	}
	for _, o := range opts {
		o(e)
	}
	r, rf, err := loadRules(cfg, time.Now())
	if err != nil {
		return nil, err
	}
	e.rules.Store(r)
	e.rulesFile = rf
	e.metrics = newMetrics(e.reg)
	if cfg.Hygiene.Enabled {
		if e.checker, err = hygiene.New(cfg.Hygiene.Config); err != nil {
			return nil, err
		}
	}
	if cfg.IPMatch.enabled() && e.ipMatcher == nil {
		var opts []ipmatch.Option
		if e.reg != nil {
			met, err := ipmatch.NewMetrics(e.reg)
			if err != nil {
				return nil, fmt.Errorf("register ip matching metrics: %w", err)
			}
			opts = append(opts, ipmatch.WithMetrics(met))
		}
		opts = append(opts, ipmatch.WithLoadHook(func(rep ipmatch.LoadReport) {
			if rep.Err != nil {
				e.log.Error("ip ranges not reloaded; the loaded ones stay", "err", rep.Err)
				return
			}
			for _, p := range rep.Problems {
				e.log.Warn("ip ranges: row skipped", "problem", p)
			}
			e.log.Info("ip ranges loaded", "ipv4", rep.Ranges4, "ipv6", rep.Ranges6, "overrides", rep.Overrides,
				"organisations", rep.Orgs, "skipped", rep.Skipped, "took", rep.Took.String())
		}))
		m, err := ipmatch.New(cfg.IPMatch.Config, opts...)
		if err != nil {
			return nil, err
		}
		e.ipm, e.ipMatcher, e.ipLookup = m, m, m
	}
	e.metrics.rulesInfo.WithLabelValues(r.Version).Set(1)
	return e, nil
}

// Brokers is where the engine's Kafka is; with the embedded broker, its
// listen address. Valid once Run has started it.
func (e *Engine) Brokers() []string {
	if e.embedded != nil {
		return e.embedded.ListenAddrs()
	}
	return e.cfg.Kafka.Brokers
}

// Ready reports whether the engine has joined its group and its sinks are
// healthy: the last flush went through and the last probe was answered.
func (e *Engine) Ready() bool { return e.ready.Load() && e.sinkProblem() == nil }

// Run consumes until ctx is cancelled, then flushes, commits and leaves the
// group. It returns nil after a clean stop.
//
// Before it joins the group it checks ClickHouse (the user, the password,
// the database and its tables) and the brokers; an error of those checks
// is ErrStartCheck, one line naming the address and the cause.
func (e *Engine) Run(ctx context.Context) (err error) {
	if err := e.checkClickHouse(ctx); err != nil {
		return err
	}
	if len(e.cfg.Kafka.Brokers) == 0 {
		if e.embedded, err = StartEmbedded(e.cfg); err != nil {
			return err
		}
		defer e.embedded.Close()
		e.log.Info("embedded kafka broker started", "addr", e.embedded.ListenAddrs())
	}
	if err := e.checkBrokers(ctx); err != nil {
		return err
	}
	if len(e.cfg.Kafka.Brokers) > 0 && e.cfg.Kafka.CreateTopics {
		if err := createTopics(ctx, e.cfg); err != nil {
			return err
		}
	}
	if e.repartitions, e.inputs, err = ensureInternalTopics(ctx, e.Brokers(), e.cfg); err != nil {
		return err
	}
	if ec := e.cfg.Engine; ec.MaxResidentAccounts > 0 || ec.MaxResidentLinks > 0 || ec.MaxResidentVisitors > 0 || ec.IdleTTL > 0 {
		dir := e.cfg.stateDir()
		if e.store, err = statestore.Open(dir, statestore.Options{}); err != nil {
			return fmt.Errorf("open the local state store (engine.state_dir %s): %w", dir, err)
		}
		defer e.store.Close()
		e.log.Info("local state store opened", "dir", dir, "max_resident_accounts", ec.MaxResidentAccounts, "idle_ttl", ec.IdleTTL.D().String())
	}
	if !e.cfg.ClickHouse.Disabled {
		if e.ch, err = sinks.NewClickHouse(e.cfg.ClickHouse.sinkConfig(), e.log, e.reg); err != nil {
			return err
		}
	}
	if err := e.connect(); err != nil {
		if e.ch != nil {
			_ = e.ch.Close(context.Background())
		}
		return err
	}
	defer e.closeSinks()
	defer func() { e.sess.CloseAllowingRebalance() }() // the session of the moment

	stopHTTP, err := e.serveHTTP()
	if err != nil {
		return err
	}
	defer stopHTTP()
	if e.ch != nil {
		defer e.watchSinks(ctx, e.ch)() // stopped before the sinks close
	}
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go e.watchRules(watchCtx)
	if e.ipm != nil {
		defer e.ipm.Close()
		go func() {
			if err := e.ipm.Run(watchCtx); err != nil {
				e.log.Error("ip range watcher stopped", "err", err)
			}
		}()
	}

	if err := e.loop(ctx); err != nil {
		// Whatever the open transaction holds is aborted: a restart
		// resumes from the last commit.
		e.ready.Store(false)
		e.abort()
		return err
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	e.mu.Lock()
	err = e.commitCycle(stopCtx)
	e.mu.Unlock()
	e.ready.Store(false)
	if err != nil {
		e.abort()
		return fmt.Errorf("stop: %w", err)
	}
	e.log.Info("stopped cleanly: sinks flushed, transaction committed")
	return nil
}

// connect builds a transactional Kafka session, its dead letters and its
// Kafka sink; the sinks are that one and ClickHouse. Callbacks of an older
// session (one replaced by restartSession) are ignored.
func (e *Engine) connect() error {
	kc := e.cfg.Kafka
	var gen uint64                                 // set below, with mu held
	current := func() bool { return e.gen == gen } // read with mu held
	codec, _ := compressionCodec(kc.Compression)   // validated
	opts := []kgo.Opt{
		kgo.SeedBrokers(e.Brokers()...),
		kgo.ClientID(kc.ClientID),
		kgo.TransactionalID(e.cfg.transactionalID()),
		kgo.TransactionTimeout(transactionTimeout),
		kgo.ConsumerGroup(kc.Group),
		kgo.ConsumeTopics(e.cfg.ConsumedTopics()...),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsAssigned(func(ctx context.Context, cl *kgo.Client, m map[string][]int32) {
			e.mu.Lock()
			defer e.mu.Unlock()
			if current() {
				e.onAssigned(ctx, cl, m)
			}
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			e.mu.Lock()
			defer e.mu.Unlock()
			if current() {
				e.dropWorkers(m)
				e.revokedSinceEnd = true
			}
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			e.mu.Lock()
			defer e.mu.Unlock()
			if current() {
				e.dropWorkers(m)
				e.revokedSinceEnd = true
			}
		}),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Transaction markers of the repartition topic are polled (and
		// skipped by the workers) so that the committed offset moves past
		// them and a caught-up group shows no lag.
		kgo.KeepControlRecords(),
		kgo.ProducerLinger(5 * time.Millisecond),
		kgo.ProducerBatchCompression(codec),
		kgo.RecordPartitioner(changelogPartitioner{changelog: e.cfg.changelogTopic(), keyed: kgo.StickyKeyPartitioner(nil)}),
		kgo.WithLogger(kgoLogger{e.log}),
	}
	if e.reg != nil && !e.noClientMetrics {
		opts = append(opts, kgo.WithHooks(kprom.NewMetrics("leadscore", kprom.Registerer(e.reg), kprom.Subsystem("kafka"))))
	}
	if e.embedded != nil {
		// The embedded broker takes batches this large (embedded.go):
		// a dead letter or forwarded event carries a whole input record,
		// which may be larger than franz-go's default (about 1 MB). A
		// broker of our own is the only one whose limits are known; with
		// another the default stays, as a larger batch would be refused.
		opts = append(opts, kgo.ProducerBatchMaxBytes(int32(embeddedOutputBatchBytes(e.cfg))))
	}
	if kc.InstanceID != "" {
		opts = append(opts, kgo.InstanceID(kc.InstanceID))
	}
	opts = append(opts, kgo.SessionTimeout(kc.SessionTimeout.D()))
	// Group callbacks may fire as soon as the session exists; they take mu,
	// so they wait until the session, the dead letters and the sinks are set.
	e.mu.Lock()
	defer e.mu.Unlock()
	e.gen++
	gen = e.gen
	sess, err := kgo.NewGroupTransactSession(opts...)
	if err != nil {
		return fmt.Errorf("create kafka client: %w", err)
	}
	e.sess, e.cl = sess, sess.Client()
	// Initialise the transactional producer now, before any partition is
	// restored: that fences a dead predecessor with the same
	// transactional_id and aborts its open transaction, which would
	// otherwise hold the changelog's last stable offset (and the restore)
	// until it timed out.
	ictx, cancel := context.WithTimeout(context.Background(), transactionTimeout)
	defer cancel()
	if _, _, err := e.cl.ProducerID(ictx); err != nil {
		// Disown the session, then close it without mu: its callbacks
		// take mu, and Close waits for them.
		e.gen++
		e.mu.Unlock()
		sess.CloseAllowingRebalance()
		e.mu.Lock()
		return fmt.Errorf("initialise the transactional producer %q: %w", e.cfg.transactionalID(), err)
	}
	e.dlq = &deadLetters{cl: e.cl, topic: kc.DLQTopic, log: e.log}
	// Kafka first: a cycle's flush waits for the topic, then ClickHouse.
	e.sinks = []sinks.Sink{sinks.NewKafka(e.cl, kc.ScoreChangesTopic, e.reg,
		sinks.WithHandoffs(kc.HandoffsTopic), sinks.WithRejected(kc.RejectedTopic), sinks.WithContactChanges(kc.ContactChangesTopic))}
	if e.ch != nil {
		e.sinks = append(e.sinks, e.ch)
	}
	return nil
}

// rewind puts the consumer back to the first record polled in the cycle on
// every partition, after an End that did not commit. End rewinds to the
// committed offsets, but only partitions that have one: a partition never
// committed would otherwise go on after records whose effects were undone.
func (e *Engine) rewind() {
	if len(e.cycleFrom) > 0 {
		e.cl.SetOffsets(e.cycleFrom)
	}
	clear(e.cycleFrom)
}

// kafkaError marks a failure of the Kafka session (a transaction's begin,
// end or produce), after which the transaction's outcome may be unknown.
type kafkaError struct{ err error }

func (k kafkaError) Error() string { return k.err.Error() }
func (k kafkaError) Unwrap() error { return k.err }

// restartSession replaces a Kafka session that failed mid-transaction (the
// broker went away, say): everything in memory is dropped, the old session
// is closed, and a new one is built, which fences the old producer (so its
// open transaction aborts) and restores the partitions it is assigned from
// the changelog, as a restarted process would. It retries until ctx ends.
func (e *Engine) restartSession(ctx context.Context, cause error) error {
	e.ready.Store(false)
	e.metrics.sessionRestarts.Inc()
	e.log.Error("kafka session failed; replacing it and restoring state from the changelog", "err", cause)
	e.mu.Lock()
	e.dropWorkers(e.assignedParts())
	e.inTxn, e.revokedSinceEnd, e.sinkDown, e.restoreErr = false, false, false, nil
	clear(e.cycleFrom) // the new session starts from the committed offsets
	e.setSinkErr(nil)  // not paused any more; the prober still reports
	e.dlq.reset()
	if e.ch != nil {
		e.ch.Discard(ctx)
	}
	old, oldSink := e.sess, e.sinks[0]
	e.mu.Unlock()
	// Close the old session first: its buffered records fail at once, so
	// the old sink's close does not wait for an unreachable broker.
	closed := make(chan struct{})
	go func() { old.CloseAllowingRebalance(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(15 * time.Second):
		// Its client metrics stay registered: the new client goes without.
		e.log.Warn("the old kafka session is slow to close; going on without client metrics for the new one")
		e.noClientMetrics = true
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	_ = oldSink.Close(cctx)
	cancel()

	backoff := time.Second
	for {
		err := e.connect()
		if err == nil {
			e.log.Info("kafka session replaced")
			return nil
		}
		e.log.Warn("replace the kafka session", "err", err, "retry_in", backoff.String())
		select {
		case <-ctx.Done():
			return fmt.Errorf("replace the kafka session: %w (after %w)", ctx.Err(), cause)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// assignedParts lists the partitions that have workers, for dropWorkers.
func (e *Engine) assignedParts() map[string][]int32 {
	m := map[string][]int32{}
	for k := range e.workers {
		m[k.topic] = append(m[k.topic], k.partition)
	}
	return m
}

func (c ClickHouseConfig) sinkConfig() sinks.ClickHouseConfig {
	return sinks.ClickHouseConfig{
		Addr: c.Addr, Database: c.Database, Username: c.Username, Password: c.Password,
		DialTimeout: c.DialTimeout.D(), MaxBufferRows: c.MaxBufferRows,
		NoCompression: c.Compression == "none",
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

// loop polls and processes records and commits a cycle when it is due. A
// poll waits at most one flush interval, so the interval is kept when no
// records arrive.
func (e *Engine) loop(ctx context.Context) error {
	for {
		if e.sinkDown && !time.Now().Before(e.nextProbe) {
			e.probeSinks(ctx)
		}
		pctx, cancel := context.WithTimeout(ctx, e.cfg.Engine.FlushInterval.D())
		fetches := e.sess.PollRecords(pctx, e.cfg.Engine.MaxPollRecords)
		cancel()
		if fetches.IsClientClosed() {
			return errors.New("kafka client closed")
		}
		fetches.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				e.log.Warn("fetch", "topic", t, "partition", p, "err", err)
			}
		})
		e.mu.Lock()
		if rerr := e.restoreErr; rerr != nil {
			// A partition assigned in this poll could not be restored;
			// its records (if any came) must not be processed or
			// committed.
			e.restoreErr = nil
			e.mu.Unlock()
			if ctx.Err() != nil {
				// Stopping: abort rather than commit offsets of records
				// this poll returned and nobody processed.
				return fmt.Errorf("stopping after a failed restore: %w", rerr)
			}
			if err := e.restartSession(ctx, rerr); err != nil {
				return err
			}
			continue
		}
		e.ready.Store(true)
		err := e.processFetches(ctx, fetches)
		if err == nil && e.inTxn && e.cycleDue() {
			err = e.commitCycle(ctx)
			if err != nil && ctx.Err() != nil {
				err = nil // stopping: the final commit takes over
			}
		}
		open := e.inTxn
		e.mu.Unlock()
		var ke kafkaError
		if err != nil && errors.As(err, &ke) && ctx.Err() == nil {
			if err := e.restartSession(ctx, err); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			// Every polled record is processed: the session commits the
			// offsets of all it returned. The final commit (Run) happens
			// with rebalances still blocked.
			return nil
		}
		if !open {
			e.sess.AllowRebalance()
		}
	}
}

func (e *Engine) cycleDue() bool {
	return time.Since(e.cycleStart) >= e.cfg.Engine.FlushInterval.D() || e.cycleRecords >= e.cfg.Engine.FlushRecords ||
		e.overResident()
}

// overResident reports whether more accounts or person links are in memory
// than the caps allow: the cycle then ends early, as eviction follows a
// commit. Between two polls at most engine.max_poll_records can be added.
func (e *Engine) overResident() bool {
	if e.store == nil {
		return false
	}
	ec := e.cfg.Engine
	accounts, links, visitors := 0, 0, 0
	for _, w := range e.workers {
		accounts += len(w.accounts)
		links += w.identity.Persons()
		visitors += w.identity.Visitors()
	}
	return ec.MaxResidentAccounts > 0 && accounts > ec.MaxResidentAccounts ||
		ec.MaxResidentLinks > 0 && links > ec.MaxResidentLinks ||
		ec.MaxResidentVisitors > 0 && visitors > ec.MaxResidentVisitors
}

// begin opens the cycle's transaction, called with mu held on the first
// non-empty poll after a commit. It reports false when the poll's records
// must be dropped instead: after a revoke the session aborts the next
// transaction it ends, so an empty one is ended first, and that rewinds
// the consumer to the committed offsets, before the records just polled;
// they are fetched again.
func (e *Engine) begin(ctx context.Context) (bool, error) {
	if e.revokedSinceEnd {
		if _, err := e.sess.End(ctx, kgo.TryAbort); err != nil {
			return false, kafkaError{fmt.Errorf("reset transaction session: %w", err)}
		}
		e.rewind()
		e.revokedSinceEnd = false
		return false, nil
	}
	if err := e.sess.Begin(); err != nil {
		return false, kafkaError{fmt.Errorf("begin transaction: %w", err)}
	}
	e.inTxn, e.cycleStart, e.cycleRecords = true, time.Now(), 0
	return true, nil
}

// processFetches hands each partition's records to its worker, in parallel.
// Called with mu held.
func (e *Engine) processFetches(ctx context.Context, fetches kgo.Fetches) error {
	// Scoring workers with re-scoring to do (new rules, a sweep of evicted
	// accounts) do it even without records, so a new rules file re-scores
	// an idle engine's accounts.
	var stale []*worker
	beats := false
	now := time.Now()
	for _, w := range e.workers {
		// A worker without records since the last call gives back what a
		// burst grew its batch to (rows.Batch.Reset: the first idle call
		// empties it, the next drops what it did not use).
		if !w.busyLast {
			w.batch.Reset()
			w.arena.reset()
		}
		w.busyLast = false
		if w.rescoreDue() {
			stale = append(stale, w)
		}
		beats = beats || (w.beatDue(now) && !w.idleSent && w.maxTime.Equal(w.beat))
	}
	// An input partition that went idle announces it even when nothing
	// else happens: a cycle opens so that its commit carries the heartbeat.
	if fetches.NumRecords() == 0 && len(stale) == 0 && !beats {
		return nil
	}
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		if len(p.Records) == 0 {
			return
		}
		if e.cycleFrom == nil {
			e.cycleFrom = map[string]map[int32]kgo.EpochOffset{}
		}
		if e.cycleFrom[p.Topic] == nil {
			e.cycleFrom[p.Topic] = map[int32]kgo.EpochOffset{}
		}
		if _, ok := e.cycleFrom[p.Topic][p.Partition]; !ok {
			r := p.Records[0]
			e.cycleFrom[p.Topic][p.Partition] = kgo.EpochOffset{Epoch: r.LeaderEpoch, Offset: r.Offset}
		}
	})
	if !e.inTxn {
		if ok, err := e.begin(ctx); !ok {
			return err
		}
	}
	var wg sync.WaitGroup
	var errMu sync.Mutex
	var errs []error
	out := multiWriter(e.sinks)
	// Rows are written with a context a shutdown does not cancel: a batch is
	// written whole or the loop fails, never half.
	wctx := context.WithoutCancel(ctx)
	busy := map[*worker]struct{}{}
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		if len(p.Records) == 0 {
			return
		}
		w := e.workers[tp{p.Topic, p.Partition}]
		if w == nil {
			return // not ours any more
		}
		e.cycleRecords += len(p.Records)
		busy[w] = struct{}{}
		w.busyLast = true
		wg.Go(func() {
			if err := w.process(wctx, p.Records, out); err != nil {
				errMu.Lock()
				errs = append(errs, err)
				errMu.Unlock()
			}
		})
	})
	wg.Wait()
	for _, w := range stale {
		if _, ran := busy[w]; !ran {
			if err := w.process(wctx, nil, out); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// commitCycle is the commit frontier: write the account_scores rows and the
// changelog records of every changed account, flush every sink (ClickHouse
// durably; the Kafka outputs into the transaction), then commit the
// transaction with the consumed offsets. If the transaction aborts (the group
// moved on), the state is rebuilt from the changelog. Called with mu held.
func (e *Engine) commitCycle(ctx context.Context) error {
	if !e.inTxn {
		return nil
	}
	start := time.Now()
	var b rows.Batch
	clTopic := e.cfg.changelogTopic()
	var perr error
	var perrMu sync.Mutex
	produce := func(r *kgo.Record) {
		e.cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
			if err != nil {
				perrMu.Lock()
				perr = errors.Join(perr, err)
				perrMu.Unlock()
			}
		})
	}
	for _, w := range e.workers {
		changed := w.scoreRows(&b)
		if err := w.changes(produce, clTopic, changed, w.ipRows(&b)); err != nil {
			return err
		}
		e.metrics.changelog.Add(float64(len(changed)))
	}
	if err := e.heartbeats(produce); err != nil {
		return err
	}
	if err := e.flushSinks(ctx, &b); err != nil {
		if errors.As(err, new(kafkaError)) {
			return err
		}
		if ctx.Err() != nil || errors.Is(err, sinks.ErrPermanent) {
			e.setSinkErr(err)
			return fmt.Errorf("flush sink: %w", err)
		}
		return e.backOff(ctx, err)
	}
	if err := e.dlq.flush(ctx); err != nil {
		return kafkaError{err}
	}
	perrMu.Lock()
	err := perr
	perrMu.Unlock()
	if err != nil {
		return kafkaError{fmt.Errorf("produce changelog: %w", err)}
	}
	e.setSinkErr(nil)
	committed, err := e.sess.End(ctx, kgo.TryCommit)
	e.inTxn = false
	if committed {
		clear(e.cycleFrom)
	} else if err == nil {
		e.rewind()
	}
	if err != nil {
		return kafkaError{fmt.Errorf("commit transaction: %w", err)}
	}
	if !committed {
		e.metrics.aborts.Inc()
		e.log.Warn("transaction aborted (the group rebalanced); rebuilding state from the changelog")
		if err := e.rebuild(ctx); err != nil {
			return kafkaError{err}
		}
		return nil
	}
	e.metrics.commits.Inc()
	e.metrics.cycle.Observe(time.Since(start).Seconds())
	return e.evict()
}

// spillNamespace is where a worker's evicted state of a kind goes: "a",
// accounts, for scoring workers; "p", person links, for input workers. Nil
// for the other kind or without a store.
func (e *Engine) spillNamespace(topic string, partition int32, kind string) *statestore.Namespace {
	scoring := kind == "a" || kind == "t"
	if e.store == nil || scoring != (topic == e.cfg.repartitionTopic()) {
		return nil
	}
	return e.store.Namespace(topic + "/" + strconv.Itoa(int(partition)) + "/" + kind)
}

// restoreLimit is one worker's share of the resident accounts (scoring
// workers) or person links (input workers) while it restores: the cap over
// the topic's partitions.
func (e *Engine) restoreLimit(w *worker) int {
	if w.rekeyed {
		return e.cfg.Engine.MaxResidentAccounts / max(1, e.repartitions)
	}
	return e.cfg.Engine.MaxResidentLinks / max(1, e.repartitions)
}

// evict moves accounts to the store after a commit: the cap is shared by the
// scoring workers the instance owns now, and idle accounts go once per
// tenth of the TTL. Called with mu held.
func (e *Engine) evict() error {
	if e.store == nil {
		return nil
	}
	ec := e.cfg.Engine
	var scoring, input []*worker
	for _, w := range e.workers {
		if w.spill != nil {
			scoring = append(scoring, w)
		}
		if w.links != nil {
			input = append(input, w)
		}
	}
	share := func(total, n int) int {
		if total <= 0 || n == 0 {
			return 0
		}
		return max(total/n, 1)
	}
	limit := share(ec.MaxResidentAccounts, len(scoring))
	links := share(ec.MaxResidentLinks, len(input))
	visitors := share(ec.MaxResidentVisitors, len(input))
	var idleBefore int64
	if ttl := ec.IdleTTL.D(); ttl > 0 && time.Since(e.lastSweep) >= max(ttl/10, time.Second) {
		e.lastSweep = time.Now()
		idleBefore = nowNano() - int64(ttl)
	}
	b := e.store.NewBatch()
	defer b.Close()
	for _, w := range scoring {
		if _, err := w.evict(limit, idleBefore, b); err != nil {
			return fmt.Errorf("evict accounts of %s: %w", w.key(), err)
		}
	}
	for _, w := range input {
		nl, nv, err := w.evictIdentity(links, visitors, b)
		if err != nil {
			return fmt.Errorf("evict person links and pending events of %s: %w", w.key(), err)
		}
		e.metrics.linksEvicted.Add(float64(nl))
		e.metrics.visitorsEvicted.Add(float64(nv))
	}
	e.metrics.storeBytes.Set(float64(e.store.Stats().DiskBytes))
	return nil
}

// flushSinks writes the account rows and flushes every sink, the whole
// within clickhouse.flush_timeout.
func (e *Engine) flushSinks(ctx context.Context, b *rows.Batch) error {
	fctx, cancel := context.WithTimeout(ctx, e.cfg.ClickHouse.FlushTimeout.D())
	defer cancel()
	if b.Len() > 0 {
		if err := multiWriter(e.sinks).Write(fctx, b); err != nil {
			return err
		}
	}
	for i, s := range e.sinks {
		if err := s.Flush(fctx); err != nil {
			if i == 0 { // the score-change topic: the Kafka session is in trouble
				return kafkaError{err}
			}
			return err
		}
	}
	return nil
}

// backOff handles a sink that did not take a cycle's rows in time: the
// transaction is aborted (the consumer rewinds to the committed offsets),
// the sinks drop the cycle's rows, the state is rebuilt from the changelog,
// and fetching pauses until a probe finds the sinks back. Nothing is held in
// memory while waiting, and polling goes on, so the group keeps the member
// and rebalances proceed. The redone cycle writes the same rows. Called
// with mu held.
func (e *Engine) backOff(ctx context.Context, cause error) error {
	e.setSinkErr(cause)
	e.log.Error("sink did not take the cycle's rows in time; pausing consumption until it answers",
		"err", cause, "flush_timeout", e.cfg.ClickHouse.FlushTimeout.D().String())
	e.cl.PauseFetchTopics(e.cfg.ConsumedTopics()...)
	if _, err := e.sess.End(ctx, kgo.TryAbort); err != nil {
		e.inTxn = false
		return kafkaError{fmt.Errorf("abort transaction after sink failure: %w", err)}
	}
	e.inTxn = false
	e.rewind()
	e.metrics.aborts.Inc()
	e.dlq.reset()
	for _, s := range e.sinks {
		if d, ok := s.(sinks.Discarder); ok {
			d.Discard(ctx)
		}
	}
	e.sinkDown, e.nextProbe = true, time.Now().Add(e.cfg.ClickHouse.ProbeInterval.D())
	if err := e.rebuild(ctx); err != nil {
		return kafkaError{err}
	}
	return nil
}

// probeSinks pings every sink that can be pinged; when all answer,
// fetching resumes from the committed offsets.
func (e *Engine) probeSinks(ctx context.Context) {
	pctx, cancel := context.WithTimeout(ctx, e.cfg.ClickHouse.ProbeInterval.D())
	defer cancel()
	for _, s := range e.sinks {
		if p, ok := s.(sinks.Pinger); ok {
			if err := p.Ping(pctx); err != nil {
				e.setSinkErr(err)
				e.nextProbe = time.Now().Add(e.cfg.ClickHouse.ProbeInterval.D())
				e.log.Warn("sink still down; consumption stays paused", "err", err)
				return
			}
		}
	}
	e.setSinkErr(nil)
	e.sinkDown = false
	e.cl.ResumeFetchTopics(e.cfg.ConsumedTopics()...)
	e.log.Info("sink answers again; consumption resumed")
}

// abort ends an open transaction without committing, on the way out.
func (e *Engine) abort() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.inTxn {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := e.sess.End(ctx, kgo.TryAbort); err != nil {
		e.log.Error("abort transaction", "err", err)
	}
	e.inTxn = false
}

// rebuild replaces every worker's state with its changelog's, after an
// aborted transaction rewound the consumer to the committed offsets.
func (e *Engine) rebuild(ctx context.Context) error {
	for k, old := range e.workers {
		e.metrics.accounts.Sub(float64(len(old.accounts)))
		w := newWorker(e, k.topic, k.partition)
		if err := e.restoreWorker(ctx, w); err != nil {
			return err
		}
		e.workers[k] = w
	}
	return nil
}

// restoreWorker fills w from the changelog, timing it.
func (e *Engine) restoreWorker(ctx context.Context, w *worker) error {
	start := time.Now()
	n, err := e.restore(ctx, w)
	if err != nil {
		return err
	}
	d := time.Since(start)
	e.metrics.restore.Observe(d.Seconds())
	e.metrics.accounts.Add(float64(len(w.accounts)))
	e.log.Info("partition state restored", "partition", w.key(), "records", n, "accounts", len(w.accounts), "seconds", d.Seconds())
	return nil
}

// onAssigned creates a worker per new partition and restores its state from
// the changelog before any of its records are fetched.
func (e *Engine) onAssigned(ctx context.Context, _ *kgo.Client, assigned map[string][]int32) {
	for topic, parts := range assigned {
		for _, p := range parts {
			k := tp{topic, p}
			if e.workers[k] != nil {
				continue
			}
			w := newWorker(e, topic, p)
			if err := e.restoreWorker(ctx, w); err != nil {
				// Scoring without the state would be wrong, and so would
				// committing the partition's offsets: the loop replaces the
				// session before it processes anything more.
				e.log.Error("restore partition state; the session will be replaced", "partition", w.key(), "err", err)
				e.restoreErr = err
				return
			}
			e.workers[k] = w
			e.metrics.partitions.Inc()
		}
	}
}

// A revoke (rebalances run only between cycles, so the work is committed)
// or a loss (the open transaction, if any, will abort) drops the partitions'
// workers; the session then aborts the next transaction it ends, so the
// next begin resets it first.

func (e *Engine) dropWorkers(parts map[string][]int32) {
	for topic, ps := range parts {
		for _, p := range ps {
			k := tp{topic, p}
			w := e.workers[k]
			if w == nil {
				continue
			}
			e.metrics.accounts.Sub(float64(len(w.accounts)))
			e.metrics.partitions.Dec()
			delete(e.workers, k)
			for _, ns := range []*statestore.Namespace{w.spill, w.links, w.visitors, w.timerNS} {
				if ns == nil {
					continue
				}
				if err := ns.Clear(); err != nil {
					e.log.Warn("clear the state store of a revoked partition", "partition", w.key(), "err", err)
				}
			}
		}
	}
}

// changelogPartitioner writes changelog records to the partition they name
// (input partition p's state goes to changelog partition p) and every other
// record by its key.
type changelogPartitioner struct {
	changelog string
	keyed     kgo.Partitioner
}

func (p changelogPartitioner) ForTopic(topic string) kgo.TopicPartitioner {
	if topic == p.changelog {
		return kgo.ManualPartitioner().ForTopic(topic)
	}
	return manualWithoutKey{p.keyed.ForTopic(topic)}
}

// manualWithoutKey sends a record without a key (a watermark heartbeat) to
// the partition it names, and keyed records by their key.
type manualWithoutKey struct{ kgo.TopicPartitioner }

// RequiresConsistency: both kinds must land exactly where they aim.
func (m manualWithoutKey) RequiresConsistency(*kgo.Record) bool { return true }

func (m manualWithoutKey) Partition(r *kgo.Record, n int) int {
	if r.Key == nil {
		return int(r.Partition)
	}
	return m.TopicPartitioner.Partition(r, n)
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
