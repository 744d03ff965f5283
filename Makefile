# leadscore: the two commands a newcomer needs are `make run` and `make test`.
# Both install what they need first (scripts/deps.sh), idempotently.

GO        ?= go
PKGS      := ./...
TESTFLAGS ?= -race -shuffle=on -timeout 13m
# The per-stage regression benchmarks run once each with the tests, so they
# keep compiling and running; `make bench` measures them properly.
BENCHFLAGS ?= -bench '^BenchmarkStage' -benchtime 1x

.PHONY: run test soak bench bench-quick deps ipdb build vet fuzz clickhouse-start clickhouse-stop clean

## run: set up, start a local ClickHouse, run the engine on a bounded demo stream, then print the analytics (charts in .local/report/)
run: deps
	@scripts/clickhouse.sh start
	@status=0; mkdir -p .local/bin .local/report && $(GO) build -o .local/bin/leadscore ./cmd/leadscore && \
	  .local/bin/leadscore demo $(DEMOFLAGS) && \
	  export LEADSCORE_CLICKHOUSE_DATABASE=leadscore_demo && \
	  .local/bin/leadscore costs load deploy/clickhouse/queries/costs.example.csv && \
	  .local/bin/leadscore report funnel --png .local/report/funnel.png && \
	  .local/bin/leadscore report channels --png .local/report/channels.png && \
	  .local/bin/leadscore report scores --top 0 --png .local/report/scores.png || status=$$?; \
	  scripts/clickhouse.sh stop; exit $$status

## test: set up and run every test (unit, end to end on real Kafka protocol and ClickHouse, fuzz seeds), then the schema and saved queries on the current ClickHouse chDB embeds (libchdb.so fetched once into .local/chdb)
test: deps vet
	$(GO) test $(TESTFLAGS) $(BENCHFLAGS) $(PKGS)
	# The arrival-order property at full size (100 orders; the race run above does 8).
	$(GO) test -count=1 -run '^TestArrivalOrderProperty$$' ./pipeline
	lib=$$(scripts/fetch-chdb.sh) && TZ=UTC CHDB_LIB_PATH=$$lib $(GO) test -tags chdb $(TESTFLAGS) ./deploy/clickhouse/chdb

## soak: the fault-injection suite at full size (500 000 events, a 60 s ClickHouse outage) and 10 M accounts with 1 M resident
soak: deps
	LEADSCORE_SOAK=1 $(GO) test -timeout 60m -run 'TestFaults|TestMemoryBound' -v ./cmd/leadscore

## bench: the benchmark harness (bench/): per-stage microbenchmarks against naive baselines, then engine and baseline end to end (events per CPU-second, latency under a constant rate, memory per account, ClickHouse rows/s); writes bench/RESULTS.md, under ten minutes
bench: deps
	@scripts/bench.sh

## bench-quick: the same at a small size in under a minute; writes .local/bench/RESULTS-quick.md
bench-quick: deps
	@scripts/bench.sh -quick

deps:
	@scripts/deps.sh

## ipdb: fetch the public IP-to-ASN ranges (npm @ip-location-db/asn, CC BY 4.0) into .local/ipdb (FORCE=1: a newer release)
ipdb:
	@scripts/fetch-asn.sh

build:
	$(GO) build -o bin/leadscore ./cmd/leadscore

vet:
	$(GO) vet $(PKGS)

## fuzz: run each fuzz target for a while (FUZZTIME=30s by default)
FUZZTIME ?= 30s
fuzz:
	$(GO) test ./internal/event -run '^$$' -fuzz FuzzDecode -fuzztime $(FUZZTIME)
	$(GO) test ./scorer -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME)

clickhouse-start: deps
	@scripts/clickhouse.sh start

clickhouse-stop:
	@scripts/clickhouse.sh stop

clean:
	@scripts/clickhouse.sh stop || true
	rm -rf bin .local
