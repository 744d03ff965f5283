package sinks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/ch-go/proto"
	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

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
	// NoCompression sends inserted blocks uncompressed instead of LZ4:
	// cheaper in CPU on both ends where the network is not the limit (the
	// same host or a fast LAN).
	NoCompression bool
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
// Write copies rows into per-table column buffers in memory, laid out as the
// native protocol sends them. Flush freezes those buffers into a block and
// inserts it, one INSERT per table naming its columns, the tables in
// parallel on connections of the sink's own (ch-go's client, see
// clickhouse_native.go); on a transient error (network, server overload,
// restart) it retries the table's part of the same frozen block on a new
// connection, with backoff, until its context is done.
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
	conn driver.Conn // for Ping, so that it never waits for a Flush
	log  *slog.Logger
	m    *sinkMetrics

	// flushing is a one-slot semaphore held by the running Flush. It guards
	// pending and native.
	flushing chan struct{}
	pending  []*chBlock // frozen blocks not yet durable, oldest first
	// native holds the inserts' connections, one per table, so that a
	// Flush inserts its tables in parallel (the server parses each insert
	// on one thread).
	native [chTables]nativeConn

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
	c := &ClickHouse{
		cfg:      cfg,
		conn:     conn,
		log:      log.With("sink", "clickhouse"),
		m:        newSinkMetrics(reg, "clickhouse"),
		flushing: make(chan struct{}, 1),
		cur:      new(chBlock),
		space:    make(chan struct{}),
	}
	for i := range c.native {
		c.native[i].cfg = cfg
	}
	return c, nil
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
	defer c.release()

	start := time.Now()
	c.mu.Lock()
	if c.cur.len() > 0 {
		c.pending = append(c.pending, c.cur)
		c.cur, c.spare = c.spare, nil
		if c.cur == nil {
			c.cur = new(chBlock)
			c.cur.reserve(c.pending[len(c.pending)-1])
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

// send inserts the tables of blk not inserted yet, in parallel, each on its
// own connection, retrying transient errors until ctx is done. A permanent
// error stops the other tables' inserts at once; the tables inserted so far
// stay marked in blk.sent.
func (c *ClickHouse) send(ctx context.Context, blk *chBlock) error {
	var todo []int
	tables := blk.tables()
	for i, t := range tables {
		if !blk.sent[i] && t.len() > 0 {
			todo = append(todo, i)
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, i := range todo {
		t := tables[i]
		g.Go(func() error {
			if err := c.sendTable(gctx, &c.native[i], t); err != nil {
				return err
			}
			blk.sent[i] = true
			return nil
		})
	}
	return g.Wait()
}

// sendTable inserts t through conn, retrying transient errors with backoff
// until ctx is done.
func (c *ClickHouse) sendTable(ctx context.Context, conn *nativeConn, t chTable) error {
	backoff := c.cfg.RetryBackoff
	for attempt := 1; ; attempt++ {
		err := c.insert(ctx, conn, t)
		if err == nil {
			c.m.rows.WithLabelValues(t.table()).Add(float64(t.len()))
			return nil
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

// release releases the flushing semaphore. Once the sink is closed, its
// holder also closes the inserts' connections, so whichever flush runs last
// closes them.
func (c *ClickHouse) release() {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		for i := range c.native {
			c.native[i].close()
		}
	}
	<-c.flushing
}

// insert sends one table's rows as one INSERT of one block, at flush time.
// The columns are the table's buffers themselves: nothing is copied but
// into the connection's buffer.
func (c *ClickHouse) insert(ctx context.Context, conn *nativeConn, t chTable) error {
	cols := t.columns()
	input := make(proto.Input, len(cols))
	for i, col := range cols {
		if n := col.data.Rows(); n != t.len() {
			return permanentError{fmt.Errorf("column %s holds %d rows, not %d", col.name, n, t.len())}
		}
		input[i] = proto.InputColumn{Name: col.name, Data: col.data}
	}
	return conn.insert(ctx, insertSQL(t.table(), cols)+" VALUES", input, t.len())
}

// Discard drops every row not yet durable: the pending blocks (including a
// partly inserted one) and the rows written since the last Flush.
func (c *ClickHouse) Discard(ctx context.Context) {
	select {
	case c.flushing <- struct{}{}:
	case <-ctx.Done():
		return
	}
	defer c.release()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pending = nil
	c.cur.reset()
	c.buffered = 0
	c.m.buffered.Set(0)
	close(c.space)
	c.space = make(chan struct{})
}

// Ping checks that a server answers. A new connection authenticates as the
// configured user and opens the configured database.
func (c *ClickHouse) Ping(ctx context.Context) error {
	if err := c.conn.Ping(ctx); err != nil {
		return fmt.Errorf("ping clickhouse: %w", err)
	}
	return nil
}

// CheckClickHouse checks once that cfg's servers accept its user and
// password and hold its database with every table and column the sink
// writes (those that Migrate creates): a start-up check, so that a wrong
// password or a missing migration (a database an older release migrated)
// stops a process before it consumes anything rather than at its first
// flush. The error names the addresses, the user and the
// database, never the password. A refusal (the server answered with an
// exception, as for a wrong password or an unknown database) and missing
// tables are ErrPermanent; anything else (a refused or broken connection, a
// timeout) may pass once the server is up.
func CheckClickHouse(ctx context.Context, cfg ClickHouseConfig) error {
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("check clickhouse: %w", err)
	}
	cfg = cfg.withDefaults()
	where := fmt.Sprintf("%s (user %s, database %s)", strings.Join(cfg.Addr, ","), cfg.Username, cfg.Database)
	conn, err := cfg.open(cfg.Database)
	if err != nil {
		return fmt.Errorf("check clickhouse %s: %w", where, err)
	}
	defer conn.Close()
	if err := conn.Ping(ctx); err != nil {
		if !transient(err) {
			err = permanentError{err}
		}
		return fmt.Errorf("check clickhouse %s: %w", where, err)
	}
	rs, err := conn.Query(ctx, "SELECT table, name FROM system.columns WHERE database = currentDatabase()")
	if err != nil {
		return fmt.Errorf("check clickhouse %s: list columns: %w", where, err)
	}
	have := map[string]bool{} // "table" and "table.column"
	for rs.Next() {
		var table, column string
		if err := rs.Scan(&table, &column); err != nil {
			rs.Close()
			return fmt.Errorf("check clickhouse %s: list columns: %w", where, err)
		}
		have[table], have[table+"."+column] = true, true
	}
	if err := errors.Join(rs.Err(), rs.Close()); err != nil {
		return fmt.Errorf("check clickhouse %s: list columns: %w", where, err)
	}
	var tables, columns []string
	for _, t := range new(chBlock).tables() {
		if !have[t.table()] {
			tables = append(tables, t.table())
			continue
		}
		for _, c := range t.columns() {
			if !have[t.table()+"."+c.name] {
				columns = append(columns, t.table()+"."+c.name)
			}
		}
	}
	var missing []string
	if len(tables) > 0 {
		missing = append(missing, "tables missing: "+strings.Join(tables, ", "))
	}
	if len(columns) > 0 {
		missing = append(missing, "columns missing: "+strings.Join(columns, ", "))
	}
	if len(missing) > 0 {
		return fmt.Errorf("check clickhouse %s: %w", where,
			permanentError{fmt.Errorf("%s (run leadscore migrate)", strings.Join(missing, "; "))})
	}
	return nil
}

// Close stops accepting rows, flushes what is buffered until ctx is done and
// closes the connections (the inserts' ones once no Flush runs). Rows it
// could not flush are dropped and counted in the error. Close is
// idempotent: later calls return the first one's result.
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

// Is makes a permanentError an ErrPermanent for callers.
func (e permanentError) Is(target error) bool { return target == ErrPermanent }

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
