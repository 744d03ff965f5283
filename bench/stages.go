package bench

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// Stage is one per-stage microbenchmark (BenchmarkStage<Name>) and, when
// its package has one, the naive counterpart BenchmarkStage<Name>Baseline.
type Stage struct {
	Package  string
	Name     string
	Engine   *benchLine
	Baseline *benchLine
}

// benchLine is one line of `go test -bench -benchmem` output.
type benchLine struct {
	NsPerOp     float64
	MBPerS      float64 // 0 when the benchmark sets no bytes
	BytesPerOp  float64
	AllocsPerOp float64
	Extra       map[string]float64 // custom b.ReportMetric units
}

// readStages parses go test output: "pkg: ..." headers and
// "BenchmarkStageX-2  N  123 ns/op  45.6 MB/s  0 B/op  0 allocs/op" lines.
// The last run of a name wins.
func readStages(path string) ([]Stage, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var (
		order []string
		byKey = map[string]*Stage{}
		pkg   string
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimSpace(rest)
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 4 || !strings.HasPrefix(fields[0], "BenchmarkStage") {
			continue
		}
		name := strings.TrimPrefix(fields[0], "BenchmarkStage")
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		bl := &benchLine{Extra: map[string]float64{}}
		for i := 2; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				continue
			}
			switch fields[i+1] {
			case "ns/op":
				bl.NsPerOp = v
			case "MB/s":
				bl.MBPerS = v
			case "B/op":
				bl.BytesPerOp = v
			case "allocs/op":
				bl.AllocsPerOp = v
			default:
				bl.Extra[fields[i+1]] = v
			}
		}
		base, isBaseline := strings.CutSuffix(name, "Baseline")
		// A sub-benchmark's baseline is Name/sub -> NameBaseline/sub.
		if b, sub, ok := strings.Cut(name, "/"); ok {
			if bb, ok2 := strings.CutSuffix(b, "Baseline"); ok2 {
				base, isBaseline = bb+"/"+sub, true
			}
		}
		key := pkg + " " + base
		st := byKey[key]
		if st == nil {
			st = &Stage{Package: pkg, Name: base}
			byKey[key] = st
			order = append(order, key)
		}
		if isBaseline {
			st.Baseline = bl
		} else {
			st.Engine = bl
		}
	}
	out := make([]Stage, 0, len(order))
	for _, k := range order {
		out = append(out, *byKey[k])
	}
	return out, sc.Err()
}
