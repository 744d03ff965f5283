package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Memory is the live heap per tracked account: the child's heap after a
// forced GC, measured with step accounts and again with twice as many; the
// difference over the accounts added, so that fixed costs (client buffers,
// the de-duplication window, the rules) do not count.
type Memory struct {
	Program            string
	Accounts1          float64 // resident accounts at the first measure (the engine's gauge; the baseline's known count)
	Accounts2          float64
	Heap1, Heap2       float64 // live heap, bytes
	PerAccount         float64
	PerAccountAbsolute float64 // Heap2 / Accounts2, fixed costs included
}

// memoryEvents returns the records of accounts [from, to): for each, a group
// call with the firmographics the example rules read and a pricing page
// view by an anonymous visitor naming the account in context.groupId. So
// every account has a fit and an engagement rule hit, and no contact.
func memoryEvents(from, to int) (keys, values [][]byte) {
	base := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	for i := from; i < to; i++ {
		acct := fmt.Sprintf("acct-%d.example", i)
		t := base.Add(time.Duration(i) * time.Millisecond).Format(time.RFC3339Nano)
		keys = append(keys, []byte(acct), []byte(acct))
		values = append(values,
			fmt.Appendf(nil, `{"type":"group","messageId":"g-%d","groupId":%q,"timestamp":%q,"traits":{"name":"Acct %d","industry":"software","employees":300,"country":"US","technologies":["hubspot","segment"]}}`, i, acct, t, i),
			fmt.Appendf(nil, `{"type":"page","messageId":"p-%d","anonymousId":"v-%d","timestamp":%q,"context":{"groupId":%q,"page":{"path":"/pricing","url":"https://leadscore.example/pricing"}}}`, i, i, t, acct))
	}
	return keys, values
}

func (h *harness) memoryRuns(ctx context.Context) error {
	h.res.Memory = map[string]*Memory{}
	for _, p := range []program{{kind: "engine", flush: h.opts.FlushInterval}, {kind: "naive", flush: h.opts.FlushInterval}} {
		m, err := h.memory(ctx, p)
		if err != nil {
			return err
		}
		h.res.Memory[p.kind] = m
		h.logf("   %-6s %.0f bytes per account (heap %.1f MiB at %.0f accounts, %.1f MiB at %.0f)", p.kind, m.PerAccount,
			m.Heap1/(1<<20), m.Accounts1, m.Heap2/(1<<20), m.Accounts2)
	}
	return nil
}

func (h *harness) memory(ctx context.Context, p program) (*Memory, error) {
	topic := h.nextName("mem") + ".events"
	if err := h.kafka.createTopics(ctx, topic); err != nil {
		return nil, err
	}
	defer h.kafka.deleteTopics(context.WithoutCancel(ctx), topic)
	s, err := h.start(ctx, p, topic)
	if err != nil {
		return nil, err
	}
	defer s.kill()
	m := &Memory{Program: p.kind}
	step := h.opts.MemAccounts
	measure := func(upTo int) (heap, accounts float64, err error) {
		keys, values := memoryEvents(upTo-step, upTo)
		if err := h.kafka.produceAll(ctx, topic, keys, values); err != nil {
			return 0, 0, err
		}
		if _, err := h.kafka.waitCaughtUp(ctx, s.group, 10*time.Minute, s.consumed...); err != nil {
			return 0, 0, err
		}
		heap, err = s.liveHeap(ctx)
		accounts = float64(upTo)
		if p.kind == "engine" {
			accounts = s.metric(ctx, "leadscore_pipeline_accounts")
		}
		return heap, accounts, err
	}
	if m.Heap1, m.Accounts1, err = measure(step); err != nil {
		return nil, err
	}
	if m.Heap2, m.Accounts2, err = measure(2 * step); err != nil {
		return nil, err
	}
	if h.opts.Profile > 0 {
		if _, prof, err := s.get(ctx, "/debug/pprof/heap?gc=1"); err == nil {
			path := filepath.Join(h.dir, p.kind+"-memory.heap.pprof")
			if os.WriteFile(path, []byte(prof), 0o644) == nil {
				h.logf("   heap profile of %s in %s", p.kind, path)
			}
		}
	}
	if err := h.finish(ctx, s); err != nil {
		return nil, err
	}
	m.PerAccount = (m.Heap2 - m.Heap1) / (m.Accounts2 - m.Accounts1)
	m.PerAccountAbsolute = m.Heap2 / m.Accounts2
	return m, nil
}
