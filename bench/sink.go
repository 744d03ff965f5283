package bench

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/leadscore/leadscore/bench/naive"
	"github.com/leadscore/leadscore/internal/rows"
	"github.com/leadscore/leadscore/sinks"
)

// Sink is a ClickHouse insert run in this process: pre-built rows written to
// the Null tables as fast as the client goes, with nothing else running, so
// that the process's CPU time is the client's.
type Sink struct {
	Program string
	Rows    int
	Wall    time.Duration
	CPU     time.Duration
}

// RowsPerSecond is rows per wall-clock second.
func (s *Sink) RowsPerSecond() float64 { return float64(s.Rows) / s.Wall.Seconds() }

// Cores is the client's CPU use while inserting.
func (s *Sink) Cores() float64 { return s.CPU.Seconds() / s.Wall.Seconds() }

// RowsPerCPUSecond is rows per CPU-second of the client.
func (s *Sink) RowsPerCPUSecond() float64 { return float64(s.Rows) / s.CPU.Seconds() }

// sinkBatch returns a batch of n score changes, n account scores and n
// score events shaped like the engine's: six reasons, ids like the
// generator's.
func sinkBatch(seq, n int) *rows.Batch {
	b := &rows.Batch{}
	at := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	reasons := []rows.Reason{
		{Rule: "industry", Category: "fit", Points: 30}, {Rule: "employees", Category: "fit", Points: 30},
		{Rule: "country", Category: "fit", Points: 20}, {Rule: "pricing page", Category: "strong", Points: 17.4, Count: 3},
		{Rule: "any page", Category: "weak", Points: 6.2, Count: 9}, {Rule: "email open", Category: "weak", Points: 3.9, Count: 2},
	}
	for i := range n {
		acct := fmt.Sprintf("initech-%d.ai", (seq*n+i)%20_000)
		src := rows.Source{Topic: "leadscore.events", Partition: int32(i % 4), Offset: int64(seq*n + i)}
		b.Changes = append(b.Changes, rows.ScoreChange{AccountID: acct, Score: 74.1, Fit: 80, Engagement: 70.1, Grade: "A", Level: 2,
			Label: "A2", Stage: "mql", PreviousLabel: "A3", PreviousStage: "lead", PreviousScore: 68.2, Reasons: reasons,
			RulesVersion: "example-1", AsOf: at, Source: src, Cause: rows.CauseEvent})
		b.Scores = append(b.Scores, rows.AccountScore{AccountID: acct, Score: 74.1, Fit: 80, Engagement: 70.1, Grade: "A", Level: 2,
			Label: "A2", Stage: "mql", Reasons: reasons, RulesVersion: "example-1", AsOf: at, Version: uint64(seq*n + i),
			BestTimes: []string{"Tue 10:00", "Wed 09:00"}, Tags: []string{}})
		b.Events = append(b.Events, rows.ScoreEvent{AccountID: acct, At: at, Type: "page", Path: "/pricing",
			Rules: []string{"pricing page", "any page"}, Points: []float64{20, 1}, Source: src})
	}
	return b
}

// sinkTargetRate is the rows per second of the paced sink runs: issue 8's
// target, 1 M rows/s on at most a quarter of a core.
const sinkTargetRate = 1_000_000

func (h *harness) sinkRuns(ctx context.Context) error {
	h.res.Sink = map[string]*Sink{}
	// As fast as the client goes, then paced at the target rate (what a
	// quarter of a core must sustain), each with LZ4 and with
	// clickhouse.compression: none (ClickHouse on the same host or LAN).
	var all []*Sink
	for _, r := range []struct {
		program      string
		uncompressed bool
		rate         float64
	}{
		{"engine", false, 0},
		{"engine-uncompressed", true, 0},
		{"engine-paced", false, sinkTargetRate},
		{"engine-uncompressed-paced", true, sinkTargetRate},
	} {
		s, err := h.sinkEngine(ctx, h.opts.SinkRows, r.uncompressed, r.rate)
		if err != nil {
			return err
		}
		s.Program = r.program
		h.res.Sink[r.program] = s
		all = append(all, s)
	}
	n, err := h.sinkNaive(ctx, max(h.opts.SinkRows/10, 3000))
	if err != nil {
		return err
	}
	h.res.Sink["naive"] = n
	for _, s := range append(all, n) {
		h.logf("   %-6s %9.0f rows/s on %.2f cores of client CPU (%.0f rows/CPU-s)", s.Program, s.RowsPerSecond(), s.Cores(), s.RowsPerCPUSecond())
	}
	return nil
}

// sinkFlushRows is how many rows go into one flush: about what one engine
// cycle of flush_records (50 000) records writes.
const sinkFlushRows = 150_000

