package hygiene

import (
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
	"golang.org/x/text/width"
)

// TestWidthFoldRange: hasWidthFold, the fast path, covers every rune the
// width tables fold.
func TestWidthFoldRange(t *testing.T) {
	for r := rune(0); r <= utf8.MaxRune; r++ {
		if width.LookupRune(r).Folded() != 0 {
			require.True(t, hasWidthFold(r), "%U folds but is outside the fast path", r)
		}
	}
}

func TestFold(t *testing.T) {
	var f folder
	f.setT2S(map[rune]rune{'國': '国', '發': '发'})
	g := func(in string, names bool, want string) {
		t.Helper()
		require.Equal(t, want, f.foldString(in, names), "%q", in)
	}
	g("ＡＢＣ　ｘｙｚ１２３", false, "abc xyz123")
	g("ｶﾞｷﾞﾊﾟｰｸ", false, "ガギパーク")
	g("カ\u3099", false, "ガ") // combining voiced mark
	g("中國發展", false, "中国发展")
	g("Müller Straße Œuvre Ørsted Łódź", true, "mueller strasse oeuvre orsted lodz")
	g("Müller", false, "müller") // accents stay outside names
	g("شركة أرامكو", true, "شرکه ارامکو")
	g("دیجی\u200cکالا", true, "دیجی کالا")
	g("۱۲۳ ١٢٣", true, "123 123")
	g("キャノン", true, "キヤノン")
	g("㈱㈲㈜", true, "(株)(有)(주)")
}
