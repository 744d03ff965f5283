package bench

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestReadStages(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stages.txt")
	require.NoError(t, os.WriteFile(path, []byte(`goos: linux
pkg: github.com/leadscore/leadscore/scorer
BenchmarkStageScore-2            	  593432	       184.7 ns/op	1921.61 MB/s	       0 B/op	       0 allocs/op
BenchmarkStageScoreBaseline-2    	  112074	      1356 ns/op	 261.89 MB/s	     721 B/op	       6 allocs/op
PASS
pkg: github.com/leadscore/leadscore/pipeline
BenchmarkStagePipeline/small-2   	   10000	     11491 ns/op	  30.89 MB/s	         0.8043 rows/op	    1643 B/op	      23 allocs/op
BenchmarkStagePipelineBaseline/small-2   	   10000	     22982 ns/op
`), 0o644))
	st, err := readStages(path)
	require.NoError(t, err)
	require.Len(t, st, 2)
	require.Equal(t, "Score", st[0].Name)
	require.Equal(t, 184.7, st[0].Engine.NsPerOp)
	require.Equal(t, 6.0, st[0].Baseline.AllocsPerOp)
	require.Equal(t, "Pipeline/small", st[1].Name)
	require.Equal(t, 0.8043, st[1].Engine.Extra["rows/op"])
	require.Equal(t, 22982.0, st[1].Baseline.NsPerOp)
}
