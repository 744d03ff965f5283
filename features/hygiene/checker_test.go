package hygiene

import (
	"fmt"
	"sync"
	"testing"

	"github.com/leadscore/leadscore/internal/event"
	"github.com/stretchr/testify/require"
)

// checkerWithLists has blacklists and a lexicon, as a customer sets them.
func checkerWithLists(t testing.TB) *Checker {
	t.Helper()
	return newTestChecker(t, func(cfg *Config) {
		cfg.Blacklist = BlacklistConfig{
			Emails:    List{Values: []string{"Spam.Mer+x@gmail.com"}},
			Domains:   List{Values: []string{"junk.example"}},
			Phones:    List{Values: []string{"139 1056 0000", "+49 30 22608751"}},
			IPs:       List{Values: []string{"203.0.113.0/24", "2001:db8::/32", "198.51.100.7"}},
			Companies: List{Values: []string{"纷扬科技", "Initech LLC"}},
		}
		cfg.Sensitive.Lexicons = []Lexicon{
			{Name: "ads", Severity: "reject", Values: []string{"代开发票", "刷单", "viagra"}},
			{Name: "competitors", Severity: "suspicious", Values: []string{"销售易", "Salesforce"}},
		}
	})
}

type findingKey struct {
	code  Code
	field string
	value string
}

func keys(v *Verdict) []findingKey {
	var out []findingKey
	for _, f := range v.Findings {
		out = append(out, findingKey{f.Code, f.Field, f.Value})
	}
	return out
}

