package naive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Config is where the baseline reads and writes.
type Config struct {
	Brokers  []string
	Topic    string // input
	Group    string
	OutTopic string // score changes
	DLQTopic string
	// CHAddr and CHDatabase name the ClickHouse database; an empty CHAddr
	// discards the rows.
	CHAddr, CHDatabase string
	// FlushInterval and FlushRecords say when rows are inserted and offsets
	// committed, as the engine's engine.flush_interval and flush_records.
	FlushInterval time.Duration
	FlushRecords  int
	Rules         []byte
}

type account struct {
	score    *Score
	contacts map[string]*Score
}

type parked struct {
	ev  *Event
	src Source
}

// Pipeline is the baseline's state: everything in maps with string keys.
type Pipeline struct {
	cfg      Config
	rules    *Rules
	accounts map[string]*account
	links    map[string]string   // person id -> account
	pending  map[string][]parked // anonymous visitor -> events waiting for a link
	seen     map[string]bool     // message ids
	seenRing []string
	dirty    map[string]bool // account/contact keys changed since the last flush

	sink    *SQLSink
	cl      *kgo.Client
	records int
}

// New prepares a pipeline; Run connects.
func New(cfg Config) (*Pipeline, error) {
	r, err := ParseRules(cfg.Rules)
	if err != nil {
		return nil, err
	}
	return &Pipeline{
		cfg: cfg, rules: r,
		accounts: map[string]*account{}, links: map[string]string{}, pending: map[string][]parked{},
		seen: map[string]bool{}, dirty: map[string]bool{},
	}, nil
}

