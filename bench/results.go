package bench

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// Results is everything one run measured.
type Results struct {
	Options           Options
	Machine           Machine
	Started           time.Time
	Elapsed           time.Duration
	EventsFile        string
	EventsGenerated   bool
	AvgEventBytes     float64
	ClickHouseAddr    string
	ClickHouseVersion string
	NullTables        []string
	EngineConfig      string // the last engine configuration file, as an example

	// Throughput by run: decode, engine-ch, engine-discard, naive-ch,
	// naive-discard.
	Throughput     map[string]*Throughput
	DecodeInMemory *Throughput
	Latency        []*Latency
	Memory         map[string]*Memory // engine, naive
	Sink           map[string]*Sink   // engine, engine-uncompressed, their -paced runs, naive
	Stages         []Stage
}

// Target is one goal of the issue with what was measured.
type Target struct {
	Goal     string
	Measured string
	Met      bool
}

// latencyAt returns the run of program at fraction with flush interval.
func (r *Results) latencyAt(program string, fraction float64, flush time.Duration) *Latency {
	for _, l := range r.Latency {
		if l.Program == program && l.Fraction == fraction && l.FlushInterval == flush {
			return l
		}
	}
	return nil
}

// Targets evaluates the targets.
func (r *Results) Targets() []Target {
	var ts []Target
	e, d := r.Throughput["engine-ch"], r.Throughput["decode"]
	if e != nil {
		ts = append(ts, Target{">= 500 000 events per CPU-second of the engine, end to end (ClickHouse Null)",
			fmt.Sprintf("%.0f", e.PerCPUSecond()), e.PerCPUSecond() >= 500_000})
	}
	if e != nil && d != nil {
		ratio := e.PerCPUSecond() / d.PerCPUSecond()
		ts = append(ts, Target{">= 0.5 of the decode-only rate (events per CPU-second, both consuming from Kafka)",
			fmt.Sprintf("%.3f", ratio), ratio >= 0.5})
	}
	if l := r.latencyAt("engine", 0.7, r.Options.FlushInterval); l != nil {
		ts = append(ts, Target{fmt.Sprintf("p99 event-to-score latency < 5 ms at 70%% of max rate (flush_interval %s)", l.FlushInterval),
			ms(l.P99), l.P99 < 5*time.Millisecond && l.Samples > 0})
	}
	if r.Options.LowFlushInterval > 0 {
		if l := r.latencyAt("engine", 0.7, r.Options.LowFlushInterval); l != nil {
			ts = append(ts, Target{fmt.Sprintf("the same with flush_interval %s", l.FlushInterval),
				ms(l.P99), l.P99 < 5*time.Millisecond && l.Samples > 0})
		}
	}
	if e != nil {
		ts = append(ts, Target{"0 allocs/event in steady state (end to end: every heap allocation of the engine process over the run)",
			fmt.Sprintf("%.1f", e.AllocsPerEvent()), e.AllocsPerEvent() < 0.5})
	}
	if m := r.Memory["engine"]; m != nil {
		ts = append(ts, Target{"<= 256 bytes of live heap per tracked account (example rules)",
			fmt.Sprintf("%.0f", m.PerAccount), m.PerAccount <= 256})
	}
	// Judged on the paced runs (the sink offered 1 M rows/s: did it keep
	// up, and on how much CPU); the unpaced ones show the ceiling.
	for _, k := range []string{"engine-paced", "engine-uncompressed-paced"} {
		s := r.Sink[k]
		if s == nil {
			continue
		}
		what := ">= 1 000 000 ClickHouse rows/s from the sink on <= 1/4 core (clickhouse.compression: lz4; offered 1 M rows/s)"
		if k != "engine-paced" {
			what = "the same with clickhouse.compression: none (ClickHouse on the same host or LAN)"
		}
		// Kept up: within 2 % of the offered rate (the last flush's wait).
		ts = append(ts, Target{what,
			fmt.Sprintf("%.0f rows/s on %.2f cores", s.RowsPerSecond(), s.Cores()), s.RowsPerSecond() >= 0.98e6 && s.Cores() <= 0.25})
	}
	return ts
}

