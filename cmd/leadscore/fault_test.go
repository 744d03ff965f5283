package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/leadscore/leadscore/internal/chtest"
	"github.com/leadscore/leadscore/internal/generate"
	"github.com/leadscore/leadscore/pipeline"
	"github.com/leadscore/leadscore/sinks"
)

// The fault-injection suite. Every scenario runs `leadscore run` as real
// processes on one input topic, injects its fault, and compares the outcome
// (the score-change topic read committed, and account_scores, score_changes
// and funnel_transitions read with FINAL) with one clean run's. Short by
// default; LEADSCORE_SOAK=1 (make soak) runs the sizes the issue names.

const (
	envSoak      = "LEADSCORE_SOAK"
	envFaultSeed = "LEADSCORE_FAULT_SEED"
	inputTopic   = "leadscore.events"
	partitions   = 4
)

type faultPlan struct {
	events   int
	accounts int
	outage   time.Duration
}

func currentPlan() faultPlan {
	if os.Getenv(envSoak) != "" {
		return faultPlan{events: 500_000, accounts: 5_000, outage: 60 * time.Second}
	}
	return faultPlan{events: 40_000, accounts: 400, outage: 6 * time.Second}
}

// faultEnv is the shared input: a kfake broker persisting to a data
// directory (so it can be restarted) and a private ClickHouse (so it can be
// killed).
type faultEnv struct {
	t       *testing.T
	bin     string // leadscore, built without the race detector: memory is measured
	plan    faultPlan
	dataDir string
	port    int
	brokers []string
	ch      *chtest.Server

	mu      sync.Mutex
	cluster *kfake.Cluster
}

func newFaultEnv(t *testing.T) *faultEnv {
	t.Helper()
	f := &faultEnv{t: t, plan: currentPlan(), dataDir: t.TempDir()}
	f.bin = buildLeadscore(t)
	f.startBroker(0)
	t.Cleanup(func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.cluster != nil {
			f.cluster.Close()
		}
	})
	_, err := pipeline.Produce(context.Background(), f.brokers, inputTopic,
		generate.New(generate.Config{Seed: 9, Accounts: f.plan.accounts}), f.plan.events, 0)
	require.NoError(t, err)
	f.ch, err = chtest.StartPrivate()
	require.NoError(t, err)
	t.Cleanup(f.ch.Stop)
	return f
}

func (f *faultEnv) startBroker(port int) {
	f.t.Helper()
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(partitions, inputTopic),
		kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(partitions), kfake.DataDir(f.dataDir)}
	if port != 0 {
		opts = append(opts, kfake.Ports(port))
	}
	c, err := kfake.NewCluster(opts...)
	require.NoError(f.t, err)
	f.mu.Lock()
	f.cluster = c
	f.mu.Unlock()
	f.brokers = c.ListenAddrs()
	_, p, err := net.SplitHostPort(f.brokers[0])
	require.NoError(f.t, err)
	f.port, _ = strconv.Atoi(p)
}

// buildLeadscore builds this command with the given build tags.
func buildLeadscore(t *testing.T, tags ...string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "leadscore")
	args := []string{"build", "-o", bin}
	if len(tags) > 0 {
		args = append(args, "-tags", strings.Join(tags, ","))
	}
	out, err := exec.Command("go", append(args, ".")...).CombinedOutput()
	require.NoError(t, err, "%s", out)
	return bin
}

// restartBroker stops the broker (it saves its data), waits, and starts it
// again on the same port and data.
func (f *faultEnv) restartBroker(down time.Duration) {
	f.mu.Lock()
	f.cluster.Close()
	f.cluster = nil
	f.mu.Unlock()
	time.Sleep(down)
	f.startBroker(f.port)
}

// scenario is one consumer group with its own outputs and database.
type scenario struct {
	t        *testing.T    // of the (sub)test running it
	env      []string      // more environment for its processes
	patience time.Duration // how long waitCommitted waits; 0: 3 minutes
	f        *faultEnv
	topic    string // input
	name     string
	bin      string
	cfg      string
	database string
	dir      string // each instance's state store is under it
	embedded string // the address of the instances' embedded broker, or "" for the faultEnv's
}

