package statestore

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"
)

// openTest opens a store in a fresh directory and closes it with the test.
func openTest(t testing.TB, opts Options) *Store {
	t.Helper()
	s, err := Open(t.TempDir(), opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

// get returns the value of key in ns and whether it exists.
func get(t testing.TB, ns *Namespace, key string) (string, bool) {
	t.Helper()
	var v string
	found, err := ns.Get([]byte(key), func(val []byte) error {
		v = string(val)
		return nil
	})
	require.NoError(t, err)
	return v, found
}

// scan returns the namespace's contents.
func scan(t testing.TB, ns *Namespace) map[string]string {
	t.Helper()
	m := map[string]string{}
	var last []byte
	require.NoError(t, ns.Scan(func(key, val []byte) error {
		require.True(t, last == nil || bytes.Compare(last, key) < 0, "keys out of order: %q then %q", last, key)
		last = append(last[:0], key...)
		m[string(key)] = string(val)
		return nil
	}))
	return m
}

// set commits key=val pairs (given flat) to ns.
func set(t testing.TB, s *Store, ns *Namespace, kv ...string) {
	t.Helper()
	b := s.NewBatch()
	defer b.Close()
	for i := 0; i < len(kv); i += 2 {
		b.Set(ns, []byte(kv[i]), []byte(kv[i+1]))
	}
	require.NoError(t, b.Commit())
}

func TestSetGetDelete(t *testing.T) {
	s := openTest(t, Options{})
	ns := s.Namespace("leadscore.events/3/a")

	_, found := get(t, ns, "acct-1")
	require.False(t, found)

	set(t, s, ns, "acct-1", "v1", "acct-2", "v2", "", "empty key", "acct-3", "")
	for k, want := range map[string]string{"acct-1": "v1", "acct-2": "v2", "": "empty key", "acct-3": ""} {
		v, found := get(t, ns, k)
		require.True(t, found, k)
		require.Equal(t, want, v, k)
	}

	set(t, s, ns, "acct-1", "v1b") // overwrite
	v, _ := get(t, ns, "acct-1")
	require.Equal(t, "v1b", v)

	b := s.NewBatch()
	defer b.Close()
	b.Delete(ns, []byte("acct-1"))
	b.Delete(ns, []byte("never-set"))
	require.NoError(t, b.Commit())
	_, found = get(t, ns, "acct-1")
	require.False(t, found)
	require.Equal(t, map[string]string{"acct-2": "v2", "": "empty key", "acct-3": ""}, scan(t, ns))
}

func TestBatchCopiesArguments(t *testing.T) {
	s := openTest(t, Options{})
	ns := s.Namespace("n")
	b := s.NewBatch()
	defer b.Close()
	key, val := []byte("key"), []byte("val")
	b.Set(ns, key, val)
	copy(key, "xxx")
	copy(val, "yyy")
	require.NoError(t, b.Commit())
	v, found := get(t, ns, "key")
	require.True(t, found)
	require.Equal(t, "val", v)
}

func TestGetValueOnlyDuringCallback(t *testing.T) {
	s := openTest(t, Options{})
	ns := s.Namespace("n")
	set(t, s, ns, "k", "v")

	boom := errors.New("boom")
	found, err := ns.Get([]byte("k"), func([]byte) error { return boom })
	require.True(t, found)
	require.ErrorIs(t, err, boom)

	called := false
	found, err = ns.Get([]byte("missing"), func([]byte) error { called = true; return nil })
	require.NoError(t, err)
	require.False(t, found)
	require.False(t, called)
}

func TestClear(t *testing.T) {
	s := openTest(t, Options{})
	a, b := s.Namespace("p/0"), s.Namespace("p/1")
	set(t, s, a, "k1", "a1", "k2", "a2")
	set(t, s, b, "k1", "b1")

	require.NoError(t, a.Clear())
	require.Empty(t, scan(t, a))
	_, found := get(t, a, "k1")
	require.False(t, found)
	require.Equal(t, map[string]string{"k1": "b1"}, scan(t, b))

	// The namespace is usable again after a Clear (restore after revoke).
	set(t, s, a, "k3", "a3")
	require.Equal(t, map[string]string{"k3": "a3"}, scan(t, a))
	require.NoError(t, s.Namespace("never-written").Clear())
}

func TestScanOrderAndStop(t *testing.T) {
	s := openTest(t, Options{})
	ns := s.Namespace("n")
	set(t, s, ns, "b", "2", "a", "1", "c", "3", "a\x00", "1.5")
	set(t, s, s.Namespace("m"), "a", "other")

	var keys []string
	require.NoError(t, ns.Scan(func(key, val []byte) error {
		keys = append(keys, string(key)+"="+string(val))
		return nil
	}))
	require.Equal(t, []string{"a=1", "a\x00=1.5", "b=2", "c=3"}, keys)

	stop := errors.New("stop")
	n := 0
	err := ns.Scan(func(key, val []byte) error {
		n++
		if string(key) == "a\x00" {
			return stop
		}
		return nil
	})
	require.ErrorIs(t, err, stop)
	require.Equal(t, 2, n)
}

func TestNamespaceIsolation(t *testing.T) {
	s := openTest(t, Options{})
	long := strings.Repeat("x", 200) // a two-byte length prefix
	cases := []struct{ ns, key string }{
		{"a", "bc"},
		{"ab", "c"},
		{"abc", ""},
		{"", "abc"},
		{"\xff", "k"},
		{"\xff\xff", "k"},
		{"\x01", "\x01k"},
		{"\x01\x01", "k"},
		{long, "k"},
		{long + "x", "k"},
		{long[:127], "k"},
		{long[:128], "k"},
	}
	for i, c := range cases {
		set(t, s, s.Namespace(c.ns), c.key, fmt.Sprint(i))
	}
	for i, c := range cases {
		require.Equal(t, map[string]string{c.key: fmt.Sprint(i)}, scan(t, s.Namespace(c.ns)), "namespace %q", c.ns)
	}

	// Clearing each namespace in turn leaves the others whole.
	for i, c := range cases {
		require.NoError(t, s.Namespace(c.ns).Clear())
		for j, d := range cases {
			_, found := get(t, s.Namespace(d.ns), d.key)
			require.Equal(t, j > i, found, "after clearing %q: %q/%q", c.ns, d.ns, d.key)
		}
	}
}

func TestBatchReuse(t *testing.T) {
	s := openTest(t, Options{})
	ns := s.Namespace("n")
	b := s.NewBatch()
	defer b.Close()

	require.Equal(t, 0, b.Len())
	require.NoError(t, b.Commit()) // empty
	for round := range 5 {
		for i := range 10 {
			b.Set(ns, fmt.Appendf(nil, "k%d", i), fmt.Appendf(nil, "r%d", round))
		}
		b.Delete(ns, []byte("k0"))
		require.Equal(t, 11, b.Len())
		require.NoError(t, b.Commit())
		require.Equal(t, 0, b.Len())

		got := scan(t, ns)
		require.Len(t, got, 9)
		require.Equal(t, fmt.Sprintf("r%d", round), got["k9"])
		require.NotContains(t, got, "k0")
	}
	b.Close()
	b.Close()
}

// TestLargeBatch commits batches above half the memtable size, which pebble
// applies as flushable batches and whose buffer it takes over.
func TestLargeBatch(t *testing.T) {
	s := openTest(t, Options{MemTableBytes: 1 << 20})
	ns := s.Namespace("n")
	b := s.NewBatch()
	defer b.Close()
	val := bytes.Repeat([]byte("v"), 1000)
	for round := range 3 {
		for i := range 2000 {
			b.Set(ns, fmt.Appendf(nil, "%d/%05d", round, i), val)
		}
		require.NoError(t, b.Commit())
		require.Equal(t, 0, b.Len())
	}
	n := 0
	require.NoError(t, ns.Scan(func(key, v []byte) error {
		n++
		require.Equal(t, val, v)
		return nil
	}))
	require.Equal(t, 6000, n)
}

func TestReopenStartsEmpty(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	require.NoError(t, err)
	ns := s.Namespace("n")
	set(t, s, ns, "k", "v")
	require.NoError(t, s.Close())

	s, err = Open(dir, Options{})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	ns = s.Namespace("n")
	_, found := get(t, ns, "k")
	require.False(t, found)
	require.Empty(t, scan(t, ns))
}

func TestOpenCreatesDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	s, err := Open(dir, Options{})
	require.NoError(t, err)
	require.NoError(t, s.Close())
}

func TestOpenRefusesForeignDir(t *testing.T) {
	dir := t.TempDir()
	precious := filepath.Join(dir, "precious.txt")
	require.NoError(t, os.WriteFile(precious, []byte("keep me"), 0o644))
	_, err := Open(dir, Options{})
	require.ErrorContains(t, err, "refusing to empty")
	require.FileExists(t, precious)
}

func TestOpenRefusesDirInUse(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	require.NoError(t, err)
	ns := s.Namespace("n")
	set(t, s, ns, "k", "v")

	_, err = Open(dir, Options{})
	require.Error(t, err)
	// The failed Open left the open store alone.
	v, found := get(t, ns, "k")
	require.True(t, found)
	require.Equal(t, "v", v)
	require.NoError(t, s.Close())

	s, err = Open(dir, Options{}) // released by Close
	require.NoError(t, err)
	require.NoError(t, s.Close())
}

func TestOpenRejectsNegativeBounds(t *testing.T) {
	_, err := Open(t.TempDir(), Options{CacheBytes: -1})
	require.Error(t, err)
}

func TestCloseIdempotent(t *testing.T) {
	s, err := Open(t.TempDir(), Options{})
	require.NoError(t, err)
	ns := s.Namespace("n")
	b := s.NewBatch()
	defer b.Close()
	b.Set(ns, []byte("k"), []byte("v"))

	require.NoError(t, s.Close())
	require.NoError(t, s.Close())

	_, err = ns.Get([]byte("k"), func([]byte) error { return nil })
	require.ErrorIs(t, err, errClosed)
	require.ErrorIs(t, ns.Scan(func(_, _ []byte) error { return nil }), errClosed)
	require.ErrorIs(t, ns.Clear(), errClosed)
	require.ErrorIs(t, b.Commit(), errClosed)
	require.Equal(t, 0, b.Len(), "a failed Commit empties the batch too")
	late := s.NewBatch()
	defer late.Close()
	late.Set(ns, []byte("k"), []byte("v"))
	require.ErrorIs(t, late.Commit(), errClosed)
	require.Equal(t, Stats{}, s.Stats())
}

func TestStats(t *testing.T) {
	s := openTest(t, Options{MemTableBytes: 1 << 20, CacheBytes: 1 << 20})
	ns := s.Namespace("n")
	b := s.NewBatch()
	defer b.Close()
	val := bytes.Repeat([]byte{0x5a}, 300)
	for i := range 20_000 {
		b.Set(ns, fmt.Appendf(nil, "%08d", i), val)
		if b.Len() == 1000 {
			require.NoError(t, b.Commit())
		}
	}
	require.NoError(t, b.Commit())
	_, found := get(t, ns, "00000001")
	require.True(t, found)

	st := s.Stats()
	t.Logf("%+v", st)
	require.Positive(t, st.DiskBytes)
	require.Positive(t, st.MemTableBytes)
	require.Positive(t, st.Tables) // 6 MB through a 1 MiB memtable was flushed
}

// TestConcurrentGets reads several namespaces from their own goroutines, as
// partition workers do, while one goroutine commits batches to all of them.
func TestConcurrentGets(t *testing.T) {
	s := openTest(t, Options{MemTableBytes: 1 << 20})
	const readers, keys, rounds = 4, 200, 50
	nss := make([]*Namespace, readers)
	for r := range nss {
		nss[r] = s.Namespace(fmt.Sprintf("t/%d", r))
	}
	// A value is "<namespace index>:<round>", so a reader can tell a value
	// written to another namespace (a collision) from a stale one (fine).
	value := func(r, round int) []byte { return fmt.Appendf(nil, "%d:%d", r, round) }

	var g errgroup.Group
	done := make(chan struct{})
	g.Go(func() error {
		defer close(done)
		b := s.NewBatch()
		defer b.Close()
		for round := range rounds {
			for r, ns := range nss {
				for k := range keys {
					if k%7 == round%7 {
						b.Delete(ns, fmt.Appendf(nil, "%d", k))
					} else {
						b.Set(ns, fmt.Appendf(nil, "%d", k), value(r, round))
					}
				}
			}
			if err := b.Commit(); err != nil {
				return err
			}
		}
		return nil
	})
	for r, ns := range nss {
		g.Go(func() error {
			prefix := fmt.Appendf(nil, "%d:", r)
			key := make([]byte, 0, 8)
			for i := 0; ; i++ {
				select {
				case <-done:
					return nil
				default:
				}
				key = fmt.Appendf(key[:0], "%d", i%keys)
				_, err := ns.Get(key, func(val []byte) error {
					if !bytes.HasPrefix(val, prefix) {
						return fmt.Errorf("namespace %d key %s: value %q of another namespace", r, key, val)
					}
					return nil
				})
				if err != nil {
					return err
				}
			}
		})
	}
	require.NoError(t, g.Wait())

	for r, ns := range nss {
		got := scan(t, ns)
		require.Len(t, got, keys-keys/7-1) // round 49: k%7 == 0 deleted, 29 keys
		for _, v := range got {
			require.Equal(t, string(value(r, rounds-1)), v)
		}
	}
}

func TestScanFrom(t *testing.T) {
	s := openTest(t, Options{})
	a, b := s.Namespace("x/0/a"), s.Namespace("x/0/ab")
	set(t, s, a, "apple", "1", "banana", "2", "cherry", "3")
	set(t, s, b, "a", "other namespace")
	from := func(k string) []string {
		var keys []string
		require.NoError(t, a.ScanFrom([]byte(k), func(key, _ []byte) error {
			keys = append(keys, string(key))
			return nil
		}))
		return keys
	}
	require.Equal(t, []string{"apple", "banana", "cherry"}, from(""))
	require.Equal(t, []string{"banana", "cherry"}, from("b"))
	require.Equal(t, []string{"banana", "cherry"}, from("banana"))
	require.Equal(t, []string{"cherry"}, from("banana\x00"))
	require.Empty(t, from("d"))
}
