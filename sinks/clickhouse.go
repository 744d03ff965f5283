package sinks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/leadscore/leadscore/internal/rows"
)

// ClickHouseConfig configures the ClickHouse sink and Migrate. A zero field
// takes the default that DefaultClickHouseConfig shows.
type ClickHouseConfig struct {
	// Addr lists the servers' native protocol addresses, host:port.
	Addr []string
	// Database holds the tables; letters, digits and underscores only.
	Database string
	Username string
	Password string
	// DialTimeout bounds connecting to a server.
	DialTimeout time.Duration
	// MaxBufferRows bounds the rows the sink holds that are not yet durable:
	// Write blocks (until its context is done) while this many are buffered,
	// which backpressures the workers while ClickHouse is down.
	MaxBufferRows int
	// RetryBackoff is the first pause before a failed insert is tried again;
	// it doubles with every attempt, up to 16 times this value.
	RetryBackoff time.Duration
}

// DefaultClickHouseConfig returns the defaults: a local server, database
// leadscore, user default.
func DefaultClickHouseConfig() ClickHouseConfig {
	return ClickHouseConfig{
		Addr:          []string{"127.0.0.1:9000"},
		Database:      "leadscore",
		Username:      "default",
		DialTimeout:   5 * time.Second,
		MaxBufferRows: 100_000,
		RetryBackoff:  500 * time.Millisecond,
	}
}

// withDefaults fills the zero fields of c from DefaultClickHouseConfig.
func (c ClickHouseConfig) withDefaults() ClickHouseConfig {
	d := DefaultClickHouseConfig()
	if len(c.Addr) == 0 {
		c.Addr = d.Addr
	}
	if c.Database == "" {
		c.Database = d.Database
	}
	if c.Username == "" {
		c.Username = d.Username
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = d.DialTimeout
	}
	if c.MaxBufferRows == 0 {
		c.MaxBufferRows = d.MaxBufferRows
	}
	if c.RetryBackoff == 0 {
		c.RetryBackoff = d.RetryBackoff
	}
	return c
}

var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Validate reports every problem of c at once. Zero fields are fine: they
// take defaults.
func (c ClickHouseConfig) Validate() error {
	var errs []error
	for _, a := range c.Addr {
		if a == "" {
			errs = append(errs, errors.New("clickhouse addr: empty address"))
		}
	}
	if c.Database != "" && !identifier.MatchString(c.Database) {
		errs = append(errs, fmt.Errorf("clickhouse database %q: use letters, digits and underscores", c.Database))
	}
	if c.DialTimeout < 0 {
		errs = append(errs, fmt.Errorf("clickhouse dial_timeout %s: negative", c.DialTimeout))
	}
	if c.MaxBufferRows < 0 {
		errs = append(errs, fmt.Errorf("clickhouse max_buffer_rows %d: negative", c.MaxBufferRows))
	}
	if c.RetryBackoff < 0 {
		errs = append(errs, fmt.Errorf("clickhouse retry_backoff %s: negative", c.RetryBackoff))
	}
	return errors.Join(errs...)
}

// open opens a connection pool to cfg's servers (no dial yet); database
// overrides cfg.Database ("" is the server's default database).
func (c ClickHouseConfig) open(database string) (driver.Conn, error) {
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr: c.Addr,
		Auth: clickhouse.Auth{
			Database: database,
			Username: c.Username,
			Password: c.Password,
		},
		DialTimeout: c.DialTimeout,
		Compression: &clickhouse.Compression{Method: clickhouse.CompressionLZ4},
		ClientInfo: clickhouse.ClientInfo{Products: []struct{ Name, Version string }{
			{Name: "leadscore"},
		}},
	})
	if err != nil {
		return nil, fmt.Errorf("open clickhouse %s: %w", strings.Join(c.Addr, ","), err)
	}
	return conn, nil
}

