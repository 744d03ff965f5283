package pipeline

import (
	"fmt"
	"slices"
	"time"

	"github.com/segmentio/encoding/json"

	"github.com/leadscore/leadscore/features"
	"github.com/leadscore/leadscore/internal/statestore"
)

// Resident accounts. A scoring worker keeps its accounts in memory up to its
// share of engine.max_resident_accounts; after each commit the least
// recently used beyond it, and those idle longer than engine.idle_ttl, move
// to the local state store (pebble, a cache of the changelog) and come back
// when they are seen again. Only clean accounts move, so what the store holds
// is what the changelog holds; the store is emptied before a partition is
// restored, so it never outlives the changelog it caches.

// spillName is the store namespace of a worker's evicted accounts.
func (w *worker) spillName() string { return w.key() + "/a" }

// identitySpill is an input worker's evicted person links and pending
// events, for its Identity.
type identitySpill struct{ w *worker }

func (s identitySpill) TakePending(key []byte) ([]features.Pending, bool) {
	if !s.w.visitorsSpilled {
		return nil, false // nothing was ever written: no store read per event
	}
	var p []features.Pending
	found, err := s.w.visitors.Get(key, func(v []byte) error { return json.Unmarshal(v, &p) })
	if err == nil && found {
		b := s.w.store.NewBatch()
		b.Delete(s.w.visitors, key)
		err = b.Commit()
		b.Close()
	}
	if err != nil {
		s.w.storeErr = fmt.Errorf("take pending events of %s: %w", key, err)
		return nil, false
	}
	return p, found
}

func (s identitySpill) Lookup(key []byte) (string, bool) {
	if !s.w.linksSpilled {
		return "", false
	}
	var account string
	found, err := s.w.links.Get(key, func(v []byte) error { account = string(v); return nil })
	if err != nil {
		s.w.storeErr = fmt.Errorf("look up person link %s: %w", key, err)
		return "", false
	}
	return account, found
}

// restorePerson applies a changelog person link during a restore: in
// memory while under limit, otherwise to the store.
func (w *worker) restorePerson(key, account string, limit int, b *statestore.Batch) error {
	if w.links == nil || limit <= 0 || w.identity.Persons() < limit || w.identity.Resident(key) {
		w.identity.RestorePerson(key, account)
		return nil
	}
	w.linksSpilled = true
	return spillSet(b, w.links, key, []byte(account))
}

// restorePending applies a changelog record of a visitor's pending events
// during a restore: in memory while under limit, otherwise to the store;
// an empty value (handed to an account) removes them from both.
func (w *worker) restorePending(key string, v []byte, limit int, b *statestore.Batch) error {
	if w.visitors == nil || limit <= 0 || w.identity.Visitors() < limit || len(v) == 0 || w.identity.Resident(key) {
		if w.visitors != nil && len(v) == 0 {
			b.Delete(w.visitors, []byte(key))
		}
		var cursor *dedupCursor
		return w.restoreRecord(kindVisitor, key, v, &cursor)
	}
	w.visitorsSpilled = true
	return spillSet(b, w.visitors, key, v)
}

// evictIdentity moves clean person links and pending events beyond their
// limits to the store.
func (w *worker) evictIdentity(links, visitors int, b *statestore.Batch) (nl, nv int, err error) {
	if w.links == nil {
		return 0, 0, nil
	}
	nl, err = w.identity.EvictPersons(links, func(key, account string) error {
		w.linksSpilled = true
		return spillSet(b, w.links, key, []byte(account))
	})
	if err != nil {
		return nl, 0, err
	}
	nv, err = w.identity.EvictPending(visitors, func(key string, p []features.Pending) error {
		v, err := json.Marshal(p)
		if err != nil {
			return fmt.Errorf("encode pending events of %s: %w", key, err)
		}
		w.visitorsSpilled = true
		return spillSet(b, w.visitors, key, v)
	})
	if err == nil {
		err = b.Commit()
	}
	return nl, nv, err
}

