// Command naive is the benchmark baseline (package bench/naive) as a process,
// so that bench measures its CPU time on its own: it consumes a topic, scores
// it the obvious way and writes score changes to Kafka and rows to
// ClickHouse through database/sql, until SIGINT or SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/leadscore/leadscore/bench/internal/probe"
	"github.com/leadscore/leadscore/bench/naive"
	"github.com/leadscore/leadscore/scorer"
)

func main() {
	var cfg naive.Config
	brokers := flag.String("brokers", "127.0.0.1:9092", "Kafka brokers, comma separated")
	flag.StringVar(&cfg.Topic, "topic", "leadscore.events", "input topic")
	flag.StringVar(&cfg.Group, "group", "naive", "consumer group")
	flag.StringVar(&cfg.OutTopic, "out", "naive.score-changes", "score changes topic")
	flag.StringVar(&cfg.DLQTopic, "dlq", "naive.dlq", "dead letters topic")
	flag.StringVar(&cfg.CHAddr, "clickhouse", "", "ClickHouse native address; empty discards the rows")
	flag.StringVar(&cfg.CHDatabase, "database", "leadscore", "ClickHouse database")
	flag.DurationVar(&cfg.FlushInterval, "flush-interval", time.Second, "insert and commit at least this often")
	flag.IntVar(&cfg.FlushRecords, "flush-records", 50_000, "insert and commit after this many records")
	rules := flag.String("rules", "", "rules file (default: the example rules)")
	httpAddr := flag.String("http", "", "address for /readyz, /metrics and /debug/pprof/")
	flag.Parse()
	cfg.Brokers = strings.Split(*brokers, ",")
	cfg.Rules = scorer.Example()
	if *rules != "" {
		b, err := os.ReadFile(*rules)
		if err != nil {
			fmt.Fprintln(os.Stderr, "naive:", err)
			os.Exit(2)
		}
		cfg.Rules = b
	}
	p, err := naive.New(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "naive:", err)
		os.Exit(2)
	}
	var ready atomic.Bool
	stop, err := probe.Serve(*httpAddr, &ready)
	if err != nil {
		fmt.Fprintln(os.Stderr, "naive:", err)
		os.Exit(1)
	}
	defer stop()
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	if err := p.Run(ctx, func() { ready.Store(true) }); err != nil {
		fmt.Fprintln(os.Stderr, "naive:", err)
		os.Exit(1)
	}
}
