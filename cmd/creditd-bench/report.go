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
}

func (m machine) String() string {
	return fmt.Sprintf("%s · %d cores · %s RAM · %s · Linux %s · %s · PostgreSQL %s (fsync on, default settings)",
		m.CPU, m.Cores, m.RAM, m.OS, m.Kernel, m.Go, m.Postgres)
}

func machineFacts(pgVersion string) machine {
	m := machine{CPU: "unknown CPU", RAM: "?", OS: "unknown OS", Kernel: "?", Go: runtime.Version(), Postgres: pgVersion, Cores: runtime.NumCPU()}
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
	Clients   []int
	Wallets   int
	TPCB, Hot *pgbenchResult // nil when pgbench was skipped
	Steps     []*step
	Checks    []check
	Notes     []string
	Logs      map[string]int // creditd's log lines by level and message
	Elapsed   time.Duration
	Revision  string  // the source creditd was built from
	Scale     int     // pgbench -i -s
	Idle      float64 // host CPU busy (0..1) just before the run: other work on the machine
}

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

// best is the closed-loop step of a scenario with the highest throughput.
func (r *report) best(sc int) *step {
	var b *step
	for _, s := range r.Steps {
		if s.Scenario == sc && s.Mode == "closed" && (b == nil || s.Throughput > b.Throughput) {
			b = s
		}
	}
	return b
}

