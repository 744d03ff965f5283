package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/leadscore/leadscore/internal/generate"
)

// events is the benchmark's input: n generated records, the values as JSON
// lines in events-<seed>-<n>.jsonl (what `leadscore generate` writes, so kcat
// can replay it) and their keys, the account domains the generator keys by,
// in events-<seed>-<n>.keys.
type events struct {
	path         string
	keys, values [][]byte
	bytes        int64 // values only
	generated    bool  // written by this run, not reused
}

// loadEvents reads the seeded events file from dir, writing it first when
// it is missing. The generator's accounts are visited with Zipf-skewed
// popularity (s = 1.1: the top account draws about 7 % of the records).
func loadEvents(dir string, seed int64, n, accounts int) (*events, error) {
	base := filepath.Join(dir, fmt.Sprintf("events-%d-%d-%d", seed, accounts, n))
	ev := &events{path: base + ".jsonl"}
	if err := ev.read(base, n); err == nil {
		return ev, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err := writeEvents(base, seed, n, accounts); err != nil {
		return nil, err
	}
	ev.generated = true
	return ev, ev.read(base, n)
}

func writeEvents(base string, seed int64, n, accounts int) error {
	if err := os.MkdirAll(filepath.Dir(base), 0o755); err != nil {
		return fmt.Errorf("write events: %w", err)
	}
	tmp := fmt.Sprintf(".tmp%d", os.Getpid()) // two runs at once do not share a file
	vf, err := os.Create(base + ".jsonl" + tmp)
	if err != nil {
		return fmt.Errorf("write events: %w", err)
	}
	defer vf.Close()
	kf, err := os.Create(base + ".keys" + tmp)
	if err != nil {
		return fmt.Errorf("write events: %w", err)
	}
	defer kf.Close()
	vw, kw := bufio.NewWriterSize(vf, 1<<20), bufio.NewWriterSize(kf, 1<<20)
	g := generate.New(generate.Config{Seed: seed, Accounts: accounts})
	for range n {
		rec := g.Next()
		vw.Write(rec.Value)
		vw.WriteByte('\n')
		kw.Write(rec.Key)
		kw.WriteByte('\n')
	}
	if err := errors.Join(vw.Flush(), kw.Flush(), vf.Close(), kf.Close()); err != nil {
		return fmt.Errorf("write events: %w", err)
	}
	// Renamed last, keys first: a values file without its keys is never reused.
	if err := errors.Join(os.Rename(base+".keys"+tmp, base+".keys"), os.Rename(base+".jsonl"+tmp, base+".jsonl")); err != nil {
		return fmt.Errorf("write events: %w", err)
	}
	return nil
}

func (ev *events) read(base string, n int) error {
	vals, err := os.ReadFile(base + ".jsonl")
	if err != nil {
		return err
	}
	keys, err := os.ReadFile(base + ".keys")
	if err != nil {
		return err
	}
	ev.values = bytes.Split(bytes.TrimSuffix(vals, []byte("\n")), []byte("\n"))
	ev.keys = bytes.Split(bytes.TrimSuffix(keys, []byte("\n")), []byte("\n"))
	if len(ev.values) != n || len(ev.keys) != n {
		return fmt.Errorf("read events %s: %d values and %d keys, want %d: delete the file to regenerate it", base, len(ev.values), len(ev.keys), n)
	}
	for _, v := range ev.values {
		ev.bytes += int64(len(v))
	}
	return nil
}

// avgBytes is the mean size of a record's value.
func (ev *events) avgBytes() float64 { return float64(ev.bytes) / float64(len(ev.values)) }
