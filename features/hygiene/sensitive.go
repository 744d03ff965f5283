package hygiene

import (
	"fmt"
	"unicode"
)

// maxWordRunes bounds a lexicon word's folded length, so the scanner can
// remember match starts in a fixed array on the stack.
const maxWordRunes = 64

// WordMatch is one lexicon word found in a text.
type WordMatch struct {
	// Word is the word as the lexicon lists it.
	Word string
	// Lexicon is the lexicon's name.
	Lexicon string
	// Start and End are the match's byte offsets in the text as given
	// (before folding).
	Start, End int
}

// sensitive is the compiled lexicons: one automaton over every word.
type sensitive struct {
	ac    *acMachine
	words []sensitiveWord
}

type sensitiveWord struct {
	word     string
	lexicon  int
	boundary uint8 // bit 0: needs a word boundary before; bit 1: after
}

type lexiconInfo struct {
	name     string
	severity Severity
}

// buildSensitive loads the lexicons' words, folds them and builds one
// automaton.
func buildSensitive(lexicons []Lexicon, f *folder) (*sensitive, []lexiconInfo, error) {
	s := &sensitive{}
	var infos []lexiconInfo
	var patterns [][]rune
	for li, lx := range lexicons {
		sev, err := ParseSeverity(lx.Severity)
		if err != nil {
			return nil, nil, fmt.Errorf("load lexicon %q: %w", lx.Name, err)
		}
		infos = append(infos, lexiconInfo{name: lx.Name, severity: sev})
		err = eachEntry(List{Values: lx.Values, Files: lx.Files}, "", func(w string) error {
			p := f.appendFolded(nil, w, false)
			if len(p) == 0 {
				return fmt.Errorf("word %q folds to nothing", w)
			}
			if len(p) > maxWordRunes {
				return fmt.Errorf("word %q: over %d characters", w, maxWordRunes)
			}
			var b uint8
			if !lx.InsideWords {
				if spacedWordRune(p[0]) {
					b |= 1
				}
				if spacedWordRune(p[len(p)-1]) {
					b |= 2
				}
			}
			patterns = append(patterns, p)
			s.words = append(s.words, sensitiveWord{word: w, lexicon: li, boundary: b})
			return nil
		})
		if err != nil {
			return nil, nil, fmt.Errorf("load lexicon %q: %w", lx.Name, err)
		}
	}
	s.ac = buildAC(patterns)
	return s, infos, nil
}

// spacedWordRune reports whether r is a letter or digit of a script that
// separates words with spaces (so a word boundary means something there).
// Han, kana, hangul and Thai-like scripts are excluded: a word in them
// matches anywhere.
func spacedWordRune(r rune) bool {
	if r < 128 {
		return 'a' <= r && r <= 'z' || '0' <= r && r <= '9' || 'A' <= r && r <= 'Z'
	}
	if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
		return false
	}
	return !unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul, unicode.Thai, unicode.Lao, unicode.Khmer, unicode.Myanmar)
}

// scan appends to dst every lexicon word in text (folded), each
// occurrence once; overlapping occurrences are all reported.
func (s *sensitive) scan(f *folder, text string, dst []WordMatch, infos []lexiconInfo) []WordMatch {
	if s == nil || len(s.words) == 0 || text == "" {
		return dst
	}
	// starts[k % maxWordRunes] is the byte offset where folded rune k
	// began; runes[...] the folded rune, for the boundary before a match.
	var starts [maxWordRunes + 1]int
	var runes [maxWordRunes + 1]rune
	const ring = maxWordRunes + 1
	state, k := int32(0), 0
	for i := 0; i < len(text); {
		o, n := f.next(text, i, false)
		for j := 0; j < o.n; j++ {
			r := o.r[j]
			starts[k%ring], runes[k%ring] = i, r
			k++
			state = s.ac.step(state, r)
			end := i + n
			s.ac.matches(state, func(p, length int) {
				w := s.words[p]
				startRune := k - length
				if w.boundary&1 != 0 && startRune > 0 && spacedWordRune(runes[(startRune-1)%ring]) {
					return
				}
				if w.boundary&2 != 0 && j == o.n-1 && end < len(text) {
					if nx, _ := f.next(text, end, false); nx.n > 0 && spacedWordRune(nx.r[0]) {
						return
					}
				}
				dst = append(dst, WordMatch{Word: w.word, Lexicon: infos[w.lexicon].name, Start: starts[startRune%ring], End: end})
			})
		}
		i += n
	}
	return dst
}
