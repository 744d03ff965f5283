package naive

import (
	"math"
	"strings"
	"time"
)

// Reason is one rule's contribution, as the score-changes topic carries it.
type Reason struct {
	Rule     string  `json:"rule"`
	Category string  `json:"category"`
	Points   float64 `json:"points"`
	Count    uint32  `json:"count"`
}

// Score is an account's or a contact's scoring state.
type Score struct {
	Firm  map[string]any
	Rules map[string]*ruleState // by rule name
	AsOf  time.Time
	Last  time.Time
	Known bool
	Stage string
	CRM   string

	Emitted   bool
	LastScore float64
	LastLabel string
	LastStage string
	Version   uint64
}

type ruleState struct {
	Sum    float64
	Count  uint32
	Window []earned
}

type earned struct {
	At     time.Time
	Points float64
}

// Result is a score as of Score.AsOf.
type Result struct {
	Fit, Engagement, Score float64
	Grade                  string
	Level                  uint8
	Label                  string
	Stage                  string
	Reasons                []Reason
}

const negligible = 1e-9

var rank = map[string]int{"": 0, "visitor": 0, "lead": 1, "mql": 2, "opportunity": 3, "customer": 4, "lost": 4}

func newScore() *Score {
	return &Score{Firm: map[string]any{}, Rules: map[string]*ruleState{}, Stage: "visitor"}
}

// Observe applies one event to s: decay to its time, the CRM outcome, and
// every rule it matches, capped.
func (r *Rules) Observe(s *Score, ev *Event) {
	t := ev.Time
	if t.After(s.AsOf) || s.AsOf.IsZero() {
		r.advance(s, t)
	}
	if t.After(s.Last) {
		s.Last = t
	}
	if ev.Type == "track" {
		to := ""
		switch strings.ToLower(ev.Event) {
		case "opportunity created":
			to = "opportunity"
		case "deal won":
			to = "customer"
		case "deal lost":
			to = "lost"
		}
		if to != "" && rank[to] > rank[s.CRM] {
			s.CRM = to
		}
	}
	for _, ru := range r.Engagement.Rules {
		if !ru.matches(ev) {
			continue
		}
		rs := s.Rules[ru.Name]
		if rs == nil {
			rs = &ruleState{}
			s.Rules[ru.Name] = rs
		}
		rs.Count++
		p := ru.Points
		if ru.Cap.Per != "" {
			per, _ := parseDays(ru.Cap.Per)
			used := 0.0
			for _, e := range rs.Window {
				if e.At.After(t.Add(-per)) && !e.At.After(t) {
					used += e.Points
				}
			}
			p = math.Min(ru.Points, ru.Cap.Points-used)
			if p <= negligible {
				continue
			}
			if t.After(s.AsOf.Add(-per)) {
				rs.Window = append(rs.Window, earned{At: t, Points: p})
			}
		}
		if t.Before(s.AsOf) {
			p *= math.Exp2(-float64(s.AsOf.Sub(t)) / float64(r.halfLife))
		}
		rs.Sum += p
		if math.Abs(rs.Sum) < negligible {
			rs.Sum = 0
		}
	}
}

// advance decays every sum to t and drops cap history older than its window.
func (r *Rules) advance(s *Score, t time.Time) {
	if !s.AsOf.IsZero() {
		f := math.Exp2(-float64(t.Sub(s.AsOf)) / float64(r.halfLife))
		for _, ru := range r.Engagement.Rules {
			rs := s.Rules[ru.Name]
			if rs == nil {
				continue
			}
			rs.Sum *= f
			if math.Abs(rs.Sum) < negligible {
				rs.Sum = 0
			}
			if ru.Cap.Per != "" {
				per, _ := parseDays(ru.Cap.Per)
				kept := []earned{}
				for _, e := range rs.Window {
					if e.At.After(t.Add(-per)) {
						kept = append(kept, e)
					}
				}
				rs.Window = kept
			}
		}
	}
	s.AsOf = t
}

// Evaluate scores s as of s.AsOf with firm as the firmographics, and moves
// its stage.
func (r *Rules) Evaluate(s *Score, firm map[string]any, contact bool) Result {
	fit, reasons := r.fit(firm)
	sum := 0.0
	for _, ru := range r.Engagement.Rules {
		rs := s.Rules[ru.Name]
		if rs == nil || rs.Sum == 0 {
			continue
		}
		sum += rs.Sum
		reasons = append(reasons, Reason{Rule: ru.Name, Category: ru.Category, Points: rs.Sum, Count: rs.Count})
	}
	eng := math.Max(0, math.Min(100, sum))
	score := r.Score.Weights["fit"]*fit + r.Score.Weights["engagement"]*eng
	known := s.Known || contact
	next := s.Stage
	switch {
	case !contact && rank[s.CRM] > rank[s.Stage]:
		next = s.CRM
	case rank[s.Stage] >= rank["opportunity"]:
	case s.Stage == "mql":
		if score < r.Stages.MQL.Exit {
			next = "lead"
		}
	case !known:
	case score >= r.Stages.MQL.Enter:
		next = "mql"
	default:
		next = "lead"
	}
	s.Stage = next
	g, l := r.grade(fit), r.level(eng)
	return Result{
		Fit: fit, Engagement: eng, Score: score, Grade: g, Level: l,
		Label: g + string(rune('0'+l)), Stage: next, Reasons: reasons,
	}
}

// ShouldEmit reports whether res is a change worth a row after s's last
// emitted one, and records it as emitted when so.
func (r *Rules) ShouldEmit(s *Score, res *Result) bool {
	if s.Emitted && res.Label == s.LastLabel && res.Stage == s.LastStage &&
		math.Abs(res.Score-s.LastScore) < r.Score.MinDelta {
		return false
	}
	return true
}
