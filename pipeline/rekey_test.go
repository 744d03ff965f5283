package pipeline

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/leadscore/leadscore/internal/rows"
)

// appendForwardV1 writes a forwarded record as format 1 did (no key or
// headers; no IP match, tags or pending events), to check that records
// forwarded before an upgrade still read.
func appendForwardV1(r *kgo.Record, wm time.Time) []byte {
	b := []byte{forwardFormat1}
	b = appendString(b, r.Topic)
	b = binary.AppendVarint(b, int64(r.Partition))
	b = binary.AppendVarint(b, r.Offset)
	b = binary.AppendVarint(b, wm.UnixNano())
	b = append(b, 0)               // no IP match
	b = binary.AppendUvarint(b, 0) // no tags
	b = binary.AppendUvarint(b, 0) // no pending events
	return append(b, r.Value...)
}

// TestForwardCarriesOriginal: a forwarded record carries its input record's
// key and headers, nil apart from empty, so original rebuilds the input
// record exactly; a format-1 record still reads, without them.
func TestForwardCarriesOriginal(t *testing.T) {
	raw := []byte(`{"type":"page","anonymousId":"a","timestamp":"2026-03-02T09:00:00Z"}`)
	wm := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for _, in := range []*kgo.Record{
		{Topic: "in", Partition: 3, Offset: 42, Key: []byte("visitor-1"), Value: raw,
			Headers: []kgo.RecordHeader{{Key: "trace", Value: []byte("t1")}, {Key: "nil", Value: nil}, {Key: "empty", Value: []byte{}}, {Key: "", Value: []byte("x")}}},
		{Topic: "in", Partition: 0, Offset: 0, Key: nil, Value: raw},
		{Topic: "in", Partition: 1, Offset: 7, Key: []byte{}, Value: raw},
	} {
		b, err := appendForward(nil, in, nil, forwardMeta{watermark: wm, tags: []string{"x"}})
		require.NoError(t, err)
		var f forwarded
		require.NoError(t, decodeForward(&kgo.Record{Key: []byte("acme.com"), Value: b}, &f))
		got := f.original()
		require.Equal(t, in.Topic, got.Topic)
		require.Equal(t, in.Partition, got.Partition)
		require.Equal(t, in.Offset, got.Offset)
		require.Equal(t, in.Key == nil, got.Key == nil, "a nil key stays nil, an empty one empty")
		require.Equal(t, string(in.Key), string(got.Key))
		require.Equal(t, string(in.Value), string(got.Value))
		require.Len(t, got.Headers, len(in.Headers))
		for i, h := range in.Headers {
			require.Equal(t, h.Key, got.Headers[i].Key)
			require.Equal(t, h.Value == nil, got.Headers[i].Value == nil, "header %q", h.Key)
			require.Equal(t, string(h.Value), string(got.Headers[i].Value))
		}
		require.Equal(t, []string{"x"}, f.Tags)
		require.True(t, wm.Equal(f.Watermark))
	}

	in := &kgo.Record{Topic: "in", Partition: 2, Offset: 9, Key: []byte("k"), Value: raw}
	var f forwarded
	require.NoError(t, decodeForward(&kgo.Record{Key: []byte("acme.com"), Value: appendForwardV1(in, wm)}, &f))
	require.Equal(t, rows.Source{Topic: "in", Partition: 2, Offset: 9}, f.Source)
	require.True(t, wm.Equal(f.Watermark))
	require.Equal(t, string(raw), string(f.Raw))
	require.Nil(t, f.Key, "format 1 did not carry the key")
	require.Nil(t, f.original().Headers)

	// An envelope that does not read leaves nothing behind.
	require.Error(t, decodeForward(&kgo.Record{Key: []byte("acme.com"), Value: []byte{forwardFormat, 2, 'i'}}, &f))
	require.Equal(t, forwarded{}, f)
}

// FuzzForward: decodeForward never panics on any bytes, and whatever
// appendForward writes reads back as the record it was built from.
func FuzzForward(f *testing.F) {
	raw := `{"type":"page","anonymousId":"a","timestamp":"2026-03-02T09:00:00Z"}`
	f.Add("leadscore.events", int32(3), int64(42), []byte("visitor"), false, "trace", []byte("t"), raw, int64(1772442000000000000))
	f.Add("", int32(0), int64(0), []byte(nil), true, "", []byte(nil), "{}", int64(0))
	f.Add("t", int32(-1), int64(-1), []byte{}, false, "h", []byte{}, "\x01\x02", int64(-5))
	f.Add("\x01", int32(1<<30), int64(1<<62), []byte{0}, false, "\x00", []byte{0xff}, "\x02\x00", int64(1))
	f.Fuzz(func(t *testing.T, topic string, partition int32, offset int64, key []byte, nilKey bool, hk string, hv []byte, value string, wm int64) {
		// Arbitrary bytes as an envelope: an error or a record, no panic.
		var junk forwarded
		_ = decodeForward(&kgo.Record{Key: key, Value: []byte(value)}, &junk)
		if nilKey {
			key = nil
		}
		in := &kgo.Record{Topic: topic, Partition: partition, Offset: offset, Key: key, Value: []byte(value)}
		if hk != "" || hv != nil {
			in.Headers = []kgo.RecordHeader{{Key: hk, Value: hv}}
		}
		var w time.Time
		if wm != 0 {
			w = time.Unix(0, wm).UTC()
		}
		b, err := appendForward(nil, in, nil, forwardMeta{watermark: w})
		if err != nil {
			t.Fatal(err)
		}
		var fw forwarded
		err = decodeForward(&kgo.Record{Key: []byte("acct"), Value: b}, &fw)
		if value == "" {
			if err == nil {
				t.Fatal("a forwarded record without an event decoded")
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		got := fw.original()
		if got.Topic != in.Topic || got.Partition != in.Partition || got.Offset != in.Offset ||
			string(got.Key) != string(in.Key) || (got.Key == nil) != (in.Key == nil) || string(got.Value) != value ||
			len(got.Headers) != len(in.Headers) || !fw.Watermark.Equal(w) {
			t.Fatalf("read back %+v, wrote %+v", got, in)
		}
		for i, h := range in.Headers {
			g := got.Headers[i]
			if g.Key != h.Key || string(g.Value) != string(h.Value) || (g.Value == nil) != (h.Value == nil) {
				t.Fatalf("header %d: read back %+v, wrote %+v", i, g, h)
			}
		}
	})
}
