package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/leadscore/leadscore/internal/event"
)

// program is what a run starts: the engine, the baseline or the decode-only
// consumer.
type program struct {
	kind       string // "engine", "naive", "decode"
	clickhouse bool   // write rows to the Null tables
	flush      time.Duration
}

// started is a child reading topic in group, with the topics it owns.
type started struct {
	*child
	group    string
	consumed []string // the topics whose committed lag says it is caught up
	owned    []string // topics to delete when done
	out      string   // score changes topic
}

// start runs p as a child consuming topic.
func (h *harness) start(ctx context.Context, p program, topic string) (*started, error) {
	name := h.nextName(p.kind)
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	s := &started{group: name, out: name + ".score-changes"}
	switch p.kind {
	case "engine":
		s.consumed = []string{topic, name + "-repartition"}
		s.owned = []string{name + ".score-changes", name + ".handoffs", name + ".rejected", name + ".contact-changes", name + ".dlq", name + "-changelog", name + "-repartition"}
		ch := "{disabled: true}"
		if p.clickhouse {
			ch = fmt.Sprintf("{addr: [%s], database: %s}", h.ch.Addr, h.nullDB)
		}
		cfgPath := filepath.Join(h.logDir, name+".yaml")
		cfg := fmt.Sprintf(`kafka:
  brokers: [%s]
  group: %s
  client_id: %s
  transactional_id: %s
  topics: [%s]
  score_changes_topic: %s.score-changes
  handoffs_topic: %s.handoffs
  rejected_topic: %s.rejected
  contact_changes_topic: %s.contact-changes
  dlq_topic: %s.dlq
  create_topics: true
  partitions: %d
clickhouse: %s
http: {listen: "%s"}
log: {level: warn}
engine: {flush_interval: %s, state_dir: %s}
`, strings.Join(h.kafka.addrs, ", "), name, name, name, topic, name, name, name, name, name, partitions, ch, addr,
			p.flush, filepath.Join(h.logDir, "state-"+name))
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
			return nil, err
		}
		h.res.EngineConfig = cfg
		s.child, err = startChild(ctx, name, h.logDir, filepath.Join(h.bin, "leadscore"), addr, nil, "run", "--config", cfgPath)
	case "naive":
		s.consumed = []string{topic}
		s.owned = []string{name + ".score-changes", name + ".dlq"}
		if err := h.kafka.createTopics(ctx, s.owned...); err != nil {
			return nil, err
		}
		args := []string{"-brokers", strings.Join(h.kafka.addrs, ","), "-topic", topic, "-group", name,
			"-out", name + ".score-changes", "-dlq", name + ".dlq", "-flush-interval", p.flush.String(), "-http", addr}
		if p.clickhouse {
			args = append(args, "-clickhouse", h.ch.Addr, "-database", h.nullDB)
		}
		s.child, err = startChild(ctx, name, h.logDir, filepath.Join(h.bin, "naive"), addr, nil, args...)
	case "decode":
		s.consumed = []string{topic}
		s.child, err = startChild(ctx, name, h.logDir, filepath.Join(h.bin, "decodeonly"), addr, nil,
			"-brokers", strings.Join(h.kafka.addrs, ","), "-topic", topic, "-group", name, "-http", addr)
	default:
		return nil, fmt.Errorf("unknown program %q", p.kind)
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// finish stops the child and drops its topics and state.
func (h *harness) finish(ctx context.Context, s *started) error {
	err := s.stop()
	h.kafka.deleteTopics(ctx, s.owned...)
	os.RemoveAll(filepath.Join(h.logDir, "state-"+s.group))
	return err
}

// Throughput is one catch-up run: the child reads the pre-loaded topic from
// the start until its group has committed all of it.
type Throughput struct {
	Name    string
	Events  int
	CPU     time.Duration // the child's user+system time from ready to caught up
	Wall    time.Duration
	Mallocs float64 // heap allocations in the same span
	// Broker is the harness process's CPU time in the same span: kfake
	// serving the child, and the harness polling the group's lag.
	Broker time.Duration
}

// PerCPUSecond is events per CPU-second of the child.
func (t *Throughput) PerCPUSecond() float64 { return float64(t.Events) / t.CPU.Seconds() }

// PerSecond is events per wall-clock second.
func (t *Throughput) PerSecond() float64 { return float64(t.Events) / t.Wall.Seconds() }

// AllocsPerEvent is heap allocations per event, end to end.
func (t *Throughput) AllocsPerEvent() float64 { return t.Mallocs / float64(t.Events) }

// Cores is the child's mean CPU use while catching up.
func (t *Throughput) Cores() float64 { return t.CPU.Seconds() / t.Wall.Seconds() }

func (h *harness) throughput(ctx context.Context) error {
	runs := []struct {
		key string
		p   program
	}{
		{"decode", program{kind: "decode"}},
		{"engine-ch", program{kind: "engine", clickhouse: true, flush: h.opts.FlushInterval}},
		{"engine-discard", program{kind: "engine", flush: h.opts.FlushInterval}},
		{"naive-ch", program{kind: "naive", clickhouse: true, flush: h.opts.FlushInterval}},
		{"naive-discard", program{kind: "naive", flush: h.opts.FlushInterval}},
	}
	h.res.Throughput = map[string]*Throughput{}
	for _, r := range runs {
		t, err := h.catchUp(ctx, r.key, r.p)
		if err != nil {
			return err
		}
		h.res.Throughput[r.key] = t
		h.logf("   %-15s %9.0f events/CPU-s %9.0f events/s  %.2f cores  %.1f allocs/event", r.key, t.PerCPUSecond(), t.PerSecond(), t.Cores(), t.AllocsPerEvent())
	}
	return nil
}

func (h *harness) catchUp(ctx context.Context, key string, p program) (*Throughput, error) {
	s, err := h.start(ctx, p, inputTopic)
	if err != nil {
		return nil, err
	}
	cpu0, err := s.cpu()
	if err != nil {
		s.kill()
		return nil, err
	}
	m0 := s.metric(ctx, "go_memstats_mallocs_total")
	b0 := selfCPU()
	t0 := time.Now()
	var profiled chan struct{}
	if h.opts.Profile > 0 && p.kind == "engine" {
		// A CPU profile of the catch-up, for finding the engine's hot spots.
		profiled = make(chan struct{})
		go func() {
			defer close(profiled)
			_, prof, err := s.get(ctx, fmt.Sprintf("/debug/pprof/profile?seconds=%d", int(h.opts.Profile.Seconds())))
			if err == nil {
				path := filepath.Join(h.dir, key+".cpu.pprof")
				if os.WriteFile(path, []byte(prof), 0o644) == nil {
					h.logf("   CPU profile of %s in %s", key, path)
				}
			}
		}()
	}
	end, err := h.kafka.waitCaughtUp(ctx, s.group, 15*time.Minute, s.consumed...)
	if err != nil {
		s.kill()
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	cpu1, err := s.cpu()
	if err != nil {
		s.kill()
		return nil, err
	}
	m1 := s.metric(ctx, "go_memstats_mallocs_total")
	b1 := selfCPU()
	if profiled != nil {
		<-profiled
	}
	if err := h.finish(ctx, s); err != nil {
		return nil, err
	}
	return &Throughput{Name: key, Events: len(h.ev.values), CPU: cpu1 - cpu0, Wall: end.Sub(t0), Mallocs: m1 - m0, Broker: b1 - b0}, nil
}

// pureDecode decodes the events in memory, one goroutine, no Kafka: the
// decoder's own limit.
func (h *harness) pureDecode(context.Context) error {
	var ev event.Event
	lim := event.DefaultLimits()
	runtime.GC()
	c0 := selfCPU()
	t0 := time.Now()
	n := 0
	for time.Since(t0) < 2*time.Second || n < len(h.ev.values) {
		for _, v := range h.ev.values {
			_ = event.Decode(v, &ev, lim)
		}
		n += len(h.ev.values)
		if n >= 5*len(h.ev.values) {
			break
		}
	}
	cpu := selfCPU() - c0
	h.res.DecodeInMemory = &Throughput{Name: "decode in memory", Events: n, CPU: cpu, Wall: time.Since(t0)}
	h.logf("   %.0f events/CPU-s (%d events)", h.res.DecodeInMemory.PerCPUSecond(), n)
	return nil
}

// selfCPU is this process's user+system time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
