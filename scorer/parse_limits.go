package scorer

import (
	"fmt"
	"io"
	"math"
	"os"

	"go.yaml.in/yaml/v3"
)

// Limits bound what a rules file may hold. A rules file is trusted to mean
// what it says, not to be small: it is read whole, parsed into a YAML tree
// and compiled, at start and on every change while running, and its version
// is copied into every row, record and the leadscore_rules_info label.
// Unbounded, a 50 MB file of 389 591 rules took 15 s and 2.78 GB to load.
//
// The yaml names are the keys of the engine configuration's rules_limits
// section, and every error names the limit it hit that way, e.g.
// `rules.yaml:1: version: 70000 bytes, over rules_limits.max_version_bytes (128)`.
// Every limit must be at least 1 (see [Limits.Validate]); there is no
// "unlimited".
type Limits struct {
	// MaxFileBytes bounds the file's size. It is checked before the file
	// is read whole, and again on the YAML with its aliases expanded, so
	// that anchors and aliases cannot make a small file compile as a
	// large one. Default 1 MiB: the contract's example is 1.5 KB and a
	// file of 1000 rules with comments about 200 KB.
	MaxFileBytes int64 `yaml:"max_file_bytes"`
	// MaxRules bounds engagement.rules. Every event is tested against
	// every rule and every account keeps state per rule it matched, so
	// rules cost on the hot path and in memory. Default 1000: real files
	// hold tens of rules.
	MaxRules int `yaml:"max_rules"`
	// MaxStringBytes bounds every key and value in the file: rule names,
	// categories, event names, paths and path prefixes, property names and
	// values, UTM values, attribute values, titles, competitors, hand-off
	// advice. Default 1 KiB, a paragraph; regular expressions have their
	// own, smaller limit (512 bytes).
	MaxStringBytes int `yaml:"max_string_bytes"`
	// MaxVersionBytes bounds version, which every score row and record
	// carries (rules_version) and which labels leadscore_rules_info; the
	// version is bounded by this limit alone. Default 128: a name, a date
	// and a 40-character commit hash fit with room to spare.
	MaxVersionBytes int `yaml:"max_version_bytes"`
}

// DefaultLimits are the limits of [Parse] and [Load], and the engine's
// defaults: generous for real files, far below what would hurt.
func DefaultLimits() Limits {
	return Limits{MaxFileBytes: 1 << 20, MaxRules: 1000, MaxStringBytes: 1 << 10, MaxVersionBytes: 128}
}

// Validate reports every limit below 1, each named by its configuration
// key (rules_limits.<key>).
func (l Limits) Validate() []error {
	var errs []error
	check := func(key string, v int64) {
		if v < 1 {
			errs = append(errs, fmt.Errorf("rules_limits.%s: must be at least 1, got %d", key, v))
		}
	}
	check("max_file_bytes", l.MaxFileBytes)
	check("max_rules", int64(l.MaxRules))
	check("max_string_bytes", int64(l.MaxStringBytes))
	check("max_version_bytes", int64(l.MaxVersionBytes))
	return errs
}

// ReadFile reads the rules file at path. It refuses a file over
// MaxFileBytes from its size before reading it, and reads no more than
// MaxFileBytes+1 bytes of a file that does not tell its size (a pipe) or
// grows while read.
func (l Limits) ReadFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read rules: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read rules: %w", err)
	}
	if fi.Size() > l.MaxFileBytes {
		return nil, l.fileTooLarge(path, fmt.Sprint(fi.Size()))
	}
	data, err := io.ReadAll(io.LimitReader(f, l.MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read rules: %w", err)
	}
	if int64(len(data)) > l.MaxFileBytes {
		return nil, l.fileTooLarge(path, fmt.Sprintf("more than %d", l.MaxFileBytes))
	}
	return data, nil
}

func (l Limits) fileTooLarge(file, size string) error {
	return fmt.Errorf("%s: %s bytes, over rules_limits.max_file_bytes (%d)", file, size, l.MaxFileBytes)
}

// Load reads and parses the rules file at path within the limits. Errors
// name the path.
func (l Limits) Load(path string) (*Rules, error) {
	data, err := l.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return l.Parse(data, path)
}

