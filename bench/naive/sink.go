package naive

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// ChangeRow is a score_changes row and, encoded with encoding/json, a record
// of the score-changes topic.
type ChangeRow struct {
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
	Cause         string    `json:"cause"`
}

// Source names the input record.
type Source struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
}

// ScoreRow is an account_scores row.
type ScoreRow struct {
	AccountID, ContactID   string
	Score, Fit, Engagement float64
	Grade                  string
	Level                  uint8
	Label, Stage           string
	Reasons                []Reason
	RulesVersion           string
	AsOf                   time.Time
	Version                uint64
}

// EventRow is a score_events row.
type EventRow struct {
	AccountID, ContactID string
	At                   time.Time
	Type, Event, Path    string
	Rules                []string
	Points               []float64
	Source               Source
}

// TransitionRow is a funnel_transitions row.
type TransitionRow struct {
	AccountID, ContactID string
	From, To             string
	At                   time.Time
	Source               Source
}

// SQLSink buffers rows and inserts them through database/sql, one Exec per
// row in one transaction per Flush: how a Go service usually writes to a
// database.
type SQLSink struct {
	db          *sql.DB
	changes     []ChangeRow
	scores      []ScoreRow
	events      []EventRow
	transitions []TransitionRow
}

// OpenSQL opens a database/sql pool on clickhouse-go's driver.
func OpenSQL(addr, database string) (*SQLSink, error) {
	db := clickhouse.OpenDB(&clickhouse.Options{
		Addr:        []string{addr},
		Auth:        clickhouse.Auth{Database: database, Username: "default"},
		DialTimeout: 5 * time.Second,
	})
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open clickhouse %s: %w", addr, err)
	}
	return &SQLSink{db: db}, nil
}

// Len is the number of buffered rows.
func (s *SQLSink) Len() int {
	return len(s.changes) + len(s.scores) + len(s.events) + len(s.transitions)
}

// AddChange, AddScore, AddEvent and AddTransition buffer one row.
func (s *SQLSink) AddChange(r ChangeRow)         { s.changes = append(s.changes, r) }
func (s *SQLSink) AddScore(r ScoreRow)           { s.scores = append(s.scores, r) }
func (s *SQLSink) AddEvent(r EventRow)           { s.events = append(s.events, r) }
func (s *SQLSink) AddTransition(r TransitionRow) { s.transitions = append(s.transitions, r) }

func reasonColumns(rs []Reason) ([]string, []string, []float64, []uint32) {
	rule, cat, pts, cnt := []string{}, []string{}, []float64{}, []uint32{}
	for _, r := range rs {
		rule = append(rule, r.Rule)
		cat = append(cat, r.Category)
		pts = append(pts, r.Points)
		cnt = append(cnt, r.Count)
	}
	return rule, cat, pts, cnt
}

// Flush inserts every buffered row, table by table, one transaction each.
func (s *SQLSink) Flush(ctx context.Context) error {
	err := errors.Join(
		s.insert(ctx, "INSERT INTO score_changes (account_id, contact_id, as_of, score, fit, engagement, grade, level, label, stage, previous_label, previous_stage, previous_score, reasons_rule, reasons_category, reasons_points, reasons_count, rules_version, source_topic, source_partition, source_offset, cause)",
			len(s.changes), func(stmt *sql.Stmt, i int) error {
				r := &s.changes[i]
				rule, cat, pts, cnt := reasonColumns(r.Reasons)
				_, err := stmt.ExecContext(ctx, r.AccountID, r.ContactID, r.AsOf, r.Score, r.Fit, r.Engagement, r.Grade, r.Level, r.Label, r.Stage,
					r.PreviousLabel, r.PreviousStage, r.PreviousScore, rule, cat, pts, cnt, r.RulesVersion, r.Source.Topic, r.Source.Partition, r.Source.Offset, r.Cause)
				return err
			}),
		s.insert(ctx, "INSERT INTO account_scores (account_id, contact_id, score, fit, engagement, grade, level, label, stage, reasons_rule, reasons_category, reasons_points, reasons_count, rules_version, as_of, version)",
			len(s.scores), func(stmt *sql.Stmt, i int) error {
				r := &s.scores[i]
				rule, cat, pts, cnt := reasonColumns(r.Reasons)
				_, err := stmt.ExecContext(ctx, r.AccountID, r.ContactID, r.Score, r.Fit, r.Engagement, r.Grade, r.Level, r.Label, r.Stage,
					rule, cat, pts, cnt, r.RulesVersion, r.AsOf, r.Version)
				return err
			}),
		s.insert(ctx, "INSERT INTO score_events (account_id, contact_id, at, type, event, path, rules, points, source_topic, source_partition, source_offset)",
			len(s.events), func(stmt *sql.Stmt, i int) error {
				r := &s.events[i]
				_, err := stmt.ExecContext(ctx, r.AccountID, r.ContactID, r.At, r.Type, r.Event, r.Path, r.Rules, r.Points, r.Source.Topic, r.Source.Partition, r.Source.Offset)
				return err
			}),
		s.insert(ctx, "INSERT INTO funnel_transitions (account_id, contact_id, from_stage, to_stage, at, source, medium, campaign, source_topic, source_partition, source_offset)",
			len(s.transitions), func(stmt *sql.Stmt, i int) error {
				r := &s.transitions[i]
				_, err := stmt.ExecContext(ctx, r.AccountID, r.ContactID, r.From, r.To, r.At, "", "", "", r.Source.Topic, r.Source.Partition, r.Source.Offset)
				return err
			}),
	)
	if err != nil {
		return err
	}
	s.changes, s.scores, s.events, s.transitions = nil, nil, nil, nil
	return nil
}

func (s *SQLSink) insert(ctx context.Context, query string, n int, exec func(*sql.Stmt, int) error) error {
	if n == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin insert: %w", err)
	}
	stmt, err := tx.PrepareContext(ctx, query)
	if err != nil {
		tx.Rollback()
		return fmt.Errorf("prepare insert: %w", err)
	}
	for i := range n {
		if err := exec(stmt, i); err != nil {
			tx.Rollback()
			return fmt.Errorf("insert row: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit insert: %w", err)
	}
	return nil
}

// Close closes the pool.
func (s *SQLSink) Close() error { return s.db.Close() }
