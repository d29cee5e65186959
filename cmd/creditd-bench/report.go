package main

import (
	"cmp"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// sourceRevision names the commit the working tree is at, and whether it had
// uncommitted changes outside the benchmark's own outputs ("" outside git).
func sourceRevision() string {
	rev, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return ""
	}
	s := "commit " + strings.TrimSpace(string(rev))
	out, err := exec.Command("git", "status", "--porcelain", "--", ".", ":!test/bench/results", ":!README.md").Output()
	if err == nil && len(strings.TrimSpace(string(out))) > 0 {
		s += " with uncommitted changes"
	}
	return s
}

// machine is where the numbers came from.
type machine struct {
	CPU, RAM, OS, Kernel, Go, Postgres string
	Cores                              int
	PGArgs                             string // the server's settings beyond stock
}

func (m machine) String() string {
	settings := "stock settings"
	switch m.PGArgs {
	case "":
	case "its own":
		settings = "its own settings"
	default:
		settings = "settings `" + m.PGArgs + "`"
	}
	return fmt.Sprintf("%s · %d cores · %s RAM · %s · Linux %s · %s · PostgreSQL %s (fsync on, %s)",
		m.CPU, m.Cores, m.RAM, m.OS, m.Kernel, m.Go, m.Postgres, settings)
}

func machineFacts(pgVersion, pgArgs string) machine {
	m := machine{CPU: "unknown CPU", RAM: "?", OS: "unknown OS", Kernel: "?", Go: runtime.Version(), Postgres: pgVersion, Cores: runtime.NumCPU(),
		PGArgs: pgArgs}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.Join(strings.Fields(v), " ")
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && k == "MemTotal" {
				kb, _ := strconv.ParseFloat(strings.Fields(v)[0], 64)
				m.RAM = fmt.Sprintf("%.1f GiB", kb/1024/1024)
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/etc/os-release"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
				m.OS = strings.Trim(v, `"`)
			}
		}
	}
	return m
}

// report is everything one run found.
type report struct {
	Date      time.Time
	Machine   machine
	Command   string
	Duration  time.Duration
	Rounds    int // asked for; each figure says how many it rests on
	Scenarios []int
	OpenLoop  bool
	Clients   []int
	Wallets   int
	Baselines []*pgbenchResult // every round's pgbench runs, in the order they ran; none when skipped
	Steps     []*step
	Checks    []check
	Notes     []string
	Logs      map[string]int // creditd's log lines by level and message
	Elapsed   time.Duration
	Revision  string  // the source creditd was built from
	Scale     int     // pgbench -i -s
	Idle      float64 // host CPU busy (0..1) just before the run: other work on the machine
}

// The baselines, by name.
const (
	baseTPCB = "pgbench TPC-B-like"
	baseHot  = "pgbench single hot row"
)

// target is one goal of the issue and how this run did.
type target struct {
	Goal, Measured, Status string // Status: PASS, MISS, FAIL (an invariant) or N/A
}

func (r *report) failed() bool {
	for _, c := range r.Checks {
		if !c.OK {
			return true
		}
	}
	return false
}

// baseline is the TPS of the named baseline in each round it ran in.
func (r *report) baseline(name string) map[int]float64 {
	m := map[int]float64{}
	for _, p := range r.Baselines {
		if p.Name == name && p.Err == "" && p.TPS > 0 {
			m[p.Round] = p.TPS
		}
	}
	return m
}

// stepGroup is one scenario at one load over the rounds: a row of the
// medians table.
type stepGroup struct {
	Scenario int
	Mode     string
	Clients  int
	Unit     string
	Steps    []*step // one per round, in round order
}

// groups gathers the steps by scenario, mode and load: scenario by
// scenario, closed loop before open, clients in ascending order.
func (r *report) groups() []*stepGroup {
	var gs []*stepGroup
	for _, st := range r.Steps {
		i := slices.IndexFunc(gs, func(g *stepGroup) bool {
			return g.Scenario == st.Scenario && g.Mode == st.Mode && g.Clients == st.Clients
		})
		if i < 0 {
			gs = append(gs, &stepGroup{Scenario: st.Scenario, Mode: st.Mode, Clients: st.Clients, Unit: st.Unit})
			i = len(gs) - 1
		}
		gs[i].Steps = append(gs[i].Steps, st)
	}
	for _, g := range gs {
		slices.SortStableFunc(g.Steps, func(a, b *step) int { return cmp.Compare(a.Round, b.Round) })
	}
	slices.SortStableFunc(gs, func(a, b *stepGroup) int {
		return cmp.Or(cmp.Compare(a.Scenario, b.Scenario), cmp.Compare(a.Mode, b.Mode), cmp.Compare(a.Clients, b.Clients))
	})
	return gs
}