// checkLimits walks the YAML tree once before anything is compiled and
// reports every key or value over MaxStringBytes (the version over
// MaxVersionBytes), a rules list over MaxRules, and aliases that expand the
// document beyond MaxFileBytes. Parse compiles nothing when it reports a
// problem, so what compiling costs is bounded by the limits.
func (p *parser) checkLimits(root *yaml.Node) {
	w := limitWalk{p: p, sizes: map[*yaml.Node]int64{}}
	plain, expanded := w.walk(root, "")
	// A file without aliases is within MaxFileBytes already; plain counts
	// its values and nodes, which can exceed the bytes they were read from
	// (an empty value has a node), so it is the floor.
	if expanded > max(plain, p.lim.MaxFileBytes) {
		p.errorf(nil, "", "aliases expand the file to about %d bytes, over rules_limits.max_file_bytes (%d)", expanded, p.lim.MaxFileBytes)
	}
}

// limitWalk is one checkLimits walk. sizes memoises the expanded size of
// every node walked, so that an alias costs a lookup however often the
// anchor is used; a node still being walked (an alias inside its own
// anchor) has size -1.
type limitWalk struct {
	p     *parser
	sizes map[*yaml.Node]int64
}

// walk checks n at path and returns its size without aliases expanded and
// with them: one per node plus the length of its value.
func (w *limitWalk) walk(n *yaml.Node, path string) (plain, expanded int64) {
	if n == nil {
		return 0, 0
	}
	if n.Kind == yaml.AliasNode {
		// The anchor was checked where it stands; a text it names is
		// checked here too, where a limit of its own may hold.
		t := deref(n)
		if !w.special(t, n, path) && t != nil && t.Kind == yaml.ScalarNode && len(t.Value) > w.p.lim.MaxStringBytes {
			w.p.errorf(n, path, "%d bytes, over rules_limits.max_string_bytes (%d)", len(t.Value), w.p.lim.MaxStringBytes)
		}
		expanded = 1
		if s := w.sizes[n.Alias]; s > 0 {
			expanded = s
		}
		return 1 + int64(len(n.Value)), expanded
	}
	w.sizes[n] = -1
	plain = 1 + int64(len(n.Value))
	expanded = plain
	child := func(c *yaml.Node, path string) {
		p, e := w.walk(c, path)
		plain, expanded = addSat(plain, p), addSat(expanded, e)
	}
	lim := w.p.lim
	switch n.Kind {
	case yaml.ScalarNode:
		if !w.special(n, n, path) && len(n.Value) > lim.MaxStringBytes {
			w.p.errorf(n, path, "%d bytes, over rules_limits.max_string_bytes (%d)", len(n.Value), lim.MaxStringBytes)
		}
	case yaml.DocumentNode:
		for _, c := range n.Content {
			child(c, path)
		}
	case yaml.SequenceNode:
		w.special(n, n, path)
		for i, c := range n.Content {
			child(c, index(path, i))
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			kpath := path
			if key := deref(k); key != nil && key.Kind == yaml.ScalarNode {
				if len(key.Value) > lim.MaxStringBytes {
					w.p.errorf(key, path, "a key of %d bytes, over rules_limits.max_string_bytes (%d)", len(key.Value), lim.MaxStringBytes)
					continue
				}
				kpath = join(path, key.Value)
			}
			if k.Kind == yaml.ScalarNode {
				size := 1 + int64(len(k.Value))
				plain, expanded = addSat(plain, size), addSat(expanded, size)
			} else {
				child(k, path)
			}
			child(v, kpath)
		}
	}
	w.sizes[n] = expanded
	return plain, expanded
}

// addSat adds two sizes, saturating rather than overflowing: aliases can
// double a document's size with every level.
func addSat(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// special applies the limits that hold at a particular place instead of
// MaxStringBytes: version against MaxVersionBytes, engagement.rules against
// MaxRules. n is the node there (an alias followed), at the place of at.
// It reports whether the place had a limit of its own.
func (w *limitWalk) special(n, at *yaml.Node, path string) bool {
	if n == nil {
		return false
	}
	lim := w.p.lim
	switch {
	case path == "version" && n.Kind == yaml.ScalarNode:
		if len(n.Value) > lim.MaxVersionBytes {
			w.p.errorf(at, path, "%d bytes, over rules_limits.max_version_bytes (%d)", len(n.Value), lim.MaxVersionBytes)
		}
		return true
	case path == "engagement.rules" && n.Kind == yaml.SequenceNode:
		if len(n.Content) > lim.MaxRules {
			w.p.errorf(at, path, "%d rules, over rules_limits.max_rules (%d)", len(n.Content), lim.MaxRules)
		}
		return true
	}
	return false
}
