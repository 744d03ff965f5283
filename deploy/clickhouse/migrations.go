package clickhouse

import (
	"cmp"
	"embed"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

//go:embed *.sql
var migrationFiles embed.FS

// Migration is one schema migration file.
type Migration struct {
	// Version is the file's numeric prefix; migrations apply in ascending
	// Version order and each applies once.
	Version uint32
	// Name is the file name without the .sql suffix, e.g. "0001_init".
	Name string
	// SQL is the file's text, comments included.
	SQL string
}

// Statements returns the migration's statements, split on ';' outside
// quotes and comments, with comments removed and blank statements dropped.
func (m Migration) Statements() []string { return SplitStatements(m.SQL) }

// Migrations returns the embedded migrations ordered by version. It fails
// when a file name does not start with a number or two files share one.
func Migrations() ([]Migration, error) {
	names, err := fs.Glob(migrationFiles, "*.sql")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	ms := make([]Migration, 0, len(names))
	for _, file := range names {
		name := strings.TrimSuffix(file, ".sql")
		num, _, ok := strings.Cut(name, "_")
		if !ok {
			return nil, fmt.Errorf("parse migration %s: name is not NNNN_description.sql", file)
		}
		v, err := strconv.ParseUint(num, 10, 32)
		if err != nil || v == 0 {
			return nil, fmt.Errorf("parse migration %s: version %q is not a positive number", file, num)
		}
		text, err := migrationFiles.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", file, err)
		}
		ms = append(ms, Migration{Version: uint32(v), Name: name, SQL: string(text)})
	}
	slices.SortFunc(ms, func(a, b Migration) int { return cmp.Compare(a.Version, b.Version) })
	for i := 1; i < len(ms); i++ {
		if ms[i].Version == ms[i-1].Version {
			return nil, fmt.Errorf("parse migrations: %s and %s share version %d", ms[i-1].Name, ms[i].Name, ms[i].Version)
		}
	}
	return ms, nil
}

var addColumn = regexp.MustCompile(`(?is)^ALTER\s+TABLE\s+([A-Za-z_][A-Za-z0-9_]*)\s+ADD\s+COLUMN\s+([A-Za-z_][A-Za-z0-9_]*)\s+(.+)$`)

// AddedColumn tells whether stmt (a statement of Statements) is an ALTER
// that adds one column, ALTER TABLE t ADD COLUMN c Type [AFTER x], and
// returns the table and the column. ClickHouse 18.16 has no ADD COLUMN IF
// NOT EXISTS, so such a statement fails when run twice: the migration
// runner makes it safe to run again by skipping it when the table already
// has the column. A statement with IF NOT EXISTS or with several commands
// is not one (ok is false): the runner could not tell whether it applied.
func AddedColumn(stmt string) (table, column string, ok bool) {
	m := addColumn.FindStringSubmatch(stmt)
	if m == nil || strings.EqualFold(m[2], "IF") {
		return "", "", false
	}
	// One command: no comma outside the type's parentheses.
	depth := 0
	for _, c := range m[3] {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				return "", "", false
			}
		}
	}
	return m[1], m[2], true
}

// SplitStatements splits sql into statements on ';'. A ';' inside a quoted
// string or identifier ('...', "...", `...`) or inside a comment (-- to end
// of line, /* ... */) does not split. Comments are dropped (ClickHouse 18.16
// is fine with them, but a statement that is only a comment is not a query)
// and each statement is trimmed; empty statements are left out.
func SplitStatements(sql string) []string {
	var (
		out []string
		cur strings.Builder
	)
	emit := func() {
		if s := strings.TrimSpace(cur.String()); s != "" {
			out = append(out, s)
		}
		cur.Reset()
	}
	for i := 0; i < len(sql); i++ {
		c := sql[i]
		switch {
		case c == '-' && i+1 < len(sql) && sql[i+1] == '-':
			// Line comment: skip to the newline, keep the newline so tokens
			// on either side stay apart.
			j := strings.IndexByte(sql[i:], '\n')
			if j < 0 {
				i = len(sql)
				continue
			}
			i += j - 1
		case c == '/' && i+1 < len(sql) && sql[i+1] == '*':
			j := strings.Index(sql[i+2:], "*/")
			if j < 0 {
				i = len(sql)
				continue
			}
			i += 2 + j + 1
			cur.WriteByte(' ')
		case c == '\'' || c == '"' || c == '`':
			// Quoted: copy through the closing quote; a backslash escapes the
			// next byte and a doubled quote is a literal quote.
			cur.WriteByte(c)
			for i++; i < len(sql); i++ {
				cur.WriteByte(sql[i])
				if sql[i] == '\\' && i+1 < len(sql) {
					i++
					cur.WriteByte(sql[i])
					continue
				}
				if sql[i] == c {
					if i+1 < len(sql) && sql[i+1] == c {
						i++
						cur.WriteByte(c)
						continue
					}
					break
				}
			}
		case c == ';':
			emit()
		default:
			cur.WriteByte(c)
		}
	}
	emit()
	return out
}
