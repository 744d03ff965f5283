package ipmatch

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestU128(t *testing.T) {
	max := u128{lo: 1<<32 - 1}
	n, ok := u128{lo: 5}.next(max)
	require.True(t, ok)
	require.Equal(t, u128{lo: 6}, n)
	_, ok = max.next(max)
	require.False(t, ok, "the last IPv4 address has no successor")
	n, ok = u128{0, ^uint64(0)}.next(maxV6)
	require.True(t, ok)
	require.Equal(t, u128{1, 0}, n, "carry into hi")
	require.Equal(t, u128{0, ^uint64(0)}, u128{1, 0}.prev())
	require.Equal(t, u128{0, ^uint64(0)}, u128{1, 0}.sub(u128{0, 1}))
	require.Equal(t, u128{0x20010db800000000, 1}, u128Of(netip.MustParseAddr("2001:db8::1")))
	require.Equal(t, u128{lo: 0x0a000001}, u128Of(netip.MustParseAddr("10.0.0.1")))
}

// TestFlattenOracle compares flatten with the definition on a small address
// universe: every address is answered by the covering span with the highest
// prio, then the narrowest, then the lowest seq.
func TestFlattenOracle(t *testing.T) {
	const universe = 64
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 500 {
		n := 1 + rng.IntN(8)
		var in []span
		for i := range n {
			a, b := uint64(rng.IntN(universe)), uint64(rng.IntN(universe))
			if a > b {
				a, b = b, a
			}
			in = append(in, span{start: u128{lo: a}, end: u128{lo: b}, ent: uint32(i), prio: uint8(rng.IntN(2)), seq: uint32(i)})
		}
		want := make([]int32, universe)
		for ip := range uint64(universe) {
			want[ip] = -1
			var best *span
			for i := range in {
				s := &in[i]
				if s.start.lo <= ip && ip <= s.end.lo {
					w, bw := s.end.lo-s.start.lo, uint64(0)
					if best != nil {
						bw = best.end.lo - best.start.lo
					}
					if best == nil || s.prio > best.prio || s.prio == best.prio && (w < bw || w == bw && s.seq < best.seq) {
						best = s
					}
				}
			}
			if best != nil {
				want[ip] = int32(best.ent)
			}
		}
		orig := append([]span(nil), in...)
		out := flatten(in, maxV4)
		tb := newTable(out, nil)
		for i := 1; i < len(out); i++ {
			require.True(t, out[i-1].end.less(out[i].start), "round %d: disjoint and sorted", round)
		}
		for ip := range uint32(universe) {
			require.Equal(t, want[ip], tb.find4(ip), "round %d ip %d spans %+v", round, ip, orig)
		}
		require.Equal(t, int32(-1), tb.find4(universe+1))
	}
}

func TestFlattenExtremes(t *testing.T) {
	// A range ending at the last address must not wrap around.
	all := span{start: u128{}, end: maxV4, ent: 0, seq: 0}
	top := span{start: u128{lo: 1<<32 - 256}, end: maxV4, ent: 1, seq: 1}
	tb := newTable(flatten([]span{all, top}, maxV4), nil)
	require.Equal(t, int32(0), tb.find4(0))
	require.Equal(t, int32(0), tb.find4(1<<32-257))
	require.Equal(t, int32(1), tb.find4(1<<32-256))
	require.Equal(t, int32(1), tb.find4(1<<32-1))

	all6 := span{start: u128{}, end: maxV6, ent: 0}
	top6 := span{start: u128{^uint64(0), 0}, end: maxV6, ent: 1, seq: 1}
	tb = newTable(nil, flatten([]span{all6, top6}, maxV6))
	require.Equal(t, int32(0), tb.find6(u128{}))
	require.Equal(t, int32(0), tb.find6(u128{^uint64(0) - 1, ^uint64(0)}))
	require.Equal(t, int32(1), tb.find6(maxV6))
}

func TestTableEmpty(t *testing.T) {
	var tb table
	require.Equal(t, int32(-1), tb.find(netip.MustParseAddr("1.2.3.4")))
	require.Equal(t, int32(-1), tb.find(netip.MustParseAddr("::1")))
}

func TestPrefixRange(t *testing.T) {
	f := func(cidr, first, last string) {
		t.Helper()
		p, err := parseCIDR(cidr)
		require.NoError(t, err)
		s, e := prefixRange(p)
		require.Equal(t, first, s.String())
		require.Equal(t, last, e.String())
	}
	f("10.0.0.0/8", "10.0.0.0", "10.255.255.255")
	f("0.0.0.0/0", "0.0.0.0", "255.255.255.255")
	f("192.0.2.7", "192.0.2.7", "192.0.2.7")
	f("2001:db8::/32", "2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")
	f("2001:db8::/127", "2001:db8::", "2001:db8::1")
	f("::ffff:198.51.100.0/120", "198.51.100.0", "198.51.100.255")
	_, err := parseCIDR("10.0.0.1/8")
	require.ErrorContains(t, err, "host bits set")
	_, err = parseCIDR("10.0.0.0/33")
	require.Error(t, err)
}

// TestIndexedFind checks the /16 index against a plain binary search on a
// table large enough to get one, at every range edge and at random.
func TestIndexedFind(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	var in []span
	var pos uint64
	for i := 0; pos < 1<<32-1<<20; i++ {
		pos += uint64(rng.IntN(1 << 19)) // gaps, sometimes none
		end := pos + uint64(rng.IntN(1<<18))
		in = append(in, span{start: u128{lo: pos}, end: u128{lo: end}, ent: uint32(i), seq: uint32(i)})
		pos = end + 1
	}
	in = append(in, span{start: u128{lo: 1<<32 - 1}, end: maxV4, ent: 1 << 30})
	tb := newTable(flatten(in, maxV4), nil)
	require.NotNil(t, tb.idx4, "%d ranges", len(tb.start4))
	plain := tb
	plain.idx4 = nil
	check := func(ip uint32) {
		require.Equal(t, plain.find4(ip), tb.find4(ip), "ip %d", ip)
	}
	for i := range tb.start4 {
		for _, ip := range []uint32{tb.start4[i] - 1, tb.start4[i], tb.end4[i], tb.end4[i] + 1} {
			check(ip)
		}
	}
	for range 100_000 {
		check(rng.Uint32())
	}
	check(0)
	check(1<<32 - 1)
	require.Equal(t, int32(1<<30), tb.find4(1<<32-1))
}
