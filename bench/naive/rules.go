package naive

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Rules is a rules file read into plain structs: the subset of the language
// the contract's example uses (fit attributes, capped engagement rules on
// type, event and path prefix, levels, weights, min_delta, the mql line).
type Rules struct {
	Version string `yaml:"version"`
	Fit     struct {
		Attributes map[string]Attribute `yaml:"attributes"`
		Grades     map[string]float64   `yaml:"grades"`
	} `yaml:"fit"`
	Engagement struct {
		HalfLife string             `yaml:"half_life"`
		Rules    []Rule             `yaml:"rules"`
		Levels   map[string]float64 `yaml:"levels"`
	} `yaml:"engagement"`
	Score struct {
		Weights  map[string]float64 `yaml:"weights"`
		MinDelta float64            `yaml:"min_delta"`
	} `yaml:"score"`
	Stages struct {
		MQL struct {
			Enter float64 `yaml:"enter"`
			Exit  float64 `yaml:"exit"`
		} `yaml:"mql"`
	} `yaml:"stages"`

	halfLife time.Duration
}

// Attribute is one fit attribute: a points map, bands or an any_of list.
type Attribute struct {
	Points any `yaml:"points"` // a map of values, or any_of's points
	Bands  []struct {
		Min    float64 `yaml:"min"`
		Max    float64 `yaml:"max"`
		Points float64 `yaml:"points"`
	} `yaml:"bands"`
	AnyOf     []string `yaml:"any_of"`
	AnyPoints float64  `yaml:"-"`
	Values    map[string]float64
}

// Rule is one engagement rule.
type Rule struct {
	Name     string `yaml:"name"`
	Category string `yaml:"category"`
	When     struct {
		Type       string `yaml:"type"`
		Event      string `yaml:"event"`
		PathPrefix string `yaml:"path_prefix"`
	} `yaml:"when"`
	Points float64 `yaml:"points"`
	Cap    struct {
		Points float64 `yaml:"points"`
		Per    string  `yaml:"per"`
	} `yaml:"cap"`
}

// ParseRules reads a rules file of the example's subset.
func ParseRules(data []byte) (*Rules, error) {
	var r Rules
	if err := yaml.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("parse rules: %w", err)
	}
	for name, a := range r.Fit.Attributes {
		switch pts := a.Points.(type) {
		case map[string]any:
			a.Values = map[string]float64{}
			for k, v := range pts {
				a.Values[k] = number(v)
			}
		default:
			a.AnyPoints = number(pts)
		}
		r.Fit.Attributes[name] = a
	}
	hl, err := parseDays(r.Engagement.HalfLife)
	if err != nil {
		return nil, fmt.Errorf("parse rules: half_life: %w", err)
	}
	r.halfLife = hl
	for _, ru := range r.Engagement.Rules {
		if ru.Cap.Per != "" {
			if _, err := parseDays(ru.Cap.Per); err != nil {
				return nil, fmt.Errorf("parse rules: %s: cap.per: %w", ru.Name, err)
			}
		}
	}
	return &r, nil
}

// parseDays reads "14d", "36h" or any Go duration.
func parseDays(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseFloat(d, 64)
		return time.Duration(n * float64(24*time.Hour)), err
	}
	return time.ParseDuration(s)
}

func number(v any) float64 {
	switch x := v.(type) {
	case int:
		return float64(x)
	case float64:
		return x
	case string:
		f, _ := strconv.ParseFloat(x, 64)
		return f
	}
	return 0
}

// fit scores firmographics: the attribute points, clamped to 0..100.
func (r *Rules) fit(f map[string]any) (float64, []Reason) {
	total := 0.0
	var reasons []Reason
	for _, name := range []string{"industry", "employees", "country", "technologies"} {
		a, ok := r.Fit.Attributes[name]
		if !ok {
			continue
		}
		p := 0.0
		v, has := f[name]
		switch {
		case !has:
		case a.AnyOf != nil:
			list, _ := v.([]string)
			for _, t := range list {
				for _, want := range a.AnyOf {
					if strings.EqualFold(strings.TrimSpace(t), want) {
						p = a.AnyPoints
					}
				}
			}
		case a.Bands != nil:
			n := number(v)
			for _, b := range a.Bands {
				if n >= b.Min && n <= b.Max {
					p = b.Points
					break
				}
			}
		default:
			s := strings.ToLower(strings.TrimSpace(fmt.Sprint(v)))
			if s == "" {
				break
			}
			found := false
			for k, pts := range a.Values {
				if k != "*" && strings.ToLower(k) == s {
					p, found = pts, true
				}
			}
			if !found {
				p = a.Values["*"]
			}
		}
		if p != 0 {
			total += p
			reasons = append(reasons, Reason{Rule: name, Category: "fit", Points: p})
		}
	}
	return math.Max(0, math.Min(100, total)), reasons
}

// grade and level read the lines of the rules file.
func (r *Rules) grade(fit float64) string {
	for _, g := range []string{"A", "B", "C"} {
		if fit >= r.Fit.Grades[g] {
			return g
		}
	}
	return "D"
}

func (r *Rules) level(eng float64) uint8 {
	for _, l := range []string{"1", "2", "3"} {
		if eng >= r.Engagement.Levels[l] {
			n, _ := strconv.Atoi(l)
			return uint8(n)
		}
	}
	return 4
}

// matches tells whether ev meets rule ru's when.
func (ru *Rule) matches(ev *Event) bool {
	w := ru.When
	if w.Type != "" && w.Type != ev.Type {
		return false
	}
	if w.Event != "" && !strings.EqualFold(w.Event, ev.Event) {
		return false
	}
	if w.PathPrefix != "" && !strings.HasPrefix(ev.path(), w.PathPrefix) {
		return false
	}
	return true
}
