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
)

// writeChart draws closed-loop throughput per scenario (groups) and
// concurrency (bars), with pgbench's TPC-B-like and hot-row TPS as horizontal
// reference lines; the format follows the file's extension (.svg, .png).
func writeChart(r *report, path string) error {
	var scenarios []int
	for _, sc := range []int{scSpend, scHot, scHold, scRead} {
		if r.best(sc) != nil {
			scenarios = append(scenarios, sc)
		}
	}
	if len(scenarios) == 0 {
		return fmt.Errorf("no closed-loop steps to chart")
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("creditd throughput, %s per step (%s)", r.Duration, r.Date.UTC().Format("2006-01-02"))
	p.Title.Padding = vg.Points(10)
	p.Y.Label.Text = "per second"
	p.Y.Min = 0
	p.Legend.Top = true
	p.Legend.Left = true

	names := make([]string, len(scenarios))
	for i, sc := range scenarios {
		unit := r.best(sc).Unit
		names[i] = fmt.Sprintf("%d %s\n(%s)", sc, scenarioNames[sc], unit)
	}
	p.NominalX(names...)

	barW := vg.Points(min(22, 66/float64(len(r.Clients))))
	maxY := 0.0
	for i, c := range r.Clients {
		vals := make(plotter.Values, len(scenarios))
		for j, sc := range scenarios {
			for _, st := range r.Steps {
				if st.Scenario == sc && st.Mode == "closed" && st.Clients == c {
					vals[j] = st.Throughput
				}
			}
			maxY = max(maxY, vals[j])
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

		// The value above each bar.
		xys := plotter.XYLabels{XYs: make(plotter.XYs, len(vals)), Labels: make([]string, len(vals))}
		for j, v := range vals {
			xys.XYs[j] = plotter.XY{X: float64(j), Y: v}
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

	ref := func(name string, tps float64, col color.Color, dash []vg.Length) error {
		l, err := plotter.NewLine(plotter.XYs{{X: -0.5, Y: tps}, {X: float64(len(scenarios)) - 0.5, Y: tps}})
		if err != nil {
			return err
		}
		l.Color, l.Width, l.Dashes = col, vg.Points(1.5), dash
		p.Add(l)
		p.Legend.Add(fmt.Sprintf("%s (%.0f TPS)", name, tps), l)
		maxY = max(maxY, tps)
		return nil
	}
	if r.TPCB != nil && r.TPCB.TPS > 0 {
		if err := ref("pgbench TPC-B-like", r.TPCB.TPS, color.RGBA{R: 200, A: 255}, []vg.Length{vg.Points(6), vg.Points(3)}); err != nil {
			return err
		}
	}
	if r.Hot != nil && r.Hot.TPS > 0 {
		if err := ref("pgbench single hot row", r.Hot.TPS, color.RGBA{R: 90, G: 90, B: 90, A: 255}, []vg.Length{vg.Points(2), vg.Points(2)}); err != nil {
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
