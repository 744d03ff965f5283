package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/leadscore/leadscore/pipeline"
)

const reportUsage = "usage: leadscore report funnel|channels|scores [--since DATE|30d] [--png FILE] [flags]"

// cmdReport prints an analytics report from ClickHouse, and with --png
// draws its chart.
func cmdReport(args []string, stdout, stderr io.Writer) int {
	var (
		since, png string
		top        int
	)
	flagArgs, rest := splitArgs(args)
	cfg, _, ok := engineCommand("report", flagArgs, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&since, "since", "", "only accounts first seen (stages reached, months) since this date (2026-01-31) or this long ago (30d, 12w, 48h); default: all")
		fs.StringVar(&png, "png", "", "also draw the report's chart into this PNG file")
		fs.IntVar(&top, "top", 10, "scores: accounts to list (0: none)")
		fs.Usage = func() {
			fmt.Fprintln(fs.Output(), reportUsage)
			fs.PrintDefaults()
		}
	})
	if !ok {
		return exitUsage
	}
	if len(rest) != 1 {
		fmt.Fprintln(stderr, reportUsage)
		return exitUsage
	}
	from, err := pipeline.ParseSince(since, time.Now())
	if err != nil {
		fmt.Fprintln(stderr, "leadscore report: --since:", err)
		return exitUsage
	}
	ctx, stop := signalContext()
	defer stop()

	type report interface {
		Print(io.Writer) error
		WritePNG(io.Writer) error
	}
	var r report
	switch rest[0] {
	case "funnel":
		r, err = pipeline.Funnel(ctx, cfg.ClickHouse, from)
	case "channels":
		r, err = pipeline.Channels(ctx, cfg.ClickHouse, from)
	case "scores":
		if top > 0 {
			var scores *pipeline.ScoreReport
			if scores, err = pipeline.Report(ctx, cfg.ClickHouse, top); err == nil {
				scores.Print(stdout)
			}
		}
		if err == nil {
			r, err = pipeline.Calibration(ctx, cfg.ClickHouse, from)
		}
	default:
		fmt.Fprintf(stderr, "leadscore report: unknown report %q\n%s\n", rest[0], reportUsage)
		return exitUsage
	}
	if err != nil {
		fmt.Fprintln(stderr, "leadscore report:", err)
		return exitFailure
	}
	if err := r.Print(stdout); err != nil {
		fmt.Fprintln(stderr, "leadscore report:", err)
		return exitFailure
	}
	if png != "" {
		if err := writeFile(png, r.WritePNG); err != nil {
			fmt.Fprintln(stderr, "leadscore report:", err)
			return exitFailure
		}
		fmt.Fprintf(stdout, "\nChart: %s\n", png)
	}
	return exitOK
}

// writeFile writes a file through write, replacing it only when write
// succeeded.
func writeFile(name string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	err = write(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), name)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

const costsUsage = "usage: leadscore costs load FILE [flags]   (CSV: month,source,medium,campaign,cost,currency)"

// cmdCosts loads channel costs from a CSV file into ClickHouse.
func cmdCosts(args []string, stdout, stderr io.Writer) int {
	flagArgs, rest := splitArgs(args)
	cfg, _, ok := engineCommand("costs", flagArgs, stderr, func(fs *flag.FlagSet) {
		fs.Usage = func() {
			fmt.Fprintln(fs.Output(), costsUsage)
			fs.PrintDefaults()
		}
	})
	if !ok {
		return exitUsage
	}
	if len(rest) != 2 || rest[0] != "load" {
		fmt.Fprintln(stderr, costsUsage)
		return exitUsage
	}
	name := rest[1]
	f, err := os.Open(name)
	if err != nil {
		fmt.Fprintln(stderr, "leadscore costs:", err)
		return exitUsage
	}
	costs, err := pipeline.ParseCosts(f, name)
	f.Close()
	if err != nil {
		n := len(strings.Split(err.Error(), "\n"))
		fmt.Fprintf(stderr, "leadscore costs: %s: %d problem(s), nothing loaded:\n%v\n", name, n, err)
		return exitUsage
	}
	ctx, stop := signalContext()
	defer stop()
	if err := pipeline.LoadCosts(ctx, cfg.ClickHouse, costs); err != nil {
		fmt.Fprintln(stderr, "leadscore costs:", err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "loaded %d cost rows from %s into %s.channel_costs\n", len(costs), name, cfg.ClickHouse.Database)
	return exitOK
}
