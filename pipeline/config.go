package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.yaml.in/yaml/v3"

	"github.com/leadscore/leadscore/features"
	"github.com/leadscore/leadscore/features/hygiene"
	"github.com/leadscore/leadscore/features/ipmatch"
	"github.com/leadscore/leadscore/scorer"
	"github.com/leadscore/leadscore/sinks"
)

// IPMatchConfig is ipmatch.Config in the engine's file: csv, mmdb and
// overrides name the range files, the rest tunes classification.
type IPMatchConfig struct {
	ipmatch.Config `yaml:",inline"`
}

// HygieneConfig is hygiene.Config in the engine's file, with a switch.
type HygieneConfig struct {
	// Enabled: check leads (default true, with the shipped lists).
	Enabled        bool `yaml:"enabled"`
	hygiene.Config `yaml:",inline"`
}

func (c IPMatchConfig) enabled() bool {
	return len(c.CSV) > 0 || len(c.MMDB) > 0 || c.Overrides != ""
}

// Config is the engine's configuration: defaults, then a YAML file (unknown
// keys fail), then LEADSCORE_* environment variables, then flags.
type Config struct {
	Kafka      KafkaConfig      `yaml:"kafka"`
	ClickHouse ClickHouseConfig `yaml:"clickhouse"`
	// Rules is the path of the rules file; empty means the embedded example
	// rules of the contract.
	Rules string `yaml:"rules"`
	// RulesLimits bound the rules file, at start and on every reload: its
	// size, rule count, string and version lengths (see scorer.Limits).
	RulesLimits scorer.Limits `yaml:"rules_limits"`
	// IPMatch matches anonymous visitors' IP addresses to companies
	// (account resolution step 3); off until it names range files.
	IPMatch IPMatchConfig `yaml:"ipmatch"`
	// Hygiene checks every identify's contact data before identity.
	Hygiene HygieneConfig `yaml:"hygiene"`
	HTTP    HTTPConfig    `yaml:"http"`
	Engine  EngineConfig  `yaml:"engine"`
	Log     LogConfig     `yaml:"log"`

	file string // where the config came from, for error messages
}

// KafkaConfig says where events come from and where records go.
type KafkaConfig struct {
	// Brokers to bootstrap from; empty starts the embedded broker.
	Brokers           []string       `yaml:"brokers"`
	Embedded          EmbeddedConfig `yaml:"embedded"`
	Group             string         `yaml:"group"`
	ClientID          string         `yaml:"client_id"`
	Topics            []string       `yaml:"topics"`
	ScoreChangesTopic string         `yaml:"score_changes_topic"`
	// HandoffsTopic receives a record each time a lead or account enters
	// the mql stage, with the recommendation for sales.
	HandoffsTopic string `yaml:"handoffs_topic"`
	// RejectedTopic receives every lead that failed hygiene, with its
	// reasons and the original record.
	RejectedTopic string `yaml:"rejected_topic"`
	// ContactChangesTopic receives job_changed records: a known contact
	// now at another company.
	ContactChangesTopic string `yaml:"contact_changes_topic"`
	DLQTopic            string `yaml:"dlq_topic"`
	// ChangelogTopic is the compacted topic that holds the partition state
	// (default: the group name + "-changelog"). It needs at least as many
	// partitions as the input topics.
	ChangelogTopic string `yaml:"changelog_topic"`
	// RepartitionTopic carries resolved events keyed by account to the
	// worker that owns the account (default: the group name +
	// "-repartition"), with as many partitions as the changelog.
	RepartitionTopic string `yaml:"repartition_topic"`
	// TransactionalID identifies this instance's transactional producer;
	// each instance needs its own, stable across restarts so that a
	// restarted instance fences its predecessor (default: client_id +
	// "-" + host name).
	TransactionalID string `yaml:"transactional_id"`
	// InstanceID turns on static group membership (KIP-345): a restarted
	// instance with the same id takes its partitions back at once instead
	// of waiting for the session timeout.
	InstanceID string `yaml:"instance_id"`
	// SessionTimeout is how long the group waits for a silent member.
	SessionTimeout Duration `yaml:"session_timeout"`
	// Compression of the record batches leadscore produces: snappy
	// (default: the cheapest to compress and decompress of the codecs that
	// save space; the repartition topic carries every event again), lz4,
	// zstd, gzip or none (the least CPU, the most bytes).
	Compression string `yaml:"compression"`
	// CreateTopics creates missing topics at start with Partitions
	// partitions (the embedded broker always does).
	CreateTopics bool  `yaml:"create_topics"`
	Partitions   int32 `yaml:"partitions"`
}