// ClickHouse writes rows to the score_changes, account_scores,
// funnel_transitions, handoffs and score_events tables (see
// deploy/clickhouse).
//
// Write copies rows into per-table column buffers in memory. Flush freezes
// those buffers into a block and inserts it, one INSERT per table, opening the
// batch only then; on a transient error (network, server overload, restart)
// it retries the same frozen block with backoff until its context is done.
// Retrying can insert a block twice, which is harmless: every table is a
// ReplacingMergeTree keyed on the rows' deterministic identity. A Flush that
// gives up keeps the block, and the next Flush sends it first, so no row is
// lost while the sink is open. Rows written during a Flush go to the next
// one. Flushes run one at a time: a Flush returns nil only when every row
// written before it, by anyone, is durable.
//
// A ClickHouse is safe for concurrent use.
type ClickHouse struct {
	cfg  ClickHouseConfig
	conn driver.Conn
	log  *slog.Logger
	m    *sinkMetrics

	// flushing is a one-slot semaphore held by the running Flush. It guards
	// pending.
	flushing chan struct{}
	pending  []*chBlock // frozen blocks not yet durable, oldest first

	mu       sync.Mutex
	cur      *chBlock      // rows written since the last freeze
	spare    *chBlock      // a sent block kept for its capacity
	buffered int           // rows in cur and pending
	space    chan struct{} // closed (and replaced) when buffered drops or the sink closes
	closed   bool

	closeOnce sync.Once
	closeErr  error
}

var (
	_ Sink      = (*ClickHouse)(nil)
	_ Pinger    = (*ClickHouse)(nil)
	_ Discarder = (*ClickHouse)(nil)
)

// NewClickHouse returns a ClickHouse sink for cfg. It opens the connection
// pool but does not dial: use Ping to check the server. Metrics go to reg
// (nil: none); log may be nil.
func NewClickHouse(cfg ClickHouseConfig, log *slog.Logger, reg prometheus.Registerer) (*ClickHouse, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("new clickhouse sink: %w", err)
	}
	cfg = cfg.withDefaults()
	conn, err := cfg.open(cfg.Database)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &ClickHouse{
		cfg:      cfg,
		conn:     conn,
		log:      log.With("sink", "clickhouse"),
		m:        newSinkMetrics(reg, "clickhouse"),
		flushing: make(chan struct{}, 1),
		cur:      new(chBlock),
		space:    make(chan struct{}),
	}, nil
}

// Write copies b into the buffers. It blocks while MaxBufferRows rows are
// buffered, until a Flush makes room or ctx is done.
func (c *ClickHouse) Write(ctx context.Context, b *rows.Batch) error {
	n := b.Len()
	c.mu.Lock()
	for !c.closed && n > 0 && c.buffered >= c.cfg.MaxBufferRows {
		space := c.space
		c.mu.Unlock()
		select {
		case <-ctx.Done():
			return fmt.Errorf("write clickhouse: buffer full (%d rows): %w", c.cfg.MaxBufferRows, ctx.Err())
		case <-space:
		}
		c.mu.Lock()
	}
	defer c.mu.Unlock()
	if c.closed {
		return fmt.Errorf("write clickhouse: %w", ErrClosed)
	}
	c.cur.add(b)
	c.buffered += n
	c.m.buffered.Set(float64(c.buffered))
	return nil
}

// Flush inserts every row written before the call. It returns nil once they
// are durable, or ctx's error (the rows are kept for the next Flush), or an
// ErrPermanent error such as a missing table or column (the rows are kept
// too, but no retry will help: the caller should stop).
func (c *ClickHouse) Flush(ctx context.Context) error {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return fmt.Errorf("flush clickhouse: %w", ErrClosed)
	}
	return c.flush(ctx)
}

func (c *ClickHouse) flush(ctx context.Context) error {
	select {
	case c.flushing <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("flush clickhouse: wait for the running flush: %w", ctx.Err())
	}
	defer func() { <-c.flushing }()

	start := time.Now()
	c.mu.Lock()
	if c.cur.len() > 0 {
		c.pending = append(c.pending, c.cur)
		c.cur, c.spare = c.spare, nil
		if c.cur == nil {
			c.cur = new(chBlock)
		}
	}
	c.mu.Unlock()

	for len(c.pending) > 0 {
		blk := c.pending[0]
		if err := c.send(ctx, blk); err != nil {
			return fmt.Errorf("flush clickhouse: %w", err)
		}
		c.pending[0] = nil
		c.pending = c.pending[1:]
		n := blk.len()
		blk.reset()

		c.mu.Lock()
		c.buffered -= n
		c.m.buffered.Set(float64(c.buffered))
		close(c.space)
		c.space = make(chan struct{})
		c.spare = blk
		c.mu.Unlock()
	}
	c.m.flush.Observe(time.Since(start).Seconds())
	return nil
}

