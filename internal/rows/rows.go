package rows

import "time"

// Reason is one rule's current contribution to a score.
type Reason struct {
	Rule     string  `json:"rule"`
	Category string  `json:"category"`
	Points   float64 `json:"points"`
}

// Source names the input record a row was derived from. Together with the
// account and contact it is the row's deterministic identity: replaying the
// same input yields the same identity, so ReplacingMergeTree keeps one row.
type Source struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
}

// ScoreChange is an emitted score change: a row of score_changes and a record
// of the score-changes topic.
type ScoreChange struct {
	AccountID     string    `json:"account_id"`
	ContactID     string    `json:"contact_id"`
	Score         float64   `json:"score"`
	Fit           float64   `json:"fit"`
	Engagement    float64   `json:"engagement"`
	Grade         string    `json:"grade"`
	Level         uint8     `json:"level"`
	Label         string    `json:"label"`
	Stage         string    `json:"stage"`
	PreviousLabel string    `json:"previous_label"`
	PreviousStage string    `json:"previous_stage"`
	PreviousScore float64   `json:"previous_score"`
	Reasons       []Reason  `json:"reasons"`
	RulesVersion  string    `json:"rules_version"`
	AsOf          time.Time `json:"as_of"`
	Source        Source    `json:"source"`
}

// AccountScore is the latest score of an account (or contact): a row of
// account_scores. Version grows by one with every event applied to the
// account, so the newest row wins in ReplacingMergeTree and a replayed row
// carries the same version and content as the original.
type AccountScore struct {
	AccountID    string
	ContactID    string
	Score        float64
	Fit          float64
	Engagement   float64
	Grade        string
	Level        uint8
	Label        string
	Stage        string
	Reasons      []Reason
	RulesVersion string
	AsOf         time.Time
	Version      uint64
}

// FunnelTransition is a change of stage: a row of funnel_transitions.
// Source, Medium and Campaign are the account's first-touch channel.
type FunnelTransition struct {
	AccountID    string
	ContactID    string
	FromStage    string
	ToStage      string
	At           time.Time
	Source       string
	Medium       string
	Campaign     string
	RecordSource Source
}

// Batch is what one worker hands to the sinks at once. Sinks copy what they
// keep; the caller may reuse the batch after Write returns.
type Batch struct {
	Changes     []ScoreChange
	Scores      []AccountScore
	Transitions []FunnelTransition
}

// Len is the number of rows in b.
func (b *Batch) Len() int { return len(b.Changes) + len(b.Scores) + len(b.Transitions) }

// Reset empties b, keeping its capacity.
func (b *Batch) Reset() {
	b.Changes = b.Changes[:0]
	b.Scores = b.Scores[:0]
	b.Transitions = b.Transitions[:0]
}
