package ipmatch

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts lookups and reloads. Labels are bounded: source and class
// take the few values of Source and Class, result is ok or error; never an
// address or an organisation. Create it with NewMetrics and pass it with
// WithMetrics; a Matcher without one counts nothing.
type Metrics struct {
	lookups   prometheus.Counter
	invalid   prometheus.Counter
	cacheHits prometheus.Counter
	hits      [numSources][numClasses]prometheus.Counter // resolved once: no label lookups per call
	reloadOK  prometheus.Counter
	reloadErr prometheus.Counter
	skipped   prometheus.Counter
}

// NewMetrics creates the counters and registers them with reg:
//
//	leadscore_ipmatch_lookups_total                 every Lookup or MatchIP call
//	leadscore_ipmatch_invalid_total                 calls whose argument is not an IP address
//	leadscore_ipmatch_cache_hits_total              calls answered from the cache
//	leadscore_ipmatch_hits_total{source,class}      addresses found in a range
//	leadscore_ipmatch_reloads_total{result}         loads after the first, ok or error
//	leadscore_ipmatch_skipped_rows_total            malformed rows skipped by loads
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "leadscore", Subsystem: "ipmatch", Name: name, Help: help,
		})
	}
	hits := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "leadscore", Subsystem: "ipmatch", Name: "hits_total",
		Help: "Addresses found in a range, by the source that answered and the network class.",
	}, []string{"source", "class"})
	reloads := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "leadscore", Subsystem: "ipmatch", Name: "reloads_total",
		Help: "Reloads of the range files after the first load, by result (ok, error).",
	}, []string{"result"})
	m := &Metrics{
		lookups:   counter("lookups_total", "Lookup and MatchIP calls."),
		invalid:   counter("invalid_total", "Calls whose argument is not an IP address."),
		cacheHits: counter("cache_hits_total", "Calls answered from the lookup cache."),
		reloadOK:  reloads.WithLabelValues("ok"),
		reloadErr: reloads.WithLabelValues("error"),
		skipped:   counter("skipped_rows_total", "Malformed rows skipped while loading range files."),
	}
	for s := range numSources {
		for c := range numClasses {
			m.hits[s][c] = hits.WithLabelValues(s.String(), c.String())
		}
	}
	for _, c := range []prometheus.Collector{m.lookups, m.invalid, m.cacheHits, hits, reloads, m.skipped} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register ipmatch metrics: %w", err)
		}
	}
	return m, nil
}