// send inserts the tables of blk not inserted yet, retrying transient
// errors until ctx is done.
func (c *ClickHouse) send(ctx context.Context, blk *chBlock) error {
	for i, t := range blk.tables() {
		if blk.sent[i] || t.len() == 0 {
			continue
		}
		backoff := c.cfg.RetryBackoff
		for attempt := 1; ; attempt++ {
			err := c.insert(ctx, t)
			if err == nil {
				blk.sent[i] = true
				c.m.rows.WithLabelValues(t.table()).Add(float64(t.len()))
				break
			}
			c.m.errors.Inc()
			if ctx.Err() != nil {
				return fmt.Errorf("insert into %s (attempt %d): %w: %w", t.table(), attempt, ctx.Err(), err)
			}
			if !transient(err) {
				return fmt.Errorf("insert into %s: %w: %w", t.table(), ErrPermanent, err)
			}
			c.log.WarnContext(ctx, "insert failed, retrying",
				"table", t.table(), "rows", t.len(), "attempt", attempt, "backoff", backoff, "error", err)
			timer := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				timer.Stop()
				return fmt.Errorf("insert into %s (attempt %d): %w: %w", t.table(), attempt, ctx.Err(), err)
			case <-timer.C:
			}
			backoff = min(2*backoff, 16*c.cfg.RetryBackoff)
		}
	}
	return nil
}

// insert sends one table's rows as one INSERT. The batch is opened here, at
// flush time, and closed before returning whatever happens.
func (c *ClickHouse) insert(ctx context.Context, t chTable) error {
	cols := t.columns()
	batch, err := c.conn.PrepareBatch(ctx, insertSQL(t.table(), cols))
	if err != nil {
		return err
	}
	defer batch.Close()
	for i, col := range cols {
		if err := batch.Column(i).Append(col.data); err != nil {
			return permanentError{fmt.Errorf("append column %s: %w", col.name, err)}
		}
	}
	return batch.Send()
}

// Discard drops every row not yet durable: the pending blocks (including a
// partly inserted one) and the rows written since the last Flush.
func (c *ClickHouse) Discard(ctx context.Context) {
	select {
	case c.flushing <- struct{}{}:
	case <-ctx.Done():
		return
	}
	defer func() { <-c.flushing }()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pending = nil
	c.cur.reset()
	c.buffered = 0
	c.m.buffered.Set(0)
	close(c.space)
	c.space = make(chan struct{})
}

// Ping checks that a server answers.
func (c *ClickHouse) Ping(ctx context.Context) error {
	if err := c.conn.Ping(ctx); err != nil {
		return fmt.Errorf("ping clickhouse: %w", err)
	}
	return nil
}

// Close stops accepting rows, flushes what is buffered until ctx is done and
// closes the connections. Rows it could not flush are dropped and counted in
// the error. Close is idempotent: later calls return the first one's result.
func (c *ClickHouse) Close(ctx context.Context) error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		close(c.space) // wake blocked writers: they return ErrClosed
		c.space = make(chan struct{})
		c.mu.Unlock()

		ferr := c.flush(ctx)
		if ferr != nil {
			c.mu.Lock()
			ferr = fmt.Errorf("close clickhouse: dropped %d rows: %w", c.buffered, ferr)
			c.mu.Unlock()
		}
		cerr := c.conn.Close()
		if cerr != nil {
			cerr = fmt.Errorf("close clickhouse: %w", cerr)
		}
		c.closeErr = errors.Join(ferr, cerr)
	})
	return c.closeErr
}

