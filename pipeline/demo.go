package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leadscore/leadscore/internal/generate"
	"github.com/leadscore/leadscore/sinks"
)

// Demo runs the whole pipeline on a bounded generated stream: the embedded
// broker (unless brokers are configured), the ClickHouse tables in a
// database of their own, the generator, and the engine until it has
// committed every record; then it prints a report from ClickHouse.
type Demo struct {
	Config    Config
	Log       *slog.Logger
	Registry  *prometheus.Registry
	Out       io.Writer
	Generator generate.Config
	Events    int
	Top       int
}

// DemoDatabase is the ClickHouse database the demo writes to; it is dropped
// and recreated on each run, so the demo never touches real data.
const DemoDatabase = "leadscore_demo"

// Run executes the demo.
func (d *Demo) Run(ctx context.Context) error {
	cfg := d.Config
	cfg.ClickHouse.Database = DemoDatabase
	cfg.Kafka.Group = "leadscore-demo"
	if len(cfg.Engine.Channels.Own) == 0 {
		cfg.Engine.Channels.Own = []string{generate.SiteHost} // internal navigation is no channel
	}

	if len(cfg.Kafka.Brokers) == 0 {
		cluster, err := StartEmbedded(cfg)
		if err != nil {
			return err
		}
		defer cluster.Close()
		cfg.Kafka.Brokers = cluster.ListenAddrs()
	} else {
		cfg.Kafka.CreateTopics = true
	}
	if err := resetDatabase(ctx, cfg.ClickHouse); err != nil {
		return err
	}
	if _, err := sinks.Migrate(ctx, cfg.ClickHouse.SinkConfig()); err != nil {
		return err
	}

	eng, err := New(cfg, WithLogger(d.Log), WithRegisterer(d.Registry))
	if err != nil {
		return err
	}
	engCtx, stopEngine := context.WithCancel(ctx)
	defer stopEngine()
	engDone := make(chan error, 1)
	go func() { engDone <- eng.Run(engCtx) }()

	fmt.Fprintf(d.Out, "leadscore demo: %d events, %d accounts, seed %d, brokers %v, ClickHouse %v database %s\n",
		d.Events, d.Generator.Accounts, d.Generator.Seed, cfg.Kafka.Brokers, cfg.ClickHouse.Addr, cfg.ClickHouse.Database)
	start := time.Now()
	sent, err := Produce(ctx, cfg.Kafka.Brokers, cfg.Kafka.Topics[0], generate.New(d.Generator), d.Events, 0)
	if err != nil {
		stopEngine()
		return errors.Join(err, <-engDone)
	}
	produced := time.Since(start)
	waitCtx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	werr := WaitCaughtUp(waitCtx, cfg.Kafka.Brokers, cfg.Kafka.Group, cfg.ConsumedTopics()...)
	elapsed := time.Since(start)
	stopEngine()
	if err := errors.Join(werr, <-engDone); err != nil {
		return err
	}
	rep, err := Report(ctx, cfg.ClickHouse, d.Top)
	if err != nil {
		return err
	}
	rep.Events, rep.Elapsed, rep.Produced = sent, elapsed, produced
	rep.Print(d.Out)
	return nil
}
