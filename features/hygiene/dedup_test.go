package hygiene

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"reflect"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func day(n int) time.Time { return t0.Add(time.Duration(n) * 24 * time.Hour) }

// lead builds a Lead from raw traits through Check, as the pipeline does.
func lead(t testing.TB, c *Checker, id, owner string, in Input) Lead {
	t.Helper()
	var v Verdict
	c.Check(&in, &v)
	return Lead{ID: id, Owner: owner, Source: "form:" + id, Contact: v.Contact}
}

func dedupChecker(t testing.TB, policies ...Policy) *Checker {
	t.Helper()
	return newTestChecker(t, func(cfg *Config) {
		if len(policies) > 0 {
			cfg.Dedup.Policies = policies
		}
	})
}

func TestDedupSingleKeys(t *testing.T) {
	c := dedupChecker(t)
	x := c.NewDedupIndex(nil)
	x.Add(lead(t, c, "L1", "alice", Input{Phone: "139 1056 7823"}), day(0))
	x.Add(lead(t, c, "L2", "bob", Input{Email: "first.last@gmail.com"}), day(0))
	x.Add(lead(t, c, "L3", "carol", Input{Wechat: "LiLei_88"}), day(0))

	f := func(in Input, wantID, policy, rule string) {
		t.Helper()
		m, ok := x.Match(ptr(lead(t, c, "N", "dave", in)), day(10))
		require.True(t, ok, "%+v", in)
		require.Equal(t, wantID, m.ExistingID)
		require.Equal(t, policy, m.Policy)
		require.Equal(t, rule, m.Rule)
		require.Equal(t, 1.0, m.Score)
		require.Equal(t, ActionMerge, m.Action)
	}
	f(Input{Phone: "+86 13910567823"}, "L1", "phone", "phone=+8613910567823")
	f(Input{Email: "First.Last+promo@googlemail.com"}, "L2", "email", "email=firstlast@gmail.com")
	f(Input{Wechat: " lilei_88 "}, "L3", "wechat", "wechat=lilei_88")

	_, ok := x.Match(ptr(lead(t, c, "N", "", Input{Phone: "13910567824"})), day(10))
	require.False(t, ok, "another number")
	_, ok = x.Match(ptr(lead(t, c, "L1", "", Input{Phone: "13910567823"})), day(10))
	require.False(t, ok, "a lead is not its own duplicate")
	_, ok = x.Match(ptr(lead(t, c, "N", "", Input{Email: "info@acme.cn"})), day(10))
	require.False(t, ok)
}

func ptr[T any](v T) *T { return &v }

func TestDedupPolicyOrderAndActions(t *testing.T) {
	c := dedupChecker(t,
		Policy{Name: "email", Kind: KindEmail, Window: Duration(30 * 24 * time.Hour), Action: "reassign", Notify: true},
		Policy{Name: "phone", Kind: KindPhone, Window: Duration(30 * 24 * time.Hour), Action: "tag"},
	)
	x := c.NewDedupIndex(nil)
	x.Add(lead(t, c, "P", "alice", Input{Phone: "13910567823"}), day(0))
	x.Add(lead(t, c, "E", "bob", Input{Email: "ann@acme.cn"}), day(1))
	// Both match; the first policy in config order decides.
	m, ok := x.Match(ptr(lead(t, c, "N", "carol", Input{Phone: "13910567823", Email: "ann@acme.cn"})), day(2))
	require.True(t, ok)
	require.Equal(t, Merge{
		LeadID: "N", ExistingID: "E", MatchedID: "E", Policy: "email", Kind: KindEmail, Rule: "email=ann@acme.cn",
		Score: 1, Action: ActionReassign, Owner: "carol", NotifyOwner: "bob", Source: "form:N", ExistingAt: day(1),
	}, m)
	// Reassign to the same owner notifies nobody; without an owner the
	// existing one keeps it.
	m, _ = x.Match(ptr(lead(t, c, "N", "bob", Input{Email: "ann@acme.cn"})), day(2))
	require.Equal(t, "bob", m.Owner)
	require.Empty(t, m.NotifyOwner)
	m, _ = x.Match(ptr(lead(t, c, "N", "", Input{Email: "ann@acme.cn"})), day(2))
	require.Equal(t, "bob", m.Owner)
	require.Empty(t, m.NotifyOwner)
	m, _ = x.Match(ptr(lead(t, c, "N", "carol", Input{Phone: "13910567823"})), day(2))
	require.Equal(t, ActionTag, m.Action)
	require.Equal(t, "alice", m.Owner)
}

