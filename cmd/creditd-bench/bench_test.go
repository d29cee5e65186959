package main

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

const pgbench15 = `pgbench (15.18 (Debian 15.18-0+deb12u1))
starting vacuum...end.
transaction type: <builtin: TPC-B (sort of)>
scaling factor: 10
query mode: prepared
number of clients: 8
number of threads: 2
maximum number of tries: 1
duration: 10 s
number of transactions actually processed: 43211
number of failed transactions: 0 (0.000%)
latency average = 1.851 ms
initial connection time = 14.020 ms
tps = 4321.987654 (without initial connection time)
`

// PostgreSQL 13 and older print two tps lines.
const pgbench13 = `transaction type: /tmp/hot.sql
scaling factor: 1
query mode: prepared
number of clients: 8
number of threads: 2
duration: 10 s
number of transactions actually processed: 39000
latency average = 2.051 ms
tps = 3899.000000 (including connections establishing)
tps = 3900.500000 (excluding connections establishing)
`

func TestParsePgbench(t *testing.T) {
	r, err := parsePgbench(pgbench15)
	if err != nil {
		t.Fatal(err)
	}
	if r.TPS != 4321.987654 || r.LatencyAvgMs != 1.851 || r.Transactions != 43211 || r.Failed != 0 ||
		r.Clients != 8 || r.Threads != 2 || r.ScalingFactor != 10 || r.Duration != 10*time.Second {
		t.Errorf("PostgreSQL 15 output parsed as %+v", r)
	}
	r, err = parsePgbench(pgbench13)
	if err != nil {
		t.Fatal(err)
	}
	if r.TPS != 3900.5 || r.LatencyAvgMs != 2.051 || r.Transactions != 39000 {
		t.Errorf("PostgreSQL 13 output parsed as %+v", r)
	}
	if _, err := parsePgbench("pgbench: error: connection to server failed\n"); err == nil {
		t.Error("output without a tps line must be an error")
	}
}

func TestPercentiles(t *testing.T) {
	var r recorder
	if r.percentile(99) != 0 || r.summary().N != 0 {
		t.Error("an empty recorder must report zeros")
	}
	for _, i := range rand.Perm(100) { // 1..100 ms in random order
		r.add(time.Duration(i+1) * time.Millisecond)
	}
	s := r.summary()
	if s.N != 100 || s.P50 != 50*time.Millisecond || s.P95 != 95*time.Millisecond || s.P99 != 99*time.Millisecond || s.Max != 100*time.Millisecond {
		t.Errorf("nearest-rank percentiles of 1..100 ms: %+v", s)
	}
	// Adding after a percentile was taken re-sorts.
	r.add(0)
	if r.percentile(0.5) != 0 {
		t.Errorf("p0.5 after adding 0: %v", r.percentile(0.5))
	}
	var one recorder
	one.add(7 * time.Millisecond)
	if one.percentile(50) != 7*time.Millisecond || one.percentile(100) != 7*time.Millisecond {
		t.Error("a single sample is every percentile")
	}
	var merged recorder
	merged.merge(&r)
	merged.merge(&one)
	if merged.count() != 102 {
		t.Errorf("merged count %d", merged.count())
	}
}

func TestZipfPickerBoundsAndSkew(t *testing.T) {
	const n, draws = 10000, 200000
	z := newZipf(rand.New(rand.NewPCG(1, 2)), n)
	counts := make([]int, n)
	for range draws {
		k := z.Uint64()
		if k >= n {
			t.Fatalf("picked %d, outside [0, %d)", k, n)
		}
		counts[k]++
	}
	// With s = 1.1 the first wallet gets roughly 1/6.6 of the picks.
	share := float64(counts[0]) / draws
	if share < 0.10 || share > 0.20 {
		t.Errorf("hottest wallet got %.3f of the picks", share)
	}
	if counts[0] <= counts[1] || counts[1] <= counts[100] {
		t.Errorf("not skewed: %d, %d, %d", counts[0], counts[1], counts[100])
	}
	if counts[n-1]+counts[n-2]+counts[n-3] == 0 && counts[5000] == 0 {
		t.Error("the tail is never picked")
	}
	// A 2-wallet picker stays in bounds too.
	z2 := newZipf(rand.New(rand.NewPCG(3, 4)), 2)
	for range 1000 {
		if z2.Uint64() > 1 {
			t.Fatal("out of bounds with n = 2")
		}
	}
}

