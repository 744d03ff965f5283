package querytest

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Retractable are the engine's tables whose rows may be corrected or
// retracted (deploy/clickhouse/0007_retractions).
var Retractable = []string{"score_changes", "funnel_transitions", "handoffs", "score_events"}

var (
	retractableRead  = regexp.MustCompile(`(?i)\bFROM\s+(?:\w+\.)?(` + strings.Join(Retractable, "|") + `)\b(\s+FINAL\b)?`)
	identifierRE     = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*`)
	quotedRE         = regexp.MustCompile(`'(?:[^'\\]|\\.)*'`)
	standingAfter    = regexp.MustCompile(`(?is)^\s*(?:AS\s+\w+\s+)?(?:ARRAY\s+JOIN\b.*?)?WHERE\s+retracted\s*=\s*0\b`)
	selectsRetracted = regexp.MustCompile(`(?is)^\s*SELECT\b.*(\bretracted\b|\*)`)
	innerWhere       = regexp.MustCompile(`(?is)^WHERE\s+(.*)$`)
	// keyFilter is what a condition inside the FINAL subquery may name:
	// the ORDER BY columns every row of an identity shares, literals,
	// placeholders, and the operators that combine them.
	keyFilter = map[string]bool{"account_id": true, "contact_id": true, "and": true, "or": true, "in": true, "not": true}
)

// CheckStandingReads returns an error for every read in sql of a table of
// Retractable that could take a row as standing that is not: a read
// without FINAL; a FINAL that is not the whole of a subquery that selects
// retracted and is followed by WHERE retracted = 0 (after an ARRAY JOIN at
// most); or a condition inside that subquery on anything but account_id and
// contact_id, which a server may apply before FINAL, keeping a row that a
// correction or retraction replaced. It is a lint of the shape
// 0007_retractions prescribes, not a parser: the tests on real engines
// with retracted rows are the proof.
func CheckStandingReads(sql string) error {
	var errs []error
	for _, m := range retractableRead.FindAllStringSubmatchIndex(sql, -1) {
		table := sql[m[2]:m[3]]
		if m[4] < 0 {
			errs = append(errs, fmt.Errorf("%s is read without FINAL", table))
			continue
		}
		open := enclosingParen(sql, m[0])
		if open < 0 {
			errs = append(errs, fmt.Errorf("%s FINAL is not in a subquery (SELECT ... FROM (SELECT ... FROM %s FINAL) WHERE retracted = 0)", table, table))
			continue
		}
		end := closingParen(sql, open)
		if end < 0 {
			errs = append(errs, fmt.Errorf("%s FINAL: unbalanced parentheses", table))
			continue
		}
		if !selectsRetracted.MatchString(sql[open+1 : m[0]]) {
			errs = append(errs, fmt.Errorf("%s FINAL: the subquery does not select retracted", table))
		}
		if inner := strings.TrimSpace(sql[m[1]:end]); inner != "" {
			where := innerWhere.FindStringSubmatch(inner)
			if where == nil {
				errs = append(errs, fmt.Errorf("%s FINAL: the subquery has more than a WHERE on key columns: %q", table, inner))
				continue
			}
			for _, id := range identifierRE.FindAllString(quotedRE.ReplaceAllString(where[1], "''"), -1) {
				if !keyFilter[strings.ToLower(id)] {
					errs = append(errs, fmt.Errorf("%s FINAL: the subquery filters on %s, which a correction may change and a server may apply before FINAL: filter outside the subquery", table, id))
				}
			}
		}
		if !standingAfter.MatchString(sql[end+1:]) {
			errs = append(errs, fmt.Errorf("%s FINAL: the subquery is not followed by WHERE retracted = 0", table))
		}
	}
	return errors.Join(errs...)
}

// enclosingParen returns the index of the unclosed '(' before i, or -1.
func enclosingParen(sql string, i int) int {
	depth := 0
	for j := i - 1; j >= 0; j-- {
		switch sql[j] {
		case ')':
			depth++
		case '(':
			if depth == 0 {
				return j
			}
			depth--
		}
	}
	return -1
}

// closingParen returns the index of the ')' that closes the '(' at open,
// or -1.
func closingParen(sql string, open int) int {
	depth := 0
	for j := open; j < len(sql); j++ {
		switch sql[j] {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return j
			}
		}
	}
	return -1
}