func TestDedupWindowExpiry(t *testing.T) {
	c := dedupChecker(t,
		Policy{Name: "phone", Kind: KindPhone, Window: Duration(90 * 24 * time.Hour), Action: "merge"},
		Policy{Name: "email", Kind: KindEmail, Window: Duration(180 * 24 * time.Hour), Action: "merge"},
	)
	x := c.NewDedupIndex(nil)
	x.Add(lead(t, c, "L1", "", Input{Phone: "13910567823", Email: "ann@acme.cn"}), day(0))
	probe := lead(t, c, "N", "", Input{Phone: "13910567823"})
	_, ok := x.Match(&probe, day(90))
	require.True(t, ok, "90 days: inside the phone window")
	_, ok = x.Match(&probe, day(91))
	require.False(t, ok, "91 days: outside it")
	// The e-mail policy's longer window still finds it.
	m, ok := x.Match(ptr(lead(t, c, "N", "", Input{Email: "ann@acme.cn"})), day(150))
	require.True(t, ok)
	require.Equal(t, "email", m.Policy)
	// Out of order: a lead remembered later than the probe's time matches.
	_, ok = x.Match(&probe, day(-5))
	require.True(t, ok)
	// Event time passing the longest window expires the entry for good.
	x.Add(lead(t, c, "L2", "", Input{Phone: "13910567000"}), day(180))
	require.Equal(t, 2, x.Len())
	x.Add(lead(t, c, "L3", "", Input{Phone: "13910567111"}), day(181))
	require.Equal(t, 2, x.Len(), "L1 expired")
	_, ok = x.Match(ptr(lead(t, c, "N", "", Input{Email: "ann@acme.cn"})), day(181))
	require.False(t, ok)
	require.Equal(t, 0, x.Expire(day(200)))
	require.Equal(t, 2, x.Expire(day(400)))
	require.Equal(t, 0, x.Len())
}

func TestDedupCompany(t *testing.T) {
	c := dedupChecker(t, Policy{
		Name: "b2b", Kind: KindCompany, With: []string{WithDomain, WithRegion, WithPhone},
		Threshold: 0.8, Window: Duration(180 * 24 * time.Hour), Action: "tag",
	})
	x := c.NewDedupIndex(nil)
	x.Add(lead(t, c, "A", "alice", Input{CompanyName: "北京纷扬科技有限公司", Email: "li@fenyang.cn", Phone: "13910567823"}), day(0))
	x.Add(lead(t, c, "B", "bob", Input{CompanyName: "Fabrikam, Inc.", CompanyDomain: "fabrikam.com", Region: "Shanghai"}), day(0))

	f := func(in Input, want string, rule string) {
		t.Helper()
		m, ok := x.Match(ptr(lead(t, c, "N", "", in)), day(30))
		if want == "" {
			require.False(t, ok, "%+v: %+v", in, m)
			return
		}
		require.True(t, ok, "%+v", in)
		require.Equal(t, want, m.ExistingID)
		require.Equal(t, rule, m.Rule)
	}
	// Name plus domain (the e-mail's, as the company domain).
	f(Input{CompanyName: "纷扬科技", Email: "wang@fenyang.cn"}, "A", "company~1.00+domain=fenyang.cn")
	// Name plus the region in the name.
	f(Input{CompanyName: "北京纷扬"}, "A", "company~1.00+region=北京")
	// Name plus phone.
	f(Input{CompanyName: "纷扬科技（北京）有限公司", Phone: "+8613910567823"}, "A", "company~1.00+phone=+8613910567823")
	// The name alone is not enough for this policy.
	f(Input{CompanyName: "纷扬科技"}, "", "")
	// Same domain, different company: no.
	f(Input{CompanyName: "北京飞鹰科技", Email: "x@fenyang.cn"}, "", "")
	// Containment (0.8) meets this policy's threshold with a domain.
	f(Input{CompanyName: "纷扬云", Email: "zhao@fenyang.cn"}, "A", "company~0.80+domain=fenyang.cn")
	// Region from the input, canonical: "Shanghai" is 上海.
	f(Input{CompanyName: "FABRIKAM INC", Region: "上海市"}, "B", "company~1.00+region=上海")
	f(Input{CompanyName: "Fabrikam Ltd", Region: "Berlin"}, "", "")
}