// permanentError marks an error no retry can fix.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// transient tells whether an insert that failed with err may succeed when
// tried again. Server exceptions are permanent (a missing table, a type
// mismatch) except the few codes that mean overload or a passing state;
// anything else (refused or broken connections, timeouts, a full pool) is a
// transport problem and transient.
func transient(err error) bool {
	var pe permanentError
	if errors.As(err, &pe) {
		return false
	}
	var ex *clickhouse.Exception
	if errors.As(err, &ex) {
		switch ex.Code {
		case 159, // TIMEOUT_EXCEEDED
			164, // READONLY
			202, // TOO_MANY_SIMULTANEOUS_QUERIES
			203, // NO_FREE_CONNECTION
			209, // SOCKET_TIMEOUT
			210, // NETWORK_ERROR
			241, // MEMORY_LIMIT_EXCEEDED
			242, // TABLE_IS_READ_ONLY
			252, // TOO_MANY_PARTS
			285, // TOO_FEW_LIVE_REPLICAS
			286, // UNSATISFIED_QUORUM_FOR_PREVIOUS_WRITE
			319, // UNKNOWN_STATUS_OF_INSERT
			425, // SYSTEM_ERROR
			999: // KEEPER_EXCEPTION
			return true
		}
		return false
	}
	return true
}

func insertSQL(table string, cols []chColumn) string {
	var b strings.Builder
	b.WriteString("INSERT INTO ")
	b.WriteString(table)
	b.WriteString(" (")
	for i, col := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(col.name)
	}
	b.WriteString(")")
	return b.String()
}

// dateTime converts t to what a DateTime column stores: seconds since the
// epoch in UTC, truncated, clamped to the column's unsigned 32-bit range
// (1970-01-01 .. 2106-02-07).
func dateTime(t time.Time) int64 {
	return min(max(t.Unix(), 0), math.MaxUint32)
}

// chBlock holds rows in columns, one chTable per table. A block is filled by
// Write, then frozen by Flush and only read until it is durable.
type chBlock struct {
	changes     changeColumns
	scores      scoreColumns
	transitions transitionColumns
	handoffs    handoffColumns
	events      eventColumns
	visitors    visitorColumns
	ipMatches   ipMatchColumns
	rejected    rejectedColumns
	merges      mergeColumns
	sent        [chTables]bool // tables of the block inserted already
}

// chTables is the number of tables a block holds.
const chTables = 9

func (b *chBlock) tables() [chTables]chTable {
	return [chTables]chTable{&b.changes, &b.scores, &b.transitions, &b.handoffs, &b.events, &b.visitors, &b.ipMatches, &b.rejected, &b.merges}
}

func (b *chBlock) len() int {
	return b.changes.len() + b.scores.len() + b.transitions.len() + b.handoffs.len() + b.events.len() +
		b.visitors.len() + b.ipMatches.len() + b.rejected.len() + b.merges.len()
}

func (b *chBlock) add(rb *rows.Batch) {
	for i := range rb.Changes {
		b.changes.add(&rb.Changes[i])
	}
	for i := range rb.Scores {
		b.scores.add(&rb.Scores[i])
	}
	for i := range rb.Transitions {
		b.transitions.add(&rb.Transitions[i])
	}
	for i := range rb.Handoffs {
		b.handoffs.add(&rb.Handoffs[i])
	}
	for i := range rb.Events {
		b.events.add(&rb.Events[i])
	}
	for i := range rb.Visitors {
		b.visitors.add(&rb.Visitors[i])
	}
	for i := range rb.IPMatches {
		b.ipMatches.add(&rb.IPMatches[i])
	}
	for i := range rb.Rejected {
		b.rejected.add(&rb.Rejected[i])
	}
	for i := range rb.Merges {
		b.merges.add(&rb.Merges[i])
	}
}

// reset empties b for reuse, keeping capacity but no references.
func (b *chBlock) reset() {
	b.changes.reset()
	b.scores.reset()
	b.transitions.reset()
	b.handoffs.reset()
	b.events.reset()
	b.visitors.reset()
	b.ipMatches.reset()
	b.rejected.reset()
	b.merges.reset()
	b.sent = [chTables]bool{}
}

// chTable is one table's rows in a block.
type chTable interface {
	table() string
	len() int
	// columns lists the columns in INSERT order, each with its data: a slice
	// that clickhouse-go's column Append takes.
	columns() []chColumn
}

type chColumn struct {
	name string
	data any
}

// reasonColumns holds Reasons as four parallel Array columns. The values
// of all rows sit in flat slices, so a row costs no allocation; columns()
// makes the per-row views.
type reasonColumns struct {
	end      []int // end[i]: the flat index after row i's reasons
	rule     []string
	category []string
	points   []float64
	count    []uint32
}

