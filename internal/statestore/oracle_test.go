package statestore

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestOracle applies random operations to the store and to plain maps, which
// model the store independently of it, and compares them.
func TestOracle(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Parallel()
			testOracle(t, seed)
		})
	}
}

func testOracle(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	// A small memtable so the run crosses flushes and compactions.
	s := openTest(t, Options{MemTableBytes: 256 << 10, CacheBytes: 1 << 20})

	// Names chosen to collide if the prefix were a plain concatenation.
	names := []string{"a", "ab", "abc", "", "b\xff", "b\xff\xff"}
	nss := make([]*Namespace, len(names))
	want := make([]map[string][]byte, len(names))
	for i, name := range names {
		nss[i] = s.Namespace(name)
		want[i] = map[string][]byte{}
	}
	// pending holds the batch's operations until Commit makes them visible.
	type op struct {
		ns       int
		key, val string
		del      bool
	}
	var pending []op
	b := s.NewBatch()
	defer b.Close()

	randKey := func() string {
		if rng.IntN(3) == 0 {
			// A wider key space, so that data outgrows the memtable.
			return fmt.Sprintf("k%d", rng.IntN(5000))
		}
		// Keys that share prefixes with namespace names and each other.
		const alphabet = "abc\x00\xff"
		k := make([]byte, rng.IntN(4))
		for i := range k {
			k[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(k)
	}
	check := func(step int) {
		t.Helper()
		for i, ns := range nss {
			got := map[string][]byte{}
			require.NoError(t, ns.Scan(func(key, val []byte) error {
				got[string(key)] = append([]byte{}, val...)
				return nil
			}))
			require.Truef(t, maps.EqualFunc(want[i], got, func(a, b []byte) bool { return string(a) == string(b) }),
				"step %d namespace %q:\nwant %q\ngot  %q", step, names[i], want[i], got)
		}
	}

	const steps = 20_000
	for step := range steps {
		i := rng.IntN(len(nss))
		switch p := rng.IntN(1000); {
		case p < 550:
			key := randKey()
			val := make([]byte, rng.IntN(600))
			for j := range val {
				val[j] = byte(rng.Uint32())
			}
			b.Set(nss[i], []byte(key), val)
			pending = append(pending, op{ns: i, key: key, val: string(val)})
		case p < 750:
			key := randKey()
			b.Delete(nss[i], []byte(key))
			pending = append(pending, op{ns: i, key: key, del: true})
		case p < 900:
			require.Equal(t, len(pending), b.Len())
			require.NoError(t, b.Commit())
			for _, o := range pending {
				if o.del {
					delete(want[o.ns], o.key)
				} else {
					want[o.ns][o.key] = []byte(o.val)
				}
			}
			pending = pending[:0]
		case p < 905:
			// A Clear between buffering and Commit does not touch the batch.
			require.NoError(t, nss[i].Clear())
			clear(want[i])
		default:
			key := randKey()
			var got []byte
			found, err := nss[i].Get([]byte(key), func(val []byte) error {
				got = append([]byte{}, val...)
				return nil
			})
			require.NoError(t, err)
			w, ok := want[i][key]
			require.Equal(t, ok, found, "step %d get %q/%q", step, names[i], key)
			require.Equal(t, string(w), string(got), "step %d get %q/%q", step, names[i], key)
		}
		if step%5000 == 0 {
			check(step)
		}
	}
	require.NoError(t, b.Commit())
	for _, o := range pending {
		if o.del {
			delete(want[o.ns], o.key)
		} else {
			want[o.ns][o.key] = []byte(o.val)
		}
	}
	check(steps)
	t.Logf("stats %+v", s.Stats())
}
