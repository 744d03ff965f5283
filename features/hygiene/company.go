package hygiene

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// CompanyName is a company name normalised for comparison. It is a value:
// JSON-serialisable and comparable, kept in DedupEntry.
type CompanyName struct {
	// Core is the distinctive part: folded (width, case, script, accents),
	// without brackets, punctuation, legal forms, industry words and
	// places, tokens joined by one space ("北京纷扬科技有限公司" is "纷扬"
	// in region 北京 and industry tech; "Deutsche Bank AG" is "deutsche" in
	// industry bank). When the name is an alias, the name of the company it
	// stands for.
	Core string `json:"core"`
	// Region is the canonical place stripped from the name ("北京"), "" if
	// none.
	Region string `json:"region,omitempty"`
	// Industry is the groups of the industry words stripped, sorted and
	// joined by '|' ("bank|tech"), "" if none.
	Industry string `json:"industry,omitempty"`
}

// IsZero reports whether the name had nothing to compare.
func (c CompanyName) IsZero() bool { return c.Core == "" }

// token is a run of letters and digits of one kind: CJK (Han and kana,
// written without spaces) or other.
type token struct {
	s   string
	cjk bool
}

// vocabEntry is one legal form, industry word or place: a CJK string
// (matched inside a CJK token, at its start or end) or a token sequence.
type vocabEntry struct {
	cjk   string
	toks  []string
	group string // industry group, or canonical place
}

func (e *vocabEntry) size() int {
	if e.cjk != "" {
		return utf8.RuneCountInString(e.cjk)
	}
	n := 0
	for _, t := range e.toks {
		n += utf8.RuneCountInString(t)
	}
	return n
}

// vocab is a set of entries by position. Each position is indexed by the
// entry's edge (its last rune or token for a suffix, its first for a
// prefix), so a strip looks at a handful of candidates, longest first
// ("股份有限公司" before "公司").
type vocab struct {
	prefix, suffix edgeIndex
}

type edgeIndex struct {
	entries []vocabEntry       // longest first
	byRune  map[rune][]int32   // CJK entries by edge rune
	byTok   map[string][]int32 // token entries by edge token
}

func (x *edgeIndex) add(e vocabEntry) { x.entries = append(x.entries, e) }

// build sorts the entries and indexes them; suffix says which edge.
func (x *edgeIndex) build(suffix bool) {
	slices.SortStableFunc(x.entries, func(a, b vocabEntry) int { return cmp.Compare(b.size(), a.size()) })
	x.byRune, x.byTok = map[rune][]int32{}, map[string][]int32{}
	for i, e := range x.entries {
		if e.cjk != "" {
			r, _ := utf8.DecodeRuneInString(e.cjk)
			if suffix {
				r, _ = utf8.DecodeLastRuneInString(e.cjk)
			}
			x.byRune[r] = append(x.byRune[r], int32(i))
			continue
		}
		t := e.toks[0]
		if suffix {
			t = e.toks[len(e.toks)-1]
		}
		x.byTok[t] = append(x.byTok[t], int32(i))
	}
}

func (v *vocab) build() {
	v.prefix.build(false)
	v.suffix.build(true)
}

// names normalises and compares company names. Immutable once built.
type names struct {
	fold     *folder
	legal    vocab
	branch   vocab // suffix only
	industry vocab
	places   vocab
	level    map[string]uint8 // canonical place -> level
	stop     map[string]bool
	aliases  map[string]CompanyName // alias core -> the company
	cfg      CompanyConfig
}

// Place levels: a conflict needs two different places of one level.
const (
	levelRegion uint8 = iota + 1
	levelCountry
	levelProvince
	levelCity
)

// stopwords are dropped from spaced-script names: connectives and
// prepositions ("Procter and Gamble", "Compagnie de Saint-Gobain").
var stopwords = []string{"and", "und", "et", "of", "the", "der", "die", "das", "des", "du", "de", "la", "le", "les", "del", "della", "zur", "zum", "fuer", "for", "y", "e", "و"}