func num(v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "n/a"
	case v >= 100:
		return commas(int64(math.Round(v)))
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

func commas(n int64) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func ratio(a, b float64) string {
	if b == 0 || math.IsNaN(a/b) || math.IsInf(a/b, 0) {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", a/b)
}

// Markdown renders the results as bench/RESULTS.md.
func (r *Results) Markdown() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	size := "full (`make bench`)"
	if r.Options.Quick {
		size = "quick (`make bench-quick`)"
	}
	p("# leadscore benchmark results")
	p("")
	p("Written by `scripts/bench.sh` (bench/cmd/leadbench), %s run, on %s in %s.", size, r.Started.Format("2006-01-02 15:04 MST"), r.Elapsed.Round(time.Second))
	p("")
	m := r.Machine
	p("| machine | |")
	p("|---|---|")
	p("| CPU | %s |", m.CPU)
	p("| cores | %d |", m.Cores)
	p("| memory | %.1f GiB |", m.MemoryGiB)
	p("| kernel | %s |", m.Kernel)
	p("| Go | %s |", m.Go)
	p("| commit | %s |", m.Commit)
	p("| ClickHouse | %s (Null tables: %s) |", r.ClickHouseVersion, strings.Join(r.NullTables, ", "))
	p("| Kafka | franz-go kfake in the harness process, %d partitions per topic |", partitions)
	p("")
	p("Workload: %s events of the seeded generator (seed %d, %s accounts with Zipf-skewed popularity, s = 1.1; the event mix of `leadscore generate`), %.0f bytes per event on average; file `%s`.",
		commas(int64(r.Options.Events)), r.Options.Seed, commas(int64(r.Options.Accounts)), r.AvgEventBytes, relPath(r.Options.Root, r.EventsFile))
	p("")

	p("## Targets")
	p("")
	p("| target | measured | |")
	p("|---|---|---|")
	for _, t := range r.Targets() {
		mark := "not met"
		if t.Met {
			mark = "met"
		}
		p("| %s | %s | %s |", t.Goal, t.Measured, mark)
	}
	p("")

	p("## Engine against the baseline")
	p("")
	p("The baseline (bench/naive) is the same semantics written the obvious way: encoding/json, maps with string keys, database/sql row inserts. Every figure is measured the same way for both, in the same invocation, on the same events.")
	p("")
	p("| figure | engine | baseline | engine/baseline |")
	p("|---|---:|---:|---:|")
	row := func(name string, e, n float64) { p("| %s | %s | %s | %s |", name, num(e), num(n), ratio(e, n)) }
	tp := r.Throughput
	if tp["engine-ch"] != nil && tp["naive-ch"] != nil {
		e, n := tp["engine-ch"], tp["naive-ch"]
		row("events per CPU-second, ClickHouse Null", e.PerCPUSecond(), n.PerCPUSecond())
		row("events per second (wall), ClickHouse Null", e.PerSecond(), n.PerSecond())
		row("CPU cores used, ClickHouse Null", e.Cores(), n.Cores())
		row("heap allocations per event, ClickHouse Null", e.AllocsPerEvent(), n.AllocsPerEvent())
	}
	if tp["engine-discard"] != nil && tp["naive-discard"] != nil {
		e, n := tp["engine-discard"], tp["naive-discard"]
		row("events per CPU-second, ClickHouse off", e.PerCPUSecond(), n.PerCPUSecond())
		row("events per second (wall), ClickHouse off", e.PerSecond(), n.PerSecond())
		row("heap allocations per event, ClickHouse off", e.AllocsPerEvent(), n.AllocsPerEvent())
	}
	for _, f := range r.Options.LatencyFractions {
		e, n := r.latencyAt("engine", f, r.Options.FlushInterval), r.latencyAt("naive", f, r.Options.FlushInterval)
		if e == nil || n == nil {
			continue
		}
		msf := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
		pct := fmt.Sprintf("%.0f%% of own max rate", f*100)
		row("latency p50, ms, "+pct, msf(e.P50), msf(n.P50))
		row("latency p99, ms, "+pct, msf(e.P99), msf(n.P99))
		row("latency p99.9, ms, "+pct, msf(e.P999), msf(n.P999))
	}
	if e, n := r.Memory["engine"], r.Memory["naive"]; e != nil && n != nil {
		row("bytes of live heap per tracked account", e.PerAccount, n.PerAccount)
	}
	if e, n := r.Sink["engine"], r.Sink["naive"]; e != nil && n != nil {
		row("ClickHouse rows per second", e.RowsPerSecond(), n.RowsPerSecond())
		row("ClickHouse client CPU cores while inserting", e.Cores(), n.Cores())
		row("ClickHouse rows per client CPU-second", e.RowsPerCPUSecond(), n.RowsPerCPUSecond())
	}
	p("")

	p("## Against decoding alone")
	p("")
	p("| figure | events per CPU-second | events per second | engine (ClickHouse Null) / this, per CPU-second |")
	p("|---|---:|---:|---:|")
	e := tp["engine-ch"]
	for _, d := range []*Throughput{tp["decode"], r.DecodeInMemory} {
		if d == nil || e == nil {
			continue
		}
		name := "decode-only consumer (franz-go consumer group + internal/event.Decode, a process like the engine)"
		if d == r.DecodeInMemory {
			name = "decode in memory (internal/event.Decode in a loop, one goroutine, no Kafka)"
		}
		p("| %s | %s | %s | %s |", name, num(d.PerCPUSecond()), num(d.PerSecond()), ratio(e.PerCPUSecond(), d.PerCPUSecond()))
	}
	p("")

	p("## Every run")
	p("")
	p("| run | events | CPU s | wall s | events/CPU-s | events/s | cores | allocs/event | broker + harness cores |")
	p("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, k := range []string{"decode", "engine-ch", "engine-discard", "naive-ch", "naive-discard"} {
		t := tp[k]
		if t == nil {
			continue
		}
		p("| %s | %s | %.2f | %.2f | %s | %s | %.2f | %.2f | %.2f |", k, commas(int64(t.Events)), t.CPU.Seconds(), t.Wall.Seconds(),
			num(t.PerCPUSecond()), num(t.PerSecond()), t.Cores(), t.AllocsPerEvent(), t.Broker.Seconds()/t.Wall.Seconds())
	}
	p("")
	p("| latency run | flush_interval | offered | events | samples | p50 ms | p99 ms | p99.9 ms | max ms | worst send lag ms | cores |")
	p("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, l := range r.Latency {
		msf := func(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond)) }
		p("| %s | %s | %.0f%% = %s/s | %s | %s | %s | %s | %s | %s | %s | %.2f |", l.Program, l.FlushInterval, l.Fraction*100, num(l.Rate),
			commas(int64(l.Sent)), commas(int64(l.Samples)), msf(l.P50), msf(l.P99), msf(l.P999), msf(l.Max), msf(l.SendLag), l.Cores)
	}
	p("")
	p("| memory run | accounts | live heap MiB | accounts | live heap MiB | bytes/account (slope) | bytes/account (all in) |")
	p("|---|---:|---:|---:|---:|---:|---:|")
	for _, k := range []string{"engine", "naive"} {
		if mm := r.Memory[k]; mm != nil {
			p("| %s | %s | %.1f | %s | %.1f | %s | %s |", k, num(mm.Accounts1), mm.Heap1/(1<<20), num(mm.Accounts2), mm.Heap2/(1<<20), num(mm.PerAccount), num(mm.PerAccountAbsolute))
		}
	}
	p("")
	p("| ClickHouse sink run | rows | wall s | client CPU s | rows/s | client cores |")
	p("|---|---:|---:|---:|---:|---:|")
	for _, k := range []string{"engine", "engine-uncompressed", "engine-paced", "engine-uncompressed-paced", "naive"} {
		if s := r.Sink[k]; s != nil {
			p("| %s | %s | %.2f | %.2f | %s | %.2f |", k, commas(int64(s.Rows)), s.Wall.Seconds(), s.CPU.Seconds(), num(s.RowsPerSecond()), s.Cores())
		}
	}
	p("")

	if len(r.Stages) > 0 {
		p("## Per-stage microbenchmarks")
		p("")
		p("`go test -run '^$' -bench '^BenchmarkStage' -benchmem`, each `BenchmarkStage<Name>` beside its `BenchmarkStage<Name>Baseline`.")
		p("")
		p("| package | stage | engine ns/op | baseline ns/op | baseline/engine | engine MB/s | baseline MB/s | engine allocs/op | baseline allocs/op | engine B/op | baseline B/op |")
		p("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
		for _, s := range r.Stages {
			f := func(l *benchLine, get func(*benchLine) float64) string {
				if l == nil {
					return "-"
				}
				return num(get(l))
			}
			ns := func(l *benchLine) float64 { return l.NsPerOp }
			mb := func(l *benchLine) float64 { return l.MBPerS }
			al := func(l *benchLine) float64 { return l.AllocsPerOp }
			by := func(l *benchLine) float64 { return l.BytesPerOp }
			speed := "-"
			if s.Engine != nil && s.Baseline != nil {
				speed = ratio(s.Baseline.NsPerOp, s.Engine.NsPerOp)
			}
			p("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |", strings.TrimPrefix(s.Package, "github.com/leadscore/leadscore/"), s.Name,
				f(s.Engine, ns), f(s.Baseline, ns), speed, f(s.Engine, mb), f(s.Baseline, mb), f(s.Engine, al), f(s.Baseline, al), f(s.Engine, by), f(s.Baseline, by))
		}
		p("")
	}

	p("## How it is measured")
	p("")
	p(strings.TrimSpace(howMeasured), r.Options.FlushInterval)
	p("")
	if r.EngineConfig != "" {
		p("The engine's configuration file (the last run's; every run differs only in names, the ClickHouse line and flush_interval):")
		p("")
		p("```yaml")
		p("%s", strings.TrimSpace(r.EngineConfig))
		p("```")
	}
	return b.String()
}

