package hygiene

// The hygiene stage of issue 8's per-stage benchmarks, at the checker level
// (pipeline's BenchmarkHygieneStage measures the worker's screen, with its
// per-person verdict cache): BenchmarkStageHygiene runs Check on the
// identify calls of the generated stream, BenchmarkStageHygieneBaseline a
// naive checker with the same result. One op is one identify; SetBytes is
// the mean identify record size.

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"
	"github.com/stretchr/testify/require"

	"github.com/leadscore/leadscore/internal/event"
	"github.com/leadscore/leadscore/internal/generate"
)

// stageIdentifies returns the first n identify calls of the stream
// `leadscore generate` writes by default (seed 1, 2000 accounts), decoded,
// and their mean record size.
func stageIdentifies(tb testing.TB, n int) ([]event.Event, int64) {
	tb.Helper()
	g := generate.New(generate.Config{Seed: 1, Accounts: 2000})
	out := make([]event.Event, 0, n)
	total := 0
	for len(out) < n {
		r := g.Next()
		if r.Malformed || r.Kind != "identify" {
			continue
		}
		var ev event.Event
		require.NoError(tb, event.Decode(r.Value, &ev, event.DefaultLimits()))
		ev.Raw = nil
		out = append(out, ev)
		total += len(r.Value)
	}
	return out, int64(total / n)
}

// stageIdentifyCount keeps the sample's generation quick: identifies are
// about 3 % of the stream.
const stageIdentifyCount = 1000

func BenchmarkStageHygiene(b *testing.B) {
	evs, size := stageIdentifies(b, stageIdentifyCount)
	c, err := New(DefaultConfig())
	require.NoError(b, err)
	var v Verdict
	b.ReportAllocs()
	b.SetBytes(size)
	i := 0
	for b.Loop() {
		in := InputFromEvent(&evs[i%len(evs)])
		c.Check(&in, &v)
		i++
	}
}

// BenchmarkStageHygieneBaseline is the checker written the obvious way:
// see naiveChecker.
func BenchmarkStageHygieneBaseline(b *testing.B) {
	evs, size := stageIdentifies(b, stageIdentifyCount)
	n := newNaiveChecker(b)
	b.ReportAllocs()
	b.SetBytes(size)
	i := 0
	for b.Loop() {
		in := InputFromEvent(&evs[i%len(evs)])
		_ = n.check(&in)
		i++
	}
}

// TestStageHygieneBaselineAgrees is the oracle check that the baseline is
// honest: on every identify of the sample the naive checker's verdict
// equals Check's (findings, rejection, tags and the normalised contact).
func TestStageHygieneBaselineAgrees(t *testing.T) {
	evs, _ := stageIdentifies(t, 1000)
	c, err := New(DefaultConfig())
	require.NoError(t, err)
	n := newNaiveChecker(t)
	var v Verdict
	kinds := map[Code]int{}
	for i := range evs {
		in := InputFromEvent(&evs[i])
		c.Check(&in, &v)
		got := n.check(&in)
		require.Equal(t, v.Rejected, got.Rejected, "identify %d: %+v", i, in)
		require.Equal(t, nilIfEmpty(v.Findings), nilIfEmpty(got.Findings), "identify %d: %+v", i, in)
		require.Equal(t, nilIfEmpty(v.Tags), nilIfEmpty(got.Tags), "identify %d: %+v", i, in)
		require.Equal(t, v.Contact, got.Contact, "identify %d: %+v", i, in)
		for _, f := range v.Findings {
			kinds[f.Code]++
		}
	}
	// The sample exercises the checks, not only the clean path.
	for _, code := range []Code{CodeEmailFreemail, CodePhoneInvalid} {
		require.Positive(t, kinds[code], "sample has no %s", code)
	}
	t.Logf("findings in the sample: %v", kinds)
}

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

