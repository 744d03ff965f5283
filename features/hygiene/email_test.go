package hygiene

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestParseEmail(t *testing.T) {
	ok := func(in, want string) {
		t.Helper()
		e, err := ParseEmail(in)
		require.NoError(t, err, "%q", in)
		require.Equal(t, want, e.Address, "%q", in)
		require.Equal(t, want, e.Local+"@"+e.Domain)
	}
	ok("john.doe@example.com", "john.doe@example.com")
	ok("John.Doe@Example.COM", "john.doe@example.com")
	ok("  ann@acme.cn \t", "ann@acme.cn")
	ok("user+tag@gmail.com", "user+tag@gmail.com")
	ok("o'brien@example.ie", "o'brien@example.ie")
	ok("a@b.co", "a@b.co")
	ok("x_y-z@sub.example.co.uk", "x_y-z@sub.example.co.uk")
	ok("john@example.com.", "john@example.com")
	// Internationalised domains in their ASCII form (UTS 46 maps case).
	ok("info@bücher.de", "info@xn--bcher-kva.de")
	ok("info@BÜCHER.de", "info@xn--bcher-kva.de")
	ok("info@xn--bcher-kva.de", "info@xn--bcher-kva.de")
	ok("用户@例子.测试", "用户@xn--fsqu00a.xn--0zwm56d")
	ok("name@例え.jp", "name@xn--r8jz45g.jp")
	// Full-width input from a Chinese input method.
	ok("ｊｏｈｎ＠ｅｘａｍｐｌｅ．ｃｏｍ", "john@example.com")

	bad := func(in, reason string) {
		t.Helper()
		_, err := ParseEmail(in)
		require.Error(t, err, "%q", in)
		require.True(t, errors.Is(err, ErrEmail), "%q: %v", in, err)
		require.Equal(t, "parse e-mail: "+reason, err.Error(), "%q", in)
	}
	bad("", "empty")
	bad("   ", "empty")
	bad("plainaddress", "no @")
	bad("@example.com", "invalid local part")
	bad("john@", "invalid domain")
	bad("john..doe@example.com", "invalid local part")
	bad(".john@example.com", "invalid local part")
	bad("john.@example.com", "invalid local part")
	bad("john doe@example.com", "invalid local part")
	bad("Ann <ann@x.com>", "invalid local part")
	bad("john@@example.com", "invalid local part")
	bad(`"john"@example.com`, "quoted local part unsupported")
	bad(strings.Repeat("a", 65)+"@example.com", "local part over 64 bytes")
	bad("john@"+strings.Repeat("a", 250)+".com", "address over 254 bytes")
	bad("john@[192.168.0.1]", "address literal domain unsupported")
	bad("john@localhost", "invalid domain")
	bad("john@example", "invalid domain")
	bad("john@example.c", "invalid top-level domain")
	bad("john@example.123", "invalid top-level domain")
	bad("john@-example.com", "invalid domain")
	bad("john@exa_mple.com", "invalid domain")
	bad("john@example..com", "invalid domain")
	bad("john@ex ample.com", "invalid domain")
}

func TestEmailKey(t *testing.T) {
	f := func(in string, stripPlus, gmailDots bool, want string) {
		t.Helper()
		e, err := ParseEmail(in)
		require.NoError(t, err)
		require.Equal(t, want, emailKey(e, stripPlus, gmailDots))
	}
	f("First.Last+news@gmail.com", true, true, "firstlast@gmail.com")
	f("first.last@googlemail.com", true, true, "firstlast@gmail.com")
	f("first.last+x@gmail.com", false, true, "firstlast+x@gmail.com")
	f("first.last+x@gmail.com", true, false, "first.last@gmail.com")
	f("first.last+x@gmail.com", false, false, "first.last+x@gmail.com")
	// Dots matter outside Gmail; plus tags are stripped everywhere.
	f("first.last+crm@acme.com", true, true, "first.last@acme.com")
	// A local part that is only a tag keeps it.
	f("+tag@acme.com", true, true, "+tag@acme.com")
}

// FuzzParseEmail: no panic; an accepted address is normalised, within the
// length limits, a fixed point of ParseEmail, and its key is too.
func FuzzParseEmail(f *testing.F) {
	for _, s := range []string{
		"john.doe@example.com", "info@bücher.de", "用户@例子.测试", "ｊｏｈｎ＠ｅｘａｍｐｌｅ．ｃｏｍ",
		"a+b@gmail.com", `"q"@x.com`, "x@[1.2.3.4]", "@", "a@b", "a@xn--.com", "a@xn--bcher-kva.de",
		"a@b.c\u3002com", "İ@example.com", "a@\u200d.com", "\xff@x.com",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseEmail(s)
		if err != nil {
			require.ErrorIs(t, err, ErrEmail)
			return
		}
		require.Equal(t, e.Local+"@"+e.Domain, e.Address)
		require.LessOrEqual(t, len(e.Address), 254)
		require.LessOrEqual(t, len(e.Domain), 253)
		require.True(t, utf8.ValidString(e.Address))
		for i := 0; i < len(e.Domain); i++ {
			c := e.Domain[i]
			require.True(t, 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.', "domain %q", e.Domain)
		}
		again, err := ParseEmail(e.Address)
		require.NoError(t, err, "%q normalised to %q which does not parse", s, e.Address)
		require.Equal(t, e, again)
		k := emailKey(e, true, true)
		ke, err := ParseEmail(k)
		require.NoError(t, err, "key %q", k)
		require.Equal(t, k, emailKey(ke, true, true))
	})
}