// EmbeddedConfig is the in-process broker (franz-go's kfake) started when no
// brokers are configured.
type EmbeddedConfig struct {
	Listen string `yaml:"listen"`
	// DataDir persists the broker's log; empty: in memory only. A start
	// from it aborts the transactions a killed run left open
	// (abortOrphanedTransactions).
	DataDir string `yaml:"data_dir"`
}

// ClickHouseConfig says where rows go.
type ClickHouseConfig struct {
	Addr     []string `yaml:"addr"`
	Database string   `yaml:"database"`
	Username string   `yaml:"username"`
	Password string   `yaml:"password"`
	// Disabled runs without ClickHouse (Kafka outputs only).
	Disabled      bool     `yaml:"disabled"`
	MaxBufferRows int      `yaml:"max_buffer_rows"`
	DialTimeout   Duration `yaml:"dial_timeout"`
	// FlushTimeout bounds one commit's ClickHouse flush. When it runs out
	// the cycle is aborted (the consumer rewinds to the last commit),
	// fetching pauses and the engine probes ClickHouse every
	// probe_interval, resuming when it answers. It must stay well below the
	// Kafka transaction timeout.
	FlushTimeout  Duration `yaml:"flush_timeout"`
	ProbeInterval Duration `yaml:"probe_interval"`
	// Compression of the inserted blocks: lz4 (default) or none (cheaper
	// in CPU on both ends when ClickHouse is on the same host or a fast
	// LAN).
	Compression string `yaml:"compression"`
}

// HTTPConfig is the operational endpoint: /metrics, /healthz, /readyz.
type HTTPConfig struct {
	Listen string `yaml:"listen"` // empty disables it
}