func TestHotFunding(t *testing.T) {
	if got := hotFunding(0, 10*time.Second); got != 20 {
		t.Errorf("no probe rate: %d", got)
	}
	if got := hotFunding(1000, 10*time.Second); got != 4000 {
		t.Errorf("1000/s for 10 s: %d, want 0.4 of the step's worth", got)
	}
}

func TestParseStatTimes(t *testing.T) {
	line := "4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 75 0 0 20 0 12 0 100 0 0"
	n, err := parseStatTimes(line)
	if err != nil || n != 325 {
		t.Errorf("utime+stime = %d, %v; want 325", n, err)
	}
	if _, err := parseStatTimes("garbage"); err == nil {
		t.Error("garbage must not parse")
	}
	if n, err := procTimes("self"); err != nil || n < 0 {
		t.Errorf("own stat: %d, %v", n, err)
	}
}

func TestErrorKey(t *testing.T) {
	cases := []struct {
		r    response
		want string
	}{
		{response{Status: 409, Body: []byte(`{"type":"https://creditd.dev/problems/insufficient-credits","status":409}`)}, "409 insufficient-credits"},
		{response{Status: 502, Body: []byte(`Bad Gateway`)}, "http 502"},
		{response{Err: context.DeadlineExceeded}, "transport: timeout"},
	}
	for _, c := range cases {
		if got := errorKey(c.r); got != c.want {
			t.Errorf("errorKey = %q, want %q", got, c.want)
		}
	}
}

func TestReplaceSection(t *testing.T) {
	readme := "# creditd\n\nText.\n"
	once := replaceSection(readme, "table v1\n")
	want := "# creditd\n\nText.\n\n## Performance\n\n<!-- bench:start -->\ntable v1\n<!-- bench:end -->\n"
	if once != want {
		t.Fatalf("first insertion:\n%q\nwant\n%q", once, want)
	}
	twice := replaceSection(once+"\n## After\n", "table v2")
	if !strings.Contains(twice, "<!-- bench:start -->\ntable v2\n<!-- bench:end -->\n\n## After\n") ||
		strings.Contains(twice, "table v1") || strings.Count(twice, "## Performance") != 1 {
		t.Errorf("replacement:\n%s", twice)
	}
	// A heading without markers gets the markers, not a second heading.
	withHeading := replaceSection("# x\n\n## Performance\n\nsoon\n", "t")
	if strings.Count(withHeading, "## Performance") != 1 || !strings.Contains(withHeading, "<!-- bench:start -->\nt\n<!-- bench:end -->") {
		t.Errorf("heading without markers:\n%s", withHeading)
	}
}