func TestCheck(t *testing.T) {
	c := checkerWithLists(t)
	var v Verdict
	f := func(name string, in Input, rejected bool, want []findingKey, tags []Code) *Verdict {
		t.Helper()
		c.Check(&in, &v)
		require.Equal(t, want, keys(&v), name)
		require.Equal(t, rejected, v.Rejected, name)
		if len(tags) == 0 {
			require.Empty(t, v.Tags, name)
		} else {
			require.Equal(t, tags, v.Tags, name)
		}
		return &v
	}

	got := f("clean", Input{Email: "Li.Lei@Fenyang.cn", Phone: "139 1056 7823", CompanyName: "北京飞鹰网络有限公司", Title: "CTO"},
		false, nil, []Code{})
	require.Equal(t, Contact{
		Email: "li.lei@fenyang.cn", EmailDomain: "fenyang.cn", EmailKey: "li.lei@fenyang.cn",
		Phone: "+8613910567823", Company: CompanyName{Core: "飞鹰", Region: "北京", Industry: "tech"},
		CompanyDomain: "fenyang.cn", Region: "北京",
	}, got.Contact)

	got = f("free-mail: tagged, no company domain", Input{Email: "someone@qq.com"},
		false, []findingKey{{CodeEmailFreemail, "email", "qq.com"}}, []Code{CodeEmailFreemail})
	require.True(t, got.Contact.Freemail)
	require.Empty(t, got.Contact.CompanyDomain)

	f("free-mail subdomain", Input{Email: "someone@vip.163.com"},
		false, []findingKey{{CodeEmailFreemail, "email", "vip.163.com"}}, []Code{CodeEmailFreemail})
	f("disposable", Input{Email: "a@mailinator.com"},
		true, []findingKey{{CodeEmailDisposable, "email", "mailinator.com"}}, []Code{})

	got = f("role account: tagged, no dedup key", Input{Email: "no-reply@acme.cn"},
		false, []findingKey{{CodeEmailRole, "email", "no-reply"}}, []Code{CodeEmailRole})
	require.Empty(t, got.Contact.EmailKey)
	require.Equal(t, "acme.cn", got.Contact.CompanyDomain)

	f("invalid e-mail, valid phone: tag only", Input{Email: "li.lei@fenyang", Phone: "13910567823"},
		false, []findingKey{{CodeEmailInvalid, "email", "li.lei@fenyang"}}, []Code{CodeEmailInvalid})
	f("invalid e-mail and nothing else: no contact", Input{Email: "li.lei@@fenyang.cn"},
		true, []findingKey{{CodeEmailInvalid, "email", "li.lei@@fenyang.cn"}, {CodeContactMissing, "contact", ""}}, []Code{CodeEmailInvalid})
	f("invalid e-mail, a WeChat id: reachable", Input{Email: "x", Wechat: "LiLei_88"},
		false, []findingKey{{CodeEmailInvalid, "email", "x"}}, []Code{CodeEmailInvalid})
	f("no contact fields: a partial identify", Input{Name: "李雷"}, false, nil, []Code{})

	got = f("fake phone", Input{Email: "li@fenyang.cn", Phone: "13812345678"},
		true, []findingKey{{CodePhoneFake, "phone", "+8613812345678"}}, []Code{})
	require.Empty(t, got.Contact.Phone, "a fake number is not a key")
	f("test number", Input{Phone: "138-0013-8000"},
		true, []findingKey{{CodePhoneFake, "phone", "+8613800138000"}, {CodeContactMissing, "contact", ""}}, []Code{})
	f("fictional US number", Input{Email: "a@b.com", Phone: "+1 (202) 555-0123"},
		true, []findingKey{{CodePhoneFake, "phone", "+12025550123"}}, []Code{})
	f("unparseable but obviously typed", Input{Email: "a@b.com", Phone: "000000"},
		true, []findingKey{{CodePhoneFake, "phone", "000000"}}, []Code{})
	f("invalid phone", Input{Email: "a@b.com", Phone: "1391056782"},
		false, []findingKey{{CodePhoneInvalid, "phone", "1391056782"}}, []Code{CodePhoneInvalid})
	got = f("company country sets the phone region", Input{Phone: "030 22608750", Country: "de"}, false, nil, []Code{})
	require.Equal(t, "+493022608750", got.Contact.Phone)

	f("blacklisted e-mail by its key", Input{Email: "spammer@gmail.com"},
		true, []findingKey{{CodeEmailFreemail, "email", "gmail.com"}, {CodeBlacklistedEmail, "email", "spammer@gmail.com"}}, []Code{CodeEmailFreemail})
	f("blacklisted domain covers subdomains, both fields", Input{Email: "a@mail.junk.example", CompanyDomain: "https://www.junk.example/about"},
		true, []findingKey{{CodeBlacklistedDomain, "email", "junk.example"}, {CodeBlacklistedDomain, "company.domain", "junk.example"}}, []Code{})
	f("blacklisted phone in E.164", Input{Phone: "+86 13910560000"},
		true, []findingKey{{CodeBlacklistedPhone, "phone", "+8613910560000"}}, []Code{})
	f("blacklisted IPv4 range", Input{Email: "a@b.com", IP: "203.0.113.77"},
		true, []findingKey{{CodeBlacklistedIP, "ip", "203.0.113.77"}}, []Code{})
	f("blacklisted IPv6 range", Input{Email: "a@b.com", IP: "2001:db8:1::5"},
		true, []findingKey{{CodeBlacklistedIP, "ip", "2001:db8:1::5"}}, []Code{})
	f("IPv4-mapped form of a listed address", Input{Email: "a@b.com", IP: "::ffff:198.51.100.7"},
		true, []findingKey{{CodeBlacklistedIP, "ip", "::ffff:198.51.100.7"}}, []Code{})
	f("outside the ranges", Input{Email: "a@b.com", IP: "203.0.114.1"}, false, nil, []Code{})
	f("blacklisted company after normalisation", Input{CompanyName: "北京纷扬科技有限公司"},
		true, []findingKey{{CodeBlacklistedCompany, "company.name", "纷扬"}}, []Code{})
	f("English blacklist entry", Input{CompanyName: "INITECH, Inc."},
		true, []findingKey{{CodeBlacklistedCompany, "company.name", "initech"}}, []Code{})
	f("same trade name, another industry: not listed", Input{CompanyName: "北京纷扬贸易有限公司"}, false, nil, []Code{})

	f("sensitive words in every free-text field, each once", Input{
		Name: "VIAGRA", Title: "刷单刷单", CompanyName: "销售易代理",
		Fields: []Field{{Name: "comment", Text: "可以代開發票"}, {Name: "source", Text: "Salesforce ad"}},
	}, true, []findingKey{
		{CodeSensitiveWord, "name", "viagra"},
		{CodeSensitiveWord, "title", "刷单"},
		{CodeSensitiveWord, "company.name", "销售易"},
		{CodeSensitiveWord, "comment", "代开发票"},
		{CodeSensitiveWord, "source", "Salesforce"},
	}, []Code{CodeSensitiveWord})
	require.Equal(t, "ads", v.Findings[0].Detail)
	require.Equal(t, SeverityReject, v.Findings[0].Severity)
	require.Equal(t, SeveritySuspicious, v.Findings[2].Severity)
}

func TestCheckRegion(t *testing.T) {
	c := newTestChecker(t, nil)
	var v Verdict
	for in, want := range map[string]string{"北京市": "北京", "Beijing": "北京", " peking ": "北京", "Vorarlberg": "vorarlberg", "": ""} {
		c.Check(&Input{Region: in}, &v)
		require.Equal(t, want, v.Contact.Region, "%q", in)
	}
	c.Check(&Input{CompanyName: "上海纷扬科技"}, &v)
	require.Equal(t, "上海", v.Contact.Region, "from the company name when not given")
}

func TestSeverityOverride(t *testing.T) {
	c := newTestChecker(t, func(cfg *Config) {
		cfg.Severity = map[Code]string{CodeEmailFreemail: "reject", CodePhoneFake: "off"}
	})
	var v Verdict
	c.Check(&Input{Email: "a@gmail.com", Phone: "13800000000"}, &v)
	require.True(t, v.Rejected)
	require.Equal(t, []findingKey{{CodeEmailFreemail, "email", "gmail.com"}}, keys(&v))
}

func TestInputFromEvent(t *testing.T) {
	ev := &event.Event{Type: event.TypeIdentify}
	ev.Traits = event.Traits{Email: "a@b.com", Phone: "1", Name: "n", Title: "t", Wechat: "w",
		Company: event.Company{Name: "c", Domain: "d.com", Country: "CN"}}
	ev.Context.IP = "1.2.3.4"
	require.Equal(t, Input{Email: "a@b.com", Phone: "1", Name: "n", Title: "t", Wechat: "w",
		CompanyName: "c", CompanyDomain: "d.com", Country: "CN", IP: "1.2.3.4"}, InputFromEvent(ev))
}

