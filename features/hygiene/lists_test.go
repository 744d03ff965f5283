package hygiene

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestIPRangesOracle: the merged, sorted ranges answer like checking every
// prefix with netip.Prefix.Contains.
func TestIPRangesOracle(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	randAddr := func(v6 bool) netip.Addr {
		if v6 {
			var b [16]byte
			b[0], b[1] = 0x20, 0x01 // keep them near each other
			for i := 2; i < 16; i++ {
				b[i] = byte(rng.IntN(4))
			}
			return netip.AddrFrom16(b)
		}
		return netip.AddrFrom4([4]byte{10, byte(rng.IntN(4)), byte(rng.IntN(256)), byte(rng.IntN(256))})
	}
	for round := range 200 {
		var entries []string
		var prefixes []netip.Prefix
		for range 1 + rng.IntN(12) {
			v6 := rng.IntN(2) == 0
			a := randAddr(v6)
			bits := 8 + rng.IntN(25)
			if v6 {
				bits = 16 + rng.IntN(113)
			}
			p := netip.PrefixFrom(a, bits).Masked()
			entries = append(entries, p.String())
			prefixes = append(prefixes, p)
		}
		rs, err := loadIPRanges(List{Values: entries})
		require.NoError(t, err)
		for range 300 {
			a := randAddr(rng.IntN(2) == 0)
			want := false
			for _, p := range prefixes {
				want = want || p.Contains(a)
			}
			require.Equal(t, want, rs.contains(a), "round %d: %s in %v", round, a, entries)
			require.Equal(t, want, rs.contains(netip.AddrFrom16(a.As16())), "mapped form of %s", a)
		}
	}
	rs, err := loadIPRanges(List{Values: []string{"0.0.0.0/0", "::/0"}})
	require.NoError(t, err)
	require.True(t, rs.contains(netip.MustParseAddr("255.255.255.255")))
	require.True(t, rs.contains(netip.MustParseAddr("ffff::1")))
	_, err = loadIPRanges(List{Values: []string{"10.0.0.0/33"}})
	require.Error(t, err)
}

func TestDomainSet(t *testing.T) {
	s, err := loadDomains(List{Values: []string{"Example.COM", "@mail.test.org", "*.bücher.de"}}, "")
	require.NoError(t, err)
	f := func(d, want string, ok bool) {
		t.Helper()
		got, found := s.match(d)
		require.Equal(t, ok, found, d)
		require.Equal(t, want, got, d)
	}
	f("example.com", "example.com", true)
	f("a.b.example.com", "example.com", true)
	f("notexample.com", "", false)
	f("test.org", "", false)
	f("x.mail.test.org", "mail.test.org", true)
	f("xn--bcher-kva.de", "xn--bcher-kva.de", true)
	_, err = loadDomains(List{Values: []string{"not a domain"}}, "")
	require.ErrorContains(t, err, "values[0]")
}

func ExampleChecker_Check() {
	c, err := New(DefaultConfig())
	if err != nil {
		panic(err)
	}
	var v Verdict
	c.Check(&Input{Email: "Li.Lei@qq.com", Phone: "138-1234-5678", CompanyName: "北京纷扬科技有限公司"}, &v)
	fmt.Println(v.Rejected)
	for _, f := range v.Findings {
		fmt.Println(f)
	}
	fmt.Printf("%+v\n", v.Contact.Company)
	// Output:
	// true
	// email_freemail(suspicious) email="qq.com"
	// phone_fake(reject) phone="+8613812345678" ascending run
	// {Core:纷扬 Region:北京 Industry:tech}
}