// sinkEngine inserts total rows through the engine's sink, as fast as it
// goes (rate 0) or at rate rows per second: after each flush it waits until
// the rows written so far are due at that rate.
func (h *harness) sinkEngine(ctx context.Context, total int, uncompressed bool, rate float64) (*Sink, error) {
	ch, err := sinks.NewClickHouse(sinks.ClickHouseConfig{Addr: []string{h.ch.Addr}, Database: h.nullDB, MaxBufferRows: 4 * sinkFlushRows,
		NoCompression: uncompressed}, nil, nil)
	if err != nil {
		return nil, err
	}
	defer ch.Close(context.WithoutCancel(ctx))
	if err := ch.Ping(ctx); err != nil {
		return nil, err
	}
	const per = 1000
	batches := make([]*rows.Batch, 16)
	for i := range batches {
		batches[i] = sinkBatch(i, per)
	}
	// Two full-size warm-up flushes open the connections and grow both
	// blocks and the client's buffers to their working size.
	for range 2 {
		for i, n := 0, 0; n < sinkFlushRows; i++ {
			if err := ch.Write(ctx, batches[i%len(batches)]); err != nil {
				return nil, err
			}
			n += batches[i%len(batches)].Len()
		}
		if err := ch.Flush(ctx); err != nil {
			return nil, err
		}
	}
	runtime.GC()
	c0, t0 := selfCPU(), time.Now()
	written, sinceFlush := 0, 0
	for i := 0; written < total; i++ {
		b := batches[i%len(batches)]
		if err := ch.Write(ctx, b); err != nil {
			return nil, err
		}
		written += b.Len()
		sinceFlush += b.Len()
		if sinceFlush >= sinkFlushRows {
			if err := ch.Flush(ctx); err != nil {
				return nil, err
			}
			sinceFlush = 0
			if rate > 0 {
				due := t0.Add(time.Duration(float64(written) / rate * float64(time.Second)))
				time.Sleep(time.Until(due))
			}
		}
	}
	if err := ch.Flush(ctx); err != nil {
		return nil, err
	}
	return &Sink{Program: "engine", Rows: written, Wall: time.Since(t0), CPU: selfCPU() - c0}, nil
}

func (h *harness) sinkNaive(ctx context.Context, total int) (*Sink, error) {
	s, err := naive.OpenSQL(h.ch.Addr, h.nullDB)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	const per = 1000
	batches := make([]*rows.Batch, 16)
	for i := range batches {
		batches[i] = sinkBatch(i, per)
	}
	add := func(b *rows.Batch) {
		for _, c := range b.Changes {
			s.AddChange(naive.ChangeRow{AccountID: c.AccountID, ContactID: c.ContactID, Score: c.Score, Fit: c.Fit, Engagement: c.Engagement,
				Grade: c.Grade, Level: c.Level, Label: c.Label, Stage: c.Stage, PreviousLabel: c.PreviousLabel, PreviousStage: c.PreviousStage,
				PreviousScore: c.PreviousScore, Reasons: naiveReasons(c.Reasons), RulesVersion: c.RulesVersion, AsOf: c.AsOf,
				Source: naive.Source(c.Source), Cause: c.Cause})
		}
		for _, c := range b.Scores {
			s.AddScore(naive.ScoreRow{AccountID: c.AccountID, ContactID: c.ContactID, Score: c.Score, Fit: c.Fit, Engagement: c.Engagement,
				Grade: c.Grade, Level: c.Level, Label: c.Label, Stage: c.Stage, Reasons: naiveReasons(c.Reasons), RulesVersion: c.RulesVersion,
				AsOf: c.AsOf, Version: c.Version})
		}
		for _, e := range b.Events {
			s.AddEvent(naive.EventRow{AccountID: e.AccountID, ContactID: e.ContactID, At: e.At, Type: e.Type, Event: e.Event, Path: e.Path,
				Rules: e.Rules, Points: e.Points, Source: naive.Source(e.Source)})
		}
	}
	add(batches[0])
	if err := s.Flush(ctx); err != nil {
		return nil, err
	}
	runtime.GC()
	c0, t0 := selfCPU(), time.Now()
	written := 0
	for i := 0; written < total; i++ {
		b := batches[i%len(batches)]
		add(b)
		written += b.Len()
		if s.Len() >= sinkFlushRows {
			if err := s.Flush(ctx); err != nil {
				return nil, err
			}
		}
	}
	if err := s.Flush(ctx); err != nil {
		return nil, err
	}
	return &Sink{Program: "naive", Rows: written, Wall: time.Since(t0), CPU: selfCPU() - c0}, nil
}

func naiveReasons(rs []rows.Reason) []naive.Reason {
	out := make([]naive.Reason, len(rs))
	for i, r := range rs {
		out[i] = naive.Reason(r)
	}
	return out
}