// over is a figure of the group's steps, over the rounds where it is known.
func (g *stepGroup) over(f func(*step) (float64, bool)) spread {
	var xs []float64
	for _, st := range g.Steps {
		if v, ok := f(st); ok {
			xs = append(xs, v)
		}
	}
	return spreadOf(xs)
}

func (g *stepGroup) throughput() spread {
	return g.over(func(st *step) (float64, bool) { return st.Throughput, true })
}

// latency is a percentile over the rounds in milliseconds, from rounds with
// successful requests.
func (g *stepGroup) latency(p func(latencies) time.Duration) spread {
	return g.over(func(st *step) (float64, bool) { return ms(p(st.Lat)), st.Lat.N > 0 })
}

// cpuPerOp is a process's CPU per operation over the rounds, in ms.
func (g *stepGroup) cpuPerOp(name string) spread {
	return g.over(func(st *step) (float64, bool) { return cpuMsPerOp(st.Usage, st.opRate(), name) })
}

// cores is the median of every CPU column over the rounds.
func (g *stepGroup) cores() usage {
	u := usage{Cores: map[string]float64{}}
	for _, name := range stepCPU {
		s := g.over(func(st *step) (float64, bool) { v, ok := st.Usage.Cores[name]; return v, ok })
		if s.N > 0 {
			u.Cores[name] = s.Median
		}
	}
	u.OtherCores = g.over(func(st *step) (float64, bool) { return st.Usage.OtherCores, true }).Median
	return u
}

func (g *stepGroup) errors() map[string]int {
	m := map[string]int{}
	for _, st := range g.Steps {
		for k, n := range st.Errors {
			m[k] += n
		}
	}
	return m
}

// ratio is the median of the group's per-round ratios to the named baseline.
func (r *report) ratio(g *stepGroup, name string) spread {
	return spreadOf(pairRatios(g.Steps, r.baseline(name)))
}

// best is the closed-loop load of a scenario with the highest median
// throughput: the row the ratio targets judge, so the figure in the targets
// table is the one in the medians table.
func (r *report) best(sc int) *stepGroup {
	var b *stepGroup
	for _, g := range r.groups() {
		if g.Scenario == sc && g.Mode == "closed" && (b == nil || g.throughput().Median > b.throughput().Median) {
			b = g
		}
	}
	return b
}

func (r *report) open(sc int) *stepGroup {
	for _, g := range r.groups() {
		if g.Scenario == sc && g.Mode == "open" {
			return g
		}
	}
	return nil
}

// pooledP99 is the p99 of every successful request of the group's open-loop
// steps together: one long window, as the single open-loop step was before
// rounds. ok is false when the requests were not kept.
func (g *stepGroup) pooledP99() (time.Duration, bool) {
	var all recorder
	for _, st := range g.Steps {
		if st.all == nil {
			return 0, false
		}
		all.merge(st.all)
	}
	return all.percentile(99), all.count() > 0
}

// otherCores is the mean CPU, in cores, that the steps saw used by neither
// creditd, PostgreSQL nor the driver.
func (r *report) otherCores() float64 {
	if len(r.Steps) == 0 {
		return 0
	}
	sum := 0.0
	for _, s := range r.Steps {
		sum += s.Usage.OtherCores
	}
	return sum / float64(len(r.Steps))
}

func passMiss(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

// rounds says how many rounds a figure rests on.
func rounds(n int) string {
	if n == 1 {
		return "1 round"
	}
	return strconv.Itoa(n) + " rounds"
}

func fmtRatio(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) + "×" }
func fmtMsF(v float64) string {
	if v >= 100 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}
func fmtCPU(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }

// targets checks the run against the targets, each on the median
// over the rounds (a ratio: the median of the per-round ratios). Speed
// targets are PASS/MISS and never fail the run; invariants are PASS/FAIL.
func (r *report) targets() []target {
	var ts []target
	ratioTarget := func(goal string, g *stepGroup, name, short string, want float64) {
		switch {
		case g == nil:
			ts = append(ts, target{goal, "not run", "N/A"})
		case len(r.baseline(name)) == 0:
			ts = append(ts, target{goal, fmt.Sprintf("%s %s (no %s baseline)", g.throughput().format(fmtRate), g.Unit, short), "N/A"})
		default:
			rs := r.ratio(g, name)
			ts = append(ts, target{goal, fmt.Sprintf("median of %s: %s %s at %d clients (%s %s)", rounds(rs.N), rs.format(fmtRatio), short, g.Clients,
				fmtRate(g.throughput().Median), g.Unit), passMiss(rs.N > 0 && rs.Median >= want)})
		}
	}
	ratioTarget("Scenario 1 at its best concurrency ≥ 1.0× pgbench TPC-B TPS", r.best(scSpend), baseTPCB, "TPC-B", 1.0)
	ratioTarget("Scenario 2 ≥ 0.5× the hot-row TPS", r.best(scHot), baseHot, "hot row", 0.5)

	overdraft := target{"Scenario 2: zero overdraft, ends at exactly 0", "not run", "N/A"}
	for _, c := range r.Checks {
		if strings.HasPrefix(c.Name, "scenario 2:") && strings.Contains(c.Name, "overdraft") {
			if overdraft.Status == "N/A" {
				overdraft = target{overdraft.Goal, "every hot wallet, every round", "PASS"}
			}
			if !c.OK {
				overdraft = target{overdraft.Goal, c.Detail, "FAIL"}
			}
		}
	}
	ts = append(ts, overdraft)

	for _, sc := range openScenarios {
		goal := fmt.Sprintf("Scenario %d: p99 ≤ 20 ms at half of peak throughput (open loop)", sc)
		g := r.open(sc)
		if g == nil {
			ts = append(ts, target{goal, "not run", "N/A"})
			continue
		}
		p99 := g.latency(func(l latencies) time.Duration { return l.P99 })
		rate := g.over(func(st *step) (float64, bool) { return st.TargetRate, true })
		m := fmt.Sprintf("median of %s: p99 %s ms, each round at half its best rate (median %s %s)", rounds(p99.N), p99.format(fmtMsF), fmtRate(rate.Median), g.Unit)
		if pooled, ok := g.pooledP99(); ok && len(g.Steps) > 1 {
			m += fmt.Sprintf("; all rounds pooled: p99 %s ms", fmtMs(pooled))
		}
		errs := 0
		for _, st := range g.Steps {
			errs += sumErrors(st.Errors) + int(st.Unsent)
		}
		if errs > 0 {
			m += fmt.Sprintf(", %d errors or unsent", errs)
		}
		ts = append(ts, target{goal, m, passMiss(p99.N == len(g.Steps) && p99.Median <= 20 && errs == 0)})
	}
	if g := r.best(scRead); g == nil {
		ts = append(ts, target{"Balance reads ≥ 10,000/s", "not run", "N/A"})
	} else {
		t := g.throughput()
		ts = append(ts, target{"Balance reads ≥ 10,000/s", fmt.Sprintf("median of %s: %s reads/s at %d clients", rounds(t.N), t.format(fmtRate), g.Clients), passMiss(t.Median >= 10000)})
	}
	ts = append(ts, r.webhookTarget())

	var peak float64
	known := false
	for _, s := range r.Steps {
		if s.Usage.Known {
			known = true
			peak = max(peak, s.Usage.HWMMB, s.Usage.RSSMaxMB)
		}
	}
	if known {
		ts = append(ts, target{"creditd RSS < 150 MB under load", fmt.Sprintf("peak %.0f MB (VmHWM), all rounds", peak), passMiss(peak < 150)})
	} else {
		ts = append(ts, target{"creditd RSS < 150 MB under load", "creditd pid unknown (use -pid)", "N/A"})
	}
	return ts
}

// webhookGoal is the intake target, in webhooks answered 200 per second.
const webhookGoal = 2000

// webhookTarget judges scenario 5 at its best concurrency: the median rate
// of deliveries answered 200 (each event durable in the inbox), with its
// ratio to pgbench TPC-B when the baselines ran.
func (r *report) webhookTarget() target {
	goal := fmt.Sprintf("Webhook intake ≥ %s/s (signed deliveries answered 200, each stored)", fmtThousands(webhookGoal))
	g := r.best(scWebhook)
	if g == nil {
		return target{goal, "not run", "N/A"}
	}
	t := g.throughput()
	m := fmt.Sprintf("median of %s: %s webhooks/s at %d clients", rounds(t.N), t.format(fmtRate), g.Clients)
	if rs := r.ratio(g, baseTPCB); rs.N > 0 {
		m += fmt.Sprintf(" (%s TPC-B)", rs.format(fmtRatio))
	}
	if errs := sumErrors(g.errors()); errs > 0 {
		m += fmt.Sprintf("; %d errors", errs)
	}
	return target{goal, m, passMiss(t.N > 0 && t.Median >= webhookGoal)}
}