func buildNames(cfg CompanyConfig, f *folder) (*names, error) {
	n := &names{fold: f, level: map[string]uint8{}, stop: map[string]bool{}, aliases: map[string]CompanyName{}, cfg: cfg}
	for _, w := range stopwords {
		n.stop[w] = true
	}
	entry := func(s, group string) (vocabEntry, bool) {
		toks := n.tokens(f.appendFolded(nil, s, true), true, nil)
		if len(toks) == 0 {
			return vocabEntry{}, false
		}
		if len(toks) == 1 && toks[0].cjk {
			return vocabEntry{cjk: toks[0].s, group: group}, true
		}
		e := vocabEntry{group: group}
		for _, t := range toks {
			e.toks = append(e.toks, t.s)
		}
		return e, true
	}
	add := func(v *vocab, pos string, words, group string) error {
		for w := range strings.SplitSeq(words, ",") {
			w = strings.TrimSpace(w)
			if w == "" {
				continue
			}
			e, ok := entry(w, group)
			if !ok {
				return fmt.Errorf("%q has no letters", w)
			}
			switch pos {
			case "prefix":
				v.prefix.add(e)
			case "suffix":
				v.suffix.add(e)
			case "anywhere": // places
				v.prefix.add(e)
				v.suffix.add(e)
			case "both":
				// Chinese, Japanese, Korean and European descriptors
				// follow the name; Arabic-script ones may lead too
				// ("بانک ملی", "ایران خودرو").
				v.suffix.add(e)
				if headFirst(w) {
					v.prefix.add(e)
				}
			default:
				return fmt.Errorf("position %q: want prefix, suffix or both", pos)
			}
		}
		return nil
	}
	err := eachEntry(cfg.LegalForms, "company_legal.txt", func(line string) error {
		pos, words, ok := strings.Cut(line, ":")
		if !ok {
			return fmt.Errorf("want \"<position>: <form>, ...\"")
		}
		pos = strings.TrimSpace(pos)
		if pos == "branch" {
			return add(&n.branch, "suffix", words, "")
		}
		return add(&n.legal, pos, words, "")
	})
	if err != nil {
		return nil, fmt.Errorf("load company.legal_forms: %w", err)
	}
	err = eachEntry(cfg.Industries, "company_industries.txt", func(line string) error {
		head, words, ok := strings.Cut(line, ":")
		group, pos, ok2 := strings.Cut(strings.TrimSpace(head), " ")
		if !ok || !ok2 || group == "" {
			return fmt.Errorf("want \"<group> <position>: <word>, ...\"")
		}
		if group == "generic" {
			group = ""
		}
		return add(&n.industry, strings.TrimSpace(pos), words, group)
	})
	if err != nil {
		return nil, fmt.Errorf("load company.industries: %w", err)
	}
	err = eachEntry(cfg.Places, "company_places.txt", func(line string) error {
		head, words, ok := strings.Cut(line, ":")
		lv, canon, ok2 := strings.Cut(strings.TrimSpace(head), " ")
		if !ok || !ok2 || strings.TrimSpace(canon) == "" {
			return fmt.Errorf("want \"<level> <canonical>: <variant>, ...\"")
		}
		canon = strings.TrimSpace(canon)
		var l uint8
		switch lv {
		case "region":
			l = levelRegion
		case "country":
			l = levelCountry
		case "province":
			l = levelProvince
		case "city":
			l = levelCity
		default:
			return fmt.Errorf("level %q: want region, country, province or city", lv)
		}
		n.level[canon] = l
		return add(&n.places, "anywhere", words, canon)
	})
	if err != nil {
		return nil, fmt.Errorf("load company.places: %w", err)
	}
	n.legal.build()
	n.branch.build()
	n.industry.build()
	n.places.build()
	// Aliases: both sides normalised; chains followed at lookup time
	// would cost per call, so they are resolved here.
	raw := map[string]CompanyName{}
	err = eachEntry(cfg.Aliases, "aliases.txt", func(line string) error {
		a, b, ok := strings.Cut(line, "=>")
		if !ok {
			return fmt.Errorf("want \"<alias> => <company>\"")
		}
		ac, bc := n.normalize(a, false), n.normalize(b, false)
		if ac.Core == "" || bc.Core == "" {
			return fmt.Errorf("alias %q or company %q has no letters", a, b)
		}
		if ac.Core != bc.Core {
			raw[ac.Core] = bc
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load company.aliases: %w", err)
	}
	for k, v := range raw {
		seen := map[string]bool{k: true}
		for {
			next, ok := raw[v.Core]
			if !ok {
				break
			}
			if seen[v.Core] {
				return nil, fmt.Errorf("load company.aliases: cycle through %q", k)
			}
			seen[v.Core] = true
			v = next
		}
		n.aliases[k] = v
	}
	return n, nil
}

// headFirst: a word of a script whose descriptors may lead the name.
func headFirst(w string) bool {
	r, _ := utf8.DecodeRuneInString(w)
	return unicode.In(r, unicode.Arabic, unicode.Hebrew, unicode.Syriac)
}

// isCJK: scripts written without spaces between words.
func isCJK(r rune) bool {
	return r == 'ー' || r == '々' || r == '〆' || unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana)
}

// openBracket returns the closing bracket for an opening one, or 0.
func openBracket(r rune) rune {
	switch r {
	case '(':
		return ')'
	case '[':
		return ']'
	case '{':
		return '}'
	case '【':
		return '】'
	case '〔':
		return '〕'
	case '〖':
		return '〗'
	}
	return 0
}

// dropBracketed removes bracketed parts ("纷扬科技（北京）有限公司",
// "Acme (UK) Ltd", "(株)"): in company names they hold places, legal forms
// and former names, never the name itself. Nested brackets are removed with
// their outer pair; an unclosed bracket runs to the end. When nothing with a
// letter would remain, the text is kept as it is.
func dropBracketed(rs []rune) []rune {
	// First pass: is there a bracket, and a letter outside brackets?
	depth, brackets, letter := 0, false, false
	for _, r := range rs {
		switch {
		case openBracket(r) != 0:
			depth, brackets = depth+1, true
		case depth > 0 && closeBracket(r):
			depth--
		case depth == 0 && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			letter = true
		}
	}
	if !brackets || !letter {
		return rs
	}
	// Second pass, in place (the output never outruns the input).
	out := rs[:0]
	var stack [8]rune
	sp := 0
	for _, r := range rs {
		if c := openBracket(r); c != 0 {
			if sp < len(stack) {
				stack[sp] = c
			}
			sp++
			out = append(out, ' ')
			continue
		}
		if sp > 0 {
			if sp <= len(stack) && r == stack[sp-1] || sp > len(stack) && closeBracket(r) {
				sp--
			}
			continue
		}
		out = append(out, r)
	}
	return out
}

func closeBracket(r rune) bool {
	switch r {
	case ')', ']', '}', '】', '〕', '〗':
		return true
	}
	return false
}

// tokens splits folded runes into tokens: maximal runs of letters, digits
// and marks of one kind (CJK or not); apostrophes join ("l'oreal" is
// "loreal"); anything else separates. Runs of one-letter tokens merge
// ("s.p.a." is "spa", "j.p. morgan" is "jp morgan"); then stopwords go
// (when stop). The tokens are substrings of one string (one allocation)
// and are appended to dst.
func (n *names) tokens(rs []rune, stop bool, dst []token) []token {
	// The kept runes, token after token with no separators, so a token
	// and a run of merged tokens are both substrings.
	var bbuf [256]byte
	b := bbuf[:0]
	type span struct {
		start, end int
		cjk        bool
		single     bool
	}
	var sbuf [32]span
	spans := sbuf[:0]
	open := false
	for _, r := range rs {
		switch {
		case r == '\'' || r == '’' || r == 'ʼ' || r == '`' || r == '´':
			continue
		case unicode.IsMark(r):
			if open { // a mark belongs to the rune before it
				b = utf8.AppendRune(b, r)
				spans[len(spans)-1].end = len(b)
				spans[len(spans)-1].single = false
			}
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			c := isCJK(r)
			if !open || spans[len(spans)-1].cjk != c {
				spans = append(spans, span{start: len(b), cjk: c, single: !c && unicode.IsLetter(r)})
				open = true
			} else {
				spans[len(spans)-1].single = false
			}
			b = utf8.AppendRune(b, r)
			spans[len(spans)-1].end = len(b)
		default:
			open = false
		}
	}
	if len(spans) == 0 {
		return dst
	}
	str := string(b)
	for i := 0; i < len(spans); {
		sp := spans[i]
		if sp.single {
			j := i + 1
			for j < len(spans) && spans[j].single && spans[j].start == spans[j-1].end {
				j++
			}
			if j-i > 1 {
				t := token{s: str[sp.start:spans[j-1].end]}
				i = j
				if !stop || !n.stop[t.s] {
					dst = append(dst, t)
				}
				continue
			}
		}
		t := token{s: str[sp.start:sp.end], cjk: sp.cjk}
		i++
		if stop && !t.cjk && n.stop[t.s] {
			continue
		}
		dst = append(dst, t)
	}
	return dst
}

// singleLetter: one letter (of any script but CJK, which tokens never
// leave single).
func singleLetter(s string) bool {
	r, size := utf8.DecodeRuneInString(s)
	return size == len(s) && unicode.IsLetter(r) && !isCJK(r)
}

// view is a name being stripped: tokens t[lo:hi], with cutL bytes cut from
// the start of the first and cutR from the end of the last. Stripping
// makes a new view; nothing is copied.
type view struct {
	t          []token
	lo, hi     int
	cutL, cutR int
}

func (v view) empty() bool { return v.lo >= v.hi }

// tok is token i (lo <= i < hi) after the cuts.
func (v view) tok(i int) string {
	s := v.t[i].s
	end := len(s)
	if i == v.hi-1 {
		end -= v.cutR
	}
	start := 0
	if i == v.lo {
		start = v.cutL
	}
	return s[start:end]
}

func (v view) runes() int {
	n := 0
	for i := v.lo; i < v.hi; i++ {
		n += utf8.RuneCountInString(v.tok(i))
	}
	return n
}

func (v view) trimFirst(nb int) view {
	v.cutL += nb
	if v.tok(v.lo) == "" {
		v.lo, v.cutL = v.lo+1, 0
		if v.lo == v.hi {
			v.cutR = 0
		}
	}
	return v
}

func (v view) trimLast(nb int) view {
	v.cutR += nb
	if v.tok(v.hi-1) == "" {
		v.hi, v.cutR = v.hi-1, 0
		if v.lo == v.hi {
			v.cutL = 0
		}
	}
	return v
}

func (v view) dropFirst(k int) view {
	v.lo, v.cutL = v.lo+k, 0
	if v.lo >= v.hi {
		v.cutR = 0
	}
	return v
}

func (v view) dropLast(k int) view {
	v.hi, v.cutR = v.hi-k, 0
	if v.lo >= v.hi {
		v.cutL = 0
	}
	return v
}

// candidates calls try with the entries of x whose edge is r (when cjk)
// or t, longest first, until try returns true.
func (x *edgeIndex) candidates(r rune, cjk bool, t string, try func(e *vocabEntry) bool) {
	var a, b []int32
	if cjk {
		a = x.byRune[r]
	}
	b = x.byTok[t]
	for len(a) > 0 || len(b) > 0 {
		var i int32
		if len(b) == 0 || len(a) > 0 && a[0] < b[0] {
			i, a = a[0], a[1:]
		} else {
			i, b = b[0], b[1:]
		}
		if try(&x.entries[i]) {
			return
		}
	}
}

// matchEnd strips the longest entry of x at v's end that ok accepts
// (nil: any).
func matchEnd(v view, x *edgeIndex, ok func(view) bool) (view, *vocabEntry, bool) {
	if v.empty() {
		return v, nil, false
	}
	last := v.hi - 1
	lt := v.tok(last)
	lr, _ := utf8.DecodeLastRuneInString(lt)
	var out view
	var found *vocabEntry
	x.candidates(lr, v.t[last].cjk, lt, func(e *vocabEntry) bool {
		var nv view
		if e.cjk != "" {
			if !strings.HasSuffix(lt, e.cjk) {
				return false
			}
			nv = v.trimLast(len(e.cjk))
		} else {
			k := len(e.toks)
			if k > v.hi-v.lo {
				return false
			}
			for j := 0; j < k; j++ {
				if v.tok(v.hi-k+j) != e.toks[j] {
					return false
				}
			}
			nv = v.dropLast(k)
		}
		if ok == nil || ok(nv) {
			out, found = nv, e
			return true
		}
		return false
	})
	if found == nil {
		return v, nil, false
	}
	return out, found, true
}

// matchStart strips the longest entry of x at v's start that ok accepts
// (nil: any). spaced says whether entries may match a spaced-script
// (Latin, Cyrillic) token there.
func matchStart(v view, x *edgeIndex, spaced bool, ok func(view) bool) (view, *vocabEntry, bool) {
	if v.empty() {
		return v, nil, false
	}
	ft := v.tok(v.lo)
	if !spaced && !v.t[v.lo].cjk && isSpacedScript(ft) {
		return v, nil, false
	}
	fr, _ := utf8.DecodeRuneInString(ft)
	var out view
	var found *vocabEntry
	x.candidates(fr, v.t[v.lo].cjk, ft, func(e *vocabEntry) bool {
		var nv view
		if e.cjk != "" {
			if !strings.HasPrefix(ft, e.cjk) {
				return false
			}
			nv = v.trimFirst(len(e.cjk))
		} else {
			k := len(e.toks)
			if k > v.hi-v.lo {
				return false
			}
			for j := 0; j < k; j++ {
				if v.tok(v.lo+j) != e.toks[j] {
					return false
				}
			}
			nv = v.dropFirst(k)
		}
		if ok == nil || ok(nv) {
			out, found = nv, e
			return true
		}
		return false
	})
	if found == nil {
		return v, nil, false
	}
	return out, found, true
}

// isSpacedScript: the token is Latin, Greek or Cyrillic, where a leading
// place is part of the name ("Deutsche Bank", "American Express").
func isSpacedScript(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return r < 0x250 || unicode.In(r, unicode.Latin, unicode.Greek, unicode.Cyrillic)
}

// only reports whether strip can remove all of v with the vocabularies vs.
func only(v view, vs ...*vocab) bool {
	for guard := 0; !v.empty() && guard < 64; guard++ {
		moved := false
		for _, voc := range vs {
			if nv, _, ok := matchEnd(v, &voc.suffix, nil); ok {
				v, moved = nv, true
				break
			}
			if nv, _, ok := matchStart(v, &voc.prefix, true, nil); ok {
				v, moved = nv, true
				break
			}
		}
		if !moved {
			return false
		}
	}
	return v.empty()
}

// maxNameRunes bounds the folded name normalize reads: real names are far
// shorter, and stripping costs grow with the square of the length, so a
// hostile trait cannot stall a worker.
const maxNameRunes = 200

// minCore is the fewest runes stripping may leave: two (a Chinese trade
// name has at least two characters; "HP", "3M").
const minCore = 2

// normalize folds, tokenises and strips a name (the alias table applied
// when resolve):
//
//  1. legal forms at both ends, and branch suffixes with the place before
//     them ("中国工商银行北京市分行" is "中国工商银行");
//  2. industry words, recording their groups, unless that leaves fewer
//     than minCore runes or only a place ("中国银行" keeps "银行");
//  3. places at the start (CJK and non-Latin scripts) or end, recording the
//     first, unless that leaves fewer than minCore runes or only industry
//     words.
//
// Steps repeat until nothing changes. Only the first maxNameRunes folded
// runes are read.
func (n *names) normalize(name string, resolve bool) CompanyName {
	var buf [64]rune
	rs := n.fold.appendFolded(buf[:0], name, true)
	if len(rs) > maxNameRunes {
		rs = rs[:maxNameRunes]
	}
	rs = dropBracketed(rs)
	var tbuf [16]token
	toks := n.tokens(rs, true, tbuf[:0])
	v := view{t: toks, hi: len(toks)}
	var c CompanyName
	var groups [8]string
	ng := 0
	// A legal form goes unless nothing, or only descriptors, would remain
	// ("有限公司" stays whole).
	keepsLegal := func(v view) bool { return !v.empty() && !only(v, &n.industry, &n.legal) }
	// An industry word goes unless the rest is too short, only a place or
	// only descriptors ("中国银行", "Global Payments" stay whole).
	keepsIndustry := func(v view) bool {
		return v.runes() >= minCore && !only(v, &n.places) && !only(v, &n.industry, &n.legal)
	}
	// A place goes unless the rest is too short or only descriptors.
	keepsPlace := func(v view) bool {
		return v.runes() >= minCore && !only(v, &n.industry, &n.legal)
	}
	for guard := 0; guard < 64; guard++ {
		if nv, _, ok := matchEnd(v, &n.legal.suffix, keepsLegal); ok {
			v = nv
			continue
		}
		if nv, _, ok := matchStart(v, &n.legal.prefix, true, keepsLegal); ok {
			v = nv
			continue
		}
		if nv, _, ok := matchEnd(v, &n.branch.suffix, keepsLegal); ok {
			if pv, _, ok := matchEnd(nv, &n.places.suffix, keepsPlace); ok {
				nv = pv
			}
			v = nv
			continue
		}
		if nv, e, ok := matchEnd(v, &n.industry.suffix, keepsIndustry); ok {
			v = nv
			if e.group != "" && ng < len(groups) {
				groups[ng], ng = e.group, ng+1
			}
			continue
		}
		if nv, e, ok := matchStart(v, &n.industry.prefix, true, keepsIndustry); ok {
			v = nv
			if e.group != "" && ng < len(groups) {
				groups[ng], ng = e.group, ng+1
			}
			continue
		}
		if nv, e, ok := matchStart(v, &n.places.prefix, false, keepsPlace); ok {
			v = nv
			if c.Region == "" {
				c.Region = e.group
			}
			continue
		}
		if nv, e, ok := matchEnd(v, &n.places.suffix, keepsPlace); ok {
			v = nv
			if c.Region == "" {
				c.Region = e.group
			}
			continue
		}
		break
	}
	if v.hi-v.lo == 1 {
		c.Core = v.tok(v.lo)
	} else {
		var b strings.Builder
		for i := v.lo; i < v.hi; i++ {
			// Single letters left next to each other once a stopword
			// between them went join, as tokens would on a second pass.
			if i > v.lo && !(singleLetter(v.tok(i-1)) && singleLetter(v.tok(i))) {
				b.WriteByte(' ')
			}
			b.WriteString(v.tok(i))
		}
		c.Core = b.String()
	}
	if ng > 0 {
		g := groups[:ng]
		slices.Sort(g)
		g = slices.Compact(g)
		c.Industry = strings.Join(g, "|")
	}
	if resolve {
		if a, ok := n.aliases[c.Core]; ok {
			return a
		}
	}
	return c
}

// similarity is how alike two normalised names are, 0..1: 0 on a region
// or industry conflict, 1 for equal cores, else the Dice coefficient of
// the cores' character bigrams, raised to the containment score when one
// CJK core contains the other.
func (n *names) similarity(a, b CompanyName) float64 {
	if a.Core == "" || b.Core == "" {
		return 0
	}
	if n.cfg.RegionConflict && a.Region != "" && b.Region != "" && a.Region != b.Region &&
		n.level[a.Region] == n.level[b.Region] {
		return 0
	}
	if n.cfg.IndustryConflict && a.Industry != "" && b.Industry != "" && !shareGroup(a.Industry, b.Industry) {
		return 0
	}
	if a.Core == b.Core {
		return 1
	}
	s := dice(a.Core, b.Core)
	if n.cfg.ContainmentScore > s && cjkContains(a.Core, b.Core) {
		s = n.cfg.ContainmentScore
	}
	return s
}

// shareGroup reports whether two '|'-joined group lists have a common
// element.
func shareGroup(a, b string) bool {
	for x := range strings.SplitSeq(a, "|") {
		for y := range strings.SplitSeq(b, "|") {
			if x == y {
				return true
			}
		}
	}
	return false
}

// cjkContains: the shorter core is all CJK, at least minCore runes, and
// inside the longer.
func cjkContains(a, b string) bool {
	if len(a) > len(b) {
		a, b = b, a
	}
	if utf8.RuneCountInString(a) < minCore {
		return false
	}
	for _, r := range a {
		if !isCJK(r) {
			return false
		}
	}
	return strings.Contains(b, a)
}

// dice is the Sørensen-Dice coefficient of the multisets of rune bigrams
// of a and b, spaces removed, each padded with a start and an end mark (so
// a one-rune difference in a two-rune name counts).
func dice(a, b string) float64 {
	var ba, bb [96]uint64
	x := bigrams(a, ba[:0])
	y := bigrams(b, bb[:0])
	if len(x)+len(y) == 0 {
		return 0
	}
	slices.Sort(x)
	slices.Sort(y)
	common := 0
	for i, j := 0, 0; i < len(x) && j < len(y); {
		switch {
		case x[i] == y[j]:
			common++
			i++
			j++
		case x[i] < y[j]:
			i++
		default:
			j++
		}
	}
	return 2 * float64(common) / float64(len(x)+len(y))
}

// bigrams appends s's padded bigrams, each two runes packed in a uint64.
func bigrams(s string, dst []uint64) []uint64 {
	const start, end = 0x110000, 0x110001 // outside Unicode
	prev := rune(start)
	for _, r := range s {
		if r == ' ' {
			continue
		}
		dst = append(dst, uint64(prev)<<32|uint64(r))
		prev = r
	}
	return append(dst, uint64(prev)<<32|uint64(end))
}