func TestDedupAliases(t *testing.T) {
	c := dedupChecker(t, Policy{Name: "name", Kind: KindCompany, Threshold: 0.85, Window: Duration(90 * 24 * time.Hour), Action: "merge"})
	x := c.NewDedupIndex(nil)
	x.Add(lead(t, c, "F", "alice", Input{CompanyName: "北京易动纷享科技有限责任公司"}), day(0))
	// The product name stands for the company (builtin alias table), and
	// shares its blocking key.
	probe := lead(t, c, "N", "", Input{CompanyName: "纷享销客"})
	require.Equal(t, c.Keys(ptr(lead(t, c, "F", "", Input{CompanyName: "北京易动纷享科技有限责任公司"}))), c.Keys(&probe))
	m, ok := x.Match(&probe, day(1))
	require.True(t, ok)
	require.Equal(t, "F", m.ExistingID)
	require.Equal(t, "company~1.00", m.Rule)
	_, ok = x.Match(ptr(lead(t, c, "N", "", Input{CompanyName: "北京纷扬科技"})), day(1))
	require.False(t, ok)
}

func TestDedupMergedInto(t *testing.T) {
	c := dedupChecker(t)
	x := c.NewDedupIndex(nil)
	a := lead(t, c, "A", "alice", Input{Phone: "13910567823"})
	a.Account = "fenyang.cn"
	x.Add(a, day(0))
	b := lead(t, c, "B", "bob", Input{Phone: "13910567823", Email: "b@acme.cn"})
	b.Account = "acme.cn"
	m, ok := x.Match(&b, day(1))
	require.True(t, ok)
	require.Equal(t, "fenyang.cn", m.ExistingAccount)
	b.MergedInto, b.IntoAccount = m.ExistingID, m.ExistingAccount
	x.Add(b, day(1))
	// A later duplicate by B's e-mail is reported against the survivor A,
	// in A's account.
	m, ok = x.Match(ptr(lead(t, c, "C", "", Input{Email: "b@acme.cn"})), day(2))
	require.True(t, ok)
	require.Equal(t, "A", m.ExistingID)
	require.Equal(t, "B", m.MatchedID)
	require.Equal(t, "fenyang.cn", m.ExistingAccount)
	// A itself coming back is not a duplicate of B.
	_, ok = x.Match(ptr(lead(t, c, "A", "", Input{Email: "b@acme.cn"})), day(2))
	require.False(t, ok)
}

func TestDedupBounds(t *testing.T) {
	c := newTestChecker(t, func(cfg *Config) {
		cfg.Dedup.MaxEntries = 3
		cfg.Dedup.MaxPerKey = 2
	})
	x := c.NewDedupIndex(nil)
	for i := range 5 {
		x.Add(lead(t, c, fmt.Sprintf("L%d", i), "", Input{Phone: fmt.Sprintf("1391056%04d", 7001+i*13)}), day(i))
	}
	require.Equal(t, 3, x.Len())
	require.Equal(t, uint64(2), x.Evicted())
	ids := []string{}
	for _, e := range x.Snapshot() {
		ids = append(ids, e.Lead.ID)
	}
	require.Equal(t, []string{"L2", "L3", "L4"}, ids, "the oldest went")
	// Three leads under one company block: the oldest leaves the block.
	y := c.NewDedupIndex(nil)
	for i, name := range []string{"纷扬科技", "纷扬贸易", "纷扬咨询"} {
		y.Add(lead(t, c, fmt.Sprintf("C%d", i), "", Input{CompanyName: name}), day(i))
	}
	require.Equal(t, 2, y.Len(), "C0 had only the block key")
}

