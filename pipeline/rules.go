package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/leadscore/leadscore/internal/rows"
	"github.com/leadscore/leadscore/scorer"
)

// Live rule changes. The rules file is polled every engine.rules_poll_interval;
// a changed file is parsed and validated whole, and only a valid one is
// swapped in, atomically: the engine holds a pointer to immutable Rules, and
// each scoring worker picks the new pointer up at the start of its next batch,
// so every event is scored by one complete rule set and each partition's rows
// switch version at one point. On the switch the worker re-scores every
// account it holds (see swapRules). An invalid file is rejected with every
// problem and its place in the file logged; the running rules stay.

// Rules is the rule set the engine scores with now.
func (e *Engine) Rules() *scorer.Rules { return e.rules.Load() }

// watchRules polls the rules file until ctx ends.
func (e *Engine) watchRules(ctx context.Context) {
	every := e.cfg.Engine.RulesPollInterval.D()
	if e.cfg.Rules == "" || every <= 0 {
		return
	}
	last, _ := os.ReadFile(e.cfg.Rules)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		data, err := os.ReadFile(e.cfg.Rules)
		if err != nil {
			if last != nil {
				e.log.Warn("read the rules file; the running rules stay", "file", e.cfg.Rules, "err", err)
				last = nil
			}
			continue
		}
		if bytes.Equal(data, last) {
			continue
		}
		last = data
		if err := e.reloadRules(data); err != nil {
			e.metrics.rulesReloads.WithLabelValues("rejected").Inc()
			e.log.Error("rules file rejected; the running rules stay",
				"file", e.cfg.Rules, "running", e.Rules().Version, "problems", strings.Split(err.Error(), "\n"))
		}
	}
}

// reloadRules validates data and, when valid, swaps it in.
func (e *Engine) reloadRules(data []byte) error {
	r, err := scorer.Parse(data, e.cfg.Rules)
	if err != nil {
		return err
	}
	cur := e.Rules()
	if r.Version == cur.Version {
		return fmt.Errorf("%s: version: the file changed but its version %q did not; rows name the rules by version, so give the new rules a new one", e.cfg.Rules, r.Version)
	}
	e.rules.Store(r)
	e.metrics.rulesReloads.WithLabelValues("applied").Inc()
	e.metrics.rulesInfo.Reset()
	e.metrics.rulesInfo.WithLabelValues(r.Version).Set(1)
	e.log.Info("new rules in force; re-scoring the accounts in state", "file", e.cfg.Rules, "version", r.Version, "previous", cur.Version)
	return nil
}

// swapRules moves the worker to rules r and re-scores every account it
// holds in memory: each account and contact is evaluated under r (its
// engagement carried over as scorer.Rules.Migrate says) and emits what
// changed with cause "rules" and the synthetic source {leadscore:rules:<version>,
// -1, as_of unix seconds}; every account gets an account_scores row with the
// new rules_version. Accounts in the state store follow in sweeps of
// rescoreBatch per batch (sweepRules), so memory stays bounded: each is
// reloaded, re-scored, and leaves memory again at the next eviction.
func (w *worker) swapRules(r *scorer.Rules) {
	w.rules = r
	for id, a := range w.accounts {
		w.rescore(id, a)
	}
	if w.spill != nil {
		w.sweepFrom = []byte{}
	}
}

// rescoreDue reports whether a scoring worker has re-scoring to do: new
// rules, a sweep of evicted accounts, or accounts restored under older
// rules.
func (w *worker) rescoreDue() bool {
	return w.rekeyed && (w.rules != w.latestRules() || w.sweepFrom != nil || w.rescoreRestored)
}

// rescoreBatch bounds the accounts a sweep reloads from the state store per
// batch.
const rescoreBatch = 2000

// rescore evaluates an account and its contacts under the worker's rules and
// emits what changed, unless it was already scored under them.
func (w *worker) rescore(id string, a *account) {
	if a.RulesVersion == w.rules.Version {
		return
	}
	a.RulesVersion = w.rules.Version
	src := rows.Source{Topic: "leadscore:rules:" + w.rules.Version, Partition: -1, Offset: a.Score.AsOf.Unix()}
	stage := a.Score.Stage
	w.rules.Evaluate(&a.Score, &w.res)
	w.emit(id, "", a, &a.Score, &a.emitted, stage, &w.res, src, rows.CauseRules)
	for cid, c := range a.Contacts {
		if c.MergedInto != "" {
			continue
		}
		stage := c.Score.Stage
		w.rules.EvaluateContact(&c.Score, &a.Score, &w.res)
		w.emit(id, cid, a, &c.Score, &c.emitted, stage, &w.res, src, rows.CauseRules)
		c.touchStep()
	}
	a.Version++
	a.dirty = true
	w.schedule(id, a, nil, true)
}

// sweepRules re-scores up to rescoreBatch accounts of the state store under
// new rules (looking at no more than ten times that many), resuming where
// the last sweep stopped. The accounts it reloads stay resident until the
// next eviction, so memory can exceed the cap by one batch meanwhile.
func (w *worker) sweepRules() error {
	if w.sweepFrom == nil {
		return nil
	}
	var ids []string
	var next []byte
	scanned := 0
	err := w.spill.ScanFrom(w.sweepFrom, func(k, v []byte) error {
		if len(ids) == rescoreBatch || scanned == 10*rescoreBatch {
			next = append([]byte(nil), k...)
			return errStopScan
		}
		scanned++
		if w.accounts[string(k)] != nil {
			return nil
		}
		// Only accounts scored under other rules are reloaded.
		if _, version, err := snapshotHead(v); err == nil && version == w.rules.Version {
			return nil
		}
		ids = append(ids, string(k))
		return nil
	})
	if err != nil && !errors.Is(err, errStopScan) {
		return fmt.Errorf("sweep accounts of %s for new rules: %w", w.key(), err)
	}
	for _, id := range ids {
		a, err := w.account(id)
		if err != nil {
			return err
		}
		w.rescore(id, a)
	}
	w.sweepFrom = next // nil: done
	return nil
}
