package scorer

import (
	"fmt"
	"time"
)

// Stage is a funnel stage. Stages only move forward, except mql -> lead when
// the score falls below the hysteresis line; customer and lost are terminal.
type Stage uint8

// The funnel stages, in funnel order. Customer and lost share the last rank:
// neither follows the other.
const (
	StageVisitor     Stage = iota // no known person
	StageLead                     // a known person is linked
	StageMQL                      // a known person and the score crossed stages.mql.enter
	StageOpportunity              // a CRM "Opportunity Created" event
	StageCustomer                 // a CRM "Deal Won" event
	StageLost                     // a CRM "Deal Lost" event
)

// String returns the stage's name as rows carry it: "visitor", "lead", "mql",
// "opportunity", "customer" or "lost".
func (s Stage) String() string {
	switch s {
	case StageVisitor:
		return "visitor"
	case StageLead:
		return "lead"
	case StageMQL:
		return "mql"
	case StageOpportunity:
		return "opportunity"
	case StageCustomer:
		return "customer"
	case StageLost:
		return "lost"
	}
	return "unknown"
}

// MarshalText encodes s by name, so snapshots stay readable and do not
// depend on the order of the constants.
func (s Stage) MarshalText() ([]byte, error) {
	if s > StageLost {
		return nil, fmt.Errorf("marshal stage: unknown stage %d", uint8(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText decodes a stage name written by MarshalText.
func (s *Stage) UnmarshalText(b []byte) error {
	for c := StageVisitor; c <= StageLost; c++ {
		if c.String() == string(b) {
			*s = c
			return nil
		}
	}
	return fmt.Errorf("unmarshal stage: unknown stage %q", b)
}

// rank orders stages for "only move forward": customer and lost tie.
func (s Stage) rank() int {
	if s == StageLost {
		return int(StageCustomer)
	}
	return int(s)
}

// Firmographics are the account attributes the fit score reads, merged by
// the pipeline from group traits.
type Firmographics struct {
	Industry string
	// Employees counts only when HasEmployees is set; an absent count is a
	// missing attribute and scores 0, whatever the bands say about 0.
	Employees    int64
	HasEmployees bool
	Country      string
	Technologies []string
}

// State is one account's (or contact's) scoring state, owned by one
// partition worker. All fields are exported and JSON-serialisable because
// the worker snapshots it; the zero value is a fresh account. The binary
// snapshot format (binary.go) lists every field of State and of the types
// in it: a new field takes a new format version there.
type State struct {
	Firm Firmographics
	// Title is a contact's job title, for its persona; empty on accounts.
	Title string
	// AsOf is the time the state is decayed to: the newest event time
	// applied, or a later time the pipeline advanced it to (a partition's
	// watermark, see [Rules.Advance]). RuleState sums are decayed to it and
	// Evaluate scores as of it.
	AsOf time.Time
	// Last is the newest event time applied, for since_last conditions.
	Last time.Time
	// Known records that a known person is linked; the pipeline sets it.
	Known bool
	// Stage is the current stage, advanced by Evaluate.
	Stage Stage
	// CRM is the highest CRM stage seen by Observe (opportunity, customer or
	// lost); StageVisitor means none.
	CRM Stage
	// Rules holds one entry per engagement rule, in file order. Observe
	// allocates it when the first rule matches, so accounts that never
	// engage cost nothing. Each entry carries its rule's id, so a state
	// built under other rules is carried over by [Rules.Migrate].
	Rules []RuleState
	// Intent holds the account's intent signals per topic.
	Intent []TopicIntent
	// Group holds the contacts that engaged recently, for the buying group.
	Group []Member
}

// RuleState is one engagement rule's running contribution for an account.
type RuleState struct {
	// ID is the rule's id (its when and cap), Points its points when the
	// state was built; both serve Migrate.
	ID     uint64
	Points float64
	// Sum is the rule's earned points decayed to State.AsOf. It is not
	// clamped: clamping applies to the engagement total only.
	Sum float64
	// Count is the number of events that matched the rule, including those
	// the cap cut to nothing. It saturates at the uint32 maximum.
	Count uint32
	// RuleHist holds the histories of a rule with a cap or a count
	// condition, nil for the others (most rules): a nil pointer costs 8
	// bytes per rule and account where two empty slices cost 48. It is
	// embedded, so its fields encode as RuleState's own, as they always
	// did.
	*RuleHist
}

// RuleHist is a rule's cap and count history.
type RuleHist struct {
	// Window is the cap history: the undecayed points earned by events
	// inside the cap window of AsOf, (AsOf-per, AsOf]. Entries that earned
	// nothing are not kept, so for events in time order it holds at most
	// cap.points/points + 1 entries. Always nil for uncapped rules.
	Window []Earned
	// Times are the times of the events that met the rule's other
	// conditions within the count window of AsOf, for a count condition.
	Times []time.Time
}

// hist returns rs's history, made when it has none.
func (rs *RuleState) hist() *RuleHist {
	if rs.RuleHist == nil {
		rs.RuleHist = &RuleHist{}
	}
	return rs.RuleHist
}

// window and times are rs's histories, nil when it has none.
func (rs *RuleState) window() []Earned {
	if rs.RuleHist == nil {
		return nil
	}
	return rs.Window
}

func (rs *RuleState) times() []time.Time {
	if rs.RuleHist == nil {
		return nil
	}
	return rs.Times
}

// compact drops an empty history: states read from a snapshot written
// before RuleHist existed carry empty histories for every rule.
func (rs *RuleState) compact() {
	if h := rs.RuleHist; h != nil && len(h.Window) == 0 && len(h.Times) == 0 {
		rs.RuleHist = nil
	}
}

// Earned is the undecayed points one event earned for a capped rule.
type Earned struct {
	At     time.Time
	Points float64
}
