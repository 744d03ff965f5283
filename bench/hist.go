package bench

import (
	"math/bits"
	"time"
)

// histogram is a log-linear histogram of durations in microseconds, in the
// manner of HdrHistogram: exact below 128 µs, then 64 buckets per power of
// two, so any recorded value is known within 1/64 (1.6 %). Memory is fixed
// (64 x 40 buckets covers up to 2^46 µs) and Record does not allocate.
type histogram struct {
	counts [64 * 41]uint64
	n      uint64
	max    uint64
}

const subBuckets = 64

func bucketOf(v uint64) int {
	if v < 2*subBuckets {
		return int(v)
	}
	shift := bits.Len64(v) - 7 // v>>shift is in [64, 128)
	return subBuckets*(shift+1) + int(v>>shift) - subBuckets
}

// bucketValue is the middle of bucket i's range, in microseconds.
func bucketValue(i int) float64 {
	if i < 2*subBuckets {
		return float64(i)
	}
	shift := i/subBuckets - 1
	m := uint64(i%subBuckets + subBuckets)
	lo := m << shift
	return float64(lo) + float64(uint64(1)<<shift)/2
}

func (h *histogram) Record(d time.Duration) {
	v := uint64(max(d.Microseconds(), 0))
	i := min(bucketOf(v), len(h.counts)-1)
	h.counts[i]++
	h.n++
	h.max = max(h.max, v)
}

// Quantile returns the value at quantile q (0..1).
func (h *histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.5)
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			v := min(bucketValue(i), float64(h.max))
			return time.Duration(v * float64(time.Microsecond))
		}
	}
	return time.Duration(h.max) * time.Microsecond
}

// Max is the largest recorded value.
func (h *histogram) Max() time.Duration { return time.Duration(h.max) * time.Microsecond }

// Count is the number of recorded values.
func (h *histogram) Count() uint64 { return h.n }
