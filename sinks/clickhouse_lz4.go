package sinks

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"unsafe"

	"github.com/ClickHouse/ch-go/proto"
	"github.com/go-faster/city"
	"github.com/pierrec/lz4/v4"
)

// The LZ4 inserts of the ClickHouse sink frame their blocks themselves.
//
// A compressed data packet carries its block as a stream of frames, each
// LZ4-compressed on its own (a CityHash128 checksum, a method byte, the
// compressed and raw sizes, then the LZ4 block); the server reads the block
// from the frames' concatenated contents, wherever their boundaries fall.
// ch-go encodes a whole block into one buffer (a copy of every column),
// clears a buffer as large for the compressor and compresses all of it as
// one frame, then copies the result back, and only then sends it.
// lz4Block instead compresses the columns' buffers where they are, in
// frames of at most lz4FrameMax bytes, into output kept from one flush to
// the next, and writes the frames as they come (a writev for every
// lz4WriteMin bytes), so that the server decompresses and parses the start
// of a block while the rest is compressed. Small pieces (column names and
// types, short columns) are gathered into a staging buffer first, so that a
// frame is never tiny.
//
// Most of the compressor's time goes to the columns LZ4 compresses worst:
// array offsets and row numbers, counting up. The reasons' four arrays of a
// table share one offsets column, which goes to the wire four times: its
// frames are compressed once and sent four times, since a frame depends on
// nothing before it.

const (
	// lz4FrameMax is the most raw bytes a frame holds: what ClickHouse's
	// own client puts in one (max_compress_block_size).
	lz4FrameMax = 1 << 20
	// lz4DirectMin is the size from which a piece of a column is compressed
	// from where it is, in frames of its own, rather than staged.
	lz4DirectMin = 16 << 10
	// lz4Header is a frame's header: the checksum, the method, the sizes.
	lz4Header = 16 + 1 + 4 + 4
	// lz4Method is the method byte of an LZ4 frame.
	lz4Method = 0x82
	// lz4ChunkMin is the least capacity of an output chunk.
	lz4ChunkMin = 4 << 20
	// lz4WriteMin is how many bytes of frames encode gathers before it
	// writes them.
	lz4WriteMin = 256 << 10
)

// littleEndian tells whether numbers in memory are laid out as the native
// protocol sends them, so that a numeric column's memory can be framed as
// it is.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// lz4Block encodes a block as the LZ4 frames of a data packet. Its buffers
// are kept from one block to the next.
type lz4Block struct {
	lz      lz4.Compressor
	head    proto.Buffer // the packet's header
	stage   proto.Buffer // small pieces not framed yet
	scratch proto.Buffer // a column encoded by ch-go, for types framed by copy
	chunks  [][]byte     // compressed output; frames are slices of them
	chunk   int          // the chunk being filled
	frames  net.Buffers  // the packet: its header, then the frames in order
	seen    []lz4Piece   // direct pieces framed so far, to reuse their frames
	reused  int          // pieces of the block sent as frames made before

	w       io.Writer   // where encode writes
	written int         // frames[:written] are written
	pending int         // bytes in frames[written:]
	wbuf    net.Buffers // the frames being written
	wv      net.Buffers // wbuf, as WriteTo consumes it
}

// lz4Piece records that the frames frames[first:end], of bytes bytes, hold
// the piece of n bytes at data.
type lz4Piece struct {
	data       *byte
	n          int
	first, end int
	bytes      int
}

// encode writes to w a data packet (the client's Data code and an empty
// table name, then the block of input's columns of rows rows, framed) for
// protocol revision version.
func (l *lz4Block) encode(w io.Writer, version int, input proto.Input, rows int) error {
	for i := range l.chunks {
		l.chunks[i] = l.chunks[i][:0]
	}
	l.chunk = 0
	clear(l.frames)
	l.frames = l.frames[:0]
	l.seen, l.reused = l.seen[:0], 0
	l.stage.Reset()
	l.w, l.written, l.pending = w, 0, 0
	defer func() { l.w = nil }()

	// The packet's header goes uncompressed, in a slice of its own.
	l.head.Buf = l.out(16)
	proto.ClientCodeData.Encode(&l.head)
	proto.ClientData{}.EncodeAware(&l.head, version)
	l.used(len(l.head.Buf))
	l.frames = append(l.frames, l.head.Buf)
	l.pending += len(l.head.Buf)

	b := proto.Block{Columns: len(input), Rows: rows, Info: proto.BlockInfo{BucketNum: -1}}
	if proto.FeatureBlockInfo.In(version) {
		b.Info.Encode(&l.stage)
	}
	l.stage.PutInt(b.Columns)
	l.stage.PutInt(b.Rows)
	for _, col := range input {
		if r := col.Data.Rows(); r != rows {
			return permanentError{fmt.Errorf("column %s holds %d rows, not %d", col.Name, r, rows)}
		}
		col.EncodeStart(&l.stage, version)
		if v, ok := col.Data.(proto.Preparable); ok {
			if err := v.Prepare(); err != nil {
				return permanentError{fmt.Errorf("prepare column %s: %w", col.Name, err)}
			}
		}
		if rows == 0 {
			continue
		}
		if v, ok := col.Data.(proto.StateEncoder); ok {
			v.EncodeState(&l.stage)
		}
		if err := l.column(col.Data); err != nil {
			return err
		}
	}
	if err := l.flushStage(); err != nil {
		return err
	}
	return l.write()
}