func TestDedupOwnsKeys(t *testing.T) {
	c := dedupChecker(t)
	// Two partitions: a key belongs to the partition its hash picks.
	part := func(k string) int { h := fnv.New32a(); h.Write([]byte(k)); return int(h.Sum32() % 2) }
	idx := [2]*DedupIndex{}
	for p := range idx {
		idx[p] = c.NewDedupIndex(func(k string) bool { return part(k) == p })
	}
	a := lead(t, c, "A", "", Input{Phone: "13910567823", Email: "ann@acme.cn"})
	route := func(l Lead, at time.Time) (matches []Merge) {
		seen := map[int]bool{}
		for _, k := range c.Keys(&l) {
			p := part(k)
			if seen[p] {
				continue
			}
			seen[p] = true
			if m, ok := idx[p].Match(&l, at); ok {
				matches = append(matches, m)
			}
			idx[p].Add(l, at)
		}
		return matches
	}
	route(a, day(0))
	require.Equal(t, len(c.Keys(&a)), idx[0].Len()+idx[1].Len(), "each index keeps only owned keys")
	ms := route(lead(t, c, "B", "", Input{Email: "ann@acme.cn"}), day(1))
	require.Len(t, ms, 1)
	require.Equal(t, "A", ms[0].ExistingID)
}

func TestDedupSnapshotRestore(t *testing.T) {
	c := dedupChecker(t)
	x := c.NewDedupIndex(nil)
	x.Add(lead(t, c, "A", "alice", Input{Phone: "13910567823", CompanyName: "北京纷扬科技有限公司", Email: "li@fenyang.cn"}), day(0))
	x.Add(lead(t, c, "B", "bob", Input{Email: "bob@globex.com", Wechat: "bob_w"}), day(3))
	x.Add(Lead{ID: "C", MergedInto: "A", Contact: Contact{Phone: "+8613910567000"}}, day(5))

	var changed []string
	x.Changes(func(id string, e *DedupEntry) { changed = append(changed, id) })
	require.Equal(t, []string{"A", "B", "C"}, changed)
	x.Changes(func(string, *DedupEntry) { t.Fatal("no changes since") })

	snap := x.Snapshot()
	data, err := json.Marshal(snap)
	require.NoError(t, err)
	var back []DedupEntry
	require.NoError(t, json.Unmarshal(data, &back))
	require.Equal(t, snap, back, "JSON round trip")

	y := c.NewDedupIndex(nil)
	y.Restore(back)
	require.Equal(t, snap, y.Snapshot())
	y.Changes(func(string, *DedupEntry) { t.Fatal("restore records no changes") })
	for _, probe := range []Input{{Phone: "13910567823"}, {Email: "bob@globex.com"}, {Wechat: "BOB_W"}, {Phone: "13910567000"}} {
		l := lead(t, c, "N", "", probe)
		m1, ok1 := x.Match(&l, day(6))
		m2, ok2 := y.Match(&l, day(6))
		require.True(t, ok1)
		require.Equal(t, ok1, ok2)
		require.Equal(t, m1, m2)
	}
	// Removals show in Changes with a nil entry.
	y.Expire(day(1000))
	got := map[string]bool{}
	y.Changes(func(id string, e *DedupEntry) { got[id] = e == nil })
	require.Equal(t, map[string]bool{"A": true, "B": true, "C": true}, got)
}

