package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
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
// problem and its place in the file logged, in one log line; the running
// rules stay. The file is bounded by rules_limits (size, rule count, string
// and version lengths) at start and on every reload, and its size is checked
// before it is read.

// Rules is the rule set the engine scores with now.
func (e *Engine) Rules() *scorer.Rules { return e.rules.Load() }

// rulesFile is the rules file as the engine last read it.
//
// A poll reads the file only when it may have changed: when its size,
// modification time or identity (another file renamed over it, as editors
// and Kubernetes config maps do) differ from those it had when last read,
// or when its modification time was too close to that read to be trusted.
// A second write within the file system's timestamp granularity keeps both
// size and time (git's "racily clean" entries), so a file whose time is less
// than racyWindow older than the read is read again and compared byte for
// byte until it is old enough. An unchanged file thus costs one stat per
// poll and is never parsed again.
type rulesFile struct {
	path string
	lim  scorer.Limits
	// stat is the file's stat before the last read, nil before the first;
	// readAt is when that read was.
	stat   os.FileInfo
	readAt time.Time
	// data is the content the last read returned; inForce is the content
	// of the rules in force.
	data, inForce []byte
	// reads counts the reads, for tests.
	reads int
}

// racyWindow covers the coarsest modification-time granularity in use
// (FAT's 2 s; ext4, XFS and tmpfs are finer, HFS+ and some NFS servers 1 s).
const racyWindow = 2 * time.Second

// loadRules loads the rules the engine starts with: the file cfg.Rules
// within cfg.RulesLimits, or the example rules when no file is named (then
// the returned rulesFile is nil).
func loadRules(cfg Config, now time.Time) (*scorer.Rules, *rulesFile, error) {
	if cfg.Rules == "" {
		r, err := scorer.Parse(scorer.Example(), "example rules")
		return r, nil, err
	}
	f := &rulesFile{path: cfg.Rules, lim: cfg.RulesLimits}
	data, _, err := f.poll(now)
	if err != nil {
		return nil, nil, err
	}
	r, err := f.lim.Parse(data, f.path)
	if err != nil {
		return nil, nil, err
	}
	f.inForce = data
	return r, f, nil
}

// poll reads the file if it may have changed since the last poll (see
// rulesFile) and returns its content when that differs from the content
// last read. now is the time of the poll.
func (f *rulesFile) poll(now time.Time) (data []byte, changed bool, err error) {
	fi, err := os.Stat(f.path)
	if err != nil {
		return nil, false, fmt.Errorf("read rules: %w", err)
	}
	if f.stat != nil && sameStat(f.stat, fi) && fi.ModTime().Before(f.readAt.Add(-racyWindow)) {
		return nil, false, nil
	}
	f.reads++
	data, err = f.lim.ReadFile(f.path)
	f.stat, f.readAt = fi, now
	if err != nil {
		return nil, false, err
	}
	if f.data != nil && bytes.Equal(data, f.data) {
		return nil, false, nil
	}
	f.data = data
	return data, true, nil
}

// sameStat reports whether a and b describe the same file, unchanged as far
// as its stat tells.
func sameStat(a, b os.FileInfo) bool {
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime()) && a.Mode() == b.Mode()
}

// watchRules polls the rules file until ctx ends.
func (e *Engine) watchRules(ctx context.Context) {
	every := e.cfg.Engine.RulesPollInterval.D()
	if e.rulesFile == nil || every <= 0 {
		return
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		e.pollRules(time.Now())
	}
}

// pollRules is one poll of the rules file at time now: a changed file is
// reloaded, a rejected one logged once. A file the engine cannot read (gone
// for a moment while it is replaced, say) is a warning; one over
// rules_limits.max_file_bytes or not valid is rejected (counted in
// leadscore_rules_reloads_total{result="rejected"}). Either is logged in
// one line naming the file and each problem, never its content, and only
// when the problem is new: an unchanged file is not read again, and one
// still within racyWindow of its change repeats the same problem.
func (e *Engine) pollRules(now time.Time) {
	f := e.rulesFile
	data, changed, err := f.poll(now)
	if err == nil && changed && !bytes.Equal(data, f.inForce) {
		if err = e.reloadRules(data); err == nil {
			f.inForce = data
		}
	}
	switch {
	case err == nil:
		e.rulesProblem = ""
		return
	case err.Error() == e.rulesProblem:
		return
	}
	e.rulesProblem = err.Error()
	if _, ok := errors.AsType[*fs.PathError](err); ok {
		e.log.Warn("read the rules file; the running rules stay", "file", f.path, "err", err)
		return
	}
	e.metrics.rulesReloads.WithLabelValues("rejected").Inc()
	e.log.Error("rules file rejected; the running rules stay",
		"file", f.path, "running", e.Rules().Version, "problems", strings.Split(err.Error(), "\n"))
}

// reloadRules validates data and, when valid, swaps it in.
func (e *Engine) reloadRules(data []byte) error {
	r, err := e.cfg.RulesLimits.Parse(data, e.cfg.Rules)
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
