package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/leadscore/leadscore/internal/generate"
	"github.com/leadscore/leadscore/pipeline"
	"github.com/leadscore/leadscore/scorer"
	"github.com/leadscore/leadscore/sinks"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

const usage = `usage: leadscore <command> [flags]

commands:
  run           consume events, score them, write ClickHouse and Kafka outputs until SIGINT/SIGTERM
  demo          embedded Kafka + generated events + the engine on a bounded stream, then print a report
  migrate       create or upgrade the ClickHouse tables
  generate      write seeded, realistic Segment events to a Kafka topic or stdout
  check-config  validate the configuration and report every problem
  check-rules   validate a rules file (default: the embedded example rules)
  explain       print why an account or contact has its score, from ClickHouse
  report        print the funnel, channel or score analytics from ClickHouse (report funnel|channels|scores, --png for a chart)
  costs         load marketing spend per channel and month from a CSV file (costs load FILE)

Run 'leadscore <command> -h' for the command's flags.
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "run":
		return cmdRun(args, stderr)
	case "demo":
		return cmdDemo(args, stdout, stderr)
	case "migrate":
		return cmdMigrate(args, stdout, stderr)
	case "generate":
		return cmdGenerate(args, stdout, stderr)
	case "check-config":
		return cmdCheckConfig(args, stdout, stderr)
	case "check-rules":
		return cmdCheckRules(args, stdout, stderr)
	case "explain":
		return cmdExplain(args, stdout, stderr)
	case "report":
		return cmdReport(args, stdout, stderr)
	case "costs":
		return cmdCosts(args, stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "leadscore: unknown command %q\n\n%s", cmd, usage)
	return exitUsage
}

// configFlags are the flags every engine command shares; set flags override
// the file and the environment.
type configFlags struct {
	file       string
	brokers    string
	clickhouse string
	rules      string
	httpListen string
	logLevel   string
}

func (c *configFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.file, "config", os.Getenv("LEADSCORE_CONFIG"), "YAML config file (env LEADSCORE_CONFIG)")
	fs.StringVar(&c.brokers, "brokers", "", "Kafka brokers, comma separated; empty starts the embedded broker")
	fs.StringVar(&c.clickhouse, "clickhouse", "", "ClickHouse native addresses, comma separated")
	fs.StringVar(&c.rules, "rules", "", "rules file (default: the embedded example rules)")
	fs.StringVar(&c.httpListen, "http", "", "address for /metrics, /healthz, /readyz")
	fs.StringVar(&c.logLevel, "log-level", "", "debug, info, warn or error")
}

func (c *configFlags) load() (pipeline.Config, error) {
	cfg, err := pipeline.LoadConfig(c.file)
	if err != nil {
		return cfg, err
	}
	split := func(s string) []string { return strings.Split(s, ",") }
	if c.brokers != "" {
		cfg.Kafka.Brokers = split(c.brokers)
	}
	if c.clickhouse != "" {
		cfg.ClickHouse.Addr = split(c.clickhouse)
	}
	if c.rules != "" {
		cfg.Rules = c.rules
	}
	if c.httpListen != "" {
		cfg.HTTP.Listen = c.httpListen
	}
	if c.logLevel != "" {
		cfg.Log.Level = c.logLevel
	}
	return cfg, nil
}

// engineCommand parses an engine command's flags (the shared config flags
// plus those extra registers) and loads the configuration. On failure it has
// reported the problem and ok is false.
func engineCommand(name string, args []string, stderr io.Writer, extra func(*flag.FlagSet)) (cfg pipeline.Config, cf configFlags, ok bool) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cf.register(fs)
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		return cfg, cf, false
	}
	cfg, err := cf.load()
	if err != nil {
		fmt.Fprintln(stderr, "leadscore:", err)
		return cfg, cf, false
	}
	return cfg, cf, true
}

func newLogger(cfg pipeline.Config, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.Log.Level))
	o := &slog.HandlerOptions{Level: lvl}
	if cfg.Log.Format == "text" {
		return slog.New(slog.NewTextHandler(w, o))
	}
	return slog.New(slog.NewJSONHandler(w, o))
}

func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// signalContext is cancelled by SIGINT or SIGTERM: a graceful stop.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

func cmdRun(args []string, stderr io.Writer) int {
	cfg, _, ok := engineCommand("run", args, stderr, nil)
	if !ok {
		return exitUsage
	}
	log := newLogger(cfg, stderr)
	e, err := pipeline.New(cfg, pipeline.WithLogger(log), pipeline.WithRegisterer(newRegistry()))
	if err != nil {
		fmt.Fprintln(stderr, "leadscore:", err)
		return exitUsage
	}
	ctx, stop := signalContext()
	defer stop()
	if err := e.Run(ctx); err != nil {
		if errors.Is(err, pipeline.ErrStartCheck) {
			// ClickHouse or the brokers refused or did not answer before
			// the group was joined: one plain line for whoever started it.
			fmt.Fprintln(stderr, "leadscore:", err)
			return exitFailure
		}
		log.Error("engine stopped", "err", err)
		return exitFailure
	}
	return exitOK
}

func cmdDemo(args []string, stdout, stderr io.Writer) int {
	var (
		events, accounts, top int
		seed                  int64
	)
	cfg, cf, ok := engineCommand("demo", args, stderr, func(fs *flag.FlagSet) {
		fs.IntVar(&events, "events", 200_000, "events to generate")
		fs.Int64Var(&seed, "seed", 1, "generator seed")
		fs.IntVar(&accounts, "accounts", 2000, "accounts in the generated population")
		fs.IntVar(&top, "top", 10, "accounts to list in the report")
	})
	if !ok {
		return exitUsage
	}
	if cf.logLevel == "" {
		cfg.Log.Level = "warn"
	}
	log := newLogger(cfg, stderr)
	ctx, stop := signalContext()
	defer stop()
	d := pipeline.Demo{
		Config: cfg, Log: log, Registry: newRegistry(), Out: stdout,
		Generator: generate.Config{Seed: seed, Accounts: accounts}, Events: events, Top: top,
	}
	if err := d.Run(ctx); err != nil {
		fmt.Fprintln(stderr, "leadscore demo:", err)
		return exitFailure
	}
	return exitOK
}

func cmdMigrate(args []string, stdout, stderr io.Writer) int {
	cfg, _, ok := engineCommand("migrate", args, stderr, nil)
	if !ok {
		return exitUsage
	}
	ctx, stop := signalContext()
	defer stop()
	applied, err := sinks.Migrate(ctx, cfg.ClickHouse.SinkConfig())
	if err != nil {
		fmt.Fprintln(stderr, "leadscore migrate:", err)
		return exitFailure
	}
	if len(applied) == 0 {
		fmt.Fprintf(stdout, "database %s is up to date\n", cfg.ClickHouse.Database)
	}
	for _, a := range applied {
		fmt.Fprintf(stdout, "applied %s\n", a)
	}
	return exitOK
}

func cmdGenerate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("generate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("n", 10_000, "number of records")
	seed := fs.Int64("seed", 1, "seed: the same seed gives the same records")
	accounts := fs.Int("accounts", 2000, "accounts in the population")
	rate := fs.Float64("rate", 0, "records per second; 0 is as fast as possible")
	brokers := fs.String("brokers", "", "Kafka brokers; empty writes JSON lines to stdout")
	topic := fs.String("topic", "leadscore.events", "topic to produce to")
	malformed := fs.Float64("malformed", 0.005, "share of malformed records")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	gc := generate.Config{Seed: *seed, Accounts: *accounts, MalformedRate: *malformed}
	if *malformed == 0 {
		gc.MalformedRate = -1 // the generator reads 0 as "default"
	}
	ctx, stop := signalContext()
	defer stop()
	if *brokers == "" {
		if err := generate.WriteJSONLines(stdout, generate.New(gc), *n); err != nil {
			fmt.Fprintln(stderr, "leadscore generate:", err)
			return exitFailure
		}
		return exitOK
	}
	sent, err := pipeline.Produce(ctx, strings.Split(*brokers, ","), *topic, generate.New(gc), *n, *rate)
	fmt.Fprintf(stderr, "produced %d records to %s\n", sent, *topic)
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(stderr, "leadscore generate:", err)
		return exitFailure
	}
	return exitOK
}

func cmdCheckConfig(args []string, stdout, stderr io.Writer) int {
	cfg, _, ok := engineCommand("check-config", args, stderr, nil)
	if !ok {
		return exitUsage
	}
	// What run refuses before it connects, check-config refuses: New
	// validates the configuration and loads the rules, the hygiene lists
	// and the IP ranges, connecting nowhere.
	// Warnings only: skipped rows of the range files, not the load report.
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if _, err := pipeline.New(cfg, pipeline.WithLogger(log)); err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	fmt.Fprintln(stdout, "configuration is valid")
	return exitOK
}

func cmdCheckRules(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check-rules", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	var (
		r   *scorer.Rules
		err error
	)
	if fs.NArg() == 0 {
		r, err = scorer.Parse(scorer.Example(), "example rules")
	} else {
		r, err = scorer.Load(fs.Arg(0))
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	fmt.Fprintf(stdout, "rules %q are valid: %d engagement rules\n", r.Version, r.RuleCount())
	return exitOK
}

func cmdExplain(args []string, stdout, stderr io.Writer) int {
	var (
		contact string
		events  int
	)
	flagArgs, rest := splitArgs(args)
	cfg, _, ok := engineCommand("explain", flagArgs, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&contact, "contact", "", "explain this contact of the account instead of the account")
		fs.IntVar(&events, "events", 20, "how many recent events to list")
		fs.Usage = func() {
			fmt.Fprintln(fs.Output(), "usage: leadscore explain [flags] ACCOUNT")
			fs.PrintDefaults()
		}
	})
	if !ok {
		return exitUsage
	}
	if len(rest) != 1 {
		fmt.Fprintln(stderr, "usage: leadscore explain [flags] ACCOUNT")
		return exitUsage
	}
	ctx, cancel := signalContext()
	defer cancel()
	x, err := pipeline.Explain(ctx, cfg.ClickHouse, rest[0], contact, events)
	if err != nil {
		fmt.Fprintln(stderr, "leadscore:", err)
		if errors.Is(err, pipeline.ErrNotScored) {
			return exitUsage
		}
		return exitFailure
	}
	if err := x.Write(stdout); err != nil {
		fmt.Fprintln(stderr, "leadscore:", err)
		return exitFailure
	}
	return exitOK
}

// splitArgs separates flags (each with its value: every flag of the
// commands that use it takes one) from positional arguments, so that
// "explain acme.com --contact u1" parses like "explain --contact u1 acme.com".
func splitArgs(args []string) (flags, pos []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return flags, append(pos, args[i+1:]...)
		case strings.HasPrefix(a, "-") && len(a) > 1:
			flags = append(flags, a)
			if !strings.Contains(a, "=") && i+1 < len(args) {
				flags = append(flags, args[i+1])
				i++
			}
		default:
			pos = append(pos, a)
		}
	}
	return flags, pos
}
