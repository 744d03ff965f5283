package hygiene

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// naiveFind is the oracle: every (end, pattern) with pattern equal to
// text[end-len:end], by brute force. A duplicate pattern reports its first
// index, like the automaton.
func naiveFind(patterns [][]rune, text []rune) [][2]int {
	var out [][2]int
	for end := 1; end <= len(text); end++ {
		seen := map[string]bool{}
		for pi, p := range patterns {
			if len(p) == 0 || len(p) > end || seen[string(p)] {
				continue
			}
			if slices.Equal(text[end-len(p):end], p) {
				seen[string(p)] = true
				out = append(out, [2]int{end, pi})
			}
		}
	}
	return out
}

func sortMatches(m [][2]int) [][2]int {
	slices.SortFunc(m, func(a, b [2]int) int {
		if a[0] != b[0] {
			return a[0] - b[0]
		}
		return a[1] - b[1]
	})
	return m
}

func TestAhoCorasickMatchesOracle(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	// Small alphabets make many overlaps and long failure chains; one
	// includes a CJK rune beyond the root's ASCII table, one is wide so
	// nodes take the binary search.
	alphabets := [][]rune{[]rune("ab"), []rune("abc纷"), []rune("abcdefghijklmnopqrstuvwxyz0123456789纷扬科技")}
	for round := range 600 {
		alpha := alphabets[round%len(alphabets)]
		gen := func(maxLen int) []rune {
			n := rng.IntN(maxLen + 1)
			s := make([]rune, n)
			for i := range s {
				s[i] = alpha[rng.IntN(len(alpha))]
			}
			return s
		}
		patterns := make([][]rune, 1+rng.IntN(20))
		for i := range patterns {
			patterns[i] = gen(6)
		}
		text := gen(200)
		m := buildAC(patterns)
		require.Equal(t, sortMatches(naiveFind(patterns, text)), sortMatches(m.find(text)),
			"round %d: patterns %q text %q", round, patterns, string(text))
	}
}

func newLexiconChecker(t testing.TB, words []string, inside bool) *Checker {
	t.Helper()
	return newTestChecker(t, func(cfg *Config) {
		cfg.Sensitive.Lexicons = []Lexicon{{Name: "test", Severity: "reject", Values: words, InsideWords: inside}}
	})
}

func TestSensitiveWordsFolding(t *testing.T) {
	c := newLexiconChecker(t, []string{"Viagra", "代开发票", "ガチャ", "cheap loans", "ass"}, false)
	f := func(text string, want ...string) {
		t.Helper()
		var got []string
		for _, m := range c.SensitiveWords(text, nil) {
			got = append(got, m.Word+"@"+strconv.Itoa(m.Start)+":"+text[m.Start:m.End])
		}
		require.Equal(t, want, got, "%q", text)
	}
	f("buy VIAGRA now", "Viagra@4:VIAGRA")
	// Full-width ASCII and the ideographic space fold to ASCII.
	f("ＶＩＡＧＲＡ", "Viagra@0:ＶＩＡＧＲＡ")
	f("CHEAP　LOANS!", "cheap loans@0:CHEAP　LOANS")
	// Traditional characters fold to simplified with the builtin mapping.
	f("可以代開發票，联系我", "代开发票@6:代開發票")
	f("代开发票", "代开发票@0:代开发票")
	// Half-width katakana with a voiced mark composes: ｶﾞﾁｬ is ガチャ.
	f("ｶﾞﾁｬ", "ガチャ@0:ｶﾞﾁｬ")
	// Whole words in spaced scripts: "ass" is not in "class".
	f("first class service")
	f("kick ass!", "ass@5:ass")
	f("", []string(nil)...)
	// Inside words when the lexicon says so.
	in := newLexiconChecker(t, []string{"ass"}, true)
	require.Len(t, in.SensitiveWords("first class", nil), 1)
}

// TestSensitiveWordsOverlap: every occurrence is reported, overlapping ones
// too, with offsets in the original text.
func TestSensitiveWordsOverlap(t *testing.T) {
	c := newLexiconChecker(t, []string{"发票", "代开发票", "开发"}, false)
	var got []string
	for _, m := range c.SensitiveWords("代开发票代开发票", nil) {
		got = append(got, m.Word+"@"+strconv.Itoa(m.Start))
	}
	// Matches are reported at their ends; at one end the longest first.
	require.Equal(t, []string{"开发@3", "代开发票@0", "发票@6", "开发@15", "代开发票@12", "发票@18"}, got)
}

// BenchmarkSensitiveScan shows the scan is linear: ns/op grows with the
// text while MB/s stays flat.
func BenchmarkSensitiveScan(b *testing.B) {
	words := make([]string, 0, 2000)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 2000 {
		words = append(words, "词"+strconv.Itoa(i)+string(rune('a'+rng.IntN(26))))
	}
	words = append(words, "代开发票", "viagra", "aaaaaaaaab")
	c := newLexiconChecker(b, words, true)
	unit := "这是一段普通的表单留言，想了解价格 price please, aaaaaaaaaaaa 代开发票。"
	for _, n := range []int{1 << 10, 1 << 14, 1 << 18} {
		text := strings.Repeat(unit, n/len(unit)+1)[:n]
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			b.ReportAllocs()
			var dst []WordMatch
			for b.Loop() {
				dst = c.SensitiveWords(text, dst[:0])
			}
		})
	}
}
