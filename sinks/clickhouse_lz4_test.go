package sinks

import (
	"bytes"
	"io"
	"testing"

	"github.com/ClickHouse/ch-go/compress"
	"github.com/ClickHouse/ch-go/proto"
	"github.com/stretchr/testify/require"
)

// TestLZ4BlockFrames checks the frames of lz4Block against ch-go: the packet
// header is what ch-go writes, and the frames decompress (checksums
// verified) to the block ch-go encodes from the same columns. The sizes
// cover blocks whose columns are all staged, columns framed directly, one
// column split over several frames, and the reasons' offsets sent from
// the same frames.
func TestLZ4BlockFrames(t *testing.T) {
	var l lz4Block // reused, as a connection's is
	for _, n := range []int{1, 700, 5000, 60_000} {
		var blk chBlock
		blk.add(roundTripBatch(0, 11))
		blk.add(sinkBenchBatch(1, n))
		blk.add(roundTripBatch(2, 3))
		for _, version := range []int{legacyProtocol, proto.Version} {
			for _, tbl := range blk.tables() {
				cols := tbl.columns()
				input := make(proto.Input, len(cols))
				for i, col := range cols {
					input[i] = proto.InputColumn{Name: col.name, Data: col.data}
				}
				var head, want proto.Buffer
				proto.ClientCodeData.Encode(&head)
				proto.ClientData{}.EncodeAware(&head, version)
				b := proto.Block{Columns: len(input), Rows: tbl.len(), Info: proto.BlockInfo{BucketNum: -1}}
				require.NoError(t, b.EncodeBlock(&want, version, input))

				var wire bytes.Buffer
				require.NoError(t, l.encode(&wire, version, input, tbl.len()))
				require.Equal(t, head.Buf, wire.Next(len(head.Buf)), "%s: packet header", tbl.table())
				got := make([]byte, len(want.Buf))
				_, err := io.ReadFull(compress.NewReader(&wire), got)
				require.NoError(t, err, tbl.table())
				require.Zero(t, wire.Len(), "%s: bytes after the block", tbl.table())
				require.True(t, bytes.Equal(want.Buf, got), "%s (%d rows, revision %d): block differs", tbl.table(), tbl.len(), version)
				if n == 60_000 && tbl.table() == "score_changes" {
					require.Equal(t, 3, l.reused, "the reasons' offsets are framed once")
				}
			}
		}
	}
}

// TestLZ4BlockAllocs checks that framing a block allocates nothing once its
// buffers have grown.
func TestLZ4BlockAllocs(t *testing.T) {
	var blk chBlock
	blk.add(sinkBenchBatch(0, 20_000))
	var l lz4Block
	input := tableInput(&blk.changes)
	require.NoError(t, l.encode(io.Discard, proto.Version, input, blk.changes.len()))
	allocs := testing.AllocsPerRun(10, func() {
		if err := l.encode(io.Discard, proto.Version, input, blk.changes.len()); err != nil {
			t.Fatal(err)
		}
	})
	require.Zero(t, allocs)
}

func tableInput(t chTable) proto.Input {
	cols := t.columns()
	input := make(proto.Input, len(cols))
	for i, col := range cols {
		input[i] = proto.InputColumn{Name: col.name, Data: col.data}
	}
	return input
}

// BenchmarkLZ4Block measures framing the three tables of a flush of the
// sink benchmark's rows (BenchmarkClickHouseSink): 50 000 rows each, to
// io.Discard. No server is involved.
func BenchmarkLZ4Block(b *testing.B) {
	var blk chBlock
	for i := range sinkBenchFlushRows / 3000 {
		blk.add(sinkBenchBatch(i%16, 1000))
	}
	var inputs []proto.Input
	var n []int
	raw := 0
	for _, t := range blk.tables() {
		if t.len() > 0 {
			in := tableInput(t)
			inputs, n = append(inputs, in), append(n, t.len())
			var buf proto.Buffer
			for _, c := range in {
				c.Data.EncodeColumn(&buf)
			}
			raw += len(buf.Buf)
		}
	}
	var l lz4Block
	b.SetBytes(int64(raw))
	b.ReportAllocs()
	cpu0 := processCPU()
	for b.Loop() {
		for i, in := range inputs {
			if err := l.encode(io.Discard, proto.Version, in, n[i]); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/float64(b.N*blk.len()), "cpu-ns/row")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*blk.len()), "ns/row")
}

// TestClickHouseLZ4LargeBlocks: blocks large enough for every path of
// lz4Block (columns framed where they are, split over several frames, the
// reasons' offsets sent from shared frames) land in the tables as they do
// uncompressed, where ch-go encodes the block itself.
func TestClickHouseLZ4LargeBlocks(t *testing.T) {
	s := clickHouseServer(t)
	lz4Cfg, plainCfg := testClickHouseConfig(t, s), testClickHouseConfig(t, s)
	plainCfg.NoCompression = true
	batch := sinkBenchBatch(3, 20_000)
	edge := roundTripBatch(4, 9)
	for _, cfg := range []ClickHouseConfig{lz4Cfg, plainCfg} {
		sink := newTestClickHouse(t, cfg, nil)
		require.NoError(t, sink.Write(t.Context(), edge))
		require.NoError(t, sink.Write(t.Context(), batch))
		require.NoError(t, sink.Flush(t.Context()))
	}
	got, want := query(t, lz4Cfg), query(t, plainCfg)
	var blk chBlock
	for _, tbl := range blk.tables() {
		w := readTable(t, want, tbl.table())
		require.NotEmpty(t, w, tbl.table())
		require.Equal(t, w, readTable(t, got, tbl.table()), tbl.table())
	}
}