func (r *report) open(sc int) *step {
	for _, s := range r.Steps {
		if s.Scenario == sc && s.Mode == "open" {
			return s
		}
	}
	return nil
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

// targets checks the run against the targets. Speed targets are
// PASS/MISS and never fail the run; invariants are PASS/FAIL.
func (r *report) targets() []target {
	var ts []target
	tpcb, hot := 0.0, 0.0
	if r.TPCB != nil {
		tpcb = r.TPCB.TPS
	}
	if r.Hot != nil {
		hot = r.Hot.TPS
	}
	ratioTarget := func(goal string, st *step, base float64, want float64, baseName string) {
		switch {
		case st == nil:
			ts = append(ts, target{goal, "not run", "N/A"})
		case base == 0:
			ts = append(ts, target{goal, fmt.Sprintf("%.0f %s (no %s baseline)", st.Throughput, st.Unit, baseName), "N/A"})
		default:
			ts = append(ts, target{goal, fmt.Sprintf("%.0f %s at %d clients = %.2f× %s", st.Throughput, st.Unit, st.Clients, st.Throughput/base, baseName),
				passMiss(st.Throughput/base >= want)})
		}
	}
	ratioTarget("Scenario 1 at its best concurrency ≥ 1.0× pgbench TPC-B TPS", r.best(scSpend), tpcb, 1.0, "TPC-B")
	ratioTarget("Scenario 2 ≥ 0.5× the hot-row TPS", r.best(scHot), hot, 0.5, "hot row")

	overdraft := target{"Scenario 2: zero overdraft, ends at exactly 0", "not run", "N/A"}
	for _, c := range r.Checks {
		if strings.HasPrefix(c.Name, "scenario 2 (") && strings.Contains(c.Name, "overdraft") {
			if overdraft.Status == "N/A" {
				overdraft = target{overdraft.Goal, "all hot wallets", "PASS"}
			}
			if !c.OK {
				overdraft = target{overdraft.Goal, c.Detail, "FAIL"}
			}
		}
	}
	ts = append(ts, overdraft)

	for _, sc := range []int{scSpend, scHold} {
		goal := fmt.Sprintf("Scenario %d: p99 ≤ 20 ms at half of peak throughput (open loop)", sc)
		if st := r.open(sc); st == nil {
			ts = append(ts, target{goal, "not run", "N/A"})
		} else {
			m := fmt.Sprintf("p99 %.1f ms at %.0f %s", ms(st.Lat.P99), st.TargetRate, st.Unit)
			errs := sumErrors(st.Errors) + int(st.Unsent)
			if errs > 0 {
				m += fmt.Sprintf(", %d errors or unsent", errs)
			}
			ts = append(ts, target{goal, m, passMiss(st.Lat.N > 0 && st.Lat.P99 <= 20*time.Millisecond && errs == 0)})
		}
	}
	if st := r.best(scRead); st == nil {
		ts = append(ts, target{"Balance reads ≥ 10,000/s", "not run", "N/A"})
	} else {
		ts = append(ts, target{"Balance reads ≥ 10,000/s", fmt.Sprintf("%.0f reads/s at %d clients", st.Throughput, st.Clients), passMiss(st.Throughput >= 10000)})
	}
	ts = append(ts, target{"Webhook intake ≥ 2,000/s", "not available yet (no /webhooks/portone in creditd)", "N/A"})

	var peak float64
	known := false
	for _, s := range r.Steps {
		if s.Usage.Known {
			known = true
			peak = max(peak, s.Usage.HWMMB, s.Usage.RSSMaxMB)
		}
	}
	if known {
		ts = append(ts, target{"creditd RSS < 150 MB under load", fmt.Sprintf("peak %.0f MB (VmHWM)", peak), passMiss(peak < 150)})
	} else {
		ts = append(ts, target{"creditd RSS < 150 MB under load", "creditd pid unknown (use -pid)", "N/A"})
	}
	return ts
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
	v := ms(d)
	if v >= 100 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
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

func (r *report) ratio(st *step) string {
	if r.TPCB == nil || r.TPCB.TPS == 0 {
		return "–"
	}
	s := fmt.Sprintf("%.2f×", st.Throughput/r.TPCB.TPS)
	if st.Scenario == scHot && r.Hot != nil && r.Hot.TPS > 0 {
		s += fmt.Sprintf(" (%.2f× hot row)", st.Throughput/r.Hot.TPS)
	}
	return s
}

// stepsTable is the main table: one row per step.
func (r *report) stepsTable() string {
	var b strings.Builder
	b.WriteString("| # | scenario | load | throughput | × pgbench TPC-B | p50 ms | p95 ms | p99 ms | errors | CPU cores: creditd / postgres / driver / other | CPU ms per op: creditd / postgres | creditd RSS | notes |\n")
	b.WriteString("|---|---|---|--:|--:|--:|--:|--:|---|--:|--:|--:|---|\n")
	for _, st := range r.Steps {
		load := fmt.Sprintf("closed, %d clients", st.Clients)
		if st.Mode == "open" {
			load = fmt.Sprintf("open, %s/s", fmtRate(st.TargetRate))
		}
		rss := "–"
		if st.Usage.Known {
			rss = fmt.Sprintf("%.0f MB", st.Usage.RSSMaxMB)
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %s %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			st.Scenario, scenarioNames[st.Scenario], load, fmtRate(st.Throughput), st.Unit, r.ratio(st),
			fmtMs(st.Lat.P50), fmtMs(st.Lat.P95), fmtMs(st.Lat.P99), fmtErrors(st.Errors), fmtCores(st.Usage, stepCPU),
			cpuPerOp(st.Usage, st.opRate(), "creditd")+" / "+cpuPerOp(st.Usage, st.opRate(), "postgres"), rss, st.Note)
	}
	fmt.Fprintf(&b, "| 5 | %s | – | not available yet | – | – | – | – | – | – | – | – | no /webhooks/portone endpoint in creditd yet |\n", scenarioNames[scWebhook])
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

func (r *report) baselinesTable() string {
	var b strings.Builder
	b.WriteString("| baseline | clients / threads | TPS (without connection time) | latency avg | transactions | failed | CPU cores: postgres / other (incl. pgbench) | postgres CPU ms per txn |\n|---|---|--:|--:|--:|--:|--:|--:|\n")
	for _, p := range []*pgbenchResult{r.TPCB, r.Hot} {
		if p == nil {
			continue
		}
		if p.Err != "" && p.TPS == 0 {
			fmt.Fprintf(&b, "| %s | – | failed: %s | – | – | – | – | – |\n", p.Name, strings.ReplaceAll(firstLine(p.Err), "|", "/"))
			continue
		}
		fmt.Fprintf(&b, "| %s | %d / %d | %.0f | %.2f ms | %d | %d | %s | %s |\n", p.Name, p.Clients, p.Threads, p.TPS, p.LatencyAvgMs, p.Transactions, p.Failed,
			fmtCores(p.Usage, baselineCPU), cpuPerOp(p.Usage, p.TPS, "postgres"))
	}
	return b.String()
}

func (st *step) opRate() float64 {
	if st.OpRate > 0 {
		return st.OpRate
	}
	return st.Throughput
}

// cpuPerOp is the CPU time one operation cost a process, in milliseconds:
// unlike throughput it hardly moves when other work shares the machine.
func cpuPerOp(u usage, rate float64, name string) string {
	c, ok := u.Cores[name]
	if !ok || rate <= 0 {
		return "–"
	}
	return strconv.FormatFloat(c*1000/rate, 'f', 2, 64)
}

// stepCPU and baselineCPU are the processes of the CPU columns.
var (
	stepCPU     = []string{"creditd", "postgres", "driver"}
	baselineCPU = []string{"postgres"}
)

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

// markdown is the full results document.
func (r *report) markdown(chartName string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# creditd benchmark — %s\n\n", r.Date.UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "**Machine:** %s\n\n", r.Machine)
	fmt.Fprintf(&b, "**Run:** `%s` — %s per step, closed-loop clients %s, %d funded wallets, every request with its own Idempotency-Key over keep-alive HTTP to 127.0.0.1; the load generator runs on the same 2-core machine as creditd and PostgreSQL (its CPU is in the table). Whole run: %s.\n\n",
		r.Command, r.Duration, joinInts(r.Clients), r.Wallets, r.Elapsed.Round(time.Second))
	if r.Revision != "" {
		fmt.Fprintf(&b, "**creditd:** built from %s.\n\n", r.Revision)
	}
	fmt.Fprintf(&b, "**Host CPU busy before the run:** %.0f%%%s", r.Idle*100, map[bool]string{true: " — other work was running on the machine, so every figure is lower than on an idle one.", false: " (idle)."}[r.Idle > 0.10])
	if other := r.otherCores(); other >= 0.2 {
		fmt.Fprintf(&b, " **During the steps, other work used %.2f of the %d cores on average** (\"other\" in the CPU column): the figures are lower than this machine can do.", other, r.Machine.Cores)
	}
	b.WriteString("\n\n")
	if r.TPCB != nil || r.Hot != nil {
		b.WriteString("## PostgreSQL baselines (pgbench, same server and port, minutes apart)\n\n")
		fmt.Fprintf(&b, "PostgreSQL runs as `make run` runs it (test/postgres/server.sh: a container on the host network, listening on 127.0.0.1, so no docker-proxy forwards its traffic), stock settings, fsync on. `pgbench -M prepared` from a second container on the host network; TPC-B-like on `pgbench -i -s %d`, and the single-hot-row script `%s`.\n\n", r.Scale, hotRowScript)
		b.WriteString(r.baselinesTable())
		b.WriteString("\n")
	}
	b.WriteString("## creditd\n\n")
	b.WriteString(r.stepsTable())
	b.WriteString("\nLatencies are of successful requests. Closed loop: each client sends its next request when the previous one is answered. Open loop: requests are due at a fixed rate (half the best closed-loop rate) and timed from when they were due, for nine times the step's duration, so that the p99 spans several of PostgreSQL's checkpoints and autovacuum passes (each stalls commits for 30-100 ms) rather than depending on whether one falls in the window (the note gives the maximum). Scenario 2's throughput counts successful spends until the wallet was empty; scenario 3 counts iterations of 3 requests. CPU per op divides by the step's operations (for scenario 2 every request, refusals included). CPU is cores busy over the step: creditd (utime+stime), PostgreSQL's container (cgroup), this driver, and the rest of the machine's busy time; RSS is creditd's largest VmRSS sampled.\n\n")
	if chartName != "" {
		fmt.Fprintf(&b, "![throughput per scenario and concurrency](%s)\n\n", chartName)
	}
	b.WriteString("## Targets (issue #3)\n\n")
	b.WriteString(r.targetsTable())
	b.WriteString("\n## Invariants\n\n| check | result | detail |\n|---|---|---|\n")
	for _, c := range r.Checks {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", c.Name, map[bool]string{true: "ok", false: "**FAILED**"}[c.OK], c.Detail)
	}
	if len(r.Notes) > 0 || len(r.Logs) > 0 {
		b.WriteString("\n## Notes\n\n")
		for _, n := range r.Notes {
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
	b.WriteString("\n\n")
	if r.TPCB != nil && r.TPCB.TPS > 0 {
		fmt.Fprintf(&b, "PostgreSQL's own limit on the same server, same run: pgbench TPC-B-like **%.0f TPS**", r.TPCB.TPS)
		if r.Hot != nil && r.Hot.TPS > 0 {
			fmt.Fprintf(&b, ", single hot row **%.0f TPS**", r.Hot.TPS)
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
	fmt.Fprintf(&b, "Full results, invariants and notes: [%s](%s). Reproduce with `make bench` (this run took %.0f minutes; `make bench-quick` runs 2 s steps).\n",
		resultsPath, resultsPath, math.Ceil(r.Elapsed.Minutes()))
	return b.String()
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
