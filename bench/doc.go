// Package bench is leadscore's benchmark harness (issue 8): it drives
// end-to-end load through the engine and through a baseline written the
// obvious way (bench/naive), side by side in one invocation, and writes
// bench/RESULTS.md. The per-stage microbenchmarks live next to their code
// (BenchmarkStage<Name> and BenchmarkStage<Name>Baseline in internal/event,
// scorer, features, sinks and pipeline); scripts/bench.sh runs them and
// hands their output to the harness for the results table.
//
//	make bench        # scripts/bench.sh: full, under ten minutes on two cores
//	make bench-quick  # scripts/bench.sh -quick: under a minute
//
// Run builds the engine (cmd/leadscore), the baseline (bench/cmd/naive) and
// a decode-only consumer (bench/cmd/decodeonly) and runs each as a child
// process, so that its CPU time is its own; Kafka is franz-go's kfake in the
// harness process and ClickHouse a private server (internal/chtest) whose
// tables are recreated with ENGINE = Null. The input is a seeded events file
// (internal/generate: Zipf-skewed account popularity, the event mix of
// `leadscore generate`), written once to .local/bench and reused. Figures:
// events per CPU-second and per second while catching up on a pre-loaded
// topic; heap allocations per event; event-to-score latency under a
// constant offered rate, from each event's intended send time; live heap
// per tracked account; ClickHouse rows per second and client CPU; and the
// engine's rate against decoding alone. Results.Markdown says exactly how
// each is measured.
//
// BenchmarkEngineKafkaOnly is the in-process end-to-end benchmark for
// benchstat comparisons:
//
//	go test ./bench -run '^$' -bench . -benchtime 3x -count 6
package bench
