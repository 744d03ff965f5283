package hygiene

import (
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
	"golang.org/x/text/width"
)

// folder maps text to the form the sensitive-word automaton and the
// company-name normaliser compare: one rune in, zero to three runes out,
// without allocating. It is immutable once built and shared.
//
// Every fold does width (full-width ASCII to ASCII, half-width katakana and
// hangul to full width, the half-width voiced marks composed with the kana
// before them: "ｶﾞ" is "ガ"), case (simple lower case) and, when a mapping
// was loaded, traditional to simplified Chinese. The name fold (names true)
// also removes Latin diacritics (German umlauts become two letters, as
// Germans write them without: "Müller" is "mueller"), unifies Arabic and
// Persian letter variants and drops their vowel marks and tatweel, turns
// small kana into large ones ("キャノン" is "キヤノン"), native digits into
// ASCII ones, and expands the enclosed forms ㈱ ㈲ ㈜ to "(株)" "(有)" "(주)".
type folder struct {
	t2s map[rune]rune // traditional -> simplified; nil: none
	// t2sBMP marks the Basic Multilingual Plane runes t2s maps, so most
	// runes skip the map.
	t2sBMP *[0x10000 / 64]uint64
}

// setT2S installs a traditional -> simplified mapping.
func (f *folder) setT2S(m map[rune]rune) {
	f.t2s = m
	f.t2sBMP = new([0x10000 / 64]uint64)
	for r := range m {
		if r < 0x10000 {
			f.t2sBMP[r/64] |= 1 << (r % 64)
		}
	}
}

// voiced maps a kana to its form with the combining voiced mark U+3099
// (カ -> ガ); semivoiced with U+309A (ハ -> パ). Built once from Unicode's
// canonical compositions.
var voiced, semivoiced = composeTable(0x3099), composeTable(0x309A)

func composeTable(mark rune) map[rune]rune {
	m := make(map[rune]rune)
	for r := rune(0x3041); r <= 0x30FF; r++ {
		c := []rune(norm.NFC.String(string([]rune{r, mark})))
		if len(c) == 1 {
			m[r] = c[0]
		}
	}
	return m
}

// foldOut is a fold's output: up to three runes.
type foldOut struct {
	r [3]rune
	n int
}

// next folds the rune at s[i:] and returns its output and the bytes it
// consumed (two runes when a half-width voiced mark follows a kana).
func (f *folder) next(s string, i int, names bool) (foldOut, int) {
	r, n := rune(s[i]), 1
	if r >= utf8.RuneSelf {
		r, n = utf8.DecodeRuneInString(s[i:])
	} else {
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		return foldOut{r: [3]rune{r}, n: 1}, 1
	}
	r = widthFold(r)
	// Compose a following voiced or semivoiced mark (combining, or
	// half-width, which widthFold turns into the combining one).
	if i+n < len(s) && isKana(r) {
		m, mn := utf8.DecodeRuneInString(s[i+n:])
		m = widthFold(m)
		if c, ok := voiced[r]; ok && m == 0x3099 {
			r, n = c, n+mn
		} else if c, ok := semivoiced[r]; ok && m == 0x309A {
			r, n = c, n+mn
		}
	}
	if f.t2s != nil && (r >= 0x10000 || f.t2sBMP[r/64]&(1<<(r%64)) != 0) {
		if s, ok := f.t2s[r]; ok {
			r = s
		}
	}
	r = unicode.ToLower(r)
	if names {
		return nameFold(r), n
	}
	return foldOut{r: [3]rune{r}, n: 1}, n
}

// widthFold maps a rune to its canonical width: full-width ASCII to
// ASCII, half-width kana and hangul to full width, the ideographic space
// to a space.
func widthFold(r rune) rune {
	if !hasWidthFold(r) {
		return r
	}
	if f := width.LookupRune(r).Folded(); f != 0 {
		return f
	}
	return r
}

// hasWidthFold: the only runes with a width fold are the ideographic
// space, the won sign and the Halfwidth and Fullwidth Forms block
// (TestWidthFoldRange checks this against the width tables).
func hasWidthFold(r rune) bool {
	return r >= 0xFF00 && r <= 0xFFEF || r == 0x3000 || r == 0x20A9
}

