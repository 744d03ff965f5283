package hygiene

import (
	"slices"
)

// acMachine is an Aho-Corasick automaton over runes: it finds every
// occurrence of every pattern in one pass over the text, in time linear in
// the text plus the matches (each rune moves along at most as many failure
// links as earlier runes moved down the trie, and each match is reported
// through an output link in constant time).
//
// Nodes are numbered breadth first from the root (0). Node i's edges are
// labels[first[i]:first[i+1]], sorted, with the targets beside them; the
// root's edges for ASCII are also in a direct table, since most text is
// ASCII or starts at the root. It is immutable after build.
type acMachine struct {
	first   []int32
	labels  []rune
	targets []int32
	fail    []int32 // longest proper suffix that is a trie node
	pattern []int32 // the pattern ending at the node, or -1
	output  []int32 // nearest node on the fail chain (not itself) with a pattern, or -1
	depth   []int32 // the node's distance from the root, in runes
	root    [128]int32
}

// buildAC builds the automaton for patterns (already folded). An empty
// pattern never matches; a duplicate keeps its first index.
func buildAC(patterns [][]rune) *acMachine {
	type node struct {
		next    map[rune]int32
		pattern int32
		depth   int32
	}
	nodes := []node{{next: map[rune]int32{}, pattern: -1}}
	for pi, p := range patterns {
		if len(p) == 0 {
			continue
		}
		cur := int32(0)
		for _, r := range p {
			nx, ok := nodes[cur].next[r]
			if !ok {
				nx = int32(len(nodes))
				nodes = append(nodes, node{next: map[rune]int32{}, pattern: -1, depth: nodes[cur].depth + 1})
				nodes[cur].next[r] = nx
			}
			cur = nx
		}
		if nodes[cur].pattern < 0 {
			nodes[cur].pattern = int32(pi)
		}
	}
	// Renumber breadth first, so a node's fail target has a smaller
	// number and edges can be laid out in one array.
	order := []int32{0}
	for i := 0; i < len(order); i++ {
		n := nodes[order[i]]
		keys := make([]rune, 0, len(n.next))
		for r := range n.next {
			keys = append(keys, r)
		}
		slices.Sort(keys)
		for _, r := range keys {
			order = append(order, n.next[r])
		}
	}
	newID := make([]int32, len(nodes))
	for i, old := range order {
		newID[old] = int32(i)
	}
	m := &acMachine{
		first:   make([]int32, len(nodes)+1),
		fail:    make([]int32, len(nodes)),
		pattern: make([]int32, len(nodes)),
		output:  make([]int32, len(nodes)),
		depth:   make([]int32, len(nodes)),
	}
	for i, old := range order {
		n := nodes[old]
		m.pattern[i] = n.pattern
		m.depth[i] = n.depth
		m.first[i] = int32(len(m.labels))
		keys := make([]rune, 0, len(n.next))
		for r := range n.next {
			keys = append(keys, r)
		}
		slices.Sort(keys)
		for _, r := range keys {
			m.labels = append(m.labels, r)
			m.targets = append(m.targets, newID[n.next[r]])
		}
	}
	m.first[len(nodes)] = int32(len(m.labels))
	for r := range m.root {
		m.root[r] = m.edge(0, rune(r))
	}
	// Failure and output links, breadth first: a node's fail target is at
	// a smaller depth, so it is done before the node.
	m.fail[0], m.output[0] = 0, -1
	for i := range len(nodes) {
		for e := m.first[i]; e < m.first[i+1]; e++ {
			r, child := m.labels[e], m.targets[e]
			f := int32(0)
			if i != 0 {
				for s := m.fail[i]; ; s = m.fail[s] {
					if t := m.edge(s, r); t >= 0 {
						f = t
						break
					}
					if s == 0 {
						break
					}
				}
			}
			m.fail[child] = f
			if m.pattern[f] >= 0 {
				m.output[child] = f
			} else {
				m.output[child] = m.output[f]
			}
		}
	}
	return m
}

// edge is the child of node s along r, or -1.
func (m *acMachine) edge(s int32, r rune) int32 {
	lo, hi := m.first[s], m.first[s+1]
	if hi-lo <= 8 {
		for e := lo; e < hi; e++ {
			if m.labels[e] == r {
				return m.targets[e]
			}
		}
		return -1
	}
	for lo < hi {
		mid := int32(uint32(lo+hi) >> 1)
		switch l := m.labels[mid]; {
		case l == r:
			return m.targets[mid]
		case l < r:
			lo = mid + 1
		default:
			hi = mid
		}
	}
	return -1
}

// step moves from state s along r.
func (m *acMachine) step(s int32, r rune) int32 {
	for {
		if s == 0 {
			if r < 128 {
				if t := m.root[r]; t >= 0 {
					return t
				}
				return 0
			}
			if t := m.edge(0, r); t >= 0 {
				return t
			}
			return 0
		}
		if t := m.edge(s, r); t >= 0 {
			return t
		}
		s = m.fail[s]
	}
}

// matches calls fn for every pattern ending at state s, longest first.
func (m *acMachine) matches(s int32, fn func(pattern int, length int)) {
	if m.pattern[s] >= 0 {
		fn(int(m.pattern[s]), int(m.depth[s]))
	}
	for o := m.output[s]; o >= 0; o = m.output[o] {
		fn(int(m.pattern[o]), int(m.depth[o]))
	}
}

// find returns every (end, pattern) occurrence in text, end being the
// index after the match's last rune. Tests and the oracle use it; the
// sensitive-word filter steps the machine itself over folded text.
func (m *acMachine) find(text []rune) [][2]int {
	var out [][2]int
	s := int32(0)
	for i, r := range text {
		s = m.step(s, r)
		m.matches(s, func(p, _ int) { out = append(out, [2]int{i + 1, p}) })
	}
	return out
}
