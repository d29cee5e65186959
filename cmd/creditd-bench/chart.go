package main

import (
	"fmt"
	"image/color"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// writeChart draws closed-loop throughput per scenario (groups) and
// concurrency (bars): each bar the median over the rounds with a whisker from
// the lowest to the highest round, and pgbench's TPC-B-like and hot-row
// median TPS as horizontal reference lines; the format follows the file's
// extension (.svg, .png).
func writeChart(r *report, path string) error {
	var scenarios []int
	for _, sc := range []int{scSpend, scHot, scHold, scRead, scWebhook} {
		if r.best(sc) != nil {
			scenarios = append(scenarios, sc)
		}
	}
	if len(scenarios) == 0 {
		return fmt.Errorf("no closed-loop steps to chart")
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("creditd throughput, median of %s, %s per step (%s)", rounds(r.Rounds), r.Duration, r.Date.UTC().Format("2006-01-02"))
	p.Title.Padding = vg.Points(10)
	p.Y.Label.Text = "per second"
	p.Y.Min = 0
	p.Legend.Top = true
	p.Legend.Left = true

	names := make([]string, len(scenarios))
	for i, sc := range scenarios {
		names[i] = fmt.Sprintf("%d %s\n(%s)", sc, scenarioNames[sc], r.best(sc).Unit)
	}
	p.NominalX(names...)

	groups := r.groups()
	barW := vg.Points(min(22, 66/float64(len(r.Clients))))
	maxY := 0.0
	for i, c := range r.Clients {
		vals := make(plotter.Values, len(scenarios))
		w := &whiskers{lo: make([]float64, len(scenarios)), hi: make([]float64, len(scenarios))}
		for j, sc := range scenarios {
			for _, g := range groups {
				if g.Scenario == sc && g.Mode == "closed" && g.Clients == c {
					t := g.throughput()
					vals[j], w.lo[j], w.hi[j] = t.Median, t.Min, t.Max
				}
			}
			maxY = max(maxY, w.hi[j])
		}
		bars, err := plotter.NewBarChart(vals, barW)
		if err != nil {
			return err
		}
		bars.Offset = barW * vg.Length(float64(i)-float64(len(r.Clients)-1)/2)
		bars.Color = plotutil.Color(i)
		bars.LineStyle.Width = 0
		p.Add(bars)
		p.Legend.Add(fmt.Sprintf("%d clients", c), bars)
		w.offset, w.width = bars.Offset, barW/3
		p.Add(w)

		// The median above each bar, clear of its whisker.
		xys := plotter.XYLabels{XYs: make(plotter.XYs, len(vals)), Labels: make([]string, len(vals))}
		for j, v := range vals {
			xys.XYs[j] = plotter.XY{X: float64(j), Y: max(v, w.hi[j])}
			if v > 0 {
				xys.Labels[j] = fmtRate(v)
			}
		}
		labels, err := plotter.NewLabels(xys)
		if err != nil {
			return err
		}
		for k := range labels.TextStyle {
			labels.TextStyle[k].Font.Size = vg.Points(7)
			labels.TextStyle[k].XAlign = -0.5 // centred on the bar
		}
		labels.Offset = vg.Point{X: bars.Offset, Y: vg.Points(2)}
		p.Add(labels)
	}

	ref := func(name string, tps spread, col color.Color, dash []vg.Length) error {
		l, err := plotter.NewLine(plotter.XYs{{X: -0.5, Y: tps.Median}, {X: float64(len(scenarios)) - 0.5, Y: tps.Median}})
		if err != nil {
			return err
		}
		l.Color, l.Width, l.Dashes = col, vg.Points(1.5), dash
		p.Add(l)
		label := fmt.Sprintf("%s (%.0f TPS)", name, tps.Median)
		if tps.N > 1 {
			label = fmt.Sprintf("%s (median %.0f TPS, %.0f–%.0f)", name, tps.Median, tps.Min, tps.Max)
		}
		p.Legend.Add(label, l)
		maxY = max(maxY, tps.Median)
		return nil
	}
	if t := spreadOf(mapValues(r.baseline(baseTPCB))); t.N > 0 {
		if err := ref("pgbench TPC-B-like", t, color.RGBA{R: 200, A: 255}, []vg.Length{vg.Points(6), vg.Points(3)}); err != nil {
			return err
		}
	}
	if t := spreadOf(mapValues(r.baseline(baseHot))); t.N > 0 {
		if err := ref("pgbench single hot row", t, color.RGBA{R: 90, G: 90, B: 90, A: 255}, []vg.Length{vg.Points(2), vg.Points(2)}); err != nil {
			return err
		}
	}
	p.Y.Max = maxY * 1.45 // room for the legend
	p.Y.Tick.Marker = plot.TickerFunc(niceTicks)
	p.Legend.YOffs = -vg.Points(8)
	p.Legend.XOffs = vg.Points(8)
	p.Add(plotter.NewGrid())
	return p.Save(24*vg.Centimeter, 13*vg.Centimeter, path)
}

// whiskers draws, for bars at x = 0, 1, ..., a vertical line from lo to hi
// with caps, shifted by the bars' offset: gonum's error bars take x in data
// units, but grouped bars are offset in points.
type whiskers struct {
	lo, hi        []float64
	offset, width vg.Length
}

func (w *whiskers) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	ls := draw.LineStyle{Color: color.Black, Width: vg.Points(0.75)}
	for j := range w.lo {
		if w.hi[j] <= w.lo[j] {
			continue // one round, or no spread: nothing to draw
		}
		x, lo, hi := trX(float64(j))+w.offset, trY(w.lo[j]), trY(w.hi[j])
		c.StrokeLine2(ls, x, lo, x, hi)
		c.StrokeLine2(ls, x-w.width/2, lo, x+w.width/2, lo)
		c.StrokeLine2(ls, x-w.width/2, hi, x+w.width/2, hi)
	}
}

// niceTicks labels about six round values (1, 2 or 5 × 10^k apart) from 0.
func niceTicks(lo, hi float64) []plot.Tick {
	if hi <= lo {
		return nil
	}
	raw := (hi - lo) / 6
	step := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*step >= raw {
			step *= m
			break
		}
	}
	var ts []plot.Tick
	for v := math.Ceil(lo/step) * step; v <= hi; v += step {
		ts = append(ts, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', -1, 64)})
	}
	return ts
}
