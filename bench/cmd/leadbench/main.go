// Command leadbench is the end-to-end benchmark harness (package bench): it
// generates or reuses the seeded events file, builds the engine, the
// baseline and the decode-only consumer, starts Kafka (kfake) and ClickHouse,
// runs every measurement and writes the results as Markdown. scripts/bench.sh
// runs it for `make bench` and `make bench-quick`.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/leadscore/leadscore/bench"
)

func main() {
	quick := flag.Bool("quick", false, "the small run (make bench-quick): under a minute")
	out := flag.String("out", "bench/RESULTS.md", "write the results here (empty: only print progress)")
	root := flag.String("root", ".", "repository root")
	stages := flag.String("stages", "", "go test -bench BenchmarkStage output to include")
	events := flag.Int("events", 0, "events (0: the size's default)")
	seed := flag.Int64("seed", 0, "generator seed (0: the size's default)")
	flush := flag.Duration("flush-interval", 0, "engine.flush_interval of the throughput and latency runs (0: default)")
	profile := flag.Duration("cpuprofile", 0, "take a CPU profile of this length of each engine catch-up run into .local/bench/<run>.cpu.pprof")
	binDir := flag.String("bin", "", "directory with leadscore, naive and decodeonly already built (empty: build them into .local/bench/bin)")
	flag.Parse()

	abs, err := filepath.Abs(*root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "leadbench:", err)
		os.Exit(2)
	}
	opts := bench.FullOptions(abs)
	if *quick {
		opts = bench.QuickOptions(abs)
	}
	if *events > 0 {
		opts.Events = *events
	}
	if *seed != 0 {
		opts.Seed = *seed
	}
	if *flush > 0 {
		opts.FlushInterval = *flush
	}
	opts.Out, opts.Stages, opts.Profile = *out, *stages, *profile
	if *binDir != "" {
		opts.BinDir, opts.Prebuilt = *binDir, true
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	res, err := bench.Run(ctx, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "leadbench:", err)
		os.Exit(1)
	}
	for _, t := range res.Targets() {
		mark := "NOT MET"
		if t.Met {
			mark = "met"
		}
		fmt.Printf("%-7s %s: %s\n", mark, t.Goal, t.Measured)
	}
	fmt.Printf("done in %s\n", time.Since(start).Round(time.Second))
}