// sampleReport is a run of three rounds in which the machine's speed moved a
// lot: TPC-B did 3000, 5000 and 4000 TPS, and creditd moved with it.
func sampleReport() *report {
	date := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	clock := date
	next := func() time.Time { clock = clock.Add(10 * time.Second); return clock }
	lat := func(p99 float64) latencies {
		return latencies{N: 1000, P50: 2 * time.Millisecond, P95: 5 * time.Millisecond, P99: time.Duration(p99 * float64(time.Millisecond)), Max: 30 * time.Millisecond}
	}
	u := func(creditd float64) usage {
		return usage{Known: true, CreditdCores: creditd, Cores: map[string]float64{"creditd": creditd, "postgres": 0.9, "driver": 0.2}, RSSMaxMB: 40, HWMMB: 45}
	}
	r := &report{
		Date:    date,
		Machine: machine{CPU: "Test CPU", Cores: 2, RAM: "24 GiB", OS: "Debian 12", Kernel: "6.1", Go: "go1.26", Postgres: "15.18"},
		Command: "creditd-bench", Duration: 10 * time.Second, Rounds: 3, Scenarios: []int{1, 2, 3, 4}, OpenLoop: true, Clients: []int{8, 32}, Wallets: 10000, Scale: 10,
		Checks: []check{
			{Name: "scenario 2: no overdraft, every hot wallet ends at exactly 0, successes = funding", OK: true, Detail: "fine"},
			{Name: "creditd verify: 0 drifts", OK: true, Detail: "0 drifts"},
		},
		Elapsed: 12 * time.Minute,
	}
	base := func(round int, name string, tps float64) {
		r.Baselines = append(r.Baselines, &pgbenchResult{Name: name, Round: round, Start: next(), Clients: 8, Threads: 2, TPS: tps, LatencyAvgMs: 8000 / tps,
			Usage: usage{Cores: map[string]float64{"postgres": 1.2, "creditd": 0.01}}})
	}
	add := func(st *step) {
		st.Start = next()
		if st.Unit == "" {
			st.Unit = map[int]string{scSpend: "spends/s", scHot: "spends/s", scHold: "iterations/s", scRead: "reads/s"}[st.Scenario]
		}
		if st.Usage.Cores == nil {
			st.Usage = u(0.8)
		}
		r.Steps = append(r.Steps, st)
	}
	type round struct {
		tpcb, hot                                   float64
		s1at8, s1at32, s1open, s1p99, s2, s3p99, s4 float64
	}
	rs := []round{
		{3000, 3900, 2000, 3100, 1550, 9, 1000, 35, 12000},
		{5000, 4100, 2600, 4600, 2300, 25, 1100, 30, 9000},
		{4000, 4000, 2400, 4500, 2250, 12, 900, 18, 11000},
	}
	for i, x := range rs {
		n := i + 1
		sweeps := [][]*step{ // per scenario, clients ascending
			{{Round: n, Scenario: scSpend, Mode: "closed", Clients: 8, Throughput: x.s1at8, Lat: lat(6), Usage: u(0.5 + 0.1*float64(i))},
				{Round: n, Scenario: scSpend, Mode: "closed", Clients: 32, Throughput: x.s1at32, Lat: lat(9), Errors: map[string]int{"transport: timeout": 1, "500 internal": 1}}},
			{{Round: n, Scenario: scHot, Mode: "closed", Clients: 8, Throughput: x.s2, Lat: lat(7), Errors: map[string]int{"409 insufficient-credits": 500},
				Note: "funded 4000 (probe 1000/s); empty at 4.00 s; then 500 refused (409)"}},
			{{Round: n, Scenario: scHold, Mode: "closed", Clients: 8, Throughput: 900, Lat: lat(8)}},
			{{Round: n, Scenario: scRead, Mode: "closed", Clients: 32, Throughput: x.s4, Lat: lat(3)}},
		}
		// As roundPlan orders a round: odd rounds baselines first, even
		// rounds the mirror image.
		if n%2 == 1 {
			base(n, baseTPCB, x.tpcb)
			base(n, baseHot, x.hot)
		} else {
			slices.Reverse(sweeps)
		}
		for _, sweep := range sweeps {
			for _, st := range sweep {
				add(st)
			}
		}
		if n%2 == 0 {
			base(n, baseHot, x.hot)
			base(n, baseTPCB, x.tpcb)
		}
		add(&step{Round: n, Scenario: scSpend, Mode: "open", Clients: 256, TargetRate: x.s1open, Throughput: x.s1open, Lat: lat(x.s1p99), Elapsed: 40 * time.Second})
		add(&step{Round: n, Scenario: scHold, Mode: "open", Clients: 256, TargetRate: 450, Throughput: 450, Lat: lat(x.s3p99), Elapsed: 40 * time.Second})
	}
	return r
}

