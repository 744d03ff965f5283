package pipeline

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	return p
}

func TestDefaultConfigIsValid(t *testing.T) {
	cfg := DefaultConfig()
	require.NoError(t, cfg.Validate())
}

func TestLoadConfigFileEnvOrder(t *testing.T) {
	p := writeFile(t, "leadscore.yaml", `
kafka:
  brokers: [k1:9092]
  group: scoring
engine:
  flush_interval: 250ms
`)
	t.Setenv("LEADSCORE_KAFKA_GROUP", "from-env")
	cfg, err := LoadConfig(p)
	require.NoError(t, err)
	require.Equal(t, []string{"k1:9092"}, cfg.Kafka.Brokers)
	require.Equal(t, "from-env", cfg.Kafka.Group, "environment overrides the file")
	require.Equal(t, 250*time.Millisecond, cfg.Engine.FlushInterval.D())
	require.Equal(t, "leadscore.dlq", cfg.Kafka.DLQTopic, "unset keys keep their defaults")
	require.NoError(t, cfg.Validate())
}

func TestLoadConfigEmptyFileIsDefaults(t *testing.T) {
	cfg, err := LoadConfig(writeFile(t, "empty.yaml", ""))
	require.NoError(t, err)
	want := DefaultConfig()
	require.Equal(t, want.Kafka, cfg.Kafka)
	require.Equal(t, want.Engine, cfg.Engine)
}

func TestLoadConfigUnknownKey(t *testing.T) {
	p := writeFile(t, "bad.yaml", "kafka:\n  brokerz: [x:1]\n")
	_, err := LoadConfig(p)
	require.ErrorContains(t, err, "bad.yaml")
	require.ErrorContains(t, err, "brokerz")
}

func TestValidateReportsEveryProblem(t *testing.T) {
	p := writeFile(t, "many.yaml", `
kafka:
  brokers: [nohost]
  group: ""
  topics: [leadscore.dlq]
  partitions: 0
clickhouse:
  addr: []
  flush_timeout: 45s
  probe_interval: 0s
rules: /does/not/exist.yaml
engine:
  flush_interval: 0s
  dedup_window: 0
  idle_partition_after: -1s
  max_future: 0s
  max_time_jump: -1s
  max_account_id_bytes: 0
log:
  level: loud
`)
	cfg, err := LoadConfig(p)
	require.NoError(t, err)
	err = cfg.Validate()
	require.Error(t, err)
	lines := strings.Split(err.Error(), "\n")
	for _, field := range []string{
		"kafka.brokers[0]", "kafka.group", "kafka.topics[0]", "kafka.partitions", "clickhouse.addr",
		"clickhouse.flush_timeout", "clickhouse.probe_interval",
		"rules", "engine.flush_interval", "engine.dedup_window", "engine.idle_partition_after", "log.level",
		"engine.max_future", "engine.max_time_jump", "engine.max_account_id_bytes",
	} {
		found := false
		for _, l := range lines {
			if strings.HasPrefix(l, p+": "+field+":") {
				found = true
			}
		}
		require.True(t, found, "no error for %s in:\n%s", field, err)
	}
}

func TestValidateBufferCoversFlush(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ClickHouse.MaxBufferRows = 1000
	require.ErrorContains(t, cfg.Validate(), "clickhouse.max_buffer_rows")
	cfg.ClickHouse.Disabled = true
	require.NoError(t, cfg.Validate())
}
