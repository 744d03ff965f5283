package bench

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestHistogram checks the quantiles against a sorted copy of the samples:
// within the histogram's 1/64 precision.
func TestHistogram(t *testing.T) {
	var h histogram
	r := rand.New(rand.NewPCG(1, 2))
	var all []time.Duration
	for range 100_000 {
		d := time.Duration(r.ExpFloat64() * float64(3*time.Millisecond))
		all = append(all, d)
		h.Record(d)
	}
	slices.Sort(all)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		want := all[int(q*float64(len(all)))-1]
		got := h.Quantile(q)
		require.InEpsilon(t, float64(want), float64(got), 0.02, "q=%v", q)
	}
	require.Equal(t, uint64(len(all)), h.Count())
	require.Equal(t, all[len(all)-1].Microseconds(), h.Max().Microseconds())
	for v := range uint64(1 << 20) {
		i := bucketOf(v)
		require.LessOrEqual(t, bucketValue(i)-float64(v), float64(v)/64+1, "v=%d", v)
		if v > 0 {
			require.GreaterOrEqual(t, i, bucketOf(v-1))
		}
	}
}
