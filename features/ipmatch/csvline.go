package ipmatch

import (
	"bytes"
	"errors"
	"fmt"
)

// maxFields is the most fields any file here has (start,end,asn,org).
const maxFields = 4

// splitCSVLine splits one line of RFC 4180 CSV into at most maxFields
// fields. Every line is a whole record: the range files never continue a
// quoted field across lines, and treating lines alone keeps one bad row from
// swallowing the rest of the file. Quoted fields may hold commas and doubled
// quotes (""), which are unescaped into scratch; the fields point into line
// or scratch. It returns the number of fields.
func splitCSVLine(line []byte, fields *[maxFields][]byte, scratch []byte) (int, []byte, error) {
	n := 0
	scratch = scratch[:0]
	for {
		if n == maxFields {
			return n, scratch, fmt.Errorf("more than %d fields", maxFields)
		}
		if len(line) > 0 && line[0] == '"' {
			start := len(scratch)
			i := 1
			for {
				j := bytes.IndexByte(line[i:], '"')
				if j < 0 {
					return n, scratch, errors.New("unterminated quoted field")
				}
				scratch = append(scratch, line[i:i+j]...)
				i += j + 1
				if i < len(line) && line[i] == '"' { // "" is a literal quote
					scratch = append(scratch, '"')
					i++
					continue
				}
				break
			}
			fields[n] = scratch[start:len(scratch):len(scratch)]
			n++
			line = line[i:]
			if len(line) == 0 {
				return n, scratch, nil
			}
			if line[0] != ',' {
				return n, scratch, fmt.Errorf("text after closing quote of field %d", n)
			}
			line = line[1:]
			continue
		}
		j := bytes.IndexByte(line, ',')
		f := line
		if j >= 0 {
			f = line[:j]
		}
		if bytes.IndexByte(f, '"') >= 0 {
			return n, scratch, fmt.Errorf("quote inside unquoted field %d", n+1)
		}
		fields[n] = f
		n++
		if j < 0 {
			return n, scratch, nil
		}
		line = line[j+1:]
	}
}

// skipLine reports whether a line carries no record: blank or a # comment.
func skipLine(line []byte) bool {
	t := bytes.TrimSpace(line)
	return len(t) == 0 || t[0] == '#'
}
