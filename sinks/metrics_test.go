package sinks

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
)

// metricValue reads a counter's or gauge's value.
func metricValue(t testing.TB, m prometheus.Metric) float64 {
	t.Helper()
	var out dto.Metric
	require.NoError(t, m.Write(&out))
	switch {
	case out.Counter != nil:
		return out.Counter.GetValue()
	case out.Gauge != nil:
		return out.Gauge.GetValue()
	}
	t.Fatalf("metric %s is neither counter nor gauge", m.Desc())
	return 0
}

// gatheredValue returns the value of family name's sample with the given
// sink (and table, when not empty) label from reg: a counter's or gauge's
// value, a histogram's sample count. It fails when there is no such sample.
func gatheredValue(t testing.TB, reg prometheus.Gatherer, name, sink, table string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "sink" && l.GetValue() != sink || l.GetName() == "table" && l.GetValue() != table {
					continue metrics
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount())
			}
		}
	}
	t.Fatalf("no sample %s{sink=%q,table=%q}", name, sink, table)
	return 0
}

func TestSinkMetricsShareFamilies(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	a := newSinkMetrics(reg, "clickhouse")
	b := newSinkMetrics(reg, "kafka")
	c := newSinkMetrics(reg, "clickhouse") // a second sink of one kind shares its children
	a.rows.WithLabelValues("score_changes").Add(2)
	b.rows.WithLabelValues("score_changes").Add(3)
	c.rows.WithLabelValues("score_changes").Add(1)
	require.Equal(t, 3.0, gatheredValue(t, reg, metricRows, "clickhouse", "score_changes"))
	require.Equal(t, 3.0, gatheredValue(t, reg, metricRows, "kafka", "score_changes"))

	require.NotPanics(t, func() { newSinkMetrics(nil, "kafka") })

	clash := prometheus.NewRegistry()
	clash.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: metricRows, Help: "something else"}))
	require.Panics(t, func() { newSinkMetrics(clash, "kafka") })
}
