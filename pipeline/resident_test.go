package pipeline

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/leadscore/leadscore/internal/statestore"
)

func residentWorker(t *testing.T) (*worker, *statestore.Store) {
	t.Helper()
	st, err := statestore.Open(t.TempDir(), statestore.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	w := &worker{topic: "r", partition: 0, accounts: map[string]*account{}, metrics: newMetrics(nil)}
	w.spill = st.Namespace(w.spillName())
	return w, st
}

// TestEvictLeastRecentlyUsed: over the limit, the least recently used clean
// accounts go to the store (down to 90 % of the limit), dirty ones never, and
// an evicted account comes back with its state.
func TestEvictLeastRecentlyUsed(t *testing.T) {
	w, st := residentWorker(t)
	for i := range 20 {
		w.now = int64(i)
		a, err := w.account(fmt.Sprintf("acct-%02d", i))
		require.NoError(t, err)
		a.Version = uint64(100 + i)
	}
	w.accounts["acct-00"].dirty = true // oldest, but not in the changelog yet
	b := st.NewBatch()
	defer b.Close()
	n, err := w.evict(10, 0, b)
	require.NoError(t, err)
	require.Equal(t, 11, n, "20 resident, limit 10: down to 9")
	require.Len(t, w.accounts, 9)
	require.Contains(t, w.accounts, "acct-00", "dirty stays")
	for i := 12; i < 20; i++ {
		require.Contains(t, w.accounts, fmt.Sprintf("acct-%02d", i), "most recent stay")
	}
	a, err := w.account("acct-05")
	require.NoError(t, err)
	require.Equal(t, uint64(105), a.Version, "state comes back from the store")
	fresh, err := w.account("never-seen")
	require.NoError(t, err)
	require.Zero(t, fresh.Version)
}

// TestEvictIdle: accounts last used before the cut-off go whatever the limit.
func TestEvictIdle(t *testing.T) {
	w, st := residentWorker(t)
	for i := range 6 {
		w.now = int64(i * 10)
		_, err := w.account(fmt.Sprintf("acct-%d", i))
		require.NoError(t, err)
	}
	b := st.NewBatch()
	defer b.Close()
	n, err := w.evict(0, 25, b)
	require.NoError(t, err)
	require.Equal(t, 3, n)
	require.Len(t, w.accounts, 3)
	for _, id := range []string{"acct-3", "acct-4", "acct-5"} {
		require.Contains(t, w.accounts, id)
	}
}