// kafka is where the scenario's topics are.
func (s *scenario) kafka() []string {
	if s.embedded != "" {
		return []string{s.embedded}
	}
	return s.f.brokers
}

func (f *faultEnv) scenario(t *testing.T, name, bin string) *scenario {
	return f.scenarioOn(t, inputTopic, name, bin)
}

// scenarioOn is a scenario reading topic, which holds plan.events records
// once produced.
func (f *faultEnv) scenarioOn(t *testing.T, topic, name, bin string) *scenario {
	t.Helper()
	s := &scenario{t: t, f: f, topic: topic, name: name, bin: bin, database: chtest.NewDatabase(t, f.ch), dir: t.TempDir()}
	_, err := sinks.Migrate(context.Background(), sinks.ClickHouseConfig{Addr: []string{f.ch.Addr}, Database: s.database})
	require.NoError(t, err)
	s.cfg = filepath.Join(t.TempDir(), name+".yaml")
	// Clean runs keep every account in memory; the others hold a quarter
	// of them and move the rest to the local state store and back, which
	// must change nothing.
	resident := 0
	if !strings.Contains(name, "clean") {
		resident = f.plan.accounts / 4
	}
	require.NoError(t, os.WriteFile(s.cfg, fmt.Appendf(nil, `
kafka:
  topics: [%[5]s]
  group: %[1]s
  score_changes_topic: %[1]s.score-changes
  dlq_topic: %[1]s.dlq
  create_topics: true
  partitions: %[4]d
  session_timeout: 6s
clickhouse:
  addr: [%[2]q]
  database: %[3]s
  flush_timeout: 2s
  probe_interval: 250ms
http: {listen: ""}
log: {level: warn}
# allowed_lateness beyond the stream's span: decay changes then fire only
# before an account's own next event, which makes a run's outcome
# independent of how partitions interleave, so a faulty run can be compared
# with a clean one row for row.
engine: {flush_interval: 50ms, max_poll_records: 500, max_resident_accounts: %[6]d, idle_ttl: 0s, allowed_lateness: 8760h}
`, name, f.ch.Addr, s.database, partitions, topic, resident), 0o644))
	return s
}

// proc is one running `leadscore run`.
type proc struct {
	cmd    *exec.Cmd
	stderr *lockedBuffer
	http   string
}

// start runs an instance and waits until it serves /healthz (so it handles
// SIGTERM); id names its transactional and static member id, so a restart
// with the same id fences and replaces its predecessor.
func (s *scenario) start(id string) *proc {
	s.t.Helper()
	p := &proc{stderr: new(lockedBuffer)}
	args := []string{"run", "--config", s.cfg}
	if s.embedded == "" {
		args = append(args, "--brokers", s.f.brokers[0])
	}
	p.cmd = exec.Command(s.bin, args...)
	p.cmd.Env = append(os.Environ(),
		"LEADSCORE_KAFKA_TRANSACTIONAL_ID="+s.name+"-"+id,
		"LEADSCORE_KAFKA_INSTANCE_ID="+s.name+"-"+id,
		"LEADSCORE_STATE_DIR="+filepath.Join(s.dir, id))
	p.cmd.Env = append(p.cmd.Env, s.env...)
	p.http = freeAddr(s.t)
	p.cmd.Env = append(p.cmd.Env, "LEADSCORE_HTTP_LISTEN="+p.http)
	p.cmd.Stderr = p.stderr
	if dir := os.Getenv("LEADSCORE_FAULT_LOGS"); dir != "" {
		// Debugging: keep every instance's info log.
		fh, err := os.Create(filepath.Join(dir, fmt.Sprintf("%s-%s-%d.log", s.name, id, time.Now().UnixNano())))
		require.NoError(s.t, err)
		p.cmd.Stderr = io.MultiWriter(p.stderr, fh)
		p.cmd.Env = append(p.cmd.Env, "LEADSCORE_LOG_LEVEL=info")
	}
	require.NoError(s.t, p.cmd.Start())
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		if code, _ := p.get("/healthz"); code == http.StatusOK {
			return p
		}
		require.True(s.t, time.Now().Before(deadline), "%s-%s does not serve /healthz: %s", s.name, id, p.stderr.String())
	}
}