// Run consumes until ctx ends; ready is called once the client exists.
func (p *Pipeline) Run(ctx context.Context, ready func()) error {
	if p.cfg.CHAddr != "" {
		s, err := OpenSQL(p.cfg.CHAddr, p.cfg.CHDatabase)
		if err != nil {
			return err
		}
		defer s.Close()
		p.sink = s
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(p.cfg.Brokers...),
		kgo.ConsumerGroup(p.cfg.Group),
		kgo.ConsumeTopics(p.cfg.Topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.ProducerLinger(5*time.Millisecond), // as the engine's producer
	)
	if err != nil {
		return fmt.Errorf("naive: %w", err)
	}
	defer cl.Close()
	p.cl = cl
	ready()
	last := time.Now()
	for {
		pctx, cancel := context.WithTimeout(ctx, p.cfg.FlushInterval)
		fs := cl.PollRecords(pctx, 10_000)
		cancel()
		if ctx.Err() != nil {
			return p.flush(context.Background())
		}
		for _, e := range fs.Errors() {
			if !errors.Is(e.Err, context.DeadlineExceeded) {
				return fmt.Errorf("naive: poll %s/%d: %w", e.Topic, e.Partition, e.Err)
			}
		}
		fs.EachRecord(p.Process)
		if time.Since(last) >= p.cfg.FlushInterval || p.records >= p.cfg.FlushRecords {
			if err := p.flush(ctx); err != nil {
				return err
			}
			last = time.Now()
		}
	}
}

func (p *Pipeline) flush(ctx context.Context) error {
	for key := range p.dirty {
		acct, cid, _ := strings.Cut(key, "\x00")
		a := p.accounts[acct]
		s := a.score
		if cid != "" {
			s = a.contacts[cid]
		}
		res := p.rules.Evaluate(&Score{Rules: s.Rules, AsOf: s.AsOf, Known: s.Known, Stage: s.Stage, CRM: s.CRM}, a.score.Firm, cid != "")
		if p.sink != nil {
			p.sink.AddScore(ScoreRow{AccountID: acct, ContactID: cid, Score: res.Score, Fit: res.Fit, Engagement: res.Engagement,
				Grade: res.Grade, Level: res.Level, Label: res.Label, Stage: res.Stage, Reasons: res.Reasons,
				RulesVersion: p.rules.Version, AsOf: s.AsOf, Version: s.Version})
		}
	}
	p.dirty = map[string]bool{}
	if p.sink != nil {
		if err := p.sink.Flush(ctx); err != nil {
			return err
		}
	}
	if err := p.cl.Flush(ctx); err != nil {
		return fmt.Errorf("naive: flush producer: %w", err)
	}
	if err := p.cl.CommitUncommittedOffsets(ctx); err != nil {
		return fmt.Errorf("naive: commit: %w", err)
	}
	p.records = 0
	return nil
}

// Process scores one input record.
func (p *Pipeline) Process(rec *kgo.Record) {
	p.records++
	ev, err := Decode(rec.Value)
	if err != nil {
		p.produce(&kgo.Record{Topic: p.cfg.DLQTopic, Value: rec.Value, Headers: []kgo.RecordHeader{
			{Key: "leadscore.error.detail", Value: []byte(err.Error())},
			{Key: "leadscore.source.topic", Value: []byte(rec.Topic)},
		}})
		return
	}
	if id := ev.Message(); id != "" {
		if p.seen[id] {
			return
		}
		p.seen[id] = true
		p.seenRing = append(p.seenRing, id)
		if len(p.seenRing) > 400_000 {
			delete(p.seen, p.seenRing[0])
			p.seenRing = p.seenRing[1:]
		}
	}
	p.Apply(ev, Source{Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset})
}

// Apply resolves ev's account and scores it, or parks it until its visitor
// is linked.
func (p *Pipeline) Apply(ev *Event, src Source) {
	ids := []string{}
	if u := ev.User(); u != "" {
		ids = append(ids, "u:"+u)
	}
	if a := ev.Anon(); a != "" {
		ids = append(ids, "a:"+a)
	}
	if ev.Type == "alias" {
		if prev := ev.str(ev.PreviousID); prev != "" {
			ids = append(ids, "a:"+prev, "u:"+prev)
		}
	}
	acct := ev.account()
	if acct == "" && ev.Type == "identify" {
		acct = ev.companyDomain()
	}
	link := acct != "" && (ev.Type == "identify" || ev.Type == "alias" || ev.Type == "group")
	if acct == "" {
		for _, id := range ids {
			if a, ok := p.links[id]; ok {
				acct = a
				break
			}
		}
		link = ev.Type == "alias" || ev.Type == "identify"
	}
	if acct == "" {
		if len(ids) > 0 && len(p.pending[ids[0]]) < 64 {
			p.pending[ids[0]] = append(p.pending[ids[0]], parked{ev, src})
		}
		return
	}
	a := p.accounts[acct]
	if a == nil {
		a = &account{score: newScore(), contacts: map[string]*Score{}}
		p.accounts[acct] = a
	}
	if link {
		for _, id := range ids {
			p.links[id] = acct
			if waiting, ok := p.pending[id]; ok {
				delete(p.pending, id)
				for _, w := range waiting {
					p.score(acct, a, w.ev, w.src)
				}
			}
		}
	}
	p.score(acct, a, ev, src)
}

func (p *Pipeline) score(acct string, a *account, ev *Event, src Source) {
	r := p.rules
	before := a.score.Stage
	r.Observe(a.score, ev)
	cid := ev.User()
	if cid == "" && ev.Type == "identify" {
		cid = strings.ToLower(getString(ev.Traits, "email"))
	}
	var c *Score
	if cid != "" {
		c = a.contacts[cid]
		if c == nil {
			c = newScore()
			a.contacts[cid] = c
		}
		c.Known = true
		r.Observe(c, ev)
	}
	if ev.Type == "group" {
		for k, v := range ev.firmographics() {
			a.score.Firm[k] = v
		}
	}
	if ev.User() != "" || (ev.Type == "identify" && getString(ev.Traits, "email") != "") {
		a.score.Known = true
	}
	a.score.Version++
	res := r.Evaluate(a.score, a.score.Firm, false)
	p.emit(acct, "", a.score, &res, before, src)
	p.dirty[acct+"\x00"] = true
	if c != nil {
		cb := c.Stage
		c.Version++
		cres := r.Evaluate(c, a.score.Firm, true)
		p.emit(acct, cid, c, &cres, cb, src)
		p.dirty[acct+"\x00"+cid] = true
	}
	if p.sink != nil {
		rules, points := []string{}, []float64{}
		for _, ru := range r.Engagement.Rules {
			if ru.matches(ev) {
				rules = append(rules, ru.Name)
				points = append(points, ru.Points)
			}
		}
		p.sink.AddEvent(EventRow{AccountID: acct, ContactID: cid, At: ev.Time, Type: ev.Type, Event: ev.Event, Path: ev.path(),
			Rules: rules, Points: points, Source: src})
	}
}

func (p *Pipeline) emit(acct, cid string, s *Score, res *Result, before string, src Source) {
	if p.sink != nil && (s.Version == 1 || res.Stage != before) {
		p.sink.AddTransition(TransitionRow{AccountID: acct, ContactID: cid, From: before, To: res.Stage, At: s.AsOf, Source: src})
	}
	if !p.rules.ShouldEmit(s, res) {
		return
	}
	ch := ChangeRow{AccountID: acct, ContactID: cid, Score: res.Score, Fit: res.Fit, Engagement: res.Engagement,
		Grade: res.Grade, Level: res.Level, Label: res.Label, Stage: res.Stage, Reasons: res.Reasons,
		RulesVersion: p.rules.Version, AsOf: s.AsOf, Source: src, Cause: "event"}
	if s.Emitted {
		ch.PreviousLabel, ch.PreviousStage, ch.PreviousScore = s.LastLabel, s.LastStage, s.LastScore
	}
	s.Emitted, s.LastScore, s.LastLabel, s.LastStage = true, res.Score, res.Label, res.Stage
	value, err := json.Marshal(ch)
	if err != nil {
		panic(err) // a struct of plain fields always encodes
	}
	p.produce(&kgo.Record{Topic: p.cfg.OutTopic, Key: []byte(acct), Value: value})
	if p.sink != nil {
		p.sink.AddChange(ch)
	}
}

func (p *Pipeline) produce(rec *kgo.Record) {
	if p.cl == nil {
		return
	}
	p.cl.Produce(context.Background(), rec, func(_ *kgo.Record, err error) {
		if err != nil {
			fmt.Println("naive: produce:", err)
		}
	})
}
