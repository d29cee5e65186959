package main

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/shopspring/decimal"
)

// ---------------------------------------------------------------------------
// Rounds
//
// On a shared 2-core machine the same step measured minutes apart moves by
// tens of percent (pgbench TPC-B at 3,982 and then 2,786 TPS), so a ratio of
// creditd to pgbench taken from one run of each is mostly noise. A run is
// therefore several rounds, each with the pgbench baselines and creditd's
// closed-loop sweeps close together, and every ratio pairs creditd in round r
// with pgbench in round r: a slow minute lowers both sides of the ratio.

// phaseKind is what one part of a round runs.
type phaseKind int

const (
	phasePgbench phaseKind = iota // the baselines: TPC-B-like and the hot row
	phaseClosed                   // a closed-loop sweep of one scenario over the client counts
	phaseOpen                     // an open-loop step of one scenario at half this round's best rate
)

type phase struct {
	Kind     phaseKind
	Scenario int  // phaseClosed, phaseOpen
	HotFirst bool // phasePgbench: the hot row before TPC-B
}

func (p phase) String() string {
	switch p.Kind {
	case phasePgbench:
		if p.HotFirst {
			return "pgbench hot row, TPC-B"
		}
		return "pgbench TPC-B, hot row"
	case phaseClosed:
		return "closed " + strconv.Itoa(p.Scenario)
	default:
		return "open " + strconv.Itoa(p.Scenario)
	}
}

// openScenarios are the scenarios with an open-loop p99 target.
var openScenarios = []int{scSpend, scHold}

// roundPlan is the order of round r (from 1). Odd rounds run the baselines
// and then scenarios 1 to 5; even rounds run the mirror image (5, 4, 3, 2,
// 1, then the hot row and TPC-B). Scenario 1 pairs with TPC-B and scenario 2
// with the hot row, and in both orders the same steps separate the two sides
// of each pair, so over two rounds a machine that speeds up or slows down
// steadily favours neither side. The open-loop steps come last: their rate is
// half of this round's best closed-loop rate, and they are long, so between
// the baselines and the sweeps they would push the two sides of a ratio
// apart.
func roundPlan(round int, scenarios []int, pgbench, openLoop bool) []phase {
	var closed []phase
	for _, sc := range []int{scSpend, scHot, scHold, scRead, scWebhook} {
		if slices.Contains(scenarios, sc) {
			closed = append(closed, phase{Kind: phaseClosed, Scenario: sc})
		}
	}
	var plan []phase
	if round%2 == 1 {
		if pgbench {
			plan = append(plan, phase{Kind: phasePgbench})
		}
		plan = append(plan, closed...)
	} else {
		slices.Reverse(closed)
		plan = append(plan, closed...)
		if pgbench {
			plan = append(plan, phase{Kind: phasePgbench, HotFirst: true})
		}
	}
	if openLoop {
		for _, sc := range openScenarios {
			if slices.Contains(scenarios, sc) {
				plan = append(plan, phase{Kind: phaseOpen, Scenario: sc})
			}
		}
	}
	return plan
}

// ---------------------------------------------------------------------------
// Medians and spreads

// spread is one figure over the rounds: its median and its range.
type spread struct {
	N                int
	Median, Min, Max float64
}

// spreadOf summarises xs (in any order): the median is the middle value, or
// the mean of the two middle values for an even count.
func spreadOf(xs []float64) spread {
	if len(xs) == 0 {
		return spread{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return spread{N: n, Median: med, Min: s[0], Max: s[n-1]}
}

// pct is the range as a percentage of the median (0 for one value).
func (s spread) pct() float64 {
	if s.N < 2 || s.Median == 0 {
		return 0
	}
	return (s.Max - s.Min) / s.Median * 100
}

// format writes the median, then the range and the range as a share of the
// median when there is more than one round: "7444 (7100–7600, 7%)".
func (s spread) format(f func(float64) string) string {
	switch s.N {
	case 0:
		return "–"
	case 1:
		return f(s.Median)
	}
	return fmt.Sprintf("%s (%s–%s, %.0f%%)", f(s.Median), f(s.Min), f(s.Max), s.pct())
}

// pairRatios divides each step's throughput by the baseline of its own
// round; rounds without a baseline (pgbench failed or did not run) give no
// ratio rather than one against another round's figure.
func pairRatios(steps []*step, baseline map[int]float64) []float64 {
	var rs []float64
	for _, st := range steps {
		if b, ok := baseline[st.Round]; ok && b > 0 {
			rs = append(rs, st.Throughput/b)
		}
	}
	return rs
}

// ---------------------------------------------------------------------------
// Keeping the Zipf wallets funded

// topUps is what to grant each wallet whose available balance fell below
// half of its seed, to bring its balance back to the seed: scenarios 1 and 3
// take most of their credits from a few wallets (the hottest gets about 15%
// of the picks), and a wallet that runs dry in a later round would turn
// spends into refusals and change what that round measures.
func topUps(accts []account, seed int64) map[int]int64 {
	floor, full := decimal.NewFromInt(seed/2), decimal.NewFromInt(seed)
	out := map[int]int64{}
	for i, a := range accts {
		if a.Available.LessThan(floor) {
			if n := full.Sub(a.Balance).IntPart(); n > 0 {
				out[i] = n
			}
		}
	}
	return out
}