// EngineConfig tunes the processing loop.
type EngineConfig struct {
	// FlushInterval is how often sinks are flushed and offsets committed.
	FlushInterval Duration `yaml:"flush_interval"`
	// FlushRecords flushes early when this many records were processed
	// since the last flush.
	FlushRecords int `yaml:"flush_records"`
	// MaxPollRecords bounds the records processed between two polls.
	MaxPollRecords int `yaml:"max_poll_records"`
	// DedupWindow is how many message ids each partition remembers.
	DedupWindow int `yaml:"dedup_window"`
	// MaxPendingPerVisitor bounds an anonymous visitor's parked events.
	MaxPendingPerVisitor int `yaml:"max_pending_per_visitor"`
	// Record limits for the decoder; records beyond them go to the DLQ.
	// The embedded broker's size limits follow MaxRecordBytes
	// (embeddedInputBatchBytes), so too_large is reachable.
	MaxRecordBytes int `yaml:"max_record_bytes"`
	MaxDepth       int `yaml:"max_depth"`
	MaxStringBytes int `yaml:"max_string_bytes"`
	// Freemail adds domains to the embedded free-mail and disposable list.
	Freemail []string `yaml:"freemail"`
	// MaxResidentAccounts caps the accounts kept in memory by the
	// instance; beyond it the least recently used go to the local state
	// store (StateDir) and come back when they are seen again. 0: no cap.
	MaxResidentAccounts int `yaml:"max_resident_accounts"`
	// MaxResidentLinks caps the person links (userId or anonymousId ->
	// account) kept in memory by the instance's input partitions; the rest
	// wait in the local state store. 0: no cap.
	MaxResidentLinks int `yaml:"max_resident_links"`
	// MaxResidentVisitors caps the anonymous visitors whose parked events
	// (waiting for an identity link) are kept in memory; the rest wait in
	// the local state store. 0: no cap.
	MaxResidentVisitors int `yaml:"max_resident_visitors"`
	// IdleTTL moves accounts not seen for this long to the state store.
	// 0: never.
	IdleTTL Duration `yaml:"idle_ttl"`
	// Channels classifies referrers for the funnel's channels: partner
	// sites, and the site's own domains (internal navigation).
	Channels features.Channels `yaml:"channels"`
	// MaxContactsPerAccount bounds the known people scored on their own
	// within one account; events of more still count for the account.
	MaxContactsPerAccount int `yaml:"max_contacts_per_account"`
	// ScoreEvents writes each scored event's rule hits to the score_events
	// table, the history `leadscore explain` lists.
	ScoreEvents bool `yaml:"score_events"`
	// AllowedLateness is how far behind the input partitions' newest event
	// time the watermark stays. Decay changes are emitted once the
	// watermark passes their time; an event that arrives older than the
	// watermark (a late one, say an anonymous visitor's pages released by a
	// sign-up hours later) still counts, decayed, but after such a change.
	AllowedLateness Duration `yaml:"allowed_lateness"`
	// MaxTailRecords bounds an account's open tail (records newer than the
	// watermark, kept so that a late one takes its place in event-time
	// order): past it the oldest half is made final early, and a record
	// older than those is applied as a late event.
	MaxTailRecords int `yaml:"max_tail_records"`
	// IdlePartitionAfter is how long an input partition goes without
	// records before it stops holding the watermark back (as Flink's
	// withIdleness): an empty or finished partition would otherwise hold
	// every decay change back. 0: never; the watermark then waits for
	// every input partition.
	IdlePartitionAfter Duration `yaml:"idle_partition_after"`
	// RulesPollInterval is how often the rules file is checked for a new
	// version (0: never; a restart picks it up).
	RulesPollInterval Duration `yaml:"rules_poll_interval"`
	// Bounded clocks and account ids, checked by the input worker.
	// MaxFuture: an event whose time (skew-corrected) is more than this
	// ahead of the wall clock goes to the DLQ (future_timestamp); the past
	// is never refused, so a replay of history is unaffected.
	MaxFuture Duration `yaml:"max_future"`
	// MaxTimeJump bounds how far one record moves its input partition's
	// event time (and so every watermark): a jump beyond it is taken only
	// as later records confirm it, each moving the time by at most this
	// much. 0: unbounded.
	MaxTimeJump Duration `yaml:"max_time_jump"`
	// MaxAccountIDBytes bounds an account id an event names (groupId,
	// context.groupId, properties.domain); a longer one goes to the DLQ
	// (invalid_account).
	MaxAccountIDBytes int `yaml:"max_account_id_bytes"`
	// StateDir holds the local state store, a cache of the changelog that
	// is emptied at start. Default: <temp dir>/leadscore-<transactional id>.
	StateDir string `yaml:"state_dir"`
}

// LogConfig sets up log/slog.
type LogConfig struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // json or text
}

