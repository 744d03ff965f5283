package generate

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"time"
)

// Config shapes a generated stream. New replaces zero fields with the
// defaults of DefaultConfig; a negative rate means none.
type Config struct {
	// Seed selects the stream: the same Config gives the same records.
	Seed int64 `yaml:"seed"`
	// Accounts is how many companies visit; default 2000.
	Accounts int `yaml:"accounts"`
	// Start is the event time of the first record; default 2026-01-05T00:00:00Z.
	Start time.Time `yaml:"start"`
	// MeanGap is the mean event-time gap between consecutive records, drawn
	// from an exponential distribution; default 5s.
	MeanGap time.Duration `yaml:"mean_gap"`
	// MalformedRate is the share of records built to fail decoding; default 0.005.
	MalformedRate float64 `yaml:"malformed_rate"`
	// DuplicateRate is the share of records that re-send an earlier valid
	// record byte for byte (same messageId); default 0.01.
	DuplicateRate float64 `yaml:"duplicate_rate"`
}

// DefaultConfig returns the defaults New fills in.
func DefaultConfig() Config {
	return Config{
		Accounts:      2000,
		Start:         time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC),
		MeanGap:       5 * time.Second,
		MalformedRate: 0.005,
		DuplicateRate: 0.01,
	}
}

// WithDefaults returns c with every zero field set to its default and
// negative rates set to zero: the configuration New actually runs.
func (c Config) WithDefaults() Config {
	d := DefaultConfig()
	if c.Accounts <= 0 {
		c.Accounts = d.Accounts
	}
	if c.Start.IsZero() {
		c.Start = d.Start
	}
	if c.MeanGap <= 0 {
		c.MeanGap = d.MeanGap
	}
	c.MalformedRate = rate(c.MalformedRate, d.MalformedRate)
	c.DuplicateRate = rate(c.DuplicateRate, d.DuplicateRate)
	return c
}

func rate(v, def float64) float64 {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return min(v, 1)
}

// Record is one generated Kafka record.
type Record struct {
	// Key is the account's domain (see the package doc); Value is the JSON.
	// Both are fresh on every call: the caller owns them.
	Key, Value []byte
	// Malformed records are built to fail event.Decode with DefaultLimits.
	Malformed bool
	// Duplicate records re-send an earlier valid record unchanged.
	Duplicate bool
	// Kind is the Segment call type of a valid record ("page", "track",
	// "identify", "group", "alias") and, for a malformed one, the
	// event.Reason it must be rejected with ("invalid_json", ...).
	Kind string
}

// Generator produces a deterministic stream of records. Create it with New.
type Generator struct {
	cfg      Config
	r        *rand.Rand
	zipf     *rand.Zipf
	accounts []account
	now      time.Time
	flows    []flow
	w        jsonWriter
	recent   recentRing
}

// maxFlows bounds the sessions, funnels and form sequences in progress; they
// interleave, as visitors on a real site do.
const maxFlows = 64

// New returns a generator for cfg, with defaults filled in.
func New(cfg Config) *Generator {
	cfg = cfg.WithDefaults()
	r := rand.New(rand.NewPCG(uint64(cfg.Seed), uint64(cfg.Seed)^0x9e3779b97f4a7c15))
	g := &Generator{
		cfg:      cfg,
		r:        r,
		accounts: newWorld(r, cfg.Accounts),
		now:      cfg.Start,
	}
	// s=1.1 with offset 3: the top account draws about 7% of the traffic, the
	// median one about 0.01%, a long tail much like real B2B site traffic.
	g.zipf = rand.NewZipf(r, 1.1, 3, uint64(cfg.Accounts-1))
	g.w.b = make([]byte, 0, 1024)
	return g
}

// Config returns the configuration the generator runs with, defaults filled in.
func (g *Generator) Config() Config { return g.cfg }

// Next returns the next record.
func (g *Generator) Next() Record {
	u := g.r.Float64()
	if u < g.cfg.DuplicateRate && g.recent.n > 0 {
		return g.recent.pick(g.r)
	}
	if u < g.cfg.DuplicateRate+g.cfg.MalformedRate {
		return g.malformed()
	}
	return g.valid()
}

// WriteJSONLines writes the values of the next n records of g to w, one per
// line. Malformed records are written too; none contains a raw newline.
func WriteJSONLines(w io.Writer, g *Generator, n int) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	for range n {
		rec := g.Next()
		bw.Write(rec.Value)
		if err := bw.WriteByte('\n'); err != nil {
			return fmt.Errorf("write json lines: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write json lines: %w", err)
	}
	return nil
}

// record copies the built value and the key into one fresh allocation.
func (g *Generator) record(a *account, kind string, malformed bool) Record {
	buf := make([]byte, len(a.domain)+len(g.w.b))
	k := copy(buf, a.domain)
	copy(buf[k:], g.w.b)
	rec := Record{Key: buf[:k:k], Value: buf[k:], Kind: kind, Malformed: malformed}
	if !malformed {
		g.recent.add(rec)
	}
	return rec
}

// advance moves event time on by an exponential gap.
func (g *Generator) advance() {
	g.now = g.now.Add(time.Duration(g.r.ExpFloat64() * float64(g.cfg.MeanGap)))
}

// recentRing keeps copies of the last valid records, for re-sending.
type recentRing struct {
	keys, values [256][]byte
	kinds        [256]string
	next, n      int
}

func (q *recentRing) add(rec Record) {
	q.keys[q.next] = append(q.keys[q.next][:0], rec.Key...)
	q.values[q.next] = append(q.values[q.next][:0], rec.Value...)
	q.kinds[q.next] = rec.Kind
	q.next = (q.next + 1) % len(q.keys)
	q.n = min(q.n+1, len(q.keys))
}

func (q *recentRing) pick(r *rand.Rand) Record {
	i := r.IntN(q.n)
	buf := make([]byte, len(q.keys[i])+len(q.values[i]))
	k := copy(buf, q.keys[i])
	copy(buf[k:], q.values[i])
	return Record{Key: buf[:k:k], Value: buf[k:], Kind: q.kinds[i], Duplicate: true}
}
