package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/leadscore/leadscore/sinks"
)

// Start-up checks and readiness: what Run verifies before it joins the
// group, and what /readyz and leadscore_pipeline_sink_down report while it
// runs (README, "Operations"; DESIGN.md, "Back-pressure").

// ErrStartCheck marks an error of Run's start-up checks: ClickHouse or the
// brokers refused the engine, or did not answer in time, before it joined
// its group. Nothing was consumed.
var ErrStartCheck = errors.New("start-up check failed")

// startCheckError is an error of a start-up check; its text is the check's
// own, which names the address and the cause.
type startCheckError struct{ err error }

func (e startCheckError) Error() string        { return e.err.Error() }
func (e startCheckError) Unwrap() error        { return e.err }
func (e startCheckError) Is(target error) bool { return target == ErrStartCheck }

// defaultBrokerWait bounds how long Run waits at start for brokers that do
// not answer: franz-go's own dial timeout, as leadscore has no Kafka dial
// setting.
const defaultBrokerWait = 10 * time.Second

// lastAttempt is the least time a start-up check's last attempt gets:
// enough for a refused connection to say so.
const lastAttempt = 100 * time.Millisecond

// checkClickHouse checks that ClickHouse accepts the configured user and
// password and holds the database and tables the sink writes. A refusal
// fails at once; a server that does not answer is tried again every
// clickhouse.probe_interval until clickhouse.dial_timeout has passed (a
// server that is starting gets that long; an orchestrator restarts the
// process after that). Nothing to do when ClickHouse is disabled.
func (e *Engine) checkClickHouse(ctx context.Context) error {
	c := e.cfg.ClickHouse
	if c.Disabled {
		return nil
	}
	return e.waitStart(ctx, "clickhouse", c.DialTimeout.D(), "clickhouse.dial_timeout", c.ProbeInterval.D(), func(ctx context.Context) error {
		return sinks.CheckClickHouse(ctx, c.sinkConfig())
	})
}

// checkBrokers sends a metadata request to the brokers (the embedded one,
// once started) and waits up to defaultBrokerWait for an answer, trying
// again every second.
func (e *Engine) checkBrokers(ctx context.Context) error {
	brokers := e.Brokers()
	where := strings.Join(brokers, ",")
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.WithLogger(kgoLogger{e.log}))
	if err != nil {
		return startCheckError{fmt.Errorf("check kafka brokers %s: %w", where, err)}
	}
	defer cl.Close()
	wait := e.brokerWait
	if wait == 0 {
		wait = defaultBrokerWait
	}
	return e.waitStart(ctx, "kafka brokers", wait, "", time.Second, func(ctx context.Context) error {
		req := kmsg.NewPtrMetadataRequest()
		req.Topics = []kmsg.MetadataRequestTopic{} // brokers only
		resp, err := req.RequestWith(ctx, cl)
		if err == nil && len(resp.Brokers) == 0 {
			err = errors.New("the metadata lists no brokers")
		}
		if err != nil {
			return fmt.Errorf("check kafka brokers %s: %w", where, err)
		}
		return nil
	})
}

// waitStart runs check until it passes, fails with sinks.ErrPermanent, or
// wait (named by setting, if one sets it) has passed, trying again every interval and
// logging each failure. Each attempt gets what is left of wait.
func (e *Engine) waitStart(ctx context.Context, what string, wait time.Duration, setting string, interval time.Duration, check func(context.Context) error) error {
	deadline := time.Now().Add(wait)
	for {
		actx, cancel := context.WithDeadline(ctx, deadline)
		err := check(actx)
		cancel()
		switch {
		case err == nil:
			return nil
		case errors.Is(err, sinks.ErrPermanent):
			return startCheckError{err}
		case ctx.Err() != nil:
			return startCheckError{fmt.Errorf("%w (stopped while waiting for %s)", err, what)}
		}
		// The last attempt gets lastAttempt: one at the deadline itself
		// could only time out, hiding the error the server gave.
		left := time.Until(deadline) - lastAttempt
		if left <= 0 {
			if setting != "" {
				return startCheckError{fmt.Errorf("no answer within %s (%s): %w", wait, setting, err)}
			}
			return startCheckError{fmt.Errorf("no answer within %s: %w", wait, err)}
		}
		pause := min(interval, left)
		e.log.Warn("waiting for "+what+" to answer", "err", err, "retry_in", pause.String())
		select {
		case <-ctx.Done():
			return startCheckError{fmt.Errorf("%w (stopped while waiting for %s)", err, what)}
		case <-time.After(pause):
		}
	}
}

// watchSinks pings p every clickhouse.probe_interval until ctx ends, and
// reports the outcome to /readyz and leadscore_pipeline_sink_down, so that
// an outage shows within an interval whether or not a flush is under way
// (a flush notices only when it gives up, after clickhouse.flush_timeout).
// It only reports: pausing and resuming consumption stay with the loop
// (backOff, probeSinks). It takes no engine lock, since the loop holds mu
// across a whole flush; the ClickHouse sink's Ping uses a connection of its
// own, which no flush holds. The returned function stops it and waits.
func (e *Engine) watchSinks(ctx context.Context, p sinks.Pinger) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	every := e.cfg.ClickHouse.ProbeInterval.D()
	go func() {
		defer close(done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			pctx, pcancel := context.WithTimeout(ctx, every)
			err := p.Ping(pctx)
			pcancel()
			if ctx.Err() != nil {
				return
			}
			was := e.pingErr.Load() != nil
			e.setPingErr(err)
			switch {
			case err != nil && !was:
				e.log.Warn("sink does not answer its probe; not ready", "err", err)
			case err == nil && was:
				e.log.Info("sink answers its probe again")
			}
		}
	}()
	return func() { cancel(); <-done }
}

// setSinkErr records the loop's view of the sinks: the error of a flush that
// failed (consumption may be paused), nil once they took a cycle's rows or
// answered the loop's probe.
func (e *Engine) setSinkErr(err error) {
	if err == nil {
		e.sinkErr.Store(nil)
	} else {
		e.sinkErr.Store(&err)
	}
	e.publishSinkDown()
}

// setPingErr records the prober's view: the error of the last ping, or nil.
func (e *Engine) setPingErr(err error) {
	if err == nil {
		e.pingErr.Store(nil)
	} else {
		e.pingErr.Store(&err)
	}
	e.publishSinkDown()
}

// sinkProblem is why the sinks are not healthy, or nil: the loop's error
// first (it says whether a flush failed), then the prober's.
func (e *Engine) sinkProblem() error {
	if p := e.sinkErr.Load(); p != nil {
		return *p
	}
	if p := e.pingErr.Load(); p != nil {
		return *p
	}
	return nil
}

// publishSinkDown sets leadscore_pipeline_sink_down from both views.
// healthMu orders the loop's and the prober's updates, so the gauge ends
// with the value of the latest state; it is held for no I/O.
func (e *Engine) publishSinkDown() {
	e.healthMu.Lock()
	defer e.healthMu.Unlock()
	if e.sinkProblem() != nil {
		e.metrics.sinkDown.Set(1)
	} else {
		e.metrics.sinkDown.Set(0)
	}
}
