package sinks

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Sink metric families. Every sink registers the same families with its own
// sink label ("clickhouse", "kafka"), so several sinks can share a registry.
const (
	metricRows     = "leadscore_sink_rows_total"
	metricFlush    = "leadscore_sink_flush_seconds"
	metricErrors   = "leadscore_sink_errors_total"
	metricBuffered = "leadscore_sink_buffered_rows"
)

// sinkMetrics are one sink's children of the shared families.
type sinkMetrics struct {
	rows     *prometheus.CounterVec // by table, curried with the sink
	flush    prometheus.Observer
	errors   prometheus.Counter
	buffered prometheus.Gauge
}

// newSinkMetrics registers the sink families on reg (nil: not registered),
// reusing families another sink registered before, and returns the children
// labelled with sink. Like MustRegister it panics when reg holds a different
// metric under one of these names: a programming error.
func newSinkMetrics(reg prometheus.Registerer, sink string) *sinkMetrics {
	rows := register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: metricRows,
		Help: "Rows a sink made durable, by sink and table.",
	}, []string{"sink", "table"}))
	flush := register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    metricFlush,
		Help:    "Duration of sink flushes that succeeded, retries included.",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 18), // 1 ms .. 131 s
	}, []string{"sink"}))
	errs := register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: metricErrors,
		Help: "Failed sink operations: ClickHouse insert attempts (each retry counts), Kafka records not produced.",
	}, []string{"sink"}))
	buffered := register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: metricBuffered,
		Help: "Rows a sink holds that are not yet durable.",
	}, []string{"sink"}))
	return &sinkMetrics{
		rows:     rows.MustCurryWith(prometheus.Labels{"sink": sink}),
		flush:    flush.WithLabelValues(sink),
		errors:   errs.WithLabelValues(sink),
		buffered: buffered.WithLabelValues(sink),
	}
}

func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if reg == nil {
		return c
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic(err)
	}
	return c
}