// naiveChecker is Check under DefaultConfig written the obvious way: a
// regular expression for the e-mail, lists in maps of lower-cased strings
// read from the data files, a parent-domain walk by strings.Split and
// strings.Join, phonenumbers.Parse and Format into fresh values, a regular
// expression per fake-number pattern, and a fresh Verdict per call.
//
// It covers what the generated identifies exercise: ASCII e-mail addresses
// and domains (no IDNA or full-width forms, a generic "invalid" detail for a
// bad address) and no blacklists or lexicons (DefaultConfig has none). The
// company name goes through the engine's own normaliser (Checker.Company,
// without the memo): there is no obvious way to write that one, so both
// sides pay for it.
type naiveChecker struct {
	c                           *Checker
	region                      string // default_region
	fakeRun                     int    // phone.fake_run
	email, domain               *regexp.Regexp
	freemail, disposable, roles map[string]bool
	fake                        []*regexp.Regexp
}

func newNaiveChecker(tb testing.TB) *naiveChecker {
	tb.Helper()
	c, err := New(DefaultConfig())
	require.NoError(tb, err)
	lines := func(file string) []string {
		b, err := os.ReadFile("data/" + file)
		require.NoError(tb, err)
		var out []string
		for l := range strings.Lines(string(b)) {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
				out = append(out, l)
			}
		}
		return out
	}
	set := func(file string, norm func(string) string) map[string]bool {
		m := map[string]bool{}
		for _, l := range lines(file) {
			m[norm(strings.ToLower(l))] = true
		}
		return m
	}
	domain := func(s string) string { return strings.TrimPrefix(strings.TrimPrefix(s, "@"), "*.") }
	cfg := DefaultConfig()
	n := &naiveChecker{
		c:          c,
		region:     cfg.DefaultRegion,
		fakeRun:    cfg.Phone.FakeRun,
		email:      regexp.MustCompile("^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*@([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,}$"),
		domain:     regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,}$`),
		freemail:   set("freemail.txt", domain),
		disposable: set("disposable.txt", domain),
		roles:      set("roles.txt", func(s string) string { return strings.NewReplacer("-", "", "_", "", ".", "").Replace(s) }),
	}
	for _, l := range lines("fake_phones.txt") {
		p := regexp.QuoteMeta(strings.ReplaceAll(l, " ", ""))
		n.fake = append(n.fake, regexp.MustCompile("^"+strings.ReplaceAll(p, "x", `\d`)+"$"))
	}
	return n
}

func (n *naiveChecker) check(in *Input) *Verdict {
	v := &Verdict{}
	add := func(code Code, field, value, detail string) {
		sev := DefaultSeverity(code)
		v.Findings = append(v.Findings, Finding{Code: code, Severity: sev, Field: field, Value: value, Detail: detail})
		if sev == SeverityReject {
			v.Rejected = true
		}
		if sev == SeveritySuspicious && !containsCode(v.Tags, code) {
			v.Tags = append(v.Tags, code)
		}
	}
	ct := &v.Contact

	emailOK := false
	if in.Email != "" {
		addr := strings.ToLower(strings.TrimSpace(in.Email))
		if !n.email.MatchString(addr) {
			add(CodeEmailInvalid, "email", in.Email, "invalid")
		} else {
			emailOK = true
			at := strings.LastIndex(addr, "@")
			local, dom := addr[:at], addr[at+1:]
			ct.Email, ct.EmailDomain = addr, dom
			if d := listed(n.disposable, dom); d != "" {
				ct.Freemail = true
				add(CodeEmailDisposable, "email", d, "")
			} else if d := listed(n.freemail, dom); d != "" {
				ct.Freemail = true
				add(CodeEmailFreemail, "email", d, "")
			}
			base, _, _ := strings.Cut(local, "+")
			if base == "" {
				base = local // a local part that is only a tag keeps it
			}
			if n.roles[strings.NewReplacer("-", "", "_", "", ".", "").Replace(base)] {
				add(CodeEmailRole, "email", local, "")
			} else {
				key := base + "@" + dom
				if dom == "gmail.com" || dom == "googlemail.com" {
					key = strings.ReplaceAll(base, ".", "") + "@gmail.com"
				}
				ct.EmailKey = key
			}
		}
	}

	phoneOK := false
	if raw := strings.TrimSpace(in.Phone); raw != "" {
		region := n.region
		if c := strings.ToUpper(in.Country); len(c) == 2 && phonenumbers.GetCountryCodeForRegion(c) != 0 {
			region = c
		}
		num, err := phonenumbers.Parse(raw, region)
		valid := err == nil && phonenumbers.IsValidNumber(num)
		if err == nil && !valid && raw[0] != '+' {
			cc := strconv.Itoa(phonenumbers.GetCountryCodeForRegion(region))
			if strings.HasPrefix(digits(raw), cc) {
				if n2, err2 := phonenumbers.Parse("+"+raw, region); err2 == nil && phonenumbers.IsValidNumber(n2) {
					num, valid = n2, true
				}
			}
		}
		switch {
		case err != nil:
			if why := n.fakeDigits(digits(raw)); why != "" {
				add(CodePhoneFake, "phone", in.Phone, why)
			} else {
				add(CodePhoneInvalid, "phone", in.Phone, "not a phone number")
			}
		case !valid:
			e164 := phonenumbers.Format(num, phonenumbers.E164)
			if n.fakeListed(e164) {
				add(CodePhoneFake, "phone", e164, fakeListed)
			} else if why := n.fakeDigits(digits(raw)); why != "" {
				add(CodePhoneFake, "phone", in.Phone, why)
			} else {
				add(CodePhoneInvalid, "phone", in.Phone, "not a valid number for its region")
			}
		default:
			e164 := phonenumbers.Format(num, phonenumbers.E164)
			if n.fakeListed(e164) {
				add(CodePhoneFake, "phone", e164, fakeListed)
			} else if why := n.fakeDigits(phonenumbers.GetNationalSignificantNumber(num)); why != "" {
				add(CodePhoneFake, "phone", e164, why)
			} else {
				ct.Phone, phoneOK = e164, true
			}
		}
	}

	ct.Wechat = strings.ToLower(strings.TrimSpace(in.Wechat))
	if (in.Email != "" || in.Phone != "") && !emailOK && !phoneOK && ct.Wechat == "" {
		add(CodeContactMissing, "contact", "", "no valid e-mail, phone or WeChat id")
	}
	if in.CompanyName != "" {
		ct.Company = n.c.Company(in.CompanyName)
	}
	if in.CompanyDomain != "" {
		d := strings.ToLower(strings.TrimSpace(in.CompanyDomain))
		if _, after, ok := strings.Cut(d, "://"); ok {
			d = after
		}
		if i := strings.IndexAny(d, "/?#"); i >= 0 {
			d = d[:i]
		}
		if i := strings.LastIndex(d, ":"); i >= 0 {
			d = d[:i]
		}
		d = strings.TrimSuffix(strings.TrimPrefix(d, "www."), ".")
		if n.domain.MatchString(d) {
			ct.CompanyDomain = d
		}
	}
	if ct.CompanyDomain == "" && ct.EmailDomain != "" && !ct.Freemail {
		ct.CompanyDomain = ct.EmailDomain
	}
	ct.Region = ct.Company.Region
	return v
}

func containsCode(cs []Code, c Code) bool {
	for _, x := range cs {
		if x == c {
			return true
		}
	}
	return false
}

// listed returns the entry of set covering domain (itself or a parent).
func listed(set map[string]bool, domain string) string {
	parts := strings.Split(domain, ".")
	for i := range parts {
		if d := strings.Join(parts[i:], "."); set[d] {
			return d
		}
	}
	return ""
}

func (n *naiveChecker) fakeListed(e164 string) bool {
	for _, re := range n.fake {
		if re.MatchString(e164) {
			return true
		}
	}
	return false
}

func digits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// fakeDigits: the whole number (five digits or more) or its last fakeRun
// digits are one repeated digit or one ascending or descending run (mod 10).
func (n *naiveChecker) fakeDigits(d string) string {
	kind := func(d string) string {
		same, up, down := true, true, true
		for i := 1; i < len(d); i++ {
			a, b := int(d[i-1]-'0'), int(d[i]-'0')
			same = same && a == b
			up = up && b == (a+1)%10
			down = down && b == (a+9)%10
		}
		switch {
		case same:
			return "one repeated digit"
		case up:
			return "ascending run"
		case down:
			return "descending run"
		}
		return ""
	}
	if len(d) < 5 {
		return ""
	}
	if why := kind(d); why != "" {
		return why
	}
	if len(d) > n.fakeRun {
		return kind(d[len(d)-n.fakeRun:])
	}
	return ""
}