func TestTargets(t *testing.T) {
	r := sampleReport()
	got := map[string]target{}
	for _, tg := range r.targets() {
		got[tg.Goal] = tg
	}
	want := map[string]string{
		// Per-round ratios 1.03, 0.92, 1.125: the median is round 1's, not
		// the ratio of the medians (4500 / 4000 = 1.125).
		"Scenario 1 at its best concurrency ≥ 1.0× pgbench TPC-B TPS":            "PASS",
		"Scenario 2 ≥ 0.5× the hot-row TPS":                                      "MISS", // about 0.25
		"Scenario 2: zero overdraft, ends at exactly 0":                          "PASS",
		"Scenario 1: p99 ≤ 20 ms at half of peak throughput (open loop)":         "PASS", // 9, 25, 12: median 12
		"Scenario 3: p99 ≤ 20 ms at half of peak throughput (open loop)":         "MISS", // 35, 30, 18: median 30
		"Balance reads ≥ 10,000/s":                                               "PASS", // 12000, 9000, 11000
		"Webhook intake ≥ 2,000/s (signed deliveries answered 200, each stored)": "N/A",  // not in the sample
		"creditd RSS < 150 MB under load":                                        "PASS",
	}
	for goal, status := range want {
		if got[goal].Status != status {
			t.Errorf("%s: %q (%s), want %q", goal, got[goal].Status, got[goal].Measured, status)
		}
	}
	for goal, measured := range map[string]string{
		"Scenario 1 at its best concurrency ≥ 1.0× pgbench TPC-B TPS":    "median of 3 rounds: 1.03× (0.92×–1.12×, 20%) TPC-B at 32 clients (4500 spends/s)",
		"Scenario 2 ≥ 0.5× the hot-row TPS":                              "median of 3 rounds: 0.26× (0.23×–0.27×, 17%) hot row at 8 clients",
		"Scenario 1: p99 ≤ 20 ms at half of peak throughput (open loop)": "median of 3 rounds: p99 12.00 (9.00–25.00, 133%) ms, each round at half its best rate (median 2250 spends/s)",
		"Balance reads ≥ 10,000/s":                                       "median of 3 rounds: 11000 (9000–12000, 27%) reads/s at 32 clients",
	} {
		if !strings.HasPrefix(got[goal].Measured, measured) {
			t.Errorf("%s measured %q, want it to start with %q", goal, got[goal].Measured, measured)
		}
	}
	if r.failed() {
		t.Error("missed speed targets must not fail the run")
	}
	// With round 1's TPC-B at 3200 the ratios are 0.97, 0.92 and 1.125: one
	// good round does not pass the target, the median does not reach 1.
	for _, p := range r.Baselines {
		if p.Name == baseTPCB && p.Round == 1 {
			p.TPS = 3200
		}
	}
	for _, tg := range r.targets() {
		if strings.HasPrefix(tg.Goal, "Scenario 1 at its best") && (tg.Status != "MISS" || !strings.HasPrefix(tg.Measured, "median of 3 rounds: 0.97×")) {
			t.Errorf("median ratio below 1: %s, %s", tg.Status, tg.Measured)
		}
	}
	r.Checks = append(r.Checks, check{Name: "scenario 2: no overdraft, every hot wallet ends at exactly 0, successes = funding", OK: false, Detail: "balance -1"})
	if !r.failed() {
		t.Error("a broken invariant must fail the run")
	}
	for _, tg := range r.targets() {
		if strings.HasPrefix(tg.Goal, "Scenario 2: zero overdraft") && tg.Status != "FAIL" {
			t.Errorf("overdraft target with a failed check: %s", tg.Status)
		}
	}
}

// A ratio is judged only on rounds that have both sides: without a TPC-B
// figure in rounds 1 and 3, the median rests on round 2 alone.
func TestTargetsRatioRestsOnPairedRounds(t *testing.T) {
	r := sampleReport()
	for _, p := range r.Baselines {
		if p.Name == baseTPCB && p.Round != 2 {
			p.TPS, p.Err = 0, "pgbench: exit status 1"
		}
	}
	for _, tg := range r.targets() {
		if strings.HasPrefix(tg.Goal, "Scenario 1 at its best") {
			if tg.Status != "MISS" || !strings.HasPrefix(tg.Measured, "median of 1 round: 0.92× TPC-B") {
				t.Errorf("%s: %s", tg.Status, tg.Measured)
			}
		}
	}
	if md := r.markdown(""); !strings.Contains(md, "failed in round 1: pgbench: exit status 1; round 3: pgbench: exit status 1") {
		t.Errorf("the baselines table hides the failed rounds:\n%s", r.baselinesTable())
	}
}

