package sinks

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ClickHouse/ch-go"
	"github.com/ClickHouse/ch-go/proto"
	"github.com/ClickHouse/clickhouse-go/v2"
)

// The ClickHouse sink inserts through ch-go, the low-level native protocol
// client clickhouse-go is built on. It takes columns as proto.ColInput, which
// the sink's buffers are (clickhouse_columns.go), so an insert encodes each
// column with a copy, where clickhouse-go's batch would take the values
// again one by one (arrays by reflection), allocating for most.

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
}

// insert sends input as one block to query, an INSERT naming its columns.
// A server's exception comes back as a *clickhouse.Exception, the type the
// sink's callers and transient know.
func (n *nativeConn) insert(ctx context.Context, query string, input proto.Input) error {
	if n.client == nil {
		client, err := n.dial(ctx)
		if err != nil {
			return err
		}
		n.client = client
	}
	client := n.client
	// ch-go only stops blocking reads and writes at the context's deadline:
	// closing the connection stops them when it is cancelled too.
	stop := context.AfterFunc(ctx, func() { _ = client.Close() })
	err := client.Do(ctx, ch.Query{Body: query, Input: input})
	stop()
	if err != nil || client.IsClosed() {
		n.close()
	}
	if err != nil {
		return serverException(err)
	}
	return nil
}

// dial connects to the first of cfg.Addr that answers, as clickhouse-go
// does (ConnOpenInOrder).
func (n *nativeConn) dial(ctx context.Context) (*ch.Client, error) {
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
		client, err := ch.Dial(ctx, opt)
		if err == nil && !proto.FeatureClientWriteInfo.In(client.ServerInfo().Revision) {
			_ = client.Close()
			opt.ProtocolVersion = legacyProtocol
			client, err = ch.Dial(ctx, opt)
		}
		if err == nil {
			return client, nil
		}
		errs = append(errs, fmt.Errorf("dial %s: %w", addr, serverException(err)))
	}
	return nil, errors.Join(errs...)
}

// close drops the connection.
func (n *nativeConn) close() {
	if n.client != nil {
		_ = n.client.Close()
		n.client = nil
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