func (r *reasonColumns) add(rs []rows.Reason) {
	for _, x := range rs {
		r.rule = append(r.rule, x.Rule)
		r.category = append(r.category, x.Category)
		r.points = append(r.points, x.Points)
		r.count = append(r.count, x.Count)
	}
	r.end = append(r.end, len(r.rule))
}

// columns returns the reasons_rule, reasons_category, reasons_points and
// reasons_count columns, named.
func (r *reasonColumns) columns() [4]chColumn {
	return [4]chColumn{
		{"reasons_rule", rowViews(r.end, r.rule)},
		{"reasons_category", rowViews(r.end, r.category)},
		{"reasons_points", rowViews(r.end, r.points)},
		{"reasons_count", rowViews(r.end, r.count)},
	}
}

func (r *reasonColumns) reset() {
	r.end = r.end[:0]
	r.rule = truncate(r.rule)
	r.category = truncate(r.category)
	r.points = r.points[:0]
	r.count = r.count[:0]
}

// arrayColumn holds an Array(T) column the way reasonColumns does: every
// row's values in one flat slice, cut into per-row views by columns().
type arrayColumn[T any] struct {
	end  []int // end[i]: the flat index after row i's values
	flat []T
}

func (a *arrayColumn[T]) add(vs []T) {
	a.flat = append(a.flat, vs...)
	a.end = append(a.end, len(a.flat))
}

func (a *arrayColumn[T]) column() [][]T { return rowViews(a.end, a.flat) }

func (a *arrayColumn[T]) reset() {
	a.end = a.end[:0]
	a.flat = truncate(a.flat)
}

// rowViews cuts flat into one slice per row, row i ending before end[i].
// The views' capacity stops at their end, so no append can reach the next
// row.
func rowViews[T any](end []int, flat []T) [][]T {
	out := make([][]T, len(end))
	start := 0
	for i, e := range end {
		out[i] = flat[start:e:e]
		start = e
	}
	return out
}

// truncate empties s, dropping the references it holds so a kept block does
// not pin old strings.
func truncate[T any](s []T) []T {
	clear(s)
	return s[:0]
}

type changeColumns struct {
	accountID, contactID                       []string
	asOf                                       []int64
	score, fit, engagement                     []float64
	grade                                      []string
	level                                      []uint8
	label, stage, previousLabel, previousStage []string
	previousScore                              []float64
	reasons                                    reasonColumns
	rulesVersion, sourceTopic                  []string
	sourcePartition                            []int32
	sourceOffset                               []int64
	intent                                     []float64
	persona, cause                             []string
}

func (c *changeColumns) table() string { return "score_changes" }
func (c *changeColumns) len() int      { return len(c.accountID) }

func (c *changeColumns) add(r *rows.ScoreChange) {
	c.accountID = append(c.accountID, r.AccountID)
	c.contactID = append(c.contactID, r.ContactID)
	c.asOf = append(c.asOf, dateTime(r.AsOf))
	c.score = append(c.score, r.Score)
	c.fit = append(c.fit, r.Fit)
	c.engagement = append(c.engagement, r.Engagement)
	c.grade = append(c.grade, r.Grade)
	c.level = append(c.level, r.Level)
	c.label = append(c.label, r.Label)
	c.stage = append(c.stage, r.Stage)
	c.previousLabel = append(c.previousLabel, r.PreviousLabel)
	c.previousStage = append(c.previousStage, r.PreviousStage)
	c.previousScore = append(c.previousScore, r.PreviousScore)
	c.reasons.add(r.Reasons)
	c.rulesVersion = append(c.rulesVersion, r.RulesVersion)
	c.sourceTopic = append(c.sourceTopic, r.Source.Topic)
	c.sourcePartition = append(c.sourcePartition, r.Source.Partition)
	c.sourceOffset = append(c.sourceOffset, r.Source.Offset)
	c.intent = append(c.intent, r.Intent)
	c.persona = append(c.persona, r.Persona)
	c.cause = append(c.cause, r.Cause)
}