func relPath(root, p string) string {
	if rest, ok := strings.CutPrefix(p, root+"/"); ok {
		return rest
	}
	return p
}

const howMeasured = `
- **Processes.** The engine (` + "`leadscore run`" + ` built by the harness), the baseline (bench/cmd/naive) and the decode-only consumer (bench/cmd/decodeonly) each run as a child process, so their CPU time (user + system, from /proc/<pid>/stat) is theirs alone. Kafka is franz-go's kfake inside the harness process and ClickHouse a private server (internal/chtest): both share the machine's cores with the child, as they would on a laptop, not on a cluster.
- **Throughput.** The input topic is loaded before the child starts. CPU and wall time run from the child's /readyz answering 200 to the moment its consumer group has committed the end of every topic it consumes (for the engine, the input and its repartition topic, i.e. every event scored and every cycle committed). events per CPU-second = events / CPU time of the child. Allocations per event are the child's go_memstats_mallocs_total over the same span divided by the events: everything the process allocated, franz-go's client included.
- **ClickHouse Null.** The engine's schema is migrated into one database, then every table it writes is created again in another with ENGINE = Null (materialized views are not copied): the server parses every block and keeps nothing, so the figures measure the client.
- **Latency.** A fresh input topic; the child starts, then a producer in the harness sends the events at a constant rate, each at its intended time start + i/rate (when it falls behind it sends at once and the event still counts from its intended time: no coordinated omission), and remembers each event's intended time by the partition and offset the broker gave it. A read_committed consumer of the child's score-changes topic takes the receive time of every change caused by an event (cause = event) and subtracts the intended send time of its source record (source.partition, source.offset). Only events that change a score produce a sample. The engine's outputs are transactional and every event goes through the re-keying hop (input worker -> repartition topic -> scoring worker), so a change is visible after two committed cycles: the flush_interval (%s in the throughput runs) bounds the latency from below. The baseline produces its changes outside any transaction as soon as it computes them. Rates are fractions of each program's own measured maximum (its ClickHouse Null wall-clock rate).
- **Memory per tracked account.** The child (ClickHouse off) consumes, for N new accounts, a group call with firmographics and a pricing-page view naming the account; once caught up the harness reads the live heap after a forced GC (/debug/pprof/heap?gc=1, HeapAlloc); then N more accounts, and again. Bytes per account = heap difference / accounts added (the engine's count from leadscore_pipeline_accounts), so fixed costs (client buffers, the pre-sized de-duplication window, rules) do not count; the all-in figure divides the whole heap.
- **ClickHouse sink.** In the harness process with nothing else running (kfake idle): pre-built rows (score changes, account scores and score events in equal numbers, six reasons each) are written through sinks.ClickHouse (Write, and Flush every 150 000 rows, about one engine cycle) into the Null tables; the baseline inserts a tenth as many rows with database/sql, one Exec per row in a transaction per table per flush. Client CPU is the process's getrusage over the loop. The engine's sink runs twice per compression: as fast as it goes (its ceiling) and paced at 1 M rows/s (after each flush it waits until the rows written are due at that rate); the target is judged on the paced runs: kept up (within 2 %) and at most 0.25 cores.
- **Decode-only.** The decode-only consumer is a process like the engine that consumes the same topic with a consumer group and only decodes (internal/event.Decode), committing offsets: the practical limit of anything that reads this topic. Decode in memory runs the decoder over the events in a loop in the harness, for reference.
- **The baseline does less**: one goroutine for every partition, offsets committed after each flush (at least once: no Kafka transactions, no changelog, no re-keying hop), no hygiene, IP matching, decay timers, hand-offs, eviction or restore. Its scores equal the scorer's (bench/naive TestSameScores). Every engine/baseline ratio is therefore conservative.
`