func TestMarkdown(t *testing.T) {
	r := sampleReport()
	md := r.markdown("latest.svg")
	for _, want := range []string{
		"# creditd benchmark — 2026-11-22 10:00 UTC",
		"Test CPU · 2 cores · 24 GiB RAM · Debian 12 · Linux 6.1 · go1.26 · PostgreSQL 15.18",
		"**Rounds:** 3. Odd rounds ran: pgbench TPC-B, hot row; closed 1; closed 2; closed 3; closed 4; open 1; open 3. Even rounds: closed 4; closed 3; closed 2; closed 1; pgbench hot row, TPC-B; open 1; open 3.",
		// Baselines: medians over the rounds with range and spread.
		"| pgbench TPC-B-like | 8 / 2 | 4000 (3000–5000, 50%) | 2.00 (1.60–2.67, 53%) | 0 | 1.20 / 0.01 / 0.00 | 0.30 (0.24–0.40, 53%) | 3 |",
		// creditd: medians; ratio = median of the per-round ratios.
		"| 1 | spend, 10k wallets (Zipf) | closed, 32 clients | 4500 (3100–4600, 33%) spends/s | 1.03× (0.92×–1.12×, 20%) | 2.00 (2.00–2.00, 0%) | 5.00 (5.00–5.00, 0%) | 9.00 (9.00–9.00, 0%) | 500 internal ×3, transport: timeout ×3 | 0.80 / 0.90 / 0.20 / 0.00 | 0.18 (0.17–0.26, 47%) / 0.20 (0.20–0.29, 47%) | 40 MB | 3 |",
		"| 1 | spend, 10k wallets (Zipf) | closed, 8 clients | 2400 (2000–2600, 25%) spends/s | 0.60× (0.52×–0.67×, 24%) |",
		"| 1 | spend, 10k wallets (Zipf) | open, 2250 (1550–2300, 33%)/s |",
		"each round 40s at half its best closed-loop rate; max 30.00 ms",
		"0.23× (0.22×–0.33×, 50%) (0.26× (0.23×–0.27×, 17%) hot row)",
		"emptied mid-step in 3 of 3 rounds",
		"![throughput per scenario and concurrency](latest.svg)",
		"| creditd verify: 0 drifts | ok | 0 drifts |",
		// Every round, raw, paired with the same round's pgbench.
		"| 2 | 2:20 | 1 spend, 10k wallets (Zipf) | closed, 32 clients | 4600 spends/s | 0.92× | 2.00 | 5.00 | 9.00 |",
		"| 2 | 2:40 | pgbench TPC-B-like | 8 clients | 5000 TPS |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q\n%s", want, md)
		}
	}
	// The raw table runs in the order things were measured: in round 2 the
	// baselines come after creditd's sweeps, the hot row before TPC-B.
	order := []string{
		"| 1 | 0:10 | pgbench TPC-B-like", "| 1 | 0:20 | pgbench single hot row", "| 1 | 0:30 | 1 spend",
		"| 2 | 1:40 | 4 GET balance", "| 2 | 2:30 | pgbench single hot row", "| 2 | 2:40 | pgbench TPC-B-like", "| 2 | 2:50 | 1 spend, 10k wallets (Zipf) | open",
		"| 3 | 3:10 | pgbench TPC-B-like",
	}
	last := -1
	for _, o := range order {
		i := strings.Index(md, o)
		if i <= last {
			t.Errorf("%q is at %d, not after %d", o, i, last)
		}
		last = i
	}
	sec := r.readmeSection("test/bench/results/latest.svg", "test/bench/results/latest.md")
	for _, want := range []string{"3 rounds, each with the pgbench baselines", "pgbench TPC-B-like **4000 (3000–5000, 50%) TPS**", "](test/bench/results/latest.svg)", "`make bench`", "Test CPU", "| 1 | spend, 10k wallets (Zipf) | closed, 32 clients | 4500 (3100–4600, 33%)"} {
		if !strings.Contains(sec, want) {
			t.Errorf("README section lacks %q\n%s", want, sec)
		}
	}
	// Without pgbench there are no ratios, and no false PASS.
	r.Baselines = nil
	for _, tg := range r.targets() {
		if strings.Contains(tg.Goal, "pgbench") && tg.Status != "N/A" {
			t.Errorf("%s without a baseline: %s", tg.Goal, tg.Status)
		}
	}
	if md := r.markdown(""); strings.Contains(md, "## PostgreSQL baselines") || strings.Contains(md, "per-round ratios") || !strings.Contains(md, "| 4500 (3100–4600, 33%) spends/s | – |") {
		t.Errorf("without baselines:\n%s", md)
	}
}

// One round is shown as plain figures: no range or spread to speak of.
func TestMarkdownOneRound(t *testing.T) {
	r := sampleReport()
	r.Rounds = 1
	r.Steps = slices.DeleteFunc(r.Steps, func(st *step) bool { return st.Round != 1 })
	r.Baselines = slices.DeleteFunc(r.Baselines, func(p *pgbenchResult) bool { return p.Round != 1 })
	md := r.markdown("")
	for _, want := range []string{
		"| 1 | spend, 10k wallets (Zipf) | closed, 32 clients | 3100 spends/s | 1.03× | 2.00 | 5.00 | 9.00 |",
		"| pgbench TPC-B-like | 8 / 2 | 3000 | 2.67 |",
		"**Rounds:** 1. The round ran: pgbench TPC-B, hot row; closed 1;",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q\n%s", want, md)
		}
	}
	if strings.Contains(md, "–3100") || strings.Contains(md, "0%)") {
		t.Errorf("one round shows a range:\n%s", md)
	}
	for _, tg := range r.targets() {
		if strings.HasPrefix(tg.Goal, "Scenario 1 at its best") && tg.Measured != "median of 1 round: 1.03× TPC-B at 32 clients (3100 spends/s)" {
			t.Errorf("measured %q", tg.Measured)
		}
	}
}