func (c *changeColumns) columns() []chColumn {
	reasons := c.reasons.columns()
	return []chColumn{
		{"account_id", c.accountID},
		{"contact_id", c.contactID},
		{"as_of", c.asOf},
		{"score", c.score},
		{"fit", c.fit},
		{"engagement", c.engagement},
		{"grade", c.grade},
		{"level", c.level},
		{"label", c.label},
		{"stage", c.stage},
		{"previous_label", c.previousLabel},
		{"previous_stage", c.previousStage},
		{"previous_score", c.previousScore},
		reasons[0], reasons[1], reasons[2], reasons[3],
		{"rules_version", c.rulesVersion},
		{"source_topic", c.sourceTopic},
		{"source_partition", c.sourcePartition},
		{"source_offset", c.sourceOffset},
		{"intent", c.intent},
		{"persona", c.persona},
		{"cause", c.cause},
	}
}

func (c *changeColumns) reset() {
	c.accountID = truncate(c.accountID)
	c.contactID = truncate(c.contactID)
	c.asOf = c.asOf[:0]
	c.score = c.score[:0]
	c.fit = c.fit[:0]
	c.engagement = c.engagement[:0]
	c.grade = truncate(c.grade)
	c.level = c.level[:0]
	c.label = truncate(c.label)
	c.stage = truncate(c.stage)
	c.previousLabel = truncate(c.previousLabel)
	c.previousStage = truncate(c.previousStage)
	c.previousScore = c.previousScore[:0]
	c.reasons.reset()
	c.rulesVersion = truncate(c.rulesVersion)
	c.sourceTopic = truncate(c.sourceTopic)
	c.sourcePartition = c.sourcePartition[:0]
	c.sourceOffset = c.sourceOffset[:0]
	c.intent = c.intent[:0]
	c.persona = truncate(c.persona)
	c.cause = truncate(c.cause)
}

type scoreColumns struct {
	accountID, contactID   []string
	score, fit, engagement []float64
	grade                  []string
	level                  []uint8
	label, stage           []string
	reasons                reasonColumns
	rulesVersion           []string
	asOf                   []int64
	version                []uint64
	intent                 []float64
	persona                []string
	bestTimes              arrayColumn[string]
	tags                   arrayColumn[string]
}

func (c *scoreColumns) table() string { return "account_scores" }
func (c *scoreColumns) len() int      { return len(c.accountID) }

func (c *scoreColumns) add(r *rows.AccountScore) {
	c.accountID = append(c.accountID, r.AccountID)
	c.contactID = append(c.contactID, r.ContactID)
	c.score = append(c.score, r.Score)
	c.fit = append(c.fit, r.Fit)
	c.engagement = append(c.engagement, r.Engagement)
	c.grade = append(c.grade, r.Grade)
	c.level = append(c.level, r.Level)
	c.label = append(c.label, r.Label)
	c.stage = append(c.stage, r.Stage)
	c.reasons.add(r.Reasons)
	c.rulesVersion = append(c.rulesVersion, r.RulesVersion)
	c.asOf = append(c.asOf, dateTime(r.AsOf))
	c.version = append(c.version, r.Version)
	c.intent = append(c.intent, r.Intent)
	c.persona = append(c.persona, r.Persona)
	c.bestTimes.add(r.BestTimes)
	c.tags.add(r.Tags)
}

func (c *scoreColumns) columns() []chColumn {
	reasons := c.reasons.columns()
	return []chColumn{
		{"account_id", c.accountID},
		{"contact_id", c.contactID},
		{"score", c.score},
		{"fit", c.fit},
		{"engagement", c.engagement},
		{"grade", c.grade},
		{"level", c.level},
		{"label", c.label},
		{"stage", c.stage},
		reasons[0], reasons[1], reasons[2], reasons[3],
		{"rules_version", c.rulesVersion},
		{"as_of", c.asOf},
		{"version", c.version},
		{"intent", c.intent},
		{"persona", c.persona},
		{"best_times", c.bestTimes.column()},
		{"tags", c.tags.column()},
	}
}

func (c *scoreColumns) reset() {
	c.accountID = truncate(c.accountID)
	c.contactID = truncate(c.contactID)
	c.score = c.score[:0]
	c.fit = c.fit[:0]
	c.engagement = c.engagement[:0]
	c.grade = truncate(c.grade)
	c.level = c.level[:0]
	c.label = truncate(c.label)
	c.stage = truncate(c.stage)
	c.reasons.reset()
	c.rulesVersion = truncate(c.rulesVersion)
	c.asOf = c.asOf[:0]
	c.version = c.version[:0]
	c.intent = c.intent[:0]
	c.persona = truncate(c.persona)
	c.bestTimes.reset()
	c.tags.reset()
}