func (p *proc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_ = p.cmd.Wait()
}

func (p *proc) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, p.cmd.Wait(), "exit after SIGTERM: %s", p.stderr.String())
}

// rss is the process's resident set in bytes.
func (p *proc) rss() (int64, error) {
	v := p.status("VmRSS")
	if v < 0 {
		return 0, fmt.Errorf("no VmRSS for process %d", p.cmd.Process.Pid)
	}
	return v, nil
}

// status reads a size field of /proc/PID/status (VmRSS, VmHWM) in bytes, or
// -1.
func (p *proc) status(field string) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return -1
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return -1
			}
			return kb << 10
		}
	}
	return -1
}

// get fetches an HTTP path of the instance, returning status and body.
func (p *proc) get(path string) (int, string) {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get("http://" + p.http + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

// committed is how many input records the group has committed and scored:
// its committed input offsets less what waits in the repartition topic.
func (s *scenario) committed() (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.kafka()...))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	offs, err := kadm.NewClient(cl).FetchOffsets(ctx, s.name)
	if err != nil {
		return 0, err
	}
	var n int64
	offs.Each(func(o kadm.OffsetResponse) {
		if o.Topic == s.topic && o.Err == nil {
			n += o.At
		}
	})
	lag, err := pipeline.GroupLag(ctx, s.kafka(), s.name, s.name+"-repartition")
	if err != nil {
		return 0, err
	}
	return n - lag, nil
}