// Duration is a time.Duration that reads "500ms", "1s" or "2m" from YAML.
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: invalid duration %q", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration as a string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// D is the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// DefaultConfig is the configuration with nothing set: embedded broker,
// local ClickHouse, the contract's example rules.
func DefaultConfig() Config {
	return Config{
		IPMatch: IPMatchConfig{ipmatch.DefaultConfig()},
		Hygiene: HygieneConfig{Enabled: true, Config: hygiene.DefaultConfig()},
		Kafka: KafkaConfig{
			Embedded:            EmbeddedConfig{Listen: "127.0.0.1:9092"},
			Group:               "leadscore",
			ClientID:            "leadscore",
			Topics:              []string{"leadscore.events"},
			ScoreChangesTopic:   "leadscore.score-changes",
			HandoffsTopic:       "leadscore.handoffs",
			RejectedTopic:       "leadscore.rejected",
			ContactChangesTopic: "leadscore.contact-changes",
			DLQTopic:            "leadscore.dlq",
			Partitions:          4,
			SessionTimeout:      Duration(45 * time.Second),
			Compression:         "snappy",
		},
		ClickHouse: ClickHouseConfig{
			Addr:          []string{"127.0.0.1:9000"},
			Database:      "leadscore",
			Username:      "default",
			MaxBufferRows: 500_000,
			DialTimeout:   Duration(5 * time.Second),
			FlushTimeout:  Duration(10 * time.Second),
			Compression:   "lz4",
			ProbeInterval: Duration(2 * time.Second),
		},
		RulesLimits: scorer.DefaultLimits(),
		HTTP:        HTTPConfig{Listen: "127.0.0.1:8080"},
		Engine: EngineConfig{
			FlushInterval:         Duration(time.Second),
			FlushRecords:          50_000,
			MaxPollRecords:        10_000,
			DedupWindow:           100_000,
			MaxPendingPerVisitor:  64,
			MaxContactsPerAccount: 1000,
			ScoreEvents:           true,
			RulesPollInterval:     Duration(2 * time.Second),
			AllowedLateness:       Duration(time.Hour),
			IdlePartitionAfter:    Duration(30 * time.Second),
			MaxRecordBytes:        1 << 20,
			MaxDepth:              32,
			MaxStringBytes:        64 << 10,
			MaxResidentAccounts:   1_000_000,
			MaxResidentLinks:      2_000_000,
			MaxResidentVisitors:   1_000_000,
			IdleTTL:               Duration(time.Hour),
			MaxTailRecords:        512,
			MaxFuture:             Duration(24 * time.Hour),
			MaxTimeJump:           Duration(time.Hour),
			MaxAccountIDBytes:     features.DefaultMaxAccountIDBytes,
		},
		Log: LogConfig{Level: "info", Format: "json"},
	}
}

// LoadConfig reads the defaults, then path (if not empty), then the
// environment. It does not validate: call Validate.
func LoadConfig(path string) (Config, error) {
	cfg := DefaultConfig()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return cfg, fmt.Errorf("read config: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		// An empty file decodes to io.EOF: all defaults.
		if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
			return cfg, fmt.Errorf("%s: %w", path, err)
		}
		cfg.file = path
	}
	if err := cfg.applyEnv(os.LookupEnv); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// envVars maps each LEADSCORE_* variable to the field it sets.
var envVars = []struct {
	name string
	set  func(c *Config, v string) error
}{
	{"LEADSCORE_KAFKA_BROKERS", func(c *Config, v string) error { c.Kafka.Brokers = splitList(v); return nil }},
	{"LEADSCORE_KAFKA_GROUP", func(c *Config, v string) error { c.Kafka.Group = v; return nil }},
	{"LEADSCORE_KAFKA_TOPICS", func(c *Config, v string) error { c.Kafka.Topics = splitList(v); return nil }},
	{"LEADSCORE_CLICKHOUSE_ADDR", func(c *Config, v string) error { c.ClickHouse.Addr = splitList(v); return nil }},
	{"LEADSCORE_CLICKHOUSE_DATABASE", func(c *Config, v string) error { c.ClickHouse.Database = v; return nil }},
	{"LEADSCORE_CLICKHOUSE_USERNAME", func(c *Config, v string) error { c.ClickHouse.Username = v; return nil }},
	{"LEADSCORE_CLICKHOUSE_PASSWORD", func(c *Config, v string) error { c.ClickHouse.Password = v; return nil }},
	{"LEADSCORE_RULES", func(c *Config, v string) error { c.Rules = v; return nil }},
	{"LEADSCORE_KAFKA_TRANSACTIONAL_ID", func(c *Config, v string) error { c.Kafka.TransactionalID = v; return nil }},
	{"LEADSCORE_KAFKA_INSTANCE_ID", func(c *Config, v string) error { c.Kafka.InstanceID = v; return nil }},
	{"LEADSCORE_STATE_DIR", func(c *Config, v string) error { c.Engine.StateDir = v; return nil }},
	{"LEADSCORE_HTTP_LISTEN", func(c *Config, v string) error { c.HTTP.Listen = v; return nil }},
	{"LEADSCORE_LOG_LEVEL", func(c *Config, v string) error { c.Log.Level = v; return nil }},
	{"LEADSCORE_FLUSH_INTERVAL", func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		c.Engine.FlushInterval = Duration(d)
		return err
	}},
}

