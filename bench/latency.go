package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Latency is one constant-rate run: event-to-score latency measured from
// each event's intended send time (no coordinated omission) to the moment a
// read_committed consumer receives the score change it caused.
type Latency struct {
	Name          string
	Program       string
	FlushInterval time.Duration
	Fraction      float64 // of the program's measured maximum rate
	Rate          float64 // offered, events per second
	Sent          int
	Duration      time.Duration
	Samples       uint64
	P50, P99      time.Duration
	P999, Max     time.Duration
	// SendLag is how far behind schedule the producer fell at worst (its
	// events still count from their intended time).
	SendLag time.Duration
	// Cores is the child's CPU use over the run.
	Cores float64
}

// arrival is a score change seen by the consumer.
type arrival struct {
	partition int32
	offset    int64
	at        time.Time
}

// changeSource is what the latency consumer reads of a score change.
type changeSource struct {
	Cause  string `json:"cause"`
	Source struct {
		Topic     string `json:"topic"`
		Partition int32  `json:"partition"`
		Offset    int64  `json:"offset"`
	} `json:"source"`
}

func (h *harness) latencyRuns(ctx context.Context) error {
	type plan struct {
		p    program
		frac float64
		max  float64
	}
	var plans []plan
	eng, nv := h.res.Throughput["engine-ch"], h.res.Throughput["naive-ch"]
	for _, f := range h.opts.LatencyFractions {
		plans = append(plans, plan{program{kind: "engine", clickhouse: true, flush: h.opts.FlushInterval}, f, eng.PerSecond()})
	}
	if h.opts.LowFlushInterval > 0 {
		for _, f := range h.opts.LatencyFractions {
			plans = append(plans, plan{program{kind: "engine", clickhouse: true, flush: h.opts.LowFlushInterval}, f, eng.PerSecond()})
		}
	}
	for _, f := range h.opts.LatencyFractions {
		plans = append(plans, plan{program{kind: "naive", clickhouse: true, flush: h.opts.FlushInterval}, f, nv.PerSecond()})
	}
	for _, pl := range plans {
		l, err := h.latency(ctx, pl.p, pl.frac, pl.frac*pl.max)
		if err != nil {
			return err
		}
		h.res.Latency = append(h.res.Latency, l)
		h.logf("   %-6s flush %-6s %3.0f%% = %7.0f ev/s: p50 %s p99 %s p99.9 %s max %s (%d samples, send lag %s, %.2f cores)",
			l.Program, l.FlushInterval, l.Fraction*100, l.Rate, ms(l.P50), ms(l.P99), ms(l.P999), ms(l.Max), l.Samples, ms(l.SendLag), l.Cores)
	}
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond)) }

func (h *harness) latency(ctx context.Context, p program, frac, rate float64) (*Latency, error) {
	n := min(int(rate*h.opts.LatencyDuration.Seconds()), len(h.ev.values))
	topic := h.nextName("lat") + ".events"
	if err := h.kafka.createTopics(ctx, topic); err != nil {
		return nil, err
	}
	defer h.kafka.deleteTopics(context.WithoutCancel(ctx), topic)
	s, err := h.start(ctx, p, topic)
	if err != nil {
		return nil, err
	}
	defer s.kill()
	l := &Latency{Name: s.group, Program: p.kind, FlushInterval: p.flush, Fraction: frac, Rate: rate, Sent: n}

	// The consumer of score changes, read committed, from the start.
	cons, err := kgo.NewClient(kgo.SeedBrokers(h.kafka.addrs...), kgo.ConsumeTopics(s.out),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		return nil, err
	}
	var (
		arrivals       []arrival
		consDone       = make(chan struct{})
		cctx, stopCons = context.WithCancel(ctx)
	)
	go func() {
		defer close(consDone)
		var cs changeSource
		for cctx.Err() == nil {
			fs := cons.PollFetches(cctx)
			at := time.Now()
			fs.EachRecord(func(r *kgo.Record) {
				cs = changeSource{}
				if json.Unmarshal(r.Value, &cs) != nil || cs.Cause != "event" || cs.Source.Topic != topic {
					return
				}
				arrivals = append(arrivals, arrival{cs.Source.Partition, cs.Source.Offset, at})
			})
		}
	}()

	// The producer sends each event at its intended time, start + i/rate,
	// catching up at once when it falls behind, and remembers the intended
	// time by the offset the broker gave the event.
	prod, err := kgo.NewClient(kgo.SeedBrokers(h.kafka.addrs...), kgo.DefaultProduceTopic(topic),
		kgo.ProducerLinger(0), kgo.MaxBufferedRecords(1_000_000))
	if err != nil {
		stopCons()
		return nil, err
	}
	var (
		mu       sync.Mutex
		intended = make([][]time.Time, partitions)
		perr     error
	)
	cpu0, _ := s.cpu()
	start := time.Now()
	i := 0
	for i < n {
		now := time.Now()
		due := min(int(now.Sub(start).Seconds()*rate)+1, n)
		if i < due {
			l.SendLag = max(l.SendLag, now.Sub(start.Add(time.Duration(float64(i)/rate*float64(time.Second)))))
		}
		for ; i < due; i++ {
			want := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
			prod.Produce(ctx, &kgo.Record{Key: h.ev.keys[i], Value: h.ev.values[i], Timestamp: want}, func(r *kgo.Record, err error) {
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					perr = cmpErr(perr, err)
					return
				}
				ts := intended[r.Partition]
				for int64(len(ts)) <= r.Offset {
					ts = append(ts, time.Time{})
				}
				ts[r.Offset] = want
				intended[r.Partition] = ts
			})
		}
		time.Sleep(200 * time.Microsecond)
	}
	l.Duration = time.Since(start)
	if err := prod.Flush(ctx); err != nil {
		perr = cmpErr(perr, err)
	}
	prod.Close()
	if perr != nil {
		stopCons()
		return nil, fmt.Errorf("latency: produce: %w", perr)
	}
	if _, err := h.kafka.waitCaughtUp(ctx, s.group, 10*time.Minute, s.consumed...); err != nil {
		stopCons()
		return nil, err
	}
	cpu1, _ := s.cpu()
	l.Cores = (cpu1 - cpu0).Seconds() / time.Since(start).Seconds()
	// The last cycle's outputs are committed with its offsets; give the
	// consumer time to fetch them.
	time.Sleep(500 * time.Millisecond)
	stopCons()
	<-consDone
	cons.Close()
	if err := h.finish(ctx, s); err != nil {
		return nil, err
	}

	var hist histogram
	for _, a := range arrivals {
		ts := intended[a.partition]
		if a.offset >= int64(len(ts)) || ts[a.offset].IsZero() {
			continue
		}
		hist.Record(a.at.Sub(ts[a.offset]))
	}
	l.Samples = hist.Count()
	l.P50, l.P99, l.P999, l.Max = hist.Quantile(0.5), hist.Quantile(0.99), hist.Quantile(0.999), hist.Max()
	return l, nil
}
