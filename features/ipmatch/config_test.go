package ipmatch

import (
	"bytes"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// decodeStrict decodes a YAML fixture the way the engine's config loader
// does: unknown keys fail.
func decodeStrict(t *testing.T, name string) (Config, error) {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	require.NoError(t, err)
	cfg := DefaultConfig()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	return cfg, dec.Decode(&cfg)
}

func TestConfigFixtures(t *testing.T) {
	cfg, err := decodeStrict(t, "config-good.yaml")
	require.NoError(t, err)
	require.NoError(t, cfg.Validate())
	require.Equal(t, Config{
		CSV:          []string{"asn-ipv4.csv", "asn-ipv6.csv"},
		MMDB:         []string{"GeoIP2-ISP.mmdb"},
		Overrides:    "overrides.csv",
		PollInterval: 30 * time.Second,
		CacheEntries: 200_000,
		ASNClasses:   map[uint32]Class{64500: ClassCompany, 64501: ClassHosting},
		OrgRules:     []OrgRule{{ClassISP, "netz*"}, {ClassCompany, "acme telecom"}},
		Domains:      map[string]string{"Acme Telecom GmbH": "acme.example", "AS64500": "widgets.example"},
	}, cfg)

	_, err = decodeStrict(t, "config-unknown-key.yaml")
	require.ErrorContains(t, err, "cache_size")

	_, err = decodeStrict(t, "config-bad-class.yaml")
	require.ErrorContains(t, err, "telco")

	cfg, err = decodeStrict(t, "config-invalid.yaml")
	require.NoError(t, err)
	err = cfg.Validate()
	for _, want := range []string{"ipmatch.csv[1]", "ipmatch.poll_interval", "ipmatch.cache_entries", "ipmatch.org_rules[0].keyword", `ipmatch.domains["Acme"]`} {
		require.ErrorContains(t, err, want)
	}
}