// write writes the frames not written yet.
func (l *lz4Block) write() error {
	if l.written == len(l.frames) {
		return nil
	}
	clear(l.wbuf)
	l.wbuf = append(l.wbuf[:0], l.frames[l.written:]...)
	l.written, l.pending = len(l.frames), 0
	l.wv = l.wbuf
	if _, err := l.wv.WriteTo(l.w); err != nil {
		return fmt.Errorf("write block: %w", err)
	}
	return nil
}

// framed accounts for frames appended to l.frames, writing them once there
// are enough.
func (l *lz4Block) framed(bytes int) error {
	l.pending += bytes
	if l.pending < lz4WriteMin {
		return nil
	}
	return l.write()
}

// column frames the data of col: the buffers of the sink's own columns as
// they are, any other column as ch-go encodes it.
func (l *lz4Block) column(col proto.ColInput) error {
	var raw []byte
	switch c := col.(type) {
	case *strColumn:
		return l.add(c.buf, true)
	case *arrayView:
		if err := l.column(c.offsets); err != nil {
			return err
		}
		return l.column(c.data)
	case *proto.ColUInt64:
		raw = memory(*c)
	case *proto.ColInt64:
		raw = memory(*c)
	case *proto.ColFloat64:
		raw = memory(*c)
	case *proto.ColUInt32:
		raw = memory(*c)
	case *proto.ColInt32:
		raw = memory(*c)
	case *proto.ColUInt8:
		raw = memory(*c)
	case *proto.ColDate:
		raw = memory(*c)
	case *proto.ColDateTime:
		raw = memory(c.Data)
	}
	if raw != nil && littleEndian {
		return l.add(raw, true)
	}
	l.scratch.Reset()
	col.EncodeColumn(&l.scratch)
	return l.add(l.scratch.Buf, false)
}

// memory returns the bytes of s in memory.
func memory[T any](s []T) []byte {
	if len(s) == 0 {
		return nil
	}
	var x T
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), len(s)*int(unsafe.Sizeof(x)))
}

// add frames p, next in the block. A stable p is a column's buffer, which
// does not change during encode: a later piece with the same bytes at the
// same place reuses its frames.
func (l *lz4Block) add(p []byte, stable bool) error {
	if len(p) == 0 {
		return nil
	}
	if len(p) < lz4DirectMin {
		if len(l.stage.Buf)+len(p) > lz4FrameMax {
			if err := l.flushStage(); err != nil {
				return err
			}
		}
		l.stage.Buf = append(l.stage.Buf, p...)
		return nil
	}
	if err := l.flushStage(); err != nil {
		return err
	}
	if stable {
		for _, s := range l.seen {
			if s.data == &p[0] && s.n == len(p) {
				l.frames = append(l.frames, l.frames[s.first:s.end]...)
				l.reused++
				return l.framed(s.bytes)
			}
		}
	}
	first, bytes := len(l.frames), 0
	for rest := p; len(rest) > 0; {
		n := min(len(rest), lz4FrameMax)
		k, err := l.frame(rest[:n])
		if err != nil {
			return err
		}
		bytes += k
		if err := l.framed(k); err != nil {
			return err
		}
		rest = rest[n:]
	}
	if stable {
		l.seen = append(l.seen, lz4Piece{data: &p[0], n: len(p), first: first, end: len(l.frames), bytes: bytes})
	}
	return nil
}

// flushStage frames the staged pieces.
func (l *lz4Block) flushStage() error {
	if len(l.stage.Buf) == 0 {
		return nil
	}
	k, err := l.frame(l.stage.Buf)
	l.stage.Reset()
	if err != nil {
		return err
	}
	return l.framed(k)
}

// frame compresses src, at most lz4FrameMax bytes, into a frame appended
// to l.frames, and returns its size.
func (l *lz4Block) frame(src []byte) (int, error) {
	dst := l.out(lz4Header + lz4.CompressBlockBound(len(src)))
	dst = dst[:cap(dst)]
	n, err := l.lz.CompressBlock(src, dst[lz4Header:])
	if err != nil {
		return 0, permanentError{fmt.Errorf("compress: %w", err)}
	}
	dst[16] = lz4Method
	binary.LittleEndian.PutUint32(dst[17:], uint32(n+lz4Header-16))
	binary.LittleEndian.PutUint32(dst[21:], uint32(len(src)))
	frame := dst[:lz4Header+n]
	sum := city.CH128(frame[16:])
	binary.LittleEndian.PutUint64(frame[0:], sum.Low)
	binary.LittleEndian.PutUint64(frame[8:], sum.High)
	l.used(len(frame))
	l.frames = append(l.frames, frame)
	return len(frame), nil
}

// out returns an empty slice with room for n bytes after the used part of
// a chunk: the caller writes there, then calls used with what it used.
// Chunks are never reallocated, so frames stay valid.
func (l *lz4Block) out(n int) []byte {
	for ; l.chunk < len(l.chunks); l.chunk++ {
		c := l.chunks[l.chunk]
		if cap(c)-len(c) >= n {
			return c[len(c):len(c):cap(c)][:0:n]
		}
	}
	l.chunks = append(l.chunks, make([]byte, 0, max(n, lz4ChunkMin)))
	l.chunk = len(l.chunks) - 1
	return l.chunks[l.chunk][:0:n]
}

// used extends the chunk out returned by n bytes.
func (l *lz4Block) used(n int) {
	c := l.chunks[l.chunk]
	l.chunks[l.chunk] = c[:len(c)+n]
}