func TestChart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chart.svg")
	if err := writeChart(sampleReport(), path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil || !strings.HasPrefix(string(b), "<?xml") || !strings.Contains(string(b), "pgbench TPC-B-like (median 4000 TPS, 3000–5000)") ||
		!strings.Contains(string(b), "median of 3 rounds") {
		t.Errorf("chart: %v, %.100s", err, b)
	}
}

func TestParseFlags(t *testing.T) {
	o, err := parseFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	if o.duration != 10*time.Second || o.rounds != 3 || len(o.clients) != 3 || o.clients[2] != 64 || len(o.scenarios) != 5 || o.wallets != 10000 {
		t.Errorf("defaults: %+v", o)
	}
	o, err = parseFlags([]string{"-duration", "2s", "-clients", "4, 16", "-scenarios", "2", "-skip-pgbench", "-rounds", "1"})
	if err != nil || o.duration != 2*time.Second || len(o.clients) != 2 || o.clients[1] != 16 || o.scenarios[0] != 2 || !o.skipPgbench || o.rounds != 1 {
		t.Errorf("parsed %+v, %v", o, err)
	}
	// The last -rounds wins, so make bench-quick BENCH_FLAGS='-rounds 1' works.
	if o, err := parseFlags([]string{"-rounds", "3", "-rounds", "5"}); err != nil || o.rounds != 5 {
		t.Errorf("-rounds twice: %d, %v", o.rounds, err)
	}
	for _, bad := range [][]string{
		{"-clients", "0"}, {"-clients", "x"}, {"-scenarios", "9"}, {"-url", "http://127.0.0.1:8080"},
		{"-url", "http://10.0.0.1:8080", "-key", "k"}, {"-duration", "100ms"}, {"-rounds", "0"}, {"-rounds", "-1"}, {"-rounds", "51"}, {"-rounds", "x"},
	} {
		if _, err := parseFlags(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

// The runners against a stub on 127.0.0.1: every request counted, and no
// idempotency key ever sent twice, even across steps.
func TestRunnersSendUniqueKeys(t *testing.T) {
	var mu sync.Mutex
	keys := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		keys[r.Header.Get("Idempotency-Key")]++
		mu.Unlock()
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"balanceAfter":"1"}`))
	}))
	defer srv.Close()
	c := newAPIClient(srv.URL, "k", 64)
	spec := loadSpec{Run: "test", Seed: 1, Client: c, ZipfN: 10, Iter: func(ctx context.Context, w *worker) bool {
		_, ok := w.call(ctx, "spend", http.MethodPost, "/v1/accounts/a/spends", spendBody, http.StatusCreated)
		return ok
	}}
	ctx := context.Background()
	closed := runClosed(ctx, 4, 200*time.Millisecond, spec)
	closed2 := runClosed(ctx, 4, 100*time.Millisecond, spec)
	open := runOpen(ctx, 200, 300*time.Millisecond, 8, spec)
	if closed.OK == 0 || closed.Failed != 0 || closed.Lat["spend"].count() != int(closed.OK) {
		t.Errorf("closed loop: ok %d failed %d", closed.OK, closed.Failed)
	}
	if open.OK != 60 || open.Unsent != 0 {
		t.Errorf("open loop at 200/s for 0.3 s: ok %d unsent %d, want 60", open.OK, open.Unsent)
	}
	if open.Elapsed < 290*time.Millisecond {
		t.Errorf("open loop finished early: %v", open.Elapsed)
	}
	mu.Lock()
	defer mu.Unlock()
	if total := closed.OK + closed2.OK + open.OK; int64(len(keys)) != total {
		t.Errorf("%d requests but %d distinct keys", total, len(keys))
	}
	for k, n := range keys {
		if n > 1 || k == "" {
			t.Fatalf("key %q sent %d times", k, n)
		}
	}
}

func TestReplayIsAnError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Idempotent-Replayed", "true")
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()
	w := newWorker(0, "t", 1, newAPIClient(srv.URL, "k", 1), 0)
	if _, ok := w.call(context.Background(), "spend", http.MethodPost, "/x", spendBody, http.StatusCreated); ok || w.errs["unexpected idempotent replay"] != 1 {
		t.Errorf("a replay counted as success: %v", w.errs)
	}
}
