package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
)

func TestSpreadOf(t *testing.T) {
	cases := []struct {
		name string
		in   []float64
		want spread
		pct  float64
		text string
	}{
		{"none", nil, spread{}, 0, "–"},
		{"one round", []float64{7}, spread{N: 1, Median: 7, Min: 7, Max: 7}, 0, "7.00"},
		{"odd count, unsorted", []float64{30, 10, 20}, spread{N: 3, Median: 20, Min: 10, Max: 30}, 100, "20.0 (10.0–30.0, 100%)"},
		{"even count: mean of the middle two", []float64{40, 10, 30, 20}, spread{N: 4, Median: 25, Min: 10, Max: 40}, 120, "25.0 (10.0–40.0, 120%)"},
		{"two", []float64{4000, 3000}, spread{N: 2, Median: 3500, Min: 3000, Max: 4000}, 100.0 / 3.5, "3500 (3000–4000, 29%)"},
		{"an outlier moves the range, not the median", []float64{100, 101, 99, 100, 10}, spread{N: 5, Median: 100, Min: 10, Max: 101}, 91, "100 (10.0–101, 91%)"},
	}
	for _, c := range cases {
		in := slices.Clone(c.in)
		got := spreadOf(c.in)
		if got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
		if p := got.pct(); p < c.pct-1e-9 || p > c.pct+1e-9 {
			t.Errorf("%s: spread %.4f%%, want %.4f%%", c.name, p, c.pct)
		}
		if s := got.format(fmtRate); s != c.text {
			t.Errorf("%s: %q, want %q", c.name, s, c.text)
		}
		if !slices.Equal(in, c.in) {
			t.Errorf("%s: the input was reordered: %v", c.name, c.in)
		}
	}
}

// Each ratio divides by the baseline of its own round, and a round without
// one is left out rather than paired with another round.
func TestPairRatios(t *testing.T) {
	steps := []*step{{Round: 1, Throughput: 3300}, {Round: 2, Throughput: 5500}, {Round: 3, Throughput: 4000}, {Round: 4, Throughput: 1000}}
	base := map[int]float64{1: 3000, 2: 5000, 4: 0} // round 3: pgbench failed; round 4: reported 0 TPS
	got := pairRatios(steps, base)
	want := []float64{1.1, 1.1}
	if len(got) != len(want) {
		t.Fatalf("ratios %v, want %v", got, want)
	}
	for i := range want {
		if d := got[i] - want[i]; d > 1e-9 || d < -1e-9 {
			t.Errorf("ratio %d: %v, want %v", i, got[i], want[i])
		}
	}
	// Steps in any order still pair by round.
	got = pairRatios([]*step{{Round: 2, Throughput: 2500}, {Round: 1, Throughput: 6000}}, map[int]float64{1: 3000, 2: 5000})
	if !slices.Equal(got, []float64{0.5, 2}) {
		t.Errorf("out of order: %v", got)
	}
	if got := pairRatios(steps, nil); len(got) != 0 {
		t.Errorf("no baselines: %v", got)
	}
}

func TestRoundPlan(t *testing.T) {
	str := func(ps []phase) string {
		s := make([]string, len(ps))
		for i, p := range ps {
			s[i] = p.String()
		}
		return strings.Join(s, "; ")
	}
	all := []int{4, 2, 1, 3} // as given on the command line: the plan orders them
	cases := []struct {
		round             int
		scenarios         []int
		pgbench, openLoop bool
		want              string
	}{
		{1, all, true, true, "pgbench TPC-B, hot row; closed 1; closed 2; closed 3; closed 4; open 1; open 3"},
		{2, all, true, true, "closed 4; closed 3; closed 2; closed 1; pgbench hot row, TPC-B; open 1; open 3"},
		{3, all, true, true, "pgbench TPC-B, hot row; closed 1; closed 2; closed 3; closed 4; open 1; open 3"},
		{2, all, false, false, "closed 4; closed 3; closed 2; closed 1"},
		{1, []int{2, 4}, true, true, "pgbench TPC-B, hot row; closed 2; closed 4"},
		{2, []int{3}, true, true, "closed 3; pgbench hot row, TPC-B; open 3"},
	}
	for _, c := range cases {
		if got := str(roundPlan(c.round, c.scenarios, c.pgbench, c.openLoop)); got != c.want {
			t.Errorf("round %d of %v (pgbench %v, open %v):\n got %s\nwant %s", c.round, c.scenarios, c.pgbench, c.openLoop, got, c.want)
		}
	}
}

func TestTopUps(t *testing.T) {
	acct := func(bal, held int64) account {
		return account{Balance: decimal.NewFromInt(bal), Held: decimal.NewFromInt(held), Available: decimal.NewFromInt(bal - held)}
	}
	got := topUps([]account{acct(1000, 0), acct(499, 0), acct(500, 0), acct(600, 200), acct(0, 0)}, 1000)
	want := map[int]int64{1: 501, 3: 400, 4: 1000} // below half available; back to the seed's balance
	if len(got) != len(want) {
		t.Fatalf("top-ups %v, want %v", got, want)
	}
	for i, n := range want {
		if got[i] != n {
			t.Errorf("wallet %d: %d, want %d", i, got[i], n)
		}
	}
}
