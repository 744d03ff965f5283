package sinks

import (
	"context"

	"github.com/leadscore/leadscore/internal/rows"
)

// Sink receives output rows. Implementations are safe for concurrent use by
// several partition workers.
//
// Write copies what it keeps (the caller reuses the batch) and may block when
// the sink's buffer is full. Flush is a barrier: after it returns nil, every
// row written before the call is durable. Close flushes what it can and is
// idempotent.
type Sink interface {
	Write(ctx context.Context, b *rows.Batch) error
	Flush(ctx context.Context) error
	Close(ctx context.Context) error
}

// Pinger is an optional ability: a sink that can tell whether its backend is
// reachable, for readiness.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Discarder is an optional ability: a sink that holds rows not yet durable
// can drop them, and forget their errors, after the caller aborted the work
// that wrote them and will write it again from its last commit. Discard must
// not run at the same time as Write or Flush.
type Discarder interface {
	Discard(ctx context.Context)
}
