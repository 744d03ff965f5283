package scorer

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/leadscore/leadscore/internal/event"
)

const day = 24 * time.Hour

// t0 is an arbitrary event time the tests count from.
var t0 = time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC)

// rulesTemplate is a complete rules file whose engagement rules, fit
// attributes and a few settings the tests fill in.
const rulesTemplate = `version: test
fit:
  attributes: ATTRS
  grades: {A: 80, B: 60, C: 40}
engagement:
  half_life: HALFLIFE
  rules: RULES
  levels: {1: 80, 2: 50, 3: 20}
score:
  weights: WEIGHTS
  min_delta: 5
stages:
  mql: {enter: 70, exit: 60}
`

// spec fills rulesTemplate. Zero fields take the defaults below.
type spec struct {
	attrs    string   // a flow mapping; default {}
	halfLife string   // default 14d
	rules    []string // flow mappings, one per rule; default []
	weights  string   // default {fit: 0.4, engagement: 0.6}
}

func (s spec) yaml() string {
	attrs, hl, weights := s.attrs, s.halfLife, s.weights
	if attrs == "" {
		attrs = "{}"
	}
	if hl == "" {
		hl = "14d"
	}
	if weights == "" {
		weights = "{fit: 0.4, engagement: 0.6}"
	}
	rules := "[]"
	if len(s.rules) > 0 {
		rules = "\n    - " + strings.Join(s.rules, "\n    - ")
	}
	return strings.NewReplacer("ATTRS", attrs, "HALFLIFE", hl, "RULES", rules, "WEIGHTS", weights).Replace(rulesTemplate)
}

func mustParse(t testing.TB, data string) *Rules {
	t.Helper()
	r, err := Parse([]byte(data), "test.yaml")
	require.NoError(t, err)
	return r
}

func exampleRules(t testing.TB) *Rules {
	t.Helper()
	return mustParse(t, string(Example()))
}

func page(at time.Time, path string) *event.Event {
	return &event.Event{Type: event.TypePage, Time: at, Context: event.Context{Page: event.Page{Path: path}}}
}

func track(at time.Time, name string) *event.Event {
	return &event.Event{Type: event.TypeTrack, Time: at, Event: name}
}

func identify(at time.Time) *event.Event {
	return &event.Event{Type: event.TypeIdentify, Time: at, UserID: "u1"}
}

// half is 0.5^(d/halfLife), written out so tests do not call decay.
func half(d, halfLife time.Duration) float64 {
	return pow2(-d.Hours() / halfLife.Hours())
}

// evaluate runs Evaluate into a fresh Result.
func evaluate(r *Rules, s *State) Result {
	var res Result
	r.Evaluate(s, &res)
	return res
}

// reasonPoints returns the points of the reason named rule, 0 when absent.
func reasonPoints(res Result, rule string) float64 {
	for _, rr := range res.Reasons {
		if rr.Rule == rule {
			return rr.Points
		}
	}
	return 0
}

func pow2(x float64) float64 { return math.Pow(2, x) }