func isKana(r rune) bool { return r >= 0x3041 && r <= 0x30FF }

// nameFold is the extra folding for company names, on a lower-cased rune.
func nameFold(r rune) foldOut {
	one := func(r rune) foldOut { return foldOut{r: [3]rune{r}, n: 1} }
	two := func(a, b rune) foldOut { return foldOut{r: [3]rune{a, b}, n: 2} }
	switch {
	case r < 0xC0:
		return one(r)
	case r <= 0x24F: // Latin-1 Supplement, Latin Extended-A and -B
		switch r {
		case 'ä':
			return two('a', 'e')
		case 'ö':
			return two('o', 'e')
		case 'ü':
			return two('u', 'e')
		case 'ß':
			return two('s', 's')
		case 'æ':
			return two('a', 'e')
		case 'œ':
			return two('o', 'e')
		case 'ø':
			return one('o')
		case 'ł':
			return one('l')
		case 'đ':
			return one('d')
		case 'þ':
			return two('t', 'h')
		case 'ı':
			return one('i')
		}
		// The base letter of a canonical decomposition: é -> e.
		var buf [utf8.UTFMax]byte
		k := utf8.EncodeRune(buf[:], r)
		if d := norm.NFD.PropertiesString(string(buf[:k])).Decomposition(); len(d) > 0 && d[0] < utf8.RuneSelf {
			return one(rune(d[0]))
		}
		return one(r)
	case r == 'ё':
		return one('е')
	case r >= 0x0600 && r <= 0x06FF:
		return arabicFold(r)
	case r == 0x200C || r == 0x200D: // zero-width (non-)joiner: a word break
		return one(' ')
	case r >= 0x3041 && r <= 0x30FA:
		if l, ok := smallKana[r]; ok {
			return one(l)
		}
		return one(r)
	case r == 0x3231:
		return foldOut{r: [3]rune{'(', '株', ')'}, n: 3}
	case r == 0x3232:
		return foldOut{r: [3]rune{'(', '有', ')'}, n: 3}
	case r == 0x321C:
		return foldOut{r: [3]rune{'(', '주', ')'}, n: 3}
	}
	return one(r)
}

// arabicFold unifies Arabic and Persian spellings of one letter and drops
// vowel marks and tatweel (n 0), so "شركة" and "شرکت" differ only where
// the words do.
func arabicFold(r rune) foldOut {
	switch {
	case r >= 0x064B && r <= 0x065F, r == 0x0670, r == 0x0640:
		return foldOut{}
	case r >= 0x0660 && r <= 0x0669:
		return foldOut{r: [3]rune{'0' + r - 0x0660}, n: 1}
	case r >= 0x06F0 && r <= 0x06F9:
		return foldOut{r: [3]rune{'0' + r - 0x06F0}, n: 1}
	}
	switch r {
	case 'ي', 'ى', 'ئ':
		r = 'ی'
	case 'ك':
		r = 'ک'
	case 'ة', 'ۀ':
		r = 'ه'
	case 'أ', 'إ', 'آ', 'ٱ':
		r = 'ا'
	case 'ؤ':
		r = 'و'
	}
	return foldOut{r: [3]rune{r}, n: 1}
}

// smallKana maps small kana to large ones: users type キャノン for キヤノン.
var smallKana = func() map[rune]rune {
	m := make(map[rune]rune)
	pairs := "ぁあぃいぅうぇえぉおっつゃやゅゆょよゎわゕかゖけァアィイゥウェエォオッツャヤュユョヨヮワヵカヶケ"
	rs := []rune(pairs)
	for i := 0; i+1 < len(rs); i += 2 {
		m[rs[i]] = rs[i+1]
	}
	return m
}()

// appendFolded appends the fold of s to dst.
func (f *folder) appendFolded(dst []rune, s string, names bool) []rune {
	for i := 0; i < len(s); {
		o, n := f.next(s, i, names)
		dst = append(dst, o.r[:o.n]...)
		i += n
	}
	return dst
}

// foldString is the fold of s as a string (for building lists and keys,
// not on the per-event path).
func (f *folder) foldString(s string, names bool) string {
	return string(f.appendFolded(nil, s, names))
}
