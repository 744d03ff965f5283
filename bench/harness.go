package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/leadscore/leadscore/internal/chtest"
)

// Options shape one run of the harness. QuickOptions and FullOptions are the
// two sizes `make bench-quick` and `make bench` use.
type Options struct {
	// Root is the repository root: binaries are built from it and the
	// events file and logs go under Root/.local/bench.
	Root string
	// Out is where the results are written as Markdown; empty: nowhere.
	Out string
	// Quick marks the small run in the results.
	Quick bool

	// Seed, Events and Accounts select the generated stream.
	Seed     int64
	Events   int
	Accounts int
	// FlushInterval is the engine's (and the baseline's) flush_interval in
	// the throughput and latency runs.
	FlushInterval time.Duration
	// LatencyFractions are the offered rates of the latency runs, as
	// fractions of each program's measured maximum; LatencyDuration is how
	// long each offers load (bounded by the events available).
	LatencyFractions []float64
	LatencyDuration  time.Duration
	// LowFlushInterval adds engine latency runs at the same fractions
	// with this flush_interval (0: none): what the latency is when the
	// engine is tuned for it rather than for throughput.
	LowFlushInterval time.Duration
	// MemAccounts is the number of accounts added at each of the two
	// steps of the memory run.
	MemAccounts int
	// SinkRows is how many rows the engine's ClickHouse sink inserts;
	// the baseline inserts a tenth.
	SinkRows int
	// Stages is a file of `go test -bench BenchmarkStage` output to
	// include (empty or missing: none).
	Stages string
	// BinDir is where leadscore, naive and decodeonly are built (empty:
	// Root/.local/bench/bin); with Prebuilt they are taken as they are.
	BinDir   string
	Prebuilt bool
	// Profile, when positive, takes a CPU profile of this length of each
	// engine catch-up run into Root/.local/bench/<run>.cpu.pprof, and heap
	// profiles of the memory runs into <program>-memory.heap.pprof.
	Profile time.Duration
	// Log receives progress lines.
	Log io.Writer
}

// FullOptions is `make bench`: half a million events, well under ten
// minutes on two cores.
func FullOptions(root string) Options {
	return Options{
		Root: root, Seed: 1, Events: 500_000, Accounts: 20_000,
		FlushInterval: time.Second, LatencyFractions: []float64{0.7, 0.3}, LatencyDuration: 15 * time.Second,
		LowFlushInterval: 20 * time.Millisecond, MemAccounts: 50_000, SinkRows: 1_500_000, Log: os.Stderr,
	}
}

// QuickOptions is `make bench-quick`: the same figures, small, in under a
// minute; cycles of 250ms so that runs end soon after their last event.
func QuickOptions(root string) Options {
	return Options{
		Root: root, Quick: true, Seed: 1, Events: 30_000, Accounts: 5_000,
		FlushInterval: 250 * time.Millisecond, LatencyFractions: []float64{0.7}, LatencyDuration: 2 * time.Second,
		MemAccounts: 5_000, SinkRows: 100_000, Log: os.Stderr,
	}
}

// harness holds what the runs share.
type harness struct {
	opts   Options
	dir    string // Root/.local/bench
	logDir string
	bin    string
	kafka  *broker
	ch     *chtest.Server
	nullDB string
	ev     *events
	seq    int
	res    *Results
}

const inputTopic = "bench.events"

// Run runs every measurement in order and returns the results, written to
// opts.Out when set.
func Run(ctx context.Context, opts Options) (*Results, error) {
	start := time.Now()
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	h := &harness{opts: opts, dir: filepath.Join(opts.Root, ".local", "bench")}
	// Logs, configuration files and state of this invocation; removed when
	// it succeeds, kept for a look when it fails.
	h.logDir = filepath.Join(h.dir, "runs", strconv.Itoa(os.Getpid()))
	if err := os.MkdirAll(h.logDir, 0o755); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	h.res = &Results{Options: opts, Machine: readMachine(opts.Root), Started: start.UTC()}
	defer h.close()
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"events", h.loadEvents},
		{"build", h.build},
		{"clickhouse", h.startClickHouse},
		{"kafka", h.startKafka},
		{"decode in memory", h.pureDecode},
		{"throughput", h.throughput},
		{"latency", h.latencyRuns},
		{"memory", h.memoryRuns},
		{"clickhouse sink", h.sinkRuns},
	}
	for _, s := range steps {
		t := time.Now()
		h.logf("== %s", s.name)
		if err := s.fn(ctx); err != nil {
			return h.res, fmt.Errorf("bench: %s: %w", s.name, err)
		}
		h.logf("   %s took %s", s.name, time.Since(t).Round(time.Millisecond))
	}
	if opts.Stages != "" {
		st, err := readStages(opts.Stages)
		if err != nil {
			h.logf("stage benchmarks: %v", err)
		}
		h.res.Stages = st
	}
	h.res.Elapsed = time.Since(start)
	os.RemoveAll(h.logDir)
	if opts.Out != "" {
		if err := os.WriteFile(opts.Out, []byte(h.res.Markdown()), 0o644); err != nil {
			return h.res, fmt.Errorf("bench: write results: %w", err)
		}
		h.logf("wrote %s", opts.Out)
	}
	return h.res, nil
}

func (h *harness) logf(format string, args ...any) {
	fmt.Fprintf(h.opts.Log, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

func (h *harness) close() {
	if h.kafka != nil {
		h.kafka.close()
	}
	if h.ch != nil {
		h.dropNullDB()
		h.ch.Stop()
	}
}

func (h *harness) loadEvents(context.Context) error {
	ev, err := loadEvents(h.dir, h.opts.Seed, h.opts.Events, h.opts.Accounts)
	if err != nil {
		return err
	}
	h.ev = ev
	h.res.EventsFile = ev.path
	h.res.EventsGenerated = ev.generated
	h.res.AvgEventBytes = ev.avgBytes()
	h.logf("   %d events, %.0f bytes each on average, in %s", len(ev.values), ev.avgBytes(), ev.path)
	return nil
}

// build compiles the three programs the harness runs as processes.
func (h *harness) build(ctx context.Context) error {
	h.bin = h.opts.BinDir
	if h.bin == "" {
		h.bin = filepath.Join(h.dir, "bin")
	}
	if h.opts.Prebuilt {
		return nil
	}
	if err := os.MkdirAll(h.bin, 0o755); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", h.bin+string(filepath.Separator),
		"./cmd/leadscore", "./bench/cmd/naive", "./bench/cmd/decodeonly")
	cmd.Dir = h.opts.Root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go build: %w\n%s", err, out)
	}
	return nil
}

func (h *harness) startKafka(ctx context.Context) error {
	b, err := startBroker()
	if err != nil {
		return err
	}
	h.kafka = b
	if err := b.createTopics(ctx, inputTopic); err != nil {
		return err
	}
	t := time.Now()
	if err := b.produceAll(ctx, inputTopic, h.ev.keys, h.ev.values); err != nil {
		return err
	}
	h.logf("   loaded %s in %s", inputTopic, time.Since(t).Round(time.Millisecond))
	return nil
}

// nextName returns a fresh name for a run's group and topics.
func (h *harness) nextName(kind string) string {
	h.seq++
	return fmt.Sprintf("%s%d", kind, h.seq)
}