// waitCommitted waits until at least n input records are committed and the
// repartition topic is caught up too when n is everything.
func (s *scenario) waitCommitted(n int64, procs ...*proc) {
	s.t.Helper()
	patience := s.patience
	if patience == 0 {
		patience = 3 * time.Minute
	}
	deadline := time.Now().Add(patience)
	for {
		c, err := s.committed()
		if err == nil && c >= n {
			return
		}
		if time.Now().After(deadline) {
			var logs strings.Builder
			for _, p := range procs {
				logs.WriteString(p.stderr.String())
			}
			s.t.Fatalf("%s: %d of %d records committed after %s (last error %v): %s", s.name, c, n, patience, err, logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (s *scenario) all() int64 { return int64(s.f.plan.events) }

// outcome is what a scenario leaves behind.
type outcome struct {
	topic  map[string]int      // score-change records, "key value" -> count
	tables map[string][]string // table -> rows read with FINAL, sorted
}

var outcomeTables = []string{"account_scores", "score_changes", "funnel_transitions"}

func (s *scenario) outcome() outcome {
	s.t.Helper()
	o := outcome{topic: committedRecords(s.t, s.kafka(), s.name+".score-changes"), tables: map[string][]string{}}
	conn, err := clickhouse.Open(s.f.ch.Options(s.database))
	require.NoError(s.t, err)
	defer conn.Close()
	ctx := context.Background()
	for _, table := range outcomeTables {
		rows, err := conn.Query(ctx, "SELECT * FROM "+table+" FINAL")
		require.NoError(s.t, err)
		types := rows.ColumnTypes()
		col := map[string]int{}
		for i, ct := range types {
			col[ct.Name()] = i
		}
		var lines []string
		for rows.Next() {
			vals := make([]any, len(types))
			for i, ct := range types {
				vals[i] = reflect.New(ct.ScanType()).Interface()
			}
			require.NoError(s.t, rows.Scan(vals...))
			field := func(name string) string {
				i, ok := col[name]
				if !ok {
					return ""
				}
				return fmt.Sprint(reflect.ValueOf(vals[i]).Elem().Interface())
			}
			if field("retracted") == "1" {
				continue // event-time order does not write it
			}
			var b strings.Builder
			for i, v := range vals {
				if i > 0 {
					b.WriteByte('\t')
				}
				switch name := types[i].Name(); {
				case name == "cause":
					// A row a late event changed says correction; the same
					// row of a run where it came in order, event.
				case name == "version" && field("contact_id") != "":
					// A contact's version also counts the rebuilds of its
					// account that did not touch it (DESIGN.md,
					// "Event-time order"): the content is what must agree.
				default:
					fmt.Fprint(&b, reflect.ValueOf(v).Elem().Interface())
				}
			}
			lines = append(lines, b.String())
		}
		require.NoError(s.t, rows.Err())
		rows.Close()
		slices.Sort(lines)
		o.tables[table] = lines
	}
	return o
}

// diff describes how o differs from want, or is empty when they are equal.
func (o outcome) diff(want outcome) string {
	var b strings.Builder
	var missing, extra, dup int
	for k, n := range want.topic {
		if o.topic[k] < n {
			missing++
		}
	}
	for k, n := range o.topic {
		if n > 1 {
			dup++
		}
		if n > want.topic[k] {
			extra++
		}
	}
	if missing+extra+dup > 0 {
		fmt.Fprintf(&b, "score-change topic: %d missing, %d extra, %d duplicated (of %d); ", missing, extra, dup, len(want.topic))
	}
	for _, table := range outcomeTables {
		got, exp := o.tables[table], want.tables[table]
		if slices.Equal(got, exp) {
			continue
		}
		miss, more := setDiff(exp, got), setDiff(got, exp)
		fmt.Fprintf(&b, "%s FINAL: %d rows, want %d; %d missing, %d unexpected", table, len(got), len(exp), len(miss), len(more))
		if len(miss) > 0 {
			fmt.Fprintf(&b, "; first missing: %s", miss[0])
		}
		if len(more) > 0 {
			fmt.Fprintf(&b, "; first unexpected: %s", more[0])
		}
		b.WriteString("; ")
	}
	return b.String()
}

// setDiff lists the lines of a (sorted) not in b (sorted), with multiplicity.
func setDiff(a, b []string) []string {
	var out []string
	j := 0
	for _, x := range a {
		for j < len(b) && b[j] < x {
			j++
		}
		if j < len(b) && b[j] == x {
			j++
			continue
		}
		out = append(out, x)
	}
	return out
}

// TestFaults runs the scenarios in order on one input. Each must leave the
// clean run's outcome; the broken build must not.
func TestFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills real processes")
	}
	f := newFaultEnv(t)
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv(envFaultSeed); v != "" {
		var err error
		seed, err = strconv.ParseUint(v, 10, 64)
		require.NoError(t, err)
	}
	t.Logf("%d events, %d accounts; fault points from %s=%d", f.plan.events, f.plan.accounts, envFaultSeed, seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	clean := f.scenario(t, "clean", f.bin)
	p := clean.start("a")
	clean.waitCommitted(clean.all(), p)
	p.stop(t)
	want := clean.outcome()
	require.NotEmpty(t, want.topic)
	for k, n := range want.topic {
		require.Equal(t, 1, n, "the clean run wrote %q once", k)
	}
	for _, table := range outcomeTables {
		require.NotEmpty(t, want.tables[table], table)
	}

	t.Run("sigkill", func(t *testing.T) {
		s := f.scenario(t, "sigkill", f.bin)
		points := []float64{0.1 + 0.8*rng.Float64(), 0.1 + 0.8*rng.Float64(), 0.1 + 0.8*rng.Float64()}
		slices.Sort(points)
		t.Logf("SIGKILL after %.0f%%, %.0f%%, %.0f%% of the input is committed", 100*points[0], 100*points[1], 100*points[2])
		s.killAt(points)
		require.Empty(t, s.outcome().diff(want))
	})

	t.Run("sigkill with the embedded broker", func(t *testing.T) {
		// The instance runs the broker, persisted to a data directory:
		// a SIGKILL kills it in the middle of a transaction, and the
		// restarted broker must abort that transaction with markers, or
		// read_committed consumers lose the score changes committed
		// after it (issue 15).
		s := f.embeddedScenario(t, "embedded")
		p := s.start("a")
		_, err := pipeline.Produce(context.Background(), s.kafka(), inputTopic,
			generate.New(generate.Config{Seed: 9, Accounts: f.plan.accounts}), f.plan.events, 0)
		require.NoError(t, err)
		points := []float64{0.2 + 0.3*rng.Float64(), 0.5 + 0.3*rng.Float64()}
		t.Logf("SIGKILL after %.0f%% and %.0f%% of the input is committed", 100*points[0], 100*points[1])
		repartition := s.name + "-repartition"
		for _, x := range points {
			s.waitCommitted(int64(x*float64(s.all())), p)
			s.killInTransaction(p, repartition)
			p = s.start("a")
		}
		s.waitCommitted(s.all(), p)
		o := s.outcome()
		cut := countRecords(t, s.kafka(), repartition, kgo.ReadUncommitted()) - countRecords(t, s.kafka(), repartition, kgo.ReadCommitted())
		p.stop(t)
		n := 0
		for _, c := range o.topic {
			n += c
		}
		t.Logf("%d score changes read_committed, %d rows in score_changes FINAL; %d forwarded events aborted", n, len(o.tables["score_changes"]), cut)
		require.Positive(t, cut, "a kill cut a transaction")
		require.Equal(t, len(o.tables["score_changes"]), n, "read_committed score changes = score_changes FINAL")
		require.Empty(t, o.diff(want))
	})

	t.Run("broken build is caught", func(t *testing.T) {
		s := f.scenario(t, "broken", buildLeadscore(t, "leadscore_broken_restore"))
		s.killAt([]float64{0.5})
		require.NotEmpty(t, s.outcome().diff(want), "a build that does not restore state must be caught")
	})

	t.Run("clickhouse outage", func(t *testing.T) {
		s := f.scenario(t, "outage", f.bin)
		p := s.start("a")
		s.waitCommitted(s.all()/4, p)
		before, err := p.rss()
		require.NoError(t, err)
		require.NoError(t, f.ch.Kill())
		var peak int64
		var sawDown, sawPaused bool
		for end := time.Now().Add(f.plan.outage); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
			if r, err := p.rss(); err == nil {
				peak = max(peak, r)
			}
			if code, body := p.get("/readyz"); code == http.StatusServiceUnavailable && strings.Contains(body, "sink") {
				sawDown = true
			}
			if _, body := p.get("/metrics"); strings.Contains(body, "\nleadscore_pipeline_sink_down 1\n") {
				sawPaused = true
			}
		}
		lag, err := s.committed()
		require.NoError(t, err)
		require.NoError(t, f.ch.Restart())
		t.Logf("ClickHouse down %s: RSS %d MiB before, peak %d MiB during (growth %d MiB); %d of %d records committed when it came back",
			f.plan.outage, before>>20, peak>>20, (peak-before)>>20, lag, s.all())
		require.Less(t, lag, s.all(), "the outage began before the input was done")
		require.True(t, sawDown, "/readyz reported the sink down")
		require.True(t, sawPaused, "leadscore_pipeline_sink_down was 1")
		require.Less(t, peak-before, int64(64<<20), "memory growth during the outage")
		s.waitCommitted(s.all(), p)
		require.Eventually(t, func() bool { code, _ := p.get("/readyz"); return code == http.StatusOK }, 10*time.Second, 50*time.Millisecond)
		p.stop(t)
		require.Empty(t, s.outcome().diff(want))
	})

	t.Run("broker restart", func(t *testing.T) {
		s := f.scenario(t, "broker", f.bin)
		p := s.start("a")
		s.waitCommitted(s.all()/3, p)
		f.restartBroker(4 * time.Second)
		s.waitCommitted(s.all(), p)
		p.stop(t)
		require.Empty(t, s.outcome().diff(want))
	})

	t.Run("two instances", func(t *testing.T) {
		// Its own input, produced while it runs, so that the second
		// instance joins mid-stream; its own clean run is the oracle.
		const topic = "two.events"
		s := f.scenarioOn(t, topic, "two", f.bin)
		stopWatch := s.watchCommits(t)
		a := s.start("a")
		produced := make(chan error, 1)
		go func() {
			rate := float64(f.plan.events) / 5 // a 5 s stream
			_, err := pipeline.Produce(context.Background(), f.brokers, topic,
				generate.New(generate.Config{Seed: 11, Accounts: f.plan.accounts}), f.plan.events, rate)
			produced <- err
		}()
		s.waitCommitted(s.all()/5, a)
		b := s.start("b")
		joined := time.Now()
		s.waitMembers(2, a, b)
		at, err := s.committed()
		require.NoError(t, err)
		t.Logf("second instance sharing the work %s after it started, at %d of %d records", time.Since(joined).Round(time.Millisecond), at, s.all())
		require.Less(t, at, s.all(), "the second instance joined mid-run")
		s.waitCommitted(min(s.all(), at+s.all()/10), a, b)
		a.kill()
		a = s.start("a")
		require.NoError(t, <-produced)
		s.waitCommitted(s.all(), a, b)
		a.stop(t)
		b.stop(t)
		stopWatch()

		clean := f.scenarioOn(t, topic, "twoclean", f.bin)
		p := clean.start("a")
		clean.waitCommitted(clean.all(), p)
		p.stop(t)
		want := clean.outcome()
		require.NotEmpty(t, want.topic)
		require.Empty(t, s.outcome().diff(want))
	})
}

// embeddedScenario is a scenario whose instances run the embedded broker,
// persisted to a data directory, on a fixed address; its input is produced
// once the first instance listens.
func (f *faultEnv) embeddedScenario(t *testing.T, name string) *scenario {
	t.Helper()
	s := f.scenario(t, name, f.bin)
	s.embedded = freeAddr(t)
	cfg, err := os.ReadFile(s.cfg)
	require.NoError(t, err)
	cfg = []byte(strings.Replace(string(cfg), "kafka:\n",
		fmt.Sprintf("kafka:\n  embedded: {listen: %q, data_dir: %q}\n", s.embedded, filepath.Join(s.dir, "kafka")), 1))
	require.NoError(t, os.WriteFile(s.cfg, cfg, 0o644))
	return s
}

// killInTransaction kills an instance with SIGKILL while its transaction
// holds records of topic. The engine forwards events to the repartition
// topic all through a cycle (score changes only as it commits), so that is
// where an open transaction is found.
func (s *scenario) killInTransaction(p *proc, topic string) {
	s.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.kafka()...))
	require.NoError(s.t, err)
	defer cl.Close()
	adm := kadm.NewClient(cl)
	var parts kadm.TopicsSet
	for i := range int32(partitions) {
		parts.Add(topic, i)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Millisecond) {
		ps, err := adm.DescribeProducers(context.Background(), parts)
		if err == nil && len(ps.SortedProducers()) > 0 {
			p.kill()
			return
		}
		require.True(s.t, time.Now().Before(deadline), "%s: no transaction open on %s within a minute (last error %v)", s.name, topic, err)
	}
}

