// Command decodeonly consumes a topic and only decodes each record with the
// engine's decoder (internal/event), committing offsets as it goes: the
// practical limit bench compares the engine's end-to-end rate with. It runs
// until SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/leadscore/leadscore/bench/internal/probe"
	"github.com/leadscore/leadscore/internal/event"
)

func main() {
	brokers := flag.String("brokers", "127.0.0.1:9092", "Kafka brokers, comma separated")
	topic := flag.String("topic", "leadscore.events", "input topic")
	group := flag.String("group", "decodeonly", "consumer group")
	commitEvery := flag.Duration("commit-interval", time.Second, "commit offsets at least this often")
	httpAddr := flag.String("http", "", "address for /readyz, /metrics and /debug/pprof/")
	flag.Parse()
	var ready atomic.Bool
	stop, err := probe.Serve(*httpAddr, &ready)
	if err != nil {
		fmt.Fprintln(os.Stderr, "decodeonly:", err)
		os.Exit(1)
	}
	defer stop()
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	if err := run(ctx, strings.Split(*brokers, ","), *topic, *group, *commitEvery, &ready); err != nil {
		fmt.Fprintln(os.Stderr, "decodeonly:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, brokers []string, topic, group string, commitEvery time.Duration, ready *atomic.Bool) error {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
	)
	if err != nil {
		return err
	}
	defer cl.Close()
	ready.Store(true)
	var (
		ev      event.Event
		decoded int
		failed  int
	)
	lim := event.DefaultLimits()
	for {
		pctx, pcancel := context.WithTimeout(ctx, commitEvery)
		fs := cl.PollRecords(pctx, 10_000)
		pcancel()
		if ctx.Err() != nil {
			fmt.Printf("decoded %d, failed %d\n", decoded, failed)
			return nil
		}
		for _, e := range fs.Errors() {
			if !errors.Is(e.Err, context.DeadlineExceeded) {
				return fmt.Errorf("poll %s/%d: %w", e.Topic, e.Partition, e.Err)
			}
		}
		fs.EachRecord(func(r *kgo.Record) {
			if event.Decode(r.Value, &ev, lim) != nil {
				failed++
				return
			}
			decoded++
		})
		if err := cl.CommitUncommittedOffsets(ctx); err != nil && ctx.Err() == nil {
			return fmt.Errorf("commit: %w", err)
		}
	}
}
