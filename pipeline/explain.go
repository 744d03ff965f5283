package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// Explanation is why an account (or a contact) has its score, as leadscore
// explain prints it: the latest score row with every rule's current
// contribution, and the events that earned points, newest first. It is read
// from ClickHouse, so a sales rep needs no access to the engine.
type Explanation struct {
	AccountID, ContactID string
	Score, Fit           float64
	Engagement, Intent   float64
	Grade, Label, Stage  string
	Level                uint8
	Persona              string
	RulesVersion         string
	AsOf                 time.Time
	BestTimes            []string
	// Tags are a contact's hygiene tags (email_freemail, email_role...).
	Tags    []string
	Reasons []ExplainedReason
	Events  []ExplainedEvent
}

// ExplainedReason is one rule's current contribution.
type ExplainedReason struct {
	Category, Rule string
	Points         float64
	Count          uint32
}

// ExplainedEvent is one event that matched rules, with what it earned for
// each when it came (undecayed).
type ExplainedEvent struct {
	At     time.Time
	Type   string
	Event  string
	Path   string
	Rules  []string
	Points []float64
}

// ErrNotScored is returned by Explain for an account (or contact) without a
// score row.
var ErrNotScored = errors.New("no score row: the account or contact is unknown, or its events are still in flight")

// Explain reads the explanation of account (contact "" for the account
// itself) from ClickHouse, with at most events events.
func Explain(ctx context.Context, c ClickHouseConfig, account, contact string, events int) (*Explanation, error) {
	conn, err := openClickHouse(c, c.Database)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return explain(ctx, conn, account, contact, events)
}

func explain(ctx context.Context, conn clickhouse.Conn, account, contact string, events int) (*Explanation, error) {
	x := &Explanation{AccountID: account, ContactID: contact}
	var (
		rule, category []string
		points         []float64
		counts         []uint32
	)
	err := conn.QueryRow(ctx, `SELECT score, fit, engagement, intent, grade, level, label, stage, persona, rules_version, as_of,
			best_times, tags, reasons_rule, reasons_category, reasons_points, reasons_count
		FROM account_scores FINAL WHERE account_id = ? AND contact_id = ?`, account, contact).Scan(
		&x.Score, &x.Fit, &x.Engagement, &x.Intent, &x.Grade, &x.Level, &x.Label, &x.Stage, &x.Persona, &x.RulesVersion, &x.AsOf,
		&x.BestTimes, &x.Tags, &rule, &category, &points, &counts)
	if err != nil {
		if strings.Contains(err.Error(), "no rows") {
			return nil, fmt.Errorf("explain %s: %w", describeWho(account, contact), ErrNotScored)
		}
		return nil, fmt.Errorf("explain %s: read account_scores: %w", describeWho(account, contact), err)
	}
	for i := range rule {
		r := ExplainedReason{Rule: rule[i], Category: category[i], Points: points[i]}
		if i < len(counts) {
			r.Count = counts[i]
		}
		x.Reasons = append(x.Reasons, r)
	}
	args := []any{account}
	if contact != "" {
		args = append(args, contact)
	}
	rows, err := conn.Query(ctx, explainEventsSQL(contact != "", events), args...)
	if err != nil {
		return nil, fmt.Errorf("explain %s: read score_events: %w", describeWho(account, contact), err)
	}
	defer rows.Close()
	for rows.Next() {
		var e ExplainedEvent
		if err := rows.Scan(&e.At, &e.Type, &e.Event, &e.Path, &e.Rules, &e.Points); err != nil {
			return nil, fmt.Errorf("explain %s: read score_events: %w", describeWho(account, contact), err)
		}
		x.Events = append(x.Events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("explain %s: read score_events: %w", describeWho(account, contact), err)
	}
	return x, nil
}

// explainEventsSQL reads an account's (with contact, a contact's) score
// events that stand, newest first, at most limit: FINAL on the account's
// (and contact's) rows, then without retracted rows, outside the FINAL
// subquery (deploy/clickhouse/0007_retractions says why). Its parameters
// are the account and, with contact, the contact.
func explainEventsSQL(contact bool, limit int) string {
	q := `SELECT at, type, event, path, rules, points
		FROM (SELECT at, type, event, path, rules, points, source_topic, source_partition, source_offset, retracted
			FROM score_events FINAL WHERE account_id = ?`
	if contact {
		q += ` AND contact_id = ?`
	}
	return q + `)
		WHERE retracted = 0
		ORDER BY at DESC, source_topic DESC, source_partition DESC, source_offset DESC LIMIT ` + strconv.Itoa(max(limit, 0))
}

func describeWho(account, contact string) string {
	if contact == "" {
		return "account " + account
	}
	return "contact " + contact + " of account " + account
}

// Write prints the explanation for a person to read.
func (x *Explanation) Write(w io.Writer) error {
	var b strings.Builder
	if x.ContactID == "" {
		fmt.Fprintf(&b, "Account %s\n", x.AccountID)
	} else {
		fmt.Fprintf(&b, "Contact %s at %s", x.ContactID, x.AccountID)
		if x.Persona != "" {
			fmt.Fprintf(&b, " (persona %s)", x.Persona)
		}
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "  score %.1f   label %s   stage %s   rules %s   as of %s\n",
		x.Score, x.Label, x.Stage, x.RulesVersion, x.AsOf.UTC().Format("2006-01-02 15:04:05 UTC"))
	fmt.Fprintf(&b, "  fit %.1f (grade %s)   engagement %.1f (level %d)   intent %.1f\n", x.Fit, x.Grade, x.Engagement, x.Level, x.Intent)
	if len(x.BestTimes) > 0 {
		fmt.Fprintf(&b, "  best times to reach: %s\n", strings.Join(x.BestTimes, ", "))
	}
	if len(x.Tags) > 0 {
		fmt.Fprintf(&b, "  hygiene tags: %s\n", strings.Join(x.Tags, ", "))
	}
	b.WriteString("\nWhy: each rule's current contribution (engagement decayed to the as-of time)\n")
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	if len(x.Reasons) == 0 {
		fmt.Fprintln(tw, "  (no rule contributes)")
	}
	for _, r := range x.Reasons {
		if r.Count == 0 {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", r.Category, r.Rule, signed(r.Points))
			continue
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t(%s)\n", r.Category, r.Rule, signed(r.Points), plural(int(r.Count), "event"))
	}
	tw.Flush()
	b.WriteString("\nEvents that earned points, newest first (points when they came)\n")
	tw = tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	if len(x.Events) == 0 {
		fmt.Fprintln(tw, "  (none recorded)")
	}
	for _, e := range x.Events {
		what := e.Event
		if e.Type == "page" {
			what = e.Path
		}
		hits := make([]string, len(e.Rules))
		for i := range e.Rules {
			p := 0.0
			if i < len(e.Points) {
				p = e.Points[i]
			}
			hits[i] = e.Rules[i] + " " + signed(p)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", e.At.UTC().Format("2006-01-02 15:04"), e.Type, what, strings.Join(hits, ", "))
	}
	tw.Flush()
	_, err := io.WriteString(w, b.String())
	return err
}

// signed formats points with their sign and one decimal, "+17.4".
func signed(p float64) string {
	s := strconv.FormatFloat(p, 'f', 1, 64)
	if p >= 0 {
		s = "+" + s
	}
	return s
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}