// countRecords counts a topic's data records up to its end, read with the
// given isolation level.
func countRecords(t *testing.T, brokers []string, topic string, isolation kgo.IsolationLevel) int {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(isolation), kgo.KeepControlRecords())
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	require.NoError(t, err)
	need := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			need[o.Partition] = o.Offset - 1
		}
	})
	n := 0
	for len(need) > 0 {
		f := cl.PollFetches(ctx)
		require.NoError(t, ctx.Err(), "read %s", topic)
		f.EachRecord(func(r *kgo.Record) {
			if last, ok := need[r.Partition]; ok && r.Offset >= last {
				delete(need, r.Partition)
			}
			if !r.Attrs.IsControl() {
				n++
			}
		})
	}
	return n
}

// waitMembers waits until n members of the group each own partitions.
func (s *scenario) waitMembers(n int, procs ...*proc) {
	s.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.kafka()...))
	require.NoError(s.t, err)
	defer cl.Close()
	adm := kadm.NewClient(cl)
	deadline := time.Now().Add(time.Minute)
	for {
		groups, err := adm.DescribeGroups(context.Background(), s.name)
		if err == nil {
			owning := 0
			for _, m := range groups[s.name].Members {
				if a, ok := m.Assigned.AsConsumer(); ok && len(a.Topics) > 0 {
					owning++
				}
			}
			if owning >= n {
				return
			}
		}
		if time.Now().After(deadline) {
			var logs strings.Builder
			for _, p := range procs {
				logs.WriteString(p.stderr.String())
			}
			s.t.Fatalf("%s: not %d members owning partitions within a minute: %s", s.name, n, logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// killAt runs the scenario, killing its instance with SIGKILL once each
// fraction of the input is committed and restarting it, then stops it once
// everything is committed.
func (s *scenario) killAt(points []float64) {
	p := s.start("a")
	for _, x := range points {
		s.waitCommitted(int64(x*float64(s.all())), p)
		p.kill()
		p = s.start("a")
	}
	s.waitCommitted(s.all(), p)
	p.stop(s.t)
}

// watchCommits samples the group's committed offsets until the returned
// function is called, and fails the test if any partition's ever goes back.
func (s *scenario) watchCommits(t *testing.T) (stop func()) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.kafka()...))
	require.NoError(t, err)
	adm := kadm.NewClient(cl)
	done := make(chan struct{})
	var wg sync.WaitGroup
	var regressions []string
	var samples int
	wg.Go(func() {
		last := map[string]int64{}
		for {
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			offs, err := adm.FetchOffsets(ctx, s.name)
			cancel()
			if err != nil {
				continue
			}
			samples++
			offs.Each(func(o kadm.OffsetResponse) {
				k := fmt.Sprintf("%s/%d", o.Topic, o.Partition)
				if o.At < last[k] {
					regressions = append(regressions, fmt.Sprintf("%s: %d after %d", k, o.At, last[k]))
				}
				last[k] = max(last[k], o.At)
			})
		}
	})
	return func() {
		close(done)
		wg.Wait()
		cl.Close()
		t.Logf("committed offsets sampled %d times", samples)
		require.Positive(t, samples)
		require.Empty(t, regressions, "committed offsets never go back")
	}
}

