// Package bench drives end-to-end load through the engine and holds the
// benchmarks that need more than one package: the per-stage benchmarks live
// next to their code (internal/event, scorer, sinks, internal/generate).
//
// Run them with
//
//	go test ./bench -run '^$' -bench . -benchtime 3x
//
// and compare runs with benchstat over -count=6.
package bench
