package pipeline

import (
	"fmt"
	"image/color"
	"io"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// The charts of `leadscore report ... --png FILE`, drawn with gonum's plot
// package (pure Go, fonts embedded: no system dependencies). Each is a PNG
// of chartWidth by chartHeight.

const (
	chartWidth  = 10 * vg.Inch
	chartHeight = 6 * vg.Inch
)

var palette = []color.Color{
	color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff},
	color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
	color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
}

// WritePNG draws the funnel: one horizontal bar per stage, the first stage
// on top, each labelled with its count and its conversion from the stage
// before.
func (r *FunnelReport) WritePNG(w io.Writer) error {
	p := plot.New()
	p.Title.Text = "Funnel: accounts first seen " + sinceText(r.Since)
	p.X.Label.Text = "accounts"
	n := len(r.Stages)
	values := make(plotter.Values, n)
	names := make([]string, n)
	labels := plotter.XYLabels{XYs: make(plotter.XYs, n), Labels: make([]string, n)}
	// Bottom to top: the last stage first, so the funnel reads downwards.
	for i, s := range r.Stages {
		j := n - 1 - i
		values[j] = float64(s.Reached)
		names[j] = s.Stage
		text := fmt.Sprintf(" %d", s.Reached)
		if i > 0 {
			prev := r.Stages[i-1]
			if prev.Reached > 0 {
				text += fmt.Sprintf(" (%.1f%% of %s)", 100*float64(s.Reached)/float64(prev.Reached), prev.Stage)
			}
		}
		labels.XYs[j] = plotter.XY{X: float64(s.Reached), Y: float64(j)}
		labels.Labels[j] = text
	}
	bars, err := plotter.NewBarChart(values, vg.Points(40))
	if err != nil {
		return fmt.Errorf("draw funnel: %w", err)
	}
	bars.Horizontal = true
	bars.Color = palette[0]
	bars.LineStyle.Width = 0
	p.Add(bars)
	if n > 0 {
		l, err := plotter.NewLabels(labels)
		if err != nil {
			return fmt.Errorf("draw funnel: %w", err)
		}
		l.Offset = vg.Point{X: vg.Points(4), Y: -vg.Points(4)}
		p.Add(l)
	}
	if n > 0 {
		p.NominalY(names...)
	}
	p.X.Min = 0
	p.X.Max = max(p.X.Max*1.35, 1) // room for the labels
	return writePNG(p, w)
}

// maxChannels bounds the channels a chart shows: the first ones of the
// report's order (most wins, then most leads).
const maxChannels = 8

// WritePNG draws the channels: for each first-touch channel, grouped bars
// of its leads, MQLs, opportunities and wins.
func (r *ChannelReport) WritePNG(w io.Writer) error {
	p := plot.New()
	p.Title.Text = "Channels: accounts first seen " + sinceText(r.Since) + ", by first touch"
	p.Y.Label.Text = "accounts"
	rows := r.Channels[:min(len(r.Channels), maxChannels)]
	names := make([]string, len(rows))
	series := []struct {
		name string
		get  func(ChannelRow) uint64
	}{
		{"leads", func(c ChannelRow) uint64 { return c.Leads }},
		{"MQLs", func(c ChannelRow) uint64 { return c.MQLs }},
		{"opportunities", func(c ChannelRow) uint64 { return c.Opportunities }},
		{"wins", func(c ChannelRow) uint64 { return c.Wins }},
	}
	width := vg.Points(14)
	for i, c := range rows {
		names[i] = c.Source + "\n" + c.Medium
	}
	if len(rows) == 0 {
		p.Title.Text += ": no data"
		series = nil
	}
	for k, s := range series {
		values := make(plotter.Values, len(rows))
		for i, c := range rows {
			values[i] = float64(s.get(c))
		}
		bars, err := plotter.NewBarChart(values, width)
		if err != nil {
			return fmt.Errorf("draw channels: %w", err)
		}
		bars.Color = palette[k%len(palette)]
		bars.LineStyle.Width = 0
		bars.Offset = vg.Length(k-len(series)/2)*width + width/2
		p.Add(bars)
		p.Legend.Add(s.name, bars)
	}
	p.Legend.Top = true
	if len(names) > 0 { // gonum panics on an empty nominal axis
		p.NominalX(names...)
		p.X.Min, p.X.Max = -0.6, float64(len(rows))-0.4
	}
	p.Y.Min = 0
	p.Y.Max = max(p.Y.Max*1.2, 1) // room for the legend
	return writePNG(p, w)
}

// WritePNG draws the calibration: for each score band, the share of its
// accounts that became an opportunity and a customer.
func (r *CalibrationReport) WritePNG(w io.Writer) error {
	p := plot.New()
	p.Title.Text = "Score calibration: accounts first seen " + sinceText(r.Since)
	p.X.Label.Text = "highest score before opportunity"
	p.Y.Label.Text = "% of the band's accounts"
	names := make([]string, len(r.Bands))
	opps := make(plotter.Values, len(r.Bands))
	wins := make(plotter.Values, len(r.Bands))
	for i, b := range r.Bands {
		names[i] = fmt.Sprintf("%s\n(%d)", b.Scores, b.Accounts)
		opps[i], wins[i] = b.OpportunityPct, b.WinPct
	}
	width := vg.Points(18)
	groups := []struct {
		name   string
		values plotter.Values
	}{{"became an opportunity", opps}, {"won", wins}}
	if len(r.Bands) == 0 {
		p.Title.Text += ": no data"
		groups = nil
	}
	for k, s := range groups {
		bars, err := plotter.NewBarChart(s.values, width)
		if err != nil {
			return fmt.Errorf("draw calibration: %w", err)
		}
		bars.Color = palette[k]
		bars.LineStyle.Width = 0
		bars.Offset = vg.Length(2*k-1) * width / 2
		p.Add(bars)
		p.Legend.Add(s.name, bars)
	}
	p.Legend.Top = true
	if len(names) > 0 {
		p.NominalX(names...)
		p.X.Min, p.X.Max = -0.6, float64(len(r.Bands))-0.4
	}
	p.Y.Min = 0
	p.Y.Max = 115 // room for the legend above 100%
	return writePNG(p, w)
}

func writePNG(p *plot.Plot, w io.Writer) error {
	wt, err := p.WriterTo(chartWidth, chartHeight, "png")
	if err != nil {
		return fmt.Errorf("draw png: %w", err)
	}
	if _, err := wt.WriteTo(w); err != nil {
		return fmt.Errorf("write png: %w", err)
	}
	return nil
}