// fmtThousands writes n with a comma between thousands: 2,000.
func fmtThousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func fmtRate(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

func fmtMs(d time.Duration) string {
	if d == 0 {
		return "–"
	}
	return fmtMsF(ms(d))
}

// fmtErrors lists error counts, most frequent first.
func fmtErrors(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { return cmp.Or(cmp.Compare(m[b], m[a]), cmp.Compare(a, b)) })
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s ×%d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

// ratioCell is a group's ratio to TPC-B (and, for scenario 2, to the hot
// row), each the median of the per-round ratios.
func (r *report) ratioCell(g *stepGroup) string {
	s := r.ratio(g, baseTPCB).format(fmtRatio)
	if g.Scenario == scHot {
		if h := r.ratio(g, baseHot); h.N > 0 {
			s += " (" + h.format(fmtRatio) + " hot row)"
		}
	}
	return s
}

// groupNote is what the medians table says beside a row.
func groupNote(g *stepGroup) string {
	switch {
	case g.Mode == "open":
		maxLat := g.over(func(st *step) (float64, bool) { return ms(st.Lat.Max), st.Lat.N > 0 })
		n := fmt.Sprintf("each round %s at half its best closed-loop rate; max %s ms", g.Steps[0].Elapsed.Round(time.Second), fmtMsF(maxLat.Max))
		if pooled, ok := g.pooledP99(); ok && len(g.Steps) > 1 {
			n += fmt.Sprintf("; all rounds pooled: p99 %s ms", fmtMs(pooled))
		}
		return n
	case g.Scenario == scWebhook:
		d := g.over(func(st *step) (float64, bool) { return st.Drained.Seconds(), true })
		return fmt.Sprintf("inbox drained %s s after the step (backlog %s events)", d.format(func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }),
			g.over(func(st *step) (float64, bool) { return float64(st.Backlog), true }).format(fmtRate))
	case g.Scenario == scHot:
		emptied := 0
		for _, st := range g.Steps {
			if strings.Contains(st.Note, "empty at") {
				emptied++
			}
		}
		return fmt.Sprintf("emptied mid-step in %d of %s", emptied, rounds(len(g.Steps)))
	}
	return ""
}

// stepsTable is the main table: one row per scenario and load, each figure
// the median over the rounds with its range and spread.
func (r *report) stepsTable() string {
	var b strings.Builder
	b.WriteString("| # | scenario | load | throughput | × pgbench TPC-B | p50 ms | p95 ms | p99 ms | errors (all rounds) | CPU cores: creditd / postgres / driver / other | CPU ms per op: creditd / postgres | creditd RSS | rounds | notes |\n")
	b.WriteString("|---|---|---|--:|--:|--:|--:|--:|---|--:|--:|--:|--:|---|\n")
	pct := func(p func(latencies) time.Duration) func(*stepGroup) string {
		return func(g *stepGroup) string { return g.latency(p).format(fmtMsF) }
	}
	p50, p95, p99 := pct(func(l latencies) time.Duration { return l.P50 }), pct(func(l latencies) time.Duration { return l.P95 }), pct(func(l latencies) time.Duration { return l.P99 })
	for _, g := range r.groups() {
		load := fmt.Sprintf("closed, %d clients", g.Clients)
		if g.Mode == "open" {
			load = "open, " + g.over(func(st *step) (float64, bool) { return st.TargetRate, true }).format(fmtRate) + "/s"
		}
		rss, known := 0.0, false
		for _, st := range g.Steps {
			if st.Usage.Known {
				rss, known = max(rss, st.Usage.RSSMaxMB), true
			}
		}
		rssCell := "–"
		if known {
			rssCell = fmt.Sprintf("%.0f MB", rss)
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %s %s | %s | %s | %s | %s | %s | %s | %s | %s | %d | %s |\n",
			g.Scenario, scenarioNames[g.Scenario], load, g.throughput().format(fmtRate), g.Unit, r.ratioCell(g),
			p50(g), p95(g), p99(g), fmtErrors(g.errors()), fmtCores(g.cores(), stepCPU),
			g.cpuPerOp("creditd").format(fmtCPU)+" / "+g.cpuPerOp("postgres").format(fmtCPU), rssCell, len(g.Steps), groupNote(g))
	}
	return b.String()
}