func TestJobChange(t *testing.T) {
	c := newTestChecker(t, nil)
	f := func(prev, cur string, want bool) {
		t.Helper()
		got, ok := c.JobChange(prev, cur)
		require.Equal(t, want, ok, "%q -> %q", prev, cur)
		if ok {
			require.Equal(t, CodeJobChanged, got.Code)
			require.Equal(t, SeveritySuspicious, got.Severity)
		}
	}
	f("acme.com", "globex.com", true)
	f("li@acme.com", "li.lei@globex.cn", true)
	f("https://www.Acme.com/", "acme.com", false) // the same company
	f("acme.com", "mail.acme.com", false)         // a subdomain
	f("acme.com", "li@gmail.com", false)          // free-mail says nothing
	f("li@qq.com", "li@acme.com", false)
	f("acme.com", "li@mailinator.com", false) // disposable neither
	f("", "acme.com", false)
	f("acme.com", "not a domain", false)
}

// TestCheckerShared: one Checker, many goroutines, each with its Verdict
// (run with -race).
func TestCheckerShared(t *testing.T) {
	c := checkerWithLists(t)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			var v Verdict
			for i := range 200 {
				in := Input{Email: fmt.Sprintf("u%d.%d@fenyang.cn", g, i), Phone: "13910567823", CompanyName: "北京纷扬网络", Title: "刷单"}
				c.Check(&in, &v)
				if !v.Rejected || v.Contact.Phone != "+8613910567823" {
					t.Errorf("goroutine %d: %+v %+v", g, v.Findings, v.Contact)
					return
				}
			}
		})
	}
	wg.Wait()
}

// benchInput is a typical form lead: a company e-mail, a mobile, a
// company name, a title, one comment.
var benchInput = Input{
	Email: "Li.Lei@Fenyang-Tech.cn", Phone: "+86 139 1056 7823", Name: "李雷", Title: "采购经理",
	CompanyName: "北京纷扬网络科技有限公司", Country: "CN", IP: "36.112.10.8",
	Fields: []Field{{Name: "comment", Text: "想了解一下贵公司的销售管理系统价格，谢谢。"}},
}

// TestCheckAllocs pins the allocation budget of a steady-state Check:
// the strings Contact keeps, plus the phone library's for a number not
// seen lately.
func TestCheckAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	c := checkerWithLists(t)
	var v Verdict
	in := benchInput
	c.Check(&in, &v)
	n := testing.AllocsPerRun(200, func() { c.Check(&in, &v) })
	require.LessOrEqual(t, n, 3.0, "Check of a lead seen lately")
	phones := distinctPhones(1000) // more than the runs: none is in the Verdict's memo
	i := 0
	n = testing.AllocsPerRun(200, func() {
		in.Phone = phones[i%len(phones)]
		i++
		c.Check(&in, &v)
	})
	require.LessOrEqual(t, n, 70.0, "Check with a new phone number")
	in.Phone = ""
	names := distinctCompanies(1000)
	n = testing.AllocsPerRun(200, func() {
		in.CompanyName = names[i%len(names)]
		i++
		c.Check(&in, &v)
	})
	require.LessOrEqual(t, n, 6.0, "Check with a new company, no phone")
}

// distinctPhones are valid Chinese mobiles, none fake.
func distinctPhones(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("139%04d%04d", 1000+i*37%9000, 2000+i*53%7000)
	}
	return out
}

func distinctCompanies(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("北京飞鹰%c%c网络科技有限公司", rune('甲'+i%128), rune('甲'+i/128))
	}
	return out
}

// BenchmarkCheck: "repeat" is a lead seen lately (an identify repeated by
// the same visitor), "new" a lead whose phone and company are new to the
// Verdict's memo (more of them than it holds): the phone library's cost.
func BenchmarkCheck(b *testing.B) {
	c := checkerWithLists(b)
	phones, names := distinctPhones(3*memoSize), distinctCompanies(3*memoSize)
	run := func(name string, next func(i int) Input) {
		b.Run(name, func(b *testing.B) {
			var v Verdict
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				in := next(i)
				i++
				c.Check(&in, &v)
			}
		})
	}
	run("repeat", func(int) Input { return benchInput })
	run("new", func(i int) Input {
		in := benchInput
		in.Phone, in.CompanyName = phones[i%len(phones)], names[i%len(names)]
		return in
	})
	run("new-no-phone", func(i int) Input {
		in := benchInput
		in.Phone, in.CompanyName = "", names[i%len(names)]
		return in
	})
	run("email-only", func(int) Input { return Input{Email: "li.lei@fenyang-tech.cn"} })
}

func BenchmarkCompanyNormalize(b *testing.B) {
	c := newTestChecker(b, nil)
	b.ReportAllocs()
	for b.Loop() {
		c.Company("北京纷扬网络科技有限公司")
	}
}
