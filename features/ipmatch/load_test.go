package ipmatch

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// writeFile writes content to name in dir and returns the path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	return p
}

// newMatcher builds a Matcher on the given files with default lists.
func newMatcher(t *testing.T, csv []string, overrides string, opts ...Option) *Matcher {
	t.Helper()
	cfg := DefaultConfig()
	cfg.CSV = csv
	cfg.Overrides = overrides
	m, err := New(cfg, opts...)
	require.NoError(t, err)
	t.Cleanup(m.Close)
	return m
}

func TestSplitCSVLine(t *testing.T) {
	f := func(line string, want ...string) {
		t.Helper()
		var fields [maxFields][]byte
		n, _, err := splitCSVLine([]byte(line), &fields, nil)
		require.NoError(t, err, line)
		got := make([]string, n)
		for i := range n {
			got[i] = string(fields[i])
		}
		require.Equal(t, want, got, line)
	}
	f(`1.0.0.0,1.0.0.255,13335,"Cloudflare, Inc."`, "1.0.0.0", "1.0.0.255", "13335", "Cloudflare, Inc.")
	f(`2.26.200.0,2.26.215.255,201907,"LLC ""SPUTNIK"""`, "2.26.200.0", "2.26.215.255", "201907", `LLC "SPUTNIK"`)
	f(`a,,c`, "a", "", "c")
	f(`"",x`, "", "x")
	f(`x,""`, "x", "")
	f(`a,b,`, "a", "b", "")
	bad := func(line, msg string) {
		t.Helper()
		var fields [maxFields][]byte
		_, _, err := splitCSVLine([]byte(line), &fields, nil)
		require.ErrorContains(t, err, msg, line)
	}
	bad(`a,"b`, "unterminated")
	bad(`a,"b"c`, "text after closing quote")
	bad(`a,b"c`, "quote inside unquoted")
	bad(`a,b,c,d,e`, "more than 4 fields")
}

func FuzzSplitCSVLine(f *testing.F) {
	for _, s := range []string{
		`1.0.0.0,1.0.0.255,13335,"Cloudflare, Inc."`,
		`2.26.200.0,2.26.215.255,201907,"LLC ""SPUTNIK"""`,
		`a,"b`, `""""`, `,,,`, `"a"b`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		var fields [maxFields][]byte
		n, _, err := splitCSVLine(line, &fields, nil)
		if n < 0 || n > maxFields {
			t.Fatalf("n = %d", n)
		}
		if err == nil && n == 0 {
			t.Fatal("a line has at least one field")
		}
	})
}

func FuzzLoadCSV(f *testing.F) {
	f.Add("1.0.0.0,1.0.0.255,13335,\"Cloudflare, Inc.\"\n2001::,2001::ffff,6939,HE\n")
	f.Add("start,end,asn,org\n1.2.3.4,1.2.3.3,1,x\n::ffff:1.2.3.4,1.2.3.5,,\n")
	f.Fuzz(func(t *testing.T, data string) {
		p := writeFile(t, t.TempDir(), "f.csv", data)
		cls, err := newClassifier(&Config{})
		if err != nil {
			t.Fatal(err)
		}
		b := newBuilder(cls)
		_ = b.loadCSV(p) // must not panic; rows either load or are reported
		for _, s := range append(b.v4, b.v6...) {
			if s.end.less(s.start) {
				t.Fatalf("span %+v ends before it starts", s)
			}
		}
	})
}

func FuzzLoadOverrides(f *testing.F) {
	f.Add("10.0.0.0/8,acme.com\n2001:db8::/32,Acme Corp,acme.com\n# c\n192.0.2.1,x\n")
	f.Add("10.0.0.1/8,acme.com\n,\nfe80::1%eth0,a\n")
	f.Fuzz(func(t *testing.T, data string) {
		p := writeFile(t, t.TempDir(), "o.csv", data)
		cls, err := newClassifier(&Config{})
		if err != nil {
			t.Fatal(err)
		}
		b := newBuilder(cls)
		if err := b.loadOverrides(p); err != nil {
			t.Fatal(err) // only I/O fails an overrides file
		}
		for _, e := range b.entries {
			if e.account == "" {
				t.Fatal("override without account")
			}
		}
	})
}

func TestMalformedRows(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "asn.csv", ""+
		"start,end,asn,organisation\n"+ // 1: header, skipped silently
		"192.0.2.0,192.0.2.255,64500,Example Widgets\n"+ // 2
		"192.0.3.0,192.0.3.255,64501\n"+ // 3: too few fields
		"bogus,192.0.4.255,64502,Bogus\n"+ // 4: bad start
		"192.0.5.0,192.0.5.255,AS64503,Bad ASN\n"+ // 5: bad asn
		"192.0.6.255,192.0.6.0,64504,Backwards\n"+ // 6: end before start
		"192.0.7.0,2001:db8::,64505,Mixed\n"+ // 7: mixed families
		"192.0.8.0,192.0.8.255,64506,\"Unterminated\n"+ // 8: bad quoting
		"\n"+ // 9: blank
		"# comment\n"+ // 10
		"198.51.100.0,198.51.100.255,64507,\"Quoted, Org\"\r\n") // 11: CRLF
	var reports []LoadReport
	m := newMatcher(t, []string{p}, "", WithLoadHook(func(r LoadReport) { reports = append(reports, r) }))
	require.Len(t, reports, 1)
	rep := reports[0]
	require.NoError(t, rep.Err)
	require.Equal(t, 6, rep.Skipped)
	var lines []int
	for _, e := range rep.Problems {
		var re *RowError
		require.ErrorAs(t, e, &re)
		require.Equal(t, p, re.File)
		require.Contains(t, e.Error(), p+":")
		lines = append(lines, re.Line)
	}
	require.Equal(t, []int{3, 4, 5, 6, 7, 8}, lines)
	require.Equal(t, rep.Skipped, m.Report().Skipped)

	x, ok := m.Lookup("192.0.2.10")
	require.True(t, ok)
	require.Equal(t, "Example Widgets", x.Org)
	x, ok = m.Lookup("198.51.100.1")
	require.True(t, ok)
	require.Equal(t, "Quoted, Org", x.Org)
	for _, ip := range []string{"192.0.3.1", "192.0.4.1", "192.0.5.1", "192.0.6.1", "192.0.8.1"} {
		_, ok := m.Lookup(ip)
		require.False(t, ok, ip)
	}
}

func TestLoadFailures(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.CSV = []string{filepath.Join(dir, "missing.csv")}
	_, err := New(cfg)
	require.ErrorContains(t, err, "missing.csv")

	cfg.CSV = []string{writeFile(t, dir, "junk.csv", "not,a,range,file\nat,all,x,y\n")}
	_, err = New(cfg)
	require.ErrorContains(t, err, "no valid rows")

	cfg.CSV = []string{writeFile(t, dir, "empty.csv", "")}
	_, err = New(cfg)
	require.ErrorContains(t, err, "no valid rows")

	cfg.CSV = nil
	cfg.Overrides = writeFile(t, dir, "empty-overrides.csv", "# nothing yet\n")
	m, err := New(cfg)
	require.NoError(t, err, "an empty overrides file is fine")
	m.Close()
}
