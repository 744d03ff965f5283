package pipeline

import (
	"math/rand/v2"
	"slices"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

func TestInternerStr(t *testing.T) {
	var in interner
	src := []byte("software|US")
	a := in.str(string(src[:8]))
	require.Equal(t, "software", a)
	b := in.str(unsafe.String(&src[0], 8)) // a string inside the caller's buffer
	require.Same(t, unsafe.StringData(a), unsafe.StringData(b), "one copy per value")
	src[0] = 'X' // the interned copy does not point into the source
	require.Equal(t, "software", in.str("software"))
	require.Equal(t, "", in.str(""))
}

func TestInternerList(t *testing.T) {
	var in interner
	l1 := in.list([]string{"hubspot", "segment"})
	l2 := in.list([]string{"hubspot", "segment"})
	require.Equal(t, []string{"hubspot", "segment"}, l1)
	require.Same(t, &l1[0], &l2[0], "equal lists share one copy")
	require.Equal(t, []string{"segment", "hubspot"}, in.list([]string{"segment", "hubspot"}), "order matters")
	require.Equal(t, []string{"hubspot"}, in.list([]string{"hubspot"}))
	// A zero byte inside an element must not make two lists one key.
	require.Equal(t, []string{"a", "b"}, in.list([]string{"a", "b"}))
	require.Equal(t, []string{"a\x00b"}, in.list([]string{"a\x00b"}))
	require.Equal(t, []string{"a", "b"}, in.list([]string{"a", "b"}))
	require.Nil(t, in.list(nil))
	require.NotNil(t, in.list([]string{}))
	require.Empty(t, in.list([]string{}))
}

func TestInternerBounded(t *testing.T) {
	var in interner
	for i := range maxInterned + 100 {
		s := string(rune('a'+i%26)) + string(rune(i))
		require.Equal(t, s, in.str(s))
	}
	require.LessOrEqual(t, len(in.strs), maxInterned)
}

// TestTimerHeap pops timers in due order: the oracle is a sort of the
// same due times.
func TestTimerHeap(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var h timerHeap
	var want []int64
	for round := range 50 {
		for range r.IntN(40) {
			d := r.Int64N(1000)
			h.push(timer{due: d, id: "x"})
			want = append(want, d)
		}
		slices.Sort(want)
		pops := r.IntN(len(want) + 1)
		if round == 49 {
			pops = len(want)
		}
		for i := range pops {
			require.Equal(t, want[i], h.pop().due)
		}
		want = want[pops:]
		require.Len(t, h, len(want))
	}
	require.Empty(t, h)
}
