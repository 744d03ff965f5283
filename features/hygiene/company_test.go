package hygiene

import (
	"bufio"
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// newTestChecker builds a Checker from DefaultConfig changed by edit.
func newTestChecker(t testing.TB, edit func(*Config)) *Checker {
	t.Helper()
	cfg := DefaultConfig()
	if edit != nil {
		edit(&cfg)
	}
	c, err := New(cfg)
	require.NoError(t, err)
	return c
}

type labelledPair struct {
	same bool
	a, b string
	line int
}

func readPairs(t *testing.T, path string) []labelledPair {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var out []labelledPair
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.Split(line, "\t")
		require.Len(t, parts, 3, "%s:%d", path, n)
		require.Contains(t, []string{"same", "diff"}, parts[0], "%s:%d", path, n)
		out = append(out, labelledPair{same: parts[0] == "same", a: parts[1], b: parts[2], line: n})
	}
	require.NoError(t, sc.Err())
	return out
}

// TestCompanyMatcherPrecisionRecall measures the name matcher (no alias
// table: aliases are tested on their own) on hand-labelled pairs.
func TestCompanyMatcherPrecisionRecall(t *testing.T) {
	c := newTestChecker(t, func(cfg *Config) { cfg.Company.Aliases.Builtin = false })
	pairs := readPairs(t, "testdata/company_pairs.tsv")
	require.GreaterOrEqual(t, len(pairs), 150)
	var tp, fp, fn, tn int
	for _, p := range pairs {
		na, nb := c.Company(p.a), c.Company(p.b)
		s := c.CompanySimilarity(na, nb)
		got := s >= c.names.cfg.Threshold
		switch {
		case got && p.same:
			tp++
		case got && !p.same:
			fp++
			t.Logf("false positive (line %d, %.2f): %q %+v ~ %q %+v", p.line, s, p.a, na, p.b, nb)
		case !got && p.same:
			fn++
			t.Logf("false negative (line %d, %.2f): %q %+v ~ %q %+v", p.line, s, p.a, na, p.b, nb)
		default:
			tn++
		}
	}
	precision := float64(tp) / float64(tp+fp)
	recall := float64(tp) / float64(tp+fn)
	t.Logf("pairs %d (same %d, diff %d): tp %d fp %d fn %d tn %d precision %.3f recall %.3f",
		len(pairs), tp+fn, fp+tn, tp, fp, fn, tn, precision, recall)
	require.GreaterOrEqual(t, precision, 0.95, "precision")
	require.GreaterOrEqual(t, recall, 0.90, "recall")
}

func TestCompanyNormalize(t *testing.T) {
	c := newTestChecker(t, func(cfg *Config) { cfg.Company.Aliases.Builtin = false })
	f := func(name string, want CompanyName) {
		t.Helper()
		require.Equal(t, want, c.Company(name), "%q", name)
	}
	// Chinese: city prefix, parenthesised city, legal forms, industry.
	f("北京纷扬科技有限公司", CompanyName{Core: "纷扬", Region: "北京", Industry: "tech"})
	f("北京纷扬", CompanyName{Core: "纷扬", Region: "北京"})
	f("纷扬科技", CompanyName{Core: "纷扬", Industry: "tech"})
	f("纷扬科技（北京）有限公司", CompanyName{Core: "纷扬", Industry: "tech"})
	f("北京市纷扬网络科技股份有限公司", CompanyName{Core: "纷扬", Region: "北京", Industry: "tech"})
	// A branch goes with its place; the bank's own name stays whole when
	// stripping would leave only a place or a descriptor.
	f("中国工商银行北京市分行", CompanyName{Core: "工商", Region: "中国", Industry: "bank"})
	f("中国银行股份有限公司", CompanyName{Core: "中国银行"})
	f("北京银行", CompanyName{Core: "北京银行"})
	// Traditional script folds to simplified with the builtin mapping.
	f("華為技術有限公司", CompanyName{Core: "华为", Industry: "tech"})
	// English, German, French: case, punctuation, legal forms, accents.
	f("Microsoft Corp.", CompanyName{Core: "microsoft"})
	f("The Coca-Cola Company", CompanyName{Core: "coca cola"})
	f("Procter & Gamble Co.", CompanyName{Core: "procter gamble"})
	f("Amazon.com, Inc.", CompanyName{Core: "amazon"})
	f("SAP Deutschland SE & Co. KG", CompanyName{Core: "sap", Region: "德国"})
	f("Molkerei Alois Müller GmbH & Co. KG", CompanyName{Core: "alois mueller", Industry: "food"})
	f("Société Générale S.A.", CompanyName{Core: "generale"})
	f("Grupo Bimbo, S.A.B. de C.V.", CompanyName{Core: "bimbo"})
	f("ＡＣＭＥ　Ｃｏｒｐ．", CompanyName{Core: "acme"})
	// Persian and Arabic: leading legal form, letter variants, ZWNJ.
	f("شرکت ایران خودرو (سهامی عام)", CompanyName{Core: "ایران خودرو"})
	f("شرکت ايران خودرو", CompanyName{Core: "ایران خودرو"})
	f("دیجی‌کالا", CompanyName{Core: "دیجی کالا"})
	// Japanese: 株式会社 before or after, ㈱, half-width katakana.
	f("株式会社デンソー", CompanyName{Core: "デンソー"})
	f("トヨタ自動車株式会社", CompanyName{Core: "トヨタ", Industry: "auto"})
	f("㈱リクルート", CompanyName{Core: "リクルート"})
	f("ｿﾌﾄﾊﾞﾝｸ株式会社", CompanyName{Core: "ソフトバンク"})
	// Nothing to compare.
	f("", CompanyName{})
	f("  ---  ", CompanyName{})
	// A name that is only a legal form keeps it.
	f("有限公司", CompanyName{Core: "有限公司"})
}

