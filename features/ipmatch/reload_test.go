package ipmatch

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
)

// version writes range files whose answers depend on v: every probe address
// resolves to "Org <v>" (or, for odd v, the IPv6 one to nothing).
func version(v int) (csv, overrides string) {
	csv = fmt.Sprintf("192.0.2.0,192.0.2.255,64500,Org %d\n198.51.100.0,198.51.100.255,64501,Org %d\n", v, v)
	if v%2 == 0 {
		csv += fmt.Sprintf("2001:db8::,2001:db8::ffff,64502,Org %d\n", v)
	}
	return csv, fmt.Sprintf("203.0.113.0/24,account-%d.example\n", v)
}

// replace writes content to path through a temporary file and a rename, as
// a well-behaved writer does, and moves the modification time forward so
// that the change is seen whatever the file system's time resolution.
func replace(t *testing.T, path, content string, mod time.Time) {
	t.Helper()
	tmp := path + ".tmp"
	require.NoError(t, os.WriteFile(tmp, []byte(content), 0o644))
	require.NoError(t, os.Chtimes(tmp, mod, mod))
	require.NoError(t, os.Rename(tmp, path))
}

func TestHotSwapDuringLookups(t *testing.T) {
	dir := t.TempDir()
	csvPath, ovPath := filepath.Join(dir, "r.csv"), filepath.Join(dir, "o.csv")
	csv, ov := version(0)
	replace(t, csvPath, csv, time.Unix(1_000_000, 0))
	replace(t, ovPath, ov, time.Unix(1_000_000, 0))
	var failures atomic.Int32
	m := newMatcher(t, []string{csvPath}, ovPath, WithLoadHook(func(r LoadReport) {
		if r.Err != nil {
			failures.Add(1)
		}
	}))

	// Every answer must be one whole version: the org of the two IPv4
	// ranges and the override account agree on v within one lookup each,
	// and v never goes backwards for one reader.
	const swaps = 60
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 4 {
		wg.Go(func() {
			last := 0
			for i := 0; ctx.Err() == nil; i++ {
				ip := [...]string{"192.0.2.7", "198.51.100.9", "::ffff:192.0.2.8", "2001:db8::1", "203.0.113.5"}[(i+g)%5]
				x, ok := m.Lookup(ip)
				var v int
				switch ip {
				case "203.0.113.5":
					if !ok || x.Source != SourceOverride {
						errs <- fmt.Errorf("%s: %+v %v", ip, x, ok)
						return
					}
					_, err := fmt.Sscanf(x.Account, "account-%d.example", &v)
					if err != nil {
						errs <- fmt.Errorf("%s: account %q", ip, x.Account)
						return
					}
				case "2001:db8::1":
					if !ok {
						continue // an odd version has no IPv6 range
					}
					fallthrough
				default:
					if _, err := fmt.Sscanf(x.Org, "Org %d", &v); err != nil || !ok {
						errs <- fmt.Errorf("%s: %+v %v", ip, x, ok)
						return
					}
				}
				if v < last || v > swaps {
					errs <- fmt.Errorf("%s: version %d after %d", ip, v, last)
					return
				}
				last = v
			}
		})
	}
	for v := 1; v <= swaps; v++ {
		csv, ov := version(v)
		mod := time.Unix(1_000_000+int64(v), 0)
		replace(t, csvPath, csv, mod)
		replace(t, ovPath, ov, mod)
		tried, err := m.ReloadIfChanged()
		require.NoError(t, err)
		require.True(t, tried)
		tried, err = m.ReloadIfChanged()
		require.NoError(t, err)
		require.False(t, tried, "unchanged files are not reloaded")
	}
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Zero(t, failures.Load())
	x, _ := m.Lookup("192.0.2.7")
	require.Equal(t, fmt.Sprintf("Org %d", swaps), x.Org)
}

func TestFailedReloadKeepsOldData(t *testing.T) {
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "r.csv")
	csv, _ := version(0)
	replace(t, csvPath, csv, time.Unix(1_000_000, 0))
	var reports []LoadReport
	m := newMatcher(t, []string{csvPath}, "", WithLoadHook(func(r LoadReport) { reports = append(reports, r) }))
	x, _ := m.Lookup("192.0.2.7")
	require.Equal(t, "Org 0", x.Org)

	replace(t, csvPath, "garbage\n", time.Unix(1_000_001, 0))
	tried, err := m.ReloadIfChanged()
	require.True(t, tried)
	require.ErrorContains(t, err, "no valid rows")
	require.Len(t, reports, 2)
	require.Equal(t, err, reports[1].Err)
	x, ok := m.Lookup("192.0.2.7")
	require.True(t, ok)
	require.Equal(t, "Org 0", x.Org, "the old data stays")
	tried, _ = m.ReloadIfChanged()
	require.False(t, tried, "the same broken file is not retried at every poll")

	require.NoError(t, os.Remove(csvPath))
	tried, err = m.ReloadIfChanged()
	require.True(t, tried)
	require.ErrorIs(t, err, os.ErrNotExist)
	x, _ = m.Lookup("192.0.2.7")
	require.Equal(t, "Org 0", x.Org)

	csv, _ = version(2)
	replace(t, csvPath, csv, time.Unix(1_000_002, 0))
	tried, err = m.ReloadIfChanged()
	require.True(t, tried)
	require.NoError(t, err)
	x, _ = m.Lookup("192.0.2.7")
	require.Equal(t, "Org 2", x.Org)
}

func TestRunPollsForChanges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		csvPath := filepath.Join(dir, "r.csv")
		csv, _ := version(0)
		replace(t, csvPath, csv, time.Unix(1_000_000, 0))
		cfg := DefaultConfig()
		cfg.CSV = []string{csvPath}
		cfg.PollInterval = 10 * time.Second
		cfg.CacheEntries = 0 // no cache goroutines inside the bubble
		var loads atomic.Int32
		m, err := New(cfg, WithLoadHook(func(LoadReport) { loads.Add(1) }))
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- m.Run(ctx) }()

		time.Sleep(35 * time.Second) // three polls, nothing changed
		synctest.Wait()
		require.Equal(t, int32(1), loads.Load())

		csv, _ = version(1)
		replace(t, csvPath, csv, time.Unix(1_000_001, 0))
		time.Sleep(10 * time.Second) // the next poll sees it
		synctest.Wait()
		require.Equal(t, int32(2), loads.Load())
		x, _ := m.Lookup("192.0.2.7")
		require.Equal(t, "Org 1", x.Org)

		cancel()
		require.NoError(t, <-done)
	})
}