func (c *Config) applyEnv(lookup func(string) (string, bool)) error {
	var errs []error
	for _, e := range envVars {
		if v, ok := lookup(e.name); ok {
			if err := e.set(c, v); err != nil {
				errs = append(errs, fmt.Errorf("environment %s: %w", e.name, err))
			}
		}
	}
	return errors.Join(errs...)
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// changelogTopic is the state topic's name.
func (c *Config) changelogTopic() string {
	if c.Kafka.ChangelogTopic != "" {
		return c.Kafka.ChangelogTopic
	}
	return c.Kafka.Group + "-changelog"
}

// repartitionTopic is the internal topic of resolved events keyed by account.
func (c *Config) repartitionTopic() string {
	if c.Kafka.RepartitionTopic != "" {
		return c.Kafka.RepartitionTopic
	}
	return c.Kafka.Group + "-repartition"
}

// ConsumedTopics are the topics the group consumes: the input topics and
// the repartition topic.
func (c *Config) ConsumedTopics() []string {
	return append(append([]string(nil), c.Kafka.Topics...), c.repartitionTopic())
}

// transactionalID is this instance's transactional id.
func (c *Config) transactionalID() string {
	if c.Kafka.TransactionalID != "" {
		return c.Kafka.TransactionalID
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return c.Kafka.ClientID + "-" + host
}

// stateDir is where the local state store lives.
func (c *Config) stateDir() string {
	if c.Engine.StateDir != "" {
		return c.Engine.StateDir
	}
	name := strings.Map(func(r rune) rune {
		if r == '/' || r == os.PathSeparator || r == 0 {
			return '_'
		}
		return r
	}, c.transactionalID())
	return filepath.Join(os.TempDir(), "leadscore-"+name)
}

// Validate reports every problem at once, each naming the file and field.
func (c *Config) Validate() error {
	var errs []error
	where := c.file
	if where == "" {
		where = "config"
	}
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s: %s", where, field, fmt.Sprintf(format, args...)))
	}
	for i, b := range c.Kafka.Brokers {
		if err := checkAddr(b, 1); err != nil {
			bad("kafka.brokers["+strconv.Itoa(i)+"]", "%v", err)
		}
	}
	if len(c.Kafka.Brokers) == 0 {
		if err := checkEmbeddedListen(c.Kafka.Embedded.Listen); err != nil {
			bad("kafka.embedded.listen", "%v", err)
		}
	}
	if c.Kafka.Group == "" {
		bad("kafka.group", "must not be empty")
	}
	if len(c.Kafka.Topics) == 0 {
		bad("kafka.topics", "must name at least one topic")
	}
	for i, t := range c.Kafka.Topics {
		if t == "" {
			bad("kafka.topics["+strconv.Itoa(i)+"]", "must not be empty")
		}
		if t == c.Kafka.ScoreChangesTopic || t == c.Kafka.DLQTopic || t == c.Kafka.HandoffsTopic || t == c.Kafka.RejectedTopic || t == c.Kafka.ContactChangesTopic {
			bad("kafka.topics["+strconv.Itoa(i)+"]", "%q is also an output topic", t)
		}
	}
	if c.Kafka.ScoreChangesTopic == "" {
		bad("kafka.score_changes_topic", "must not be empty")
	}
	if c.Kafka.DLQTopic == "" {
		bad("kafka.dlq_topic", "must not be empty")
	}
	for _, t := range c.Kafka.Topics {
		if t != "" && t == c.changelogTopic() {
			bad("kafka.changelog_topic", "%q is also an input topic", t)
		}
		if t != "" && t == c.repartitionTopic() {
			bad("kafka.repartition_topic", "%q is also an input topic", t)
		}
	}
	if c.Kafka.SessionTimeout.D() < time.Second {
		bad("kafka.session_timeout", "must be at least 1s")
	}
	if _, ok := compressionCodec(c.Kafka.Compression); !ok {
		bad("kafka.compression", "%q: want lz4, zstd, snappy, gzip or none", c.Kafka.Compression)
	}
	if c.Kafka.Partitions < 1 {
		bad("kafka.partitions", "must be at least 1, got %d", c.Kafka.Partitions)
	}
	if cc := c.ClickHouse.Compression; cc != "lz4" && cc != "none" {
		bad("clickhouse.compression", "%q: want lz4 or none", cc)
	}
	if !c.ClickHouse.Disabled {
		if len(c.ClickHouse.Addr) == 0 {
			bad("clickhouse.addr", "must name at least one host:port (or set clickhouse.disabled)")
		}
		for i, a := range c.ClickHouse.Addr {
			if err := checkAddr(a, 1); err != nil {
				bad("clickhouse.addr["+strconv.Itoa(i)+"]", "%v", err)
			}
		}
		if c.ClickHouse.Database == "" {
			bad("clickhouse.database", "must not be empty")
		} else if (sinks.ClickHouseConfig{Database: c.ClickHouse.Database}).Validate() != nil {
			bad("clickhouse.database", "%q: use letters, digits and underscores, not starting with a digit", c.ClickHouse.Database)
		}
		if c.ClickHouse.DialTimeout <= 0 {
			bad("clickhouse.dial_timeout", "must be positive")
		}
		if c.ClickHouse.MaxBufferRows < 1 {
			bad("clickhouse.max_buffer_rows", "must be at least 1")
		}
		if ft := c.ClickHouse.FlushTimeout.D(); ft <= 0 || ft > maxFlushTimeout {
			bad("clickhouse.flush_timeout", "must be positive and at most %s (below the Kafka transaction timeout), got %s", maxFlushTimeout, ft)
		}
		if c.ClickHouse.ProbeInterval <= 0 {
			bad("clickhouse.probe_interval", "must be positive")
		}
	}
	if c.Rules != "" {
		if _, err := os.Stat(c.Rules); err != nil {
			bad("rules", "%v", err)
		}
	}
	for _, err := range c.RulesLimits.Validate() {
		errs = append(errs, fmt.Errorf("%s: %w", where, err))
	}
	if c.HTTP.Listen != "" {
		if _, _, err := net.SplitHostPort(c.HTTP.Listen); err != nil {
			bad("http.listen", "%q is not host:port", c.HTTP.Listen)
		}
	}
	e := c.Engine
	if e.FlushInterval <= 0 {
		bad("engine.flush_interval", "must be positive")
	}
	if e.IdlePartitionAfter < 0 {
		bad("engine.idle_partition_after", "must be 0 (never) or positive")
	}
	if e.AllowedLateness < 0 {
		bad("engine.allowed_lateness", "must be 0 or positive")
	}
	if e.RulesPollInterval < 0 {
		bad("engine.rules_poll_interval", "must be 0 (off) or positive")
	}
	if e.MaxFuture <= 0 {
		bad("engine.max_future", "must be positive (a large value such as 87600h all but turns it off), got %s", e.MaxFuture.D())
	}
	if e.MaxTimeJump < 0 {
		bad("engine.max_time_jump", "must be 0 (unbounded) or positive, got %s", e.MaxTimeJump.D())
	}
	positive := []struct {
		name string
		v    int
	}{
		{"engine.flush_records", e.FlushRecords},
		{"engine.max_poll_records", e.MaxPollRecords},
		{"engine.dedup_window", e.DedupWindow},
		{"engine.max_pending_per_visitor", e.MaxPendingPerVisitor},
		{"engine.max_contacts_per_account", e.MaxContactsPerAccount},
		{"engine.max_record_bytes", e.MaxRecordBytes},
		{"engine.max_tail_records", e.MaxTailRecords},
		{"engine.max_depth", e.MaxDepth},
		{"engine.max_string_bytes", e.MaxStringBytes},
		{"engine.max_account_id_bytes", e.MaxAccountIDBytes},
	}
	if e.MaxResidentAccounts < 0 {
		bad("engine.max_resident_accounts", "must be 0 (no cap) or positive, got %d", e.MaxResidentAccounts)
	}
	if e.MaxResidentLinks < 0 {
		bad("engine.max_resident_links", "must be 0 (no cap) or positive, got %d", e.MaxResidentLinks)
	}
	if e.MaxResidentVisitors < 0 {
		bad("engine.max_resident_visitors", "must be 0 (no cap) or positive, got %d", e.MaxResidentVisitors)
	}
	if e.IdleTTL < 0 {
		bad("engine.idle_ttl", "must be 0 (never) or positive")
	}
	for _, p := range positive {
		if p.v < 1 {
			bad(p.name, "must be at least 1, got %d", p.v)
		}
	}
	// A record yields at most a score change, a funnel transition and an
	// account row; the ClickHouse buffer must hold what arrives between two
	// flushes, or a write would wait on a flush that cannot start.
	if need := 3 * (e.FlushRecords + e.MaxPollRecords); !c.ClickHouse.Disabled && c.ClickHouse.MaxBufferRows < need {
		bad("clickhouse.max_buffer_rows", "%d is below 3 x (engine.flush_records + engine.max_poll_records) = %d", c.ClickHouse.MaxBufferRows, need)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "%q is not one of debug, info, warn, error", c.Log.Level)
	}
	switch c.Log.Format {
	case "json", "text":
	default:
		bad("log.format", "%q is not json or text", c.Log.Format)
	}
	if c.Hygiene.Enabled {
		if err := c.Hygiene.Validate(); err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				errs = append(errs, fmt.Errorf("%s: hygiene.%s", where, line))
			}
		}
	}
	if c.IPMatch.enabled() {
		// ipmatch names its fields "ipmatch.<field>", as this file does.
		if err := c.IPMatch.Validate(); err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				errs = append(errs, fmt.Errorf("%s: %s", where, line))
			}
		}
	}
	return errors.Join(errs...)
}