func TestCompanySimilarity(t *testing.T) {
	c := newTestChecker(t, func(cfg *Config) { cfg.Company.Aliases.Builtin = false })
	f := func(a, b string, want float64) {
		t.Helper()
		require.InDelta(t, want, c.CompanySimilarity(c.Company(a), c.Company(b)), 0.001, "%q ~ %q", a, b)
	}
	f("北京纷扬科技有限公司", "纷扬科技", 1)
	f("北京纷扬科技有限公司", "成都纷扬科技有限公司", 0) // two cities
	f("北京纷扬科技有限公司", "北京纷扬贸易有限公司", 0) // two industries
	f("北京纷扬科技有限公司", "广东纷扬科技有限公司", 1) // a city and a province do not conflict
	// Containment: one CJK core inside the other scores ContainmentScore.
	f("纷扬", "纷扬云", 0.8)
	// Dice on padded bigrams: "^t tw wi il li io o$" vs one more "ll": 14/15.
	f("Twilio Inc.", "Twillio", 14.0/15)
	// Two-character cores differing in one: {^纷 纷扬 扬$} vs {^纷 纷杨 杨$}.
	f("纷扬", "纷杨", 2.0/6)
}

func TestCompanyAliases(t *testing.T) {
	c := newTestChecker(t, func(cfg *Config) {
		cfg.Company.Aliases.Files = []string{"testdata/alias_table.txt"}
	})
	without := newTestChecker(t, func(cfg *Config) { cfg.Company.Aliases.Builtin = false })
	pairs := readPairs(t, "testdata/aliases.tsv")
	for _, p := range pairs {
		got := c.SameCompany(p.a, p.b)
		require.Equal(t, p.same, got, "line %d: %q ~ %q: %+v %+v", p.line, p.a, p.b, c.Company(p.a), c.Company(p.b))
		if p.same {
			// Each "same" pair needs the table: the matcher alone does not
			// join it (else it belongs in company_pairs.tsv).
			require.False(t, without.SameCompany(p.a, p.b), "line %d: %q ~ %q matches without aliases", p.line, p.a, p.b)
		}
	}
	// An alias resolves to the company's normalised name.
	require.Equal(t, c.Company("北京易动纷享科技有限责任公司"), c.Company("纷享销客"))
	// Chains are followed; cycles are errors.
	chain := newTestChecker(t, func(cfg *Config) {
		cfg.Company.Aliases = List{Values: []string{"甲 => 乙乙公司", "乙乙 => 丙丙科技"}}
	})
	require.Equal(t, "丙丙", chain.Company("甲").Core)
	cfg := DefaultConfig()
	cfg.Company.Aliases = List{Values: []string{"甲甲 => 乙乙", "乙乙 => 甲甲"}}
	_, err := New(cfg)
	require.ErrorContains(t, err, "cycle")
}

// FuzzNormalizeCompany: any input normalises without panicking to valid,
// trimmed UTF-8; normalising is idempotent on the core; similarity is
// symmetric, in 0..1, and 1 for a name with itself.
func FuzzNormalizeCompany(f *testing.F) {
	for _, s := range []string{
		"北京纷扬科技有限公司", "纷扬科技（北京", "Molkerei Alois Müller GmbH & Co. KG",
		"شرکت ایران خودرو (سهامی عام)", "ｿﾌﾄﾊﾞﾝｸ株式会社", "㈱㈱", "((((", "a.b.c.d", "中国",
		"ー々〆", "e\u0301\u0301", "\xff\xfe", "Dr. August Oetker KG", "银行银行银行",
	} {
		f.Add(s, "纷扬")
	}
	c := newTestChecker(f, nil)
	f.Fuzz(func(t *testing.T, a, b string) {
		na, nb := c.Company(a), c.Company(b)
		for _, n := range []CompanyName{na, nb} {
			require.True(t, utf8.ValidString(n.Core), "%q", n.Core)
			require.Equal(t, n.Core, strings.TrimSpace(n.Core))
			require.NotContains(t, n.Core, "  ")
		}
		if na.Core != "" {
			require.Equal(t, 1.0, c.CompanySimilarity(na, na))
			// Idempotent unless the core (with the spaces it adds) is
			// over the length cap, which normalize truncates.
			if utf8.RuneCountInString(na.Core) <= maxNameRunes {
				require.Equal(t, na.Core, c.Company(na.Core).Core, "not idempotent on %q", a)
			}
		}
		s1, s2 := c.CompanySimilarity(na, nb), c.CompanySimilarity(nb, na)
		require.Equal(t, s1, s2)
		require.True(t, s1 >= 0 && s1 <= 1, "%v", s1)
	})
}