func TestDedupKeys(t *testing.T) {
	c := dedupChecker(t)
	l := lead(t, c, "A", "", Input{Phone: "13910567823", Email: "First.Last+x@gmail.com", Wechat: "W1", CompanyName: "北京纷扬科技有限公司"})
	require.Equal(t, []string{"p:+8613910567823", "e:firstlast@gmail.com", "w:w1", "c:纷扬"}, c.Keys(&l))
	l = lead(t, c, "B", "", Input{CompanyName: "Deutsche Bank AG"})
	require.Equal(t, []string{"c:deu"}, c.Keys(&l))
	l = lead(t, c, "C", "", Input{Email: "info@acme.cn", Phone: "13800138000"})
	require.Empty(t, c.Keys(&l), "role e-mails and fake phones are no keys")
	only := dedupChecker(t, Policy{Name: "p", Kind: KindPhone, Window: Duration(time.Hour), Action: "tag"})
	l = lead(t, c, "D", "", Input{Phone: "13910567823", Email: "a@acme.cn"})
	require.Equal(t, []string{"p:+8613910567823"}, only.Keys(&l), "only the kinds a policy uses")
}

func BenchmarkMatch(b *testing.B) {
	c := dedupChecker(b)
	x := c.NewDedupIndex(nil)
	const n = 100_000
	for i := range n {
		x.Add(Lead{ID: fmt.Sprintf("L%d", i), Contact: Contact{
			Phone:         fmt.Sprintf("+86139%08d", i),
			EmailKey:      fmt.Sprintf("u%d@acme%d.cn", i, i%5000),
			CompanyDomain: fmt.Sprintf("acme%d.cn", i%5000),
			Company:       CompanyName{Core: fmt.Sprintf("纷扬%c%c", rune('甲'+i%50), rune('乙'+i%7)), Industry: "tech"},
		}}, t0.Add(time.Duration(i)*time.Minute))
	}
	at := t0.Add(n * time.Minute)
	probes := []struct {
		name string
		l    Lead
	}{
		{"phone-hit", Lead{ID: "N", Contact: Contact{Phone: "+8613900012345"}}},
		{"miss", Lead{ID: "N", Contact: Contact{Phone: "+8613700000000", EmailKey: "x@y.cn"}}},
		{"company-block", Lead{ID: "N", Contact: Contact{CompanyDomain: "acme7.cn", Company: CompanyName{Core: "纷扬丙乙", Industry: "tech"}}}},
	}
	for _, p := range probes {
		b.Run(p.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				x.Match(&p.l, at)
			}
		})
	}
}

// keysOracle is Keys written plainly, independently of appendKeys.
func keysOracle(c *Checker, l *Lead) []string {
	var out []string
	ct := &l.Contact
	if c.dedup.kinds[0] && ct.Phone != "" {
		out = append(out, "p:"+ct.Phone)
	}
	if c.dedup.kinds[1] && ct.EmailKey != "" {
		out = append(out, "e:"+ct.EmailKey)
	}
	if c.dedup.kinds[2] && ct.Wechat != "" {
		out = append(out, "w:"+ct.Wechat)
	}
	if c.dedup.kinds[3] && ct.Company.Core != "" {
		rs := []rune(strings.ReplaceAll(ct.Company.Core, " ", ""))
		n := 3
		if isCJK([]rune(ct.Company.Core)[0]) {
			n = 2
		}
		if len(rs) > 0 {
			out = append(out, "c:"+string(rs[:min(n, len(rs))]))
		}
	}
	return out
}

// TestDedupKeysOracle compares Keys and the index's scratch keys with
// keysOracle on the generated identifies and on edge cases of the company
// block.
func TestDedupKeysOracle(t *testing.T) {
	c := dedupChecker(t)
	evs, _ := stageIdentifies(t, 300)
	var leads []Lead
	for i := range evs {
		in := InputFromEvent(&evs[i])
		var v Verdict
		c.Check(&in, &v)
		leads = append(leads, Lead{ID: fmt.Sprint(i), Contact: v.Contact})
	}
	for _, core := range []string{"", " ", "a", "ab c", " a b c d", "纷扬", "纷 扬科技", "纷", "deutsche", "é日本", "日本 x"} {
		leads = append(leads, Lead{ID: core, Contact: Contact{Phone: "+8613910567823", Company: CompanyName{Core: core}}})
	}
	x := c.NewDedupIndex(nil)
	for i := range leads {
		want := keysOracle(c, &leads[i])
		require.Equal(t, nilIfEmpty(want), nilIfEmpty(c.Keys(&leads[i])), "%+v", leads[i].Contact)
		x.scratchKeys(&leads[i])
		require.Equal(t, nilIfEmpty(want), nilIfEmpty(x.keyBuf), "%+v", leads[i].Contact)
		require.LessOrEqual(t, len(strings.Join(want, "")), c.dedup.keysSize(&leads[i]))
	}
}