type transitionColumns struct {
	accountID, contactID                 []string
	fromStage, toStage                   []string
	at                                   []int64
	source, medium, campaign             []string
	lastSource, lastMedium, lastCampaign []string
	sourceTopic                          []string
	sourcePartition                      []int32
	sourceOffset                         []int64
}

func (c *transitionColumns) table() string { return "funnel_transitions" }
func (c *transitionColumns) len() int      { return len(c.accountID) }

func (c *transitionColumns) add(r *rows.FunnelTransition) {
	c.accountID = append(c.accountID, r.AccountID)
	c.contactID = append(c.contactID, r.ContactID)
	c.fromStage = append(c.fromStage, r.FromStage)
	c.toStage = append(c.toStage, r.ToStage)
	c.at = append(c.at, dateTime(r.At))
	c.source = append(c.source, r.Source)
	c.medium = append(c.medium, r.Medium)
	c.campaign = append(c.campaign, r.Campaign)
	c.lastSource = append(c.lastSource, r.LastSource)
	c.lastMedium = append(c.lastMedium, r.LastMedium)
	c.lastCampaign = append(c.lastCampaign, r.LastCampaign)
	c.sourceTopic = append(c.sourceTopic, r.RecordSource.Topic)
	c.sourcePartition = append(c.sourcePartition, r.RecordSource.Partition)
	c.sourceOffset = append(c.sourceOffset, r.RecordSource.Offset)
}

func (c *transitionColumns) columns() []chColumn {
	return []chColumn{
		{"account_id", c.accountID},
		{"contact_id", c.contactID},
		{"from_stage", c.fromStage},
		{"to_stage", c.toStage},
		{"at", c.at},
		{"source", c.source},
		{"medium", c.medium},
		{"campaign", c.campaign},
		{"last_source", c.lastSource},
		{"last_medium", c.lastMedium},
		{"last_campaign", c.lastCampaign},
		{"source_topic", c.sourceTopic},
		{"source_partition", c.sourcePartition},
		{"source_offset", c.sourceOffset},
	}
}

func (c *transitionColumns) reset() {
	c.accountID = truncate(c.accountID)
	c.contactID = truncate(c.contactID)
	c.fromStage = truncate(c.fromStage)
	c.toStage = truncate(c.toStage)
	c.at = c.at[:0]
	c.source = truncate(c.source)
	c.medium = truncate(c.medium)
	c.campaign = truncate(c.campaign)
	c.lastSource = truncate(c.lastSource)
	c.lastMedium = truncate(c.lastMedium)
	c.lastCampaign = truncate(c.lastCampaign)
	c.sourceTopic = truncate(c.sourceTopic)
	c.sourcePartition = c.sourcePartition[:0]
	c.sourceOffset = c.sourceOffset[:0]
}

type handoffColumns struct {
	accountID, contactID           []string
	at                             []int64
	score, fit, engagement, intent []float64
	label, stage                   []string
	persona, title, recommendation []string
	bestTimes                      arrayColumn[string]
	reasons                        reasonColumns
	rulesVersion, sourceTopic      []string
	sourcePartition                []int32
	sourceOffset                   []int64
}

func (c *handoffColumns) table() string { return "handoffs" }
func (c *handoffColumns) len() int      { return len(c.accountID) }

func (c *handoffColumns) add(r *rows.Handoff) {
	c.accountID = append(c.accountID, r.AccountID)
	c.contactID = append(c.contactID, r.ContactID)
	c.at = append(c.at, dateTime(r.At))
	c.score = append(c.score, r.Score)
	c.fit = append(c.fit, r.Fit)
	c.engagement = append(c.engagement, r.Engagement)
	c.intent = append(c.intent, r.Intent)
	c.label = append(c.label, r.Label)
	c.stage = append(c.stage, r.Stage)
	c.persona = append(c.persona, r.Persona)
	c.title = append(c.title, r.Title)
	c.recommendation = append(c.recommendation, r.Recommendation)
	c.bestTimes.add(r.BestTimes)
	c.reasons.add(r.Reasons)
	c.rulesVersion = append(c.rulesVersion, r.RulesVersion)
	c.sourceTopic = append(c.sourceTopic, r.Source.Topic)
	c.sourcePartition = append(c.sourcePartition, r.Source.Partition)
	c.sourceOffset = append(c.sourceOffset, r.Source.Offset)
}

