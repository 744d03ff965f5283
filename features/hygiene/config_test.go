package hygiene

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

func TestDefaultConfigValid(t *testing.T) {
	cfg := DefaultConfig()
	require.NoError(t, cfg.Validate())
	_, err := New(cfg)
	require.NoError(t, err)
}

func TestConfigGood(t *testing.T) {
	cfg, err := LoadConfig("testdata/config/good.yaml")
	require.NoError(t, err)
	require.NoError(t, cfg.Validate())
	require.Equal(t, 8, cfg.Phone.FakeRun)
	require.False(t, cfg.Email.GmailDots)
	require.Equal(t, Duration(180*24*time.Hour), cfg.Dedup.Policies[0].Window)
	require.Equal(t, Duration(4320*time.Hour), cfg.Dedup.Policies[1].Window)
	c, err := New(cfg)
	require.NoError(t, err)

	var v Verdict
	c.Check(&Input{Email: "x@throwaway.example", Phone: "13910567823"}, &v)
	require.True(t, v.Has(CodeEmailDisposable), "file list loaded")
	c.Check(&Input{Email: "a@corp-mail.example", Phone: "13910567823"}, &v)
	require.False(t, v.Has(CodeEmailFreemail), "severity off drops it")
	c.Check(&Input{Email: "kefu01@acme.cn"}, &v)
	require.True(t, v.Has(CodeEmailRole))
	require.True(t, v.Rejected, "role raised to reject")
	c.Check(&Input{Phone: "+8613955550000"}, &v)
	require.True(t, v.Has(CodePhoneFake), "inline fake pattern")
	c.Check(&Input{CompanyName: "纷扬科技", Title: "刷单专员"}, &v)
	require.True(t, v.Has(CodeBlacklistedCompany))
	require.True(t, v.Has(CodeSensitiveWord))
	require.Equal(t, "苏州", c.Company("苏州工业园区纷扬科技").Region, "extra place")
}

func TestConfigBadReportsEverything(t *testing.T) {
	cfg, err := LoadConfig("testdata/config/bad.yaml")
	require.NoError(t, err, "bad values, good YAML")
	err = cfg.Validate()
	require.Error(t, err)
	for _, want := range []string{
		"default_region: \"XX\"",
		"phone.fake_run: 3",
		"blacklist.emails.builtin:",
		"sensitive.lexicons[0].severity: \"maybe\"",
		"sensitive.lexicons[1].name: duplicate lexicon \"ads\"",
		"sensitive.lexicons[1]: no values and no files",
		"company.threshold: 1.5",
		"company.aliases.values[0]:",
		"dedup.max_entries: 0",
		"dedup.policies[0].kind: \"fax\"",
		"dedup.policies[0].window: 0s",
		"dedup.policies[1].name: duplicate policy \"p\"",
		"dedup.policies[1].with: only for kind company",
		"dedup.policies[1].action: \"destroy\"",
		"dedup.policies[1].notify: only for action reassign",
		"dedup.policies[2].with[0]: \"color\"",
		"dedup.policies[2].threshold: 0",
		"severity.email_bogus: unknown code",
		"severity.phone_fake: \"sometimes\"",
	} {
		require.Contains(t, err.Error(), want)
	}
	require.Len(t, strings.Split(err.Error(), "\n"), 19, "one line a problem:\n%v", err)
	_, err = New(cfg)
	require.ErrorContains(t, err, "validate hygiene config: ")
}

func TestConfigStrict(t *testing.T) {
	_, err := LoadConfig("testdata/config/unknown_key.yaml")
	require.ErrorContains(t, err, "field free_mail_extra not found")
	_, err = ParseConfig([]byte("dedup: {policies: [{name: x, kind: phone, window: 3w, action: tag}]}"))
	require.ErrorContains(t, err, `parse duration "3w"`)
	cfg, err := ParseConfig(nil)
	require.NoError(t, err)
	require.Equal(t, DefaultConfig(), cfg, "empty: defaults")
}

func TestConfigFileErrorsNamed(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/ips.txt"
	require.NoError(t, os.WriteFile(path, []byte("10.0.0.0/8\n# fine\nnot-an-ip\n"), 0o600))
	cfg := DefaultConfig()
	cfg.Blacklist.IPs.Files = []string{path}
	_, err := New(cfg)
	require.ErrorContains(t, err, "load blacklist.ips: "+path+":3: parse ip range")
	cfg = DefaultConfig()
	cfg.Blacklist.Phones.Files = []string{dir + "/missing.txt"}
	_, err = New(cfg)
	require.ErrorContains(t, err, "load blacklist.phones: read list: ")
}

func TestDurationYAML(t *testing.T) {
	for in, want := range map[string]time.Duration{"90d": 90 * 24 * time.Hour, "36h": 36 * time.Hour, "0d": 0} {
		var d Duration
		require.NoError(t, yaml.Unmarshal([]byte(in), &d), in)
		require.Equal(t, want, time.Duration(d), in)
	}
	out, err := yaml.Marshal(Duration(180 * 24 * time.Hour))
	require.NoError(t, err)
	require.Equal(t, "180d\n", string(out))
}