// TestNewRecordCopies: what the index keeps of a lead is copied out of the
// caller's memory, every string field of Lead included.
func TestNewRecordCopies(t *testing.T) {
	var l Lead
	buf := strings.Repeat("x", 4096) // every string of l points into it
	var fields []uintptr
	var set func(v reflect.Value)
	n := 0
	set = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.String:
			n++
			v.SetString(buf[n*10 : n*10+n%7+3])
			fields = append(fields, v.Addr().Pointer())
		case reflect.Struct:
			for i := range v.NumField() {
				set(v.Field(i))
			}
		}
	}
	set(reflect.ValueOf(&l).Elem())
	var listed []uintptr
	for _, p := range leadStrings(&l) {
		listed = append(listed, uintptr(unsafe.Pointer(p)))
	}
	require.ElementsMatch(t, fields, listed, "leadStrings lists every string field of Lead")

	l.MergedInto = "" // a survivor
	c := dedupChecker(t)
	x := c.NewDedupIndex(nil)
	x.Add(l, day(0))
	entries := x.Snapshot()
	require.Len(t, entries, 1)
	require.Equal(t, l, entries[0].Lead)
	lo := addr(buf)
	outside := func(s string) {
		if s != "" {
			require.False(t, addr(s) >= lo && addr(s) < lo+uintptr(len(buf)), "%q points into the caller's memory", s)
		}
	}
	for _, p := range leadStrings(&entries[0].Lead) {
		outside(*p)
	}
	for k, rs := range x.byKey {
		outside(k)
		for _, r := range rs {
			for _, k := range r.keys {
				outside(k)
			}
		}
	}
	require.Len(t, x.byKey, 4)
}

// TestDedupAllocs: matching costs nothing but a match's rule; keys cost
// two allocations; adding a lead its record and one block.
func TestDedupAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	c := dedupChecker(t)
	x := c.NewDedupIndex(func(k string) bool { return k[0] != 'w' })
	mk := func(i int) Lead {
		return Lead{ID: fmt.Sprintf("L%d", i), Source: "form", Contact: Contact{
			Phone: fmt.Sprintf("+86139%08d", i), EmailKey: fmt.Sprintf("u%d@acme.cn", i), Wechat: fmt.Sprintf("w%d", i),
			Company: CompanyName{Core: fmt.Sprintf("纷扬%c", rune('甲'+i%50)), Industry: "tech"},
		}}
	}
	for i := range 1000 {
		x.Add(mk(i), day(0))
	}
	miss := Lead{ID: "N", Contact: Contact{Phone: "+8613700000000", EmailKey: "x@y.cn", Wechat: "w"}}
	require.Zero(t, testing.AllocsPerRun(100, func() { x.Match(&miss, day(0)) }), "match, no duplicate")
	l := mk(3)
	require.LessOrEqual(t, testing.AllocsPerRun(100, func() { c.Keys(&l) }), 2.0, "keys")
	leads := make([]Lead, 1000)
	for i := range leads {
		leads[i] = mk(i)
	}
	i := 0
	require.LessOrEqual(t, testing.AllocsPerRun(100, func() {
		// Replaces a lead: its record and block, and a bucket for each of
		// its three owned keys (the old lead was alone in them).
		x.Add(leads[i%1000], day(0))
		i++
	}), 2.0+3)
}