func (r *report) targetsTable() string {
	var b strings.Builder
	b.WriteString("| target | measured | result |\n|---|---|---|\n")
	for _, t := range r.targets() {
		status := t.Status
		if status != "N/A" {
			status = "**" + status + "**"
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", t.Goal, t.Measured, status)
	}
	return b.String()
}

// baselineCPUColumns are the processes of the baselines' CPU column: creditd
// idles beside them, and the rest includes pgbench's container.
var baselineCPUColumns = []string{"postgres", "creditd"}

// baselinesTable is the baselines' medians over the rounds.
func (r *report) baselinesTable() string {
	var b strings.Builder
	b.WriteString("| baseline | clients / threads | TPS (without connection time) | latency avg ms | failed transactions (all rounds) | CPU cores: postgres / creditd (idle) / other (incl. pgbench) | postgres CPU ms per txn | rounds |\n|---|---|--:|--:|--:|--:|--:|--:|\n")
	for _, name := range []string{baseTPCB, baseHot} {
		var ok []*pgbenchResult
		var errs []string
		for _, p := range r.Baselines {
			if p.Name != name {
				continue
			}
			if p.Err != "" && p.TPS == 0 {
				errs = append(errs, fmt.Sprintf("round %d: %s", p.Round, strings.ReplaceAll(firstLine(p.Err), "|", "/")))
				continue
			}
			ok = append(ok, p)
		}
		if len(ok) == 0 && len(errs) == 0 {
			continue
		}
		if len(ok) == 0 {
			fmt.Fprintf(&b, "| %s | – | failed: %s | – | – | – | – | 0 |\n", name, strings.Join(errs, "; "))
			continue
		}
		of := func(f func(*pgbenchResult) (float64, bool)) spread {
			var xs []float64
			for _, p := range ok {
				if v, k := f(p); k {
					xs = append(xs, v)
				}
			}
			return spreadOf(xs)
		}
		u := usage{Cores: map[string]float64{}}
		for _, c := range baselineCPUColumns {
			if s := of(func(p *pgbenchResult) (float64, bool) { v, k := p.Usage.Cores[c]; return v, k }); s.N > 0 {
				u.Cores[c] = s.Median
			}
		}
		u.OtherCores = of(func(p *pgbenchResult) (float64, bool) { return p.Usage.OtherCores, true }).Median
		var failed int64
		for _, p := range ok {
			failed += p.Failed
		}
		tps := of(func(p *pgbenchResult) (float64, bool) { return p.TPS, true })
		cell := tps.format(func(v float64) string { return strconv.FormatFloat(v, 'f', 0, 64) })
		if len(errs) > 0 {
			cell += " (failed in " + strings.Join(errs, "; ") + ")"
		}
		fmt.Fprintf(&b, "| %s | %d / %d | %s | %s | %d | %s | %s | %d |\n", name, ok[0].Clients, ok[0].Threads, cell,
			of(func(p *pgbenchResult) (float64, bool) { return p.LatencyAvgMs, true }).format(fmtMsF), failed,
			fmtCores(u, baselineCPUColumns), of(func(p *pgbenchResult) (float64, bool) { return cpuMsPerOp(p.Usage, p.TPS, "postgres") }).format(fmtCPU), len(ok))
	}
	return b.String()
}

// roundsTable is every round's raw figures in the order they were measured,
// for a reader to check the medians and see what ran beside what.
func (r *report) roundsTable() string {
	type row struct {
		start time.Time
		text  string
	}
	var rows []row
	tpcb, hot := r.baseline(baseTPCB), r.baseline(baseHot)
	ratio := func(st *step) string {
		parts := []string{}
		if b, ok := tpcb[st.Round]; ok {
			parts = append(parts, fmtRatio(st.Throughput/b))
		}
		if b, ok := hot[st.Round]; ok && st.Scenario == scHot {
			parts = append(parts, fmtRatio(st.Throughput/b)+" hot row")
		}
		if len(parts) == 0 {
			return "–"
		}
		return strings.Join(parts, ", ")
	}
	for _, p := range r.Baselines {
		text := fmt.Sprintf("| %d | %s | %s | %d clients | failed: %s | – | – | – | – | – | – | |", p.Round, r.offset(p.Start), p.Name, p.Clients,
			strings.ReplaceAll(firstLine(p.Err), "|", "/"))
		if p.Err == "" || p.TPS > 0 {
			text = fmt.Sprintf("| %d | %s | %s | %d clients | %.0f TPS | – | – | – | – | %d failed | – / %s | latency avg %.2f ms; CPU cores postgres / creditd / other %s |",
				p.Round, r.offset(p.Start), p.Name, p.Clients, p.TPS, p.Failed, cpuPerOp(p.Usage, p.TPS, "postgres"), p.LatencyAvgMs, fmtCores(p.Usage, baselineCPUColumns))
		}
		rows = append(rows, row{p.Start, text})
	}
	for _, st := range r.Steps {
		load := fmt.Sprintf("closed, %d clients", st.Clients)
		if st.Mode == "open" {
			load = fmt.Sprintf("open, %s/s", fmtRate(st.TargetRate))
		}
		rows = append(rows, row{st.Start, fmt.Sprintf("| %d | %s | %d %s | %s | %s %s | %s | %s | %s | %s | %s | %s | %s |",
			st.Round, r.offset(st.Start), st.Scenario, scenarioNames[st.Scenario], load, fmtRate(st.Throughput), st.Unit, ratio(st),
			fmtMs(st.Lat.P50), fmtMs(st.Lat.P95), fmtMs(st.Lat.P99), fmtErrors(st.Errors),
			cpuPerOp(st.Usage, st.opRate(), "creditd")+" / "+cpuPerOp(st.Usage, st.opRate(), "postgres"), st.Note)})
	}
	slices.SortStableFunc(rows, func(a, b row) int { return a.start.Compare(b.start) })
	var b strings.Builder
	b.WriteString("| round | at | step | load | throughput | × pgbench (same round) | p50 ms | p95 ms | p99 ms | errors | CPU ms per op: creditd / postgres | notes |\n")
	b.WriteString("|--:|--:|---|---|--:|--:|--:|--:|--:|---|--:|---|\n")
	for _, row := range rows {
		b.WriteString(row.text + "\n")
	}
	return b.String()
}

// offset is when something started, as minutes:seconds into the run.
func (r *report) offset(t time.Time) string {
	if t.IsZero() || r.Date.IsZero() {
		return "–"
	}
	d := max(t.Sub(r.Date), 0).Round(time.Second)
	return fmt.Sprintf("%d:%02d", int(d.Minutes()), int(d.Seconds())%60)
}

func (st *step) opRate() float64 {
	if st.OpRate > 0 {
		return st.OpRate
	}
	return st.Throughput
}

// cpuMsPerOp is the CPU time one operation cost a process, in milliseconds:
// unlike throughput it hardly moves when other work shares the machine.
func cpuMsPerOp(u usage, rate float64, name string) (float64, bool) {
	c, ok := u.Cores[name]
	if !ok || rate <= 0 {
		return 0, false
	}
	return c * 1000 / rate, true
}

func cpuPerOp(u usage, rate float64, name string) string {
	if v, ok := cpuMsPerOp(u, rate, name); ok {
		return fmtCPU(v)
	}
	return "–"
}

// stepCPU are the processes of the steps' CPU column.
var stepCPU = []string{"creditd", "postgres", "driver"}

// fmtCores is the cores each named process used, then the rest of the
// machine's busy time ("other"), "–" for what was not measured.
func fmtCores(u usage, names []string) string {
	parts := make([]string, 0, len(names)+1)
	for _, name := range names {
		if v, ok := u.Cores[name]; ok {
			parts = append(parts, strconv.FormatFloat(v, 'f', 2, 64))
		} else {
			parts = append(parts, "–")
		}
	}
	return strings.Join(append(parts, strconv.FormatFloat(u.OtherCores, 'f', 2, 64)), " / ")
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// roundsText says what the rounds ran, in which order, and how the figures
// are made from them.
func (r *report) roundsText() string {
	plan := func(round int) string {
		ps := roundPlan(round, r.Scenarios, len(r.Baselines) > 0, r.OpenLoop)
		s := make([]string, len(ps))
		for i, p := range ps {
			s[i] = p.String()
		}
		return strings.Join(s, "; ")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "**Rounds:** %d. ", r.Rounds)
	if r.Rounds == 1 {
		fmt.Fprintf(&b, "The round ran: %s.", plan(1))
	} else {
		fmt.Fprintf(&b, "Odd rounds ran: %s. Even rounds: %s.", plan(1), plan(2))
		if len(r.Baselines) > 0 {
			b.WriteString(" The mirror image keeps the same steps between each creditd sweep and its baseline (scenario 1 and TPC-B, scenario 2 and the hot row) in both orders, so a machine that speeds up or slows down during the run favours neither side of a ratio.")
		}
	}
	fmt.Fprintf(&b, " A closed-loop sweep runs %s clients, one step each", joinInts(r.Clients))
	if r.OpenLoop {
		fmt.Fprintf(&b, "; an open-loop step runs at half of its round's best closed-loop rate for %d step durations", openLoopSteps)
	}
	b.WriteString(".")
	if r.Rounds > 1 {
		b.WriteString(" Every figure below is the median over the rounds, with its range and the range as a percentage of the median (\"7444 (7100–7600, 7%)\")")
		if len(r.Baselines) > 0 {
			b.WriteString("; every ratio is the median of the per-round ratios, creditd in round r over pgbench in round r")
		}
		b.WriteString(".")
	}
	return b.String()
}

// openLoopNote says why the open-loop p99 is measured as it is.
var openLoopNote = fmt.Sprintf("Open loop, one step per scenario in every round, at half of that round's best closed-loop rate for %d step durations: the load follows the round's capacity, as a ratio follows the round's pgbench. PostgreSQL's checkpoints (every minute or so at these write rates with stock settings; every 15 minutes with the benchmark's) and autovacuum passes stall commits for 30-100 ms; with 10 s steps a %d s window holds about one, a few tenths of a percent of its requests, so one stall no longer decides a p99 by falling in the window or not, and the target takes the median over the rounds, which drops a window that caught more. The notes of the medians table give the largest latency seen, and the p99 of every round's requests pooled, which spans as many stalls as all the open-loop time together (the 90 s single step before rounds spanned fewer).", openLoopSteps, openLoopSteps*10)

// markdown is the full results document.
func (r *report) markdown(chartName string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# creditd benchmark — %s\n\n", r.Date.UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "**Machine:** %s\n\n", r.Machine)
	fmt.Fprintf(&b, "**Run:** `%s` — %s per step, closed-loop clients %s, %d funded wallets, every request with its own Idempotency-Key (a webhook delivery: its own webhook-id) over keep-alive HTTP to 127.0.0.1; the load generator runs on the same 2-core machine as creditd and PostgreSQL (its CPU is in the table). Whole run: %s.\n\n",
		r.Command, r.Duration, joinInts(r.Clients), r.Wallets, r.Elapsed.Round(time.Second))
	b.WriteString(r.roundsText() + "\n\n")
	if r.Revision != "" {
		fmt.Fprintf(&b, "**creditd:** built from %s.\n\n", r.Revision)
	}
	fmt.Fprintf(&b, "**Host CPU busy before the run:** %.0f%%%s", r.Idle*100, map[bool]string{true: " — other work was running on the machine, so every figure is lower than on an idle one.", false: " (idle)."}[r.Idle > 0.10])
	if other := r.otherCores(); other >= 0.2 {
		fmt.Fprintf(&b, " **During the steps, other work used %.2f of the %d cores on average** (\"other\" in the CPU column): the figures are lower than this machine can do.", other, r.Machine.Cores)
	}
	b.WriteString("\n\n")
	if len(r.Baselines) > 0 {
		b.WriteString("## PostgreSQL baselines (pgbench, same server and port, in every round)\n\n")
		fmt.Fprintf(&b, "PostgreSQL runs as `make run` runs it (test/postgres/server.sh: a container on the host network, listening on 127.0.0.1, so no docker-proxy forwards its traffic), fsync on, with the settings named in the heading (the same for pgbench and creditd). `pgbench -M prepared` from a second container on the host network; TPC-B-like on `pgbench -i -s %d` (initialised once; pgbench vacuums its tables before each run), and the single-hot-row script `%s` (the table vacuumed before each run). creditd is running, idle, beside them.\n\n", r.Scale, hotRowScript)
		b.WriteString(r.baselinesTable())
		b.WriteString("\n")
	}
	b.WriteString("## creditd (medians over the rounds)\n\n")
	b.WriteString(r.stepsTable())
	fmt.Fprintf(&b, "\nLatencies are of successful requests. Closed loop: each client sends its next request when the previous one is answered. Open loop: requests are due at a fixed rate (half of the round's best closed-loop rate) and timed from when they were due, for %d times the step's duration in each round (see the notes). Scenario 2 drains a wallet of its own in each round. Scenario 2's throughput counts successful spends until the wallet was empty; scenario 3 counts iterations of 3 requests. CPU per op divides by the step's operations (for scenario 2 every request, refusals included). CPU is cores busy over the step: creditd (utime+stime), PostgreSQL's container (cgroup), this driver, and the rest of the machine's busy time; RSS is creditd's largest VmRSS sampled in any round.\n\n", openLoopSteps)
	if chartName != "" {
		fmt.Fprintf(&b, "![throughput per scenario and concurrency](%s)\n\n", chartName)
	}
	b.WriteString("## Targets (issue #3)\n\n")
	fmt.Fprintf(&b, "Each speed target is judged on the median over the rounds; the measured column says how many rounds it rests on.\n\n")
	b.WriteString(r.targetsTable())
	b.WriteString("\n## Every round\n\nThe raw figures behind the medians, in the order they were measured (\"at\": minutes into the run). A ratio divides by pgbench's TPS in the same round.\n\n")
	b.WriteString(r.roundsTable())
	b.WriteString("\n## Invariants\n\n| check | result | detail |\n|---|---|---|\n")
	for _, c := range r.Checks {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", c.Name, map[bool]string{true: "ok", false: "**FAILED**"}[c.OK], c.Detail)
	}
	notes := r.Notes
	if r.OpenLoop {
		notes = append([]string{openLoopNote}, notes...)
	}
	if len(notes) > 0 || len(r.Logs) > 0 {
		b.WriteString("\n## Notes\n\n")
		for _, n := range notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
		if len(r.Logs) > 0 {
			b.WriteString("- creditd logged (level warn and above):\n")
			keys := make([]string, 0, len(r.Logs))
			for k := range r.Logs {
				keys = append(keys, k)
			}
			slices.SortFunc(keys, func(a, c string) int { return cmp.Or(cmp.Compare(r.Logs[c], r.Logs[a]), cmp.Compare(a, c)) })
			for i, k := range keys {
				if i == 10 {
					fmt.Fprintf(&b, "  - … and %d more kinds\n", len(keys)-10)
					break
				}
				fmt.Fprintf(&b, "  - %d× `%s`\n", r.Logs[k], k)
			}
		}
	}
	return b.String()
}

// readmeSection is what goes between the bench markers in README.md.
func (r *report) readmeSection(chartPath, resultsPath string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Latest `make bench` (%s), on %s.", r.Date.UTC().Format("2006-01-02"), r.Machine)
	if r.Revision != "" {
		fmt.Fprintf(&b, " creditd built from %s.", r.Revision)
	}
	fmt.Fprintf(&b, " %s, each with the pgbench baselines and creditd's steps; every figure is the median over them with its range and spread, every ratio the median of the per-round ratios.\n\n", rounds(r.Rounds))
	tpcb, hot := spreadOf(mapValues(r.baseline(baseTPCB))), spreadOf(mapValues(r.baseline(baseHot)))
	if tpcb.N > 0 {
		fmt.Fprintf(&b, "PostgreSQL's own limit on the same server, same rounds: pgbench TPC-B-like **%s TPS**", tpcb.format(func(v float64) string { return strconv.FormatFloat(v, 'f', 0, 64) }))
		if hot.N > 0 {
			fmt.Fprintf(&b, ", single hot row **%s TPS**", hot.format(func(v float64) string { return strconv.FormatFloat(v, 'f', 0, 64) }))
		}
		fmt.Fprintf(&b, " (8 clients, 2 threads, `-M prepared`, fsync on).\n\n")
	}
	if other := r.otherCores(); other >= 0.2 || r.Idle > 0.10 {
		fmt.Fprintf(&b, "_Other work shared the machine during this run (%.0f%% CPU busy before it, %.2f cores on average during the steps), so these figures are below what it can do._\n\n", r.Idle*100, other)
	}
	b.WriteString(r.stepsTable())
	b.WriteString("\n")
	b.WriteString(r.targetsTable())
	fmt.Fprintf(&b, "\n![throughput per scenario and concurrency](%s)\n\n", chartPath)
	fmt.Fprintf(&b, "Every round's figures, invariants and notes: [%s](%s). Reproduce with `make bench` (this run took %.0f minutes; `make bench-quick` runs 2 s steps).\n",
		resultsPath, resultsPath, math.Ceil(r.Elapsed.Minutes()))
	return b.String()
}

func mapValues(m map[int]float64) []float64 {
	xs := make([]float64, 0, len(m))
	for _, v := range m {
		xs = append(xs, v)
	}
	return xs
}

const (
	benchStart = "<!-- bench:start -->"
	benchEnd   = "<!-- bench:end -->"
)

// replaceSection puts body between the bench markers, adding a Performance
// heading and the markers at the end of the README when they are missing.
func replaceSection(readme, body string) string {
	block := benchStart + "\n" + strings.TrimRight(body, "\n") + "\n" + benchEnd
	i := strings.Index(readme, benchStart)
	j := strings.Index(readme, benchEnd)
	if i >= 0 && j > i {
		return readme[:i] + block + readme[j+len(benchEnd):]
	}
	out := strings.TrimRight(readme, "\n") + "\n\n"
	if !strings.Contains(readme, "\n## Performance\n") {
		out += "## Performance\n\n"
	}
	return out + block + "\n"
}

func updateReadme(path, body string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return os.WriteFile(path, []byte(replaceSection(string(b), body)), 0o644)
}

// relPath is target relative to the directory of from, with forward slashes.
func relPath(from, target string) string {
	rel, err := filepath.Rel(filepath.Dir(from), target)
	if err != nil {
		return filepath.ToSlash(target)
	}
	return filepath.ToSlash(rel)
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ", ")
}