// committedRecords reads a score-change topic with read_committed to its
// end and folds it as a consumer does: the last record of each account,
// contact and source, retracted ones dropped (DESIGN.md, "Event-time
// order"). Each surviving record counts how often it was written verbatim:
// more than once is an event applied twice.
func committedRecords(t *testing.T, brokers []string, topic string) map[string]int {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	require.NoError(t, err)
	need := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			need[o.Partition] = o.Offset - 1
		}
	})
	verbatim := map[string]int{}
	last := map[string]string{} // identity -> the record without its cause
	lastVerbatim := map[string]string{}
	for len(need) > 0 {
		f := cl.PollFetches(ctx)
		require.NoError(t, ctx.Err(), "read %s", topic)
		f.EachRecord(func(r *kgo.Record) {
			if last, ok := need[r.Partition]; ok && r.Offset >= last {
				delete(need, r.Partition)
			}
			if r.Attrs.IsControl() {
				return
			}
			v := string(r.Key) + " " + string(r.Value)
			verbatim[v]++
			var m map[string]any
			require.NoError(t, json.Unmarshal(r.Value, &m), "decode %s record", topic)
			id := fmt.Sprint(m["account_id"], "|", m["contact_id"], "|", m["source"])
			if m["retracted"] == true {
				delete(last, id)
				delete(lastVerbatim, id)
				return
			}
			delete(m, "cause")
			b, err := json.Marshal(m)
			require.NoError(t, err)
			last[id], lastVerbatim[id] = string(r.Key)+" "+string(b), v
		})
	}
	out := map[string]int{}
	for id, v := range last {
		out[v] = verbatim[lastVerbatim[id]]
	}
	return out
}