func (c *handoffColumns) columns() []chColumn {
	reasons := c.reasons.columns()
	return []chColumn{
		{"account_id", c.accountID},
		{"contact_id", c.contactID},
		{"at", c.at},
		{"score", c.score},
		{"fit", c.fit},
		{"engagement", c.engagement},
		{"intent", c.intent},
		{"label", c.label},
		{"stage", c.stage},
		{"persona", c.persona},
		{"title", c.title},
		{"recommendation", c.recommendation},
		{"best_times", c.bestTimes.column()},
		reasons[0], reasons[1], reasons[2], reasons[3],
		{"rules_version", c.rulesVersion},
		{"source_topic", c.sourceTopic},
		{"source_partition", c.sourcePartition},
		{"source_offset", c.sourceOffset},
	}
}

func (c *handoffColumns) reset() {
	c.accountID = truncate(c.accountID)
	c.contactID = truncate(c.contactID)
	c.at = c.at[:0]
	c.score = c.score[:0]
	c.fit = c.fit[:0]
	c.engagement = c.engagement[:0]
	c.intent = c.intent[:0]
	c.label = truncate(c.label)
	c.stage = truncate(c.stage)
	c.persona = truncate(c.persona)
	c.title = truncate(c.title)
	c.recommendation = truncate(c.recommendation)
	c.bestTimes.reset()
	c.reasons.reset()
	c.rulesVersion = truncate(c.rulesVersion)
	c.sourceTopic = truncate(c.sourceTopic)
	c.sourcePartition = c.sourcePartition[:0]
	c.sourceOffset = c.sourceOffset[:0]
}

// eventColumns holds score_events rows, one per event applied: the largest
// table by far, so like the others it costs no allocation per row, its
// arrays kept flat.
type eventColumns struct {
	accountID, contactID []string
	at                   []int64
	typ, event, path     []string
	rules                arrayColumn[string]
	points               arrayColumn[float64]
	sourceTopic          []string
	sourcePartition      []int32
	sourceOffset         []int64
}

func (c *eventColumns) table() string { return "score_events" }
func (c *eventColumns) len() int      { return len(c.accountID) }

func (c *eventColumns) add(r *rows.ScoreEvent) {
	c.accountID = append(c.accountID, r.AccountID)
	c.contactID = append(c.contactID, r.ContactID)
	c.at = append(c.at, dateTime(r.At))
	c.typ = append(c.typ, r.Type)
	c.event = append(c.event, r.Event)
	c.path = append(c.path, r.Path)
	c.rules.add(r.Rules)
	c.points.add(r.Points)
	c.sourceTopic = append(c.sourceTopic, r.Source.Topic)
	c.sourcePartition = append(c.sourcePartition, r.Source.Partition)
	c.sourceOffset = append(c.sourceOffset, r.Source.Offset)
}

func (c *eventColumns) columns() []chColumn {
	return []chColumn{
		{"account_id", c.accountID},
		{"contact_id", c.contactID},
		{"at", c.at},
		{"type", c.typ},
		{"event", c.event},
		{"path", c.path},
		{"rules", c.rules.column()},
		{"points", c.points.column()},
		{"source_topic", c.sourceTopic},
		{"source_partition", c.sourcePartition},
		{"source_offset", c.sourceOffset},
	}
}

func (c *eventColumns) reset() {
	c.accountID = truncate(c.accountID)
	c.contactID = truncate(c.contactID)
	c.at = c.at[:0]
	c.typ = truncate(c.typ)
	c.event = truncate(c.event)
	c.path = truncate(c.path)
	c.rules.reset()
	c.points.reset()
	c.sourceTopic = truncate(c.sourceTopic)
	c.sourcePartition = c.sourcePartition[:0]
	c.sourceOffset = c.sourceOffset[:0]
}