// checkAddr reports what a client would refuse in a host:port address: the
// port must be a number from minPort to 65535 (franz-go reads no service
// names).
func checkAddr(addr string, minPort int) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port", addr)
	}
	if p, err := strconv.Atoi(port); err != nil || p < minPort || p > 65535 {
		return fmt.Errorf("%q: the port must be a number from %d to 65535", addr, minPort)
	}
	return nil
}

// checkEmbeddedListen reports what StartEmbedded refuses in
// kafka.embedded.listen. The embedded broker has no authentication, so it
// listens on the loopback interface only; port 0 picks a free port.
func checkEmbeddedListen(listen string) error {
	if err := checkAddr(listen, 0); err != nil {
		return err
	}
	host, _, _ := net.SplitHostPort(listen)
	if host != "127.0.0.1" && host != "localhost" && host != "" {
		return fmt.Errorf("%q: the embedded broker listens on 127.0.0.1 only (it has no authentication); set kafka.brokers to reach a broker from other hosts", listen)
	}
	return nil
}

// compressionCodec is the franz-go codec of a kafka.compression name.
func compressionCodec(name string) (kgo.CompressionCodec, bool) {
	switch name {
	case "lz4":
		return kgo.Lz4Compression(), true
	case "zstd":
		return kgo.ZstdCompression(), true
	case "snappy":
		return kgo.SnappyCompression(), true
	case "gzip":
		return kgo.GzipCompression(), true
	case "none":
		return kgo.NoCompression(), true
	}
	return kgo.CompressionCodec{}, false
}
