package main

import (
	"bytes"
	"fmt"
	"html"
	"io"
	"os"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// writeReportFile writes the -report file: one self-contained HTML page
// with the table and, per workload, its latency distributions drawn by
// gonum/plot as inline SVG (no scripts, no external files).
func writeReportFile(name string, res *results) error {
	var b bytes.Buffer
	if err := writeReport(&b, res); err != nil {
		return err
	}
	return os.WriteFile(name, b.Bytes(), 0o644)
}

func writeReport(w io.Writer, res *results) error {
	var table strings.Builder
	writeTable(&table, res)
	fmt.Fprintf(w, `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>aiobench report</title>
<style>
body { font-family: sans-serif; margin: 2em; }
pre { font-size: 12px; background: #f6f6f6; padding: 1em; overflow-x: auto; }
.plots { display: flex; flex-wrap: wrap; gap: 1em; }
</style></head><body>
<h1>aiobench</h1>
<p>Latency distributions per workload, every implementation on the same machine in the same run.
Left: the cumulative distribution (the fraction of operations at most that slow).
Right: the tail, the fraction slower than that, on a log scale: p99 is where a line crosses 10<sup>-2</sup>, p99.9 where it crosses 10<sup>-3</sup>.</p>
<pre>%s</pre>
`, html.EscapeString(table.String()))
	for _, wr := range res.Workloads {
		cdf, tail, err := latencyPlots(wr)
		if err != nil {
			return fmt.Errorf("report: %s: %v", wr.Name, err)
		}
		if cdf == nil {
			continue
		}
		fmt.Fprintf(w, "<h2>%s</h2>\n<p>%s</p>\n<div class=\"plots\">\n", html.EscapeString(wr.Name), html.EscapeString(wr.Title))
		for _, p := range []*plot.Plot{cdf, tail} {
			svg, err := plotSVG(p)
			if err != nil {
				return fmt.Errorf("report: %s: %v", wr.Name, err)
			}
			fmt.Fprintf(w, "<div>%s</div>\n", svg)
		}
		fmt.Fprintln(w, "</div>")
	}
	_, err := fmt.Fprintln(w, "</body></html>")
	return err
}

// latencyPlots draws wr's latency distributions, one line per
// implementation that recorded any: the CDF and its tail (1 - CDF). It
// returns nils when no row has latencies.
func latencyPlots(wr *workloadResult) (cdf, tail *plot.Plot, err error) {
	cdf, tail = plot.New(), plot.New()
	for _, p := range []*plot.Plot{cdf, tail} {
		p.X.Label.Text = "latency (µs)"
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
		p.Add(plotter.NewGrid())
	}
	cdf.Title.Text = wr.Name + ": cumulative distribution"
	cdf.Y.Label.Text = "fraction of operations ≤ latency"
	cdf.Y.Min, cdf.Y.Max = 0, 1
	cdf.Legend.Left, cdf.Legend.Top = false, false
	tail.Title.Text = wr.Name + ": tail"
	tail.Y.Label.Text = "fraction of operations > latency"
	tail.Y.Scale = plot.LogScale{}
	tail.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	tail.Legend.Left = true // the lines fall from the top left: the bottom left is free
	lines := 0
	for _, r := range wr.Rows {
		pts, tailPts := cdfXYs(r.Latency)
		if len(pts) == 0 {
			continue
		}
		c, err := plotter.NewLine(pts)
		if err != nil {
			return nil, nil, err
		}
		c.Color = plotutil.Color(lines)
		c.Dashes = plotutil.Dashes(lines)
		c.Width = vg.Points(1.5)
		cdf.Add(c)
		cdf.Legend.Add(r.Impl, c)
		if len(tailPts) > 0 {
			t, err := plotter.NewLine(tailPts)
			if err != nil {
				return nil, nil, err
			}
			t.LineStyle = c.LineStyle
			tail.Add(t)
			tail.Legend.Add(r.Impl, t)
		}
		lines++
	}
	if lines == 0 {
		return nil, nil, nil
	}
	return cdf, tail, nil
}

// cdfXYs turns a histogram's CDF into points in microseconds: the
// cumulative fraction, and the fraction above (only where it is above
// zero: the tail is drawn on a log scale).
func cdfXYs(points []cdfPoint) (cdf, tail plotter.XYs) {
	if len(points) == 0 {
		return nil, nil
	}
	total := float64(points[len(points)-1].Count)
	for _, p := range points {
		if p.UpperNs == 0 {
			continue // a log axis has no room for 0
		}
		x := float64(p.UpperNs) / 1e3
		frac := float64(p.Count) / total
		cdf = append(cdf, plotter.XY{X: x, Y: frac})
		if above := 1 - frac; above > 0 {
			tail = append(tail, plotter.XY{X: x, Y: above})
		}
	}
	return cdf, tail
}

// plotSVG renders p as an SVG element (without the XML prolog, for
// inclusion in HTML).
func plotSVG(p *plot.Plot) (string, error) {
	wt, err := p.WriterTo(6*vg.Inch, 4*vg.Inch, "svg")
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	if _, err := wt.WriteTo(&b); err != nil {
		return "", err
	}
	s := b.String()
	if i := strings.Index(s, "<svg"); i >= 0 {
		s = s[i:]
	}
	return s, nil
}