// account returns id's state: resident, reloaded from the store, or new.
func (w *worker) account(id string) (*account, error) {
	if a := w.accounts[id]; a != nil {
		a.used = w.now
		return a, nil
	}
	a := &account{}
	if w.spill != nil && w.accountsSpilled {
		found, err := w.spill.Get([]byte(id), func(v []byte) error { return decodeAccount(v, a) })
		if err != nil {
			return nil, fmt.Errorf("reload account %s: %w", id, err)
		}
		if found {
			w.metrics.reloaded.Inc()
		}
	}
	a.used, a.id = w.now, id
	w.internRestored(a)
	w.accounts[id] = a
	w.metrics.accounts.Inc()
	if err := w.unspillTimer(id, a); err != nil {
		return nil, err
	}
	w.trackTail(id, a)
	return a, nil
}

// restoreAccount applies a changelog record of an account during a
// restore: in memory while the worker is under limit, otherwise straight to
// the store, undecoded.
func (w *worker) restoreAccount(id string, v []byte, limit int, b *statestore.Batch) error {
	if a := w.accounts[id]; a != nil || w.spill == nil || limit <= 0 || len(w.accounts) < limit {
		a := &account{}
		if err := decodeAccount(v, a); err != nil {
			return fmt.Errorf("decode account %s: %w", id, err)
		}
		a.used = w.now
		a.id = id
		w.internRestored(a)
		w.accounts[id] = a
		return nil
	}
	if err := w.spillTimerOf(b, id, v); err != nil {
		return err
	}
	w.accountsSpilled = true
	return spillSet(b, w.spill, id, v)
}

// evict moves accounts to the store: those idle since before idleBefore
// (zero: none), then the least recently used until at most limit stay
// resident (limit 0: no limit). Going over the limit evicts down to 90 % of
// it, so that eviction runs in batches rather than on every commit.
func (w *worker) evict(limit int, idleBefore int64, b *statestore.Batch) (int, error) {
	if w.spill == nil || (limit <= 0 || len(w.accounts) <= limit) && idleBefore == 0 {
		return 0, nil
	}
	type use struct {
		id   string
		used int64
	}
	var keep []use
	over := limit > 0 && len(w.accounts) > limit
	n := 0
	move := func(id string, a *account) error {
		v, err := appendAccount(nil, a)
		if err != nil {
			return fmt.Errorf("encode account %s: %w", id, err)
		}
		delete(w.accounts, id)
		n++
		if err := w.spillTimer(b, id, a); err != nil {
			return err
		}
		w.accountsSpilled = true
		return spillSet(b, w.spill, id, v)
	}
	for id, a := range w.accounts {
		if a.dirty {
			continue // not in the changelog yet
		}
		if a.used < idleBefore {
			if err := move(id, a); err != nil {
				return n, err
			}
			continue
		}
		if over {
			keep = append(keep, use{id, a.used})
		}
	}
	if target := limit - limit/10; over && len(w.accounts) > target {
		slices.SortFunc(keep, func(x, y use) int {
			switch {
			case x.used < y.used:
				return -1
			case x.used > y.used:
				return 1
			}
			return 0
		})
		for _, u := range keep[:min(len(keep), len(w.accounts)-target)] {
			if err := move(u.id, w.accounts[u.id]); err != nil {
				return n, err
			}
		}
	}
	if err := b.Commit(); err != nil {
		return n, err
	}
	w.metrics.accounts.Sub(float64(n))
	w.metrics.evicted.Add(float64(n))
	return n, nil
}

// spillSet adds key's value to the store batch, committing it every 4096
// writes so that a large eviction or restore does not hold it all.
func spillSet(b *statestore.Batch, ns *statestore.Namespace, key string, v []byte) error {
	b.Set(ns, []byte(key), v)
	if b.Len() >= 4096 {
		return b.Commit()
	}
	return nil
}

// nowNano is the clock of account use; a variable for tests.
var nowNano = func() int64 { return time.Now().UnixNano() }
