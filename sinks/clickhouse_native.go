package sinks

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/ClickHouse/ch-go"
	"github.com/ClickHouse/ch-go/proto"
	"github.com/ClickHouse/clickhouse-go/v2"
)

// The ClickHouse sink inserts through ch-go, the low-level native protocol
// client clickhouse-go is built on. It takes columns as proto.ColInput, which
// the sink's buffers are (clickhouse_columns.go), so an insert encodes each
// column with a copy (uncompressed, none: ch-go writes the buffers as they
// are), where clickhouse-go's batch would take the values again one by one
// (arrays by reflection), allocating for most. LZ4 blocks the sink frames
// itself (clickhouse_lz4.go) and writes on ch-go's connection.

// legacyProtocol is the protocol revision the sink speaks to servers older
// than revision 54420 (ClickHouse 19.9), such as Debian's 18.16: ch-go
// leaves the client info out of its query packet below 54420, but those
// servers read it from any client announcing 54032 or later, and take the
// rest of the packet for garbage ("Unknown setting"). Announcing 54031, the
// last revision without client info, makes both sides agree. Nothing the
// sink uses is newer: blocks and their info, LZ4, external tables (none).
const legacyProtocol = 54031

// insertReadTimeout is ch-go's deadline for reading one packet, as long as
// clickhouse-go's default: it fails a handshake that hangs, and in a query
// only paces ch-go's checks of the context (a timeout there is retried; the
// context ends the query, see insert).
const insertReadTimeout = 5 * time.Minute

// nativeConn is the connection the sink inserts through: one ch-go client,
// dialled on first use and dropped after any error, so a retry starts on a
// fresh connection. It is used by one Flush at a time.
type nativeConn struct {
	cfg    ClickHouseConfig
	client *ch.Client
	// conn is client's network connection, on which LZ4 inserts write
	// their data packets themselves (see insert).
	conn net.Conn
	// version is the protocol revision client speaks.
	version int
	lz4     lz4Block
}

// insert sends input, rows rows, as one block to query, an INSERT naming
// its columns. A server's exception comes back as a *clickhouse.Exception,
// the type the sink's callers and transient know.
//
// With LZ4, ch-go sends the query, reads the table's columns and ends the
// insert, but the sink writes the data packet: ch-go calls OnInput first
// when its input holds no rows, with everything before written, and sends
// the end of the data once OnInput returns io.EOF. See clickhouse_lz4.go for
// why.
func (n *nativeConn) insert(ctx context.Context, query string, input proto.Input, rows int) error {
	if n.client == nil {
		if err := n.dial(ctx); err != nil {
			return err
		}
	}
	client, conn := n.client, n.conn
	// ch-go only stops blocking reads and writes at the context's deadline:
	// closing the connection stops them when it is cancelled too.
	stop := context.AfterFunc(ctx, func() { _ = client.Close() })
	q := ch.Query{Body: query, Input: input}
	if !n.cfg.NoCompression {
		q.Input = proto.Input{{Name: input[0].Name, Data: new(proto.ColUInt8)}}
		q.OnInput = func(ctx context.Context) error {
			if err := n.writeLZ4(ctx, conn, input, rows); err != nil {
				return err
			}
			return io.EOF
		}
	}
	err := client.Do(ctx, q)
	stop()
	if err != nil || client.IsClosed() {
		n.close()
	}
	if err != nil {
		return serverException(err)
	}
	return nil
}

// writeLZ4 writes input as an LZ4-compressed data packet on conn. It gives
// up when ctx, the query's, is done: when the server has answered with an
// exception, it may have stopped reading.
func (n *nativeConn) writeLZ4(ctx context.Context, conn net.Conn, input proto.Input, rows int) error {
	stop := context.AfterFunc(ctx, func() { _ = conn.SetWriteDeadline(time.Unix(1, 0)) })
	defer stop()
	if err := n.lz4.encode(conn, n.version, input, rows); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%w: %w", ctx.Err(), err)
		}
		return err
	}
	return nil
}

// dial connects to the first of cfg.Addr that answers, as clickhouse-go
// does (ConnOpenInOrder).
func (n *nativeConn) dial(ctx context.Context) error {
	var errs []error
	for _, addr := range n.cfg.Addr {
		opt := ch.Options{
			Address:     addr,
			Database:    n.cfg.Database,
			User:        n.cfg.Username,
			Password:    n.cfg.Password,
			Compression: compression(n.cfg),
			ClientName:  "leadscore",
			DialTimeout: n.cfg.DialTimeout,
			ReadTimeout: insertReadTimeout,
		}
		err := n.connect(ctx, opt)
		if err == nil && !proto.FeatureClientWriteInfo.In(n.version) {
			n.close()
			opt.ProtocolVersion = legacyProtocol
			err = n.connect(ctx, opt)
		}
		if err == nil {
			return nil
		}
		errs = append(errs, fmt.Errorf("dial %s: %w", addr, serverException(err)))
	}
	return errors.Join(errs...)
}

// connect dials opt.Address and shakes hands, keeping the network
// connection for writeLZ4.
func (n *nativeConn) connect(ctx context.Context, opt ch.Options) error {
	d := net.Dialer{Timeout: opt.DialTimeout}
	conn, err := d.DialContext(ctx, "tcp", opt.Address)
	if err != nil {
		return err
	}
	client, err := ch.Connect(ctx, conn, opt)
	if err != nil {
		_ = conn.Close()
		return err
	}
	n.client, n.conn = client, conn
	// ch-go speaks the older of its revision and the server's.
	n.version = min(cmp.Or(opt.ProtocolVersion, proto.Version), client.ServerInfo().Revision)
	return nil
}

// close drops the connection.
func (n *nativeConn) close() {
	if n.client != nil {
		_ = n.client.Close()
		n.client, n.conn = nil, nil
	}
}

// serverException returns the server's exception in err as clickhouse-go's
// type, and err itself when it holds none.
func serverException(err error) error {
	var ex *ch.Exception
	if !errors.As(err, &ex) {
		return err
	}
	return &clickhouse.Exception{Code: int32(ex.Code), Name: ex.Name, Message: ex.Message, StackTrace: ex.Stack}
}

// compression is the block compression of the inserts.
func compression(cfg ClickHouseConfig) ch.Compression {
	if cfg.NoCompression {
		return ch.CompressionDisabled
	}
	return ch.CompressionLZ4
}
