package main

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
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

func sampleReport() *report {
	lat := latencies{N: 1000, P50: 2 * time.Millisecond, P95: 5 * time.Millisecond, P99: 9 * time.Millisecond, Max: 30 * time.Millisecond}
	u := usage{Known: true, CreditdCores: 0.8, Cores: map[string]float64{"creditd": 0.8, "postgres": 0.9, "driver": 0.2}, RSSMaxMB: 40, HWMMB: 45}
	return &report{
		Date:    time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC),
		Machine: machine{CPU: "Test CPU", Cores: 2, RAM: "24 GiB", OS: "Debian 12", Kernel: "6.1", Go: "go1.26", Postgres: "15.18"},
		Command: "creditd-bench", Duration: 10 * time.Second, Clients: []int{8, 32}, Wallets: 10000, Scale: 10,
		TPCB: &pgbenchResult{Name: "pgbench TPC-B-like", Clients: 8, Threads: 2, TPS: 4000, LatencyAvgMs: 2},
		Hot:  &pgbenchResult{Name: "pgbench single hot row", Clients: 8, Threads: 2, TPS: 3900, LatencyAvgMs: 2},
		Steps: []*step{
			{Scenario: scSpend, Mode: "closed", Clients: 8, Unit: "spends/s", Throughput: 4400, Lat: lat, Usage: u},
			{Scenario: scSpend, Mode: "closed", Clients: 32, Unit: "spends/s", Throughput: 3000, Lat: lat, Usage: u,
				Errors: map[string]int{"transport: timeout": 1, "500 internal": 3}},
			{Scenario: scSpend, Mode: "open", Clients: 256, TargetRate: 2200, Unit: "spends/s", Throughput: 2200, Lat: lat, Usage: u},
			{Scenario: scHot, Mode: "closed", Clients: 8, Unit: "spends/s", Throughput: 1000, Lat: lat, Usage: u,
				Errors: map[string]int{"409 insufficient-credits": 500}},
			{Scenario: scHold, Mode: "closed", Clients: 8, Unit: "iterations/s", Throughput: 900, Lat: lat, Usage: u},
			{Scenario: scHold, Mode: "open", Clients: 256, TargetRate: 450, Unit: "iterations/s", Throughput: 450,
				Lat: latencies{N: 10, P99: 35 * time.Millisecond}, Usage: u},
			{Scenario: scRead, Mode: "closed", Clients: 32, Unit: "reads/s", Throughput: 12000, Lat: lat, Usage: u},
		},
		Checks: []check{
			{Name: "scenario 2 (8 clients): no overdraft, ends at exactly 0, successes = funding", OK: true, Detail: "fine"},
			{Name: "creditd verify: 0 drifts", OK: true, Detail: "0 drifts"},
		},
		Elapsed: 5 * time.Minute,
	}
}

func TestTargets(t *testing.T) {
	r := sampleReport()
	got := map[string]string{}
	for _, tg := range r.targets() {
		got[tg.Goal] = tg.Status
	}
	want := map[string]string{
		"Scenario 1 at its best concurrency ≥ 1.0× pgbench TPC-B TPS":    "PASS", // 4400 / 4000
		"Scenario 2 ≥ 0.5× the hot-row TPS":                              "MISS", // 1000 / 3900
		"Scenario 2: zero overdraft, ends at exactly 0":                  "PASS",
		"Scenario 1: p99 ≤ 20 ms at half of peak throughput (open loop)": "PASS",
		"Scenario 3: p99 ≤ 20 ms at half of peak throughput (open loop)": "MISS",
		"Balance reads ≥ 10,000/s":                                       "PASS",
		"Webhook intake ≥ 2,000/s":                                       "N/A",
		"creditd RSS < 150 MB under load":                                "PASS",
	}
	for goal, status := range want {
		if got[goal] != status {
			t.Errorf("%s: %q, want %q", goal, got[goal], status)
		}
	}
	if r.failed() {
		t.Error("missed speed targets must not fail the run")
	}
	r.Checks = append(r.Checks, check{Name: "scenario 2 (32 clients): no overdraft, ends at exactly 0, successes = funding", OK: false, Detail: "balance -1"})
	if !r.failed() {
		t.Error("a broken invariant must fail the run")
	}
	for _, tg := range r.targets() {
		if strings.HasPrefix(tg.Goal, "Scenario 2: zero overdraft") && tg.Status != "FAIL" {
			t.Errorf("overdraft target with a failed check: %s", tg.Status)
		}
	}
}

func TestMarkdown(t *testing.T) {
	r := sampleReport()
	md := r.markdown("latest.svg")
	for _, want := range []string{
		"# creditd benchmark — 2026-11-22 10:00 UTC",
		"Test CPU · 2 cores · 24 GiB RAM · Debian 12 · Linux 6.1 · go1.26 · PostgreSQL 15.18",
		"| pgbench TPC-B-like | 8 / 2 | 4000 | 2.00 ms | 0 | 0 | – / 0.00 | – |",
		"| 1 | spend, 10k wallets (Zipf) | closed, 8 clients | 4400 spends/s | 1.10× | 2.00 | 5.00 | 9.00 | none | 0.80 / 0.90 / 0.20 / 0.00 | 0.18 / 0.20 | 40 MB |",
		"500 internal ×3, transport: timeout ×1",
		"| 1 | spend, 10k wallets (Zipf) | open, 2200/s |",
		"0.25× (0.26× hot row)",
		"| 5 | webhook intake | – | not available yet |",
		"![throughput per scenario and concurrency](latest.svg)",
		"| Scenario 2 ≥ 0.5× the hot-row TPS | 1000 spends/s at 8 clients = 0.26× hot row | **MISS** |",
		"| creditd verify: 0 drifts | ok | 0 drifts |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q\n%s", want, md)
		}
	}
	sec := r.readmeSection("test/bench/results/latest.svg", "test/bench/results/latest.md")
	for _, want := range []string{"pgbench TPC-B-like **4000 TPS**", "](test/bench/results/latest.svg)", "`make bench`", "Test CPU"} {
		if !strings.Contains(sec, want) {
			t.Errorf("README section lacks %q\n%s", want, sec)
		}
	}
	// Without pgbench there are no ratios, and no false PASS.
	r.TPCB, r.Hot = nil, nil
	for _, tg := range r.targets() {
		if strings.Contains(tg.Goal, "pgbench") && tg.Status != "N/A" {
			t.Errorf("%s without a baseline: %s", tg.Goal, tg.Status)
		}
	}
}

func TestChart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chart.svg")
	if err := writeChart(sampleReport(), path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil || !strings.HasPrefix(string(b), "<?xml") || !strings.Contains(string(b), "pgbench TPC-B-like") {
		t.Errorf("chart: %v, %.100s", err, b)
	}
}

func TestParseFlags(t *testing.T) {
	o, err := parseFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	if o.duration != 10*time.Second || len(o.clients) != 3 || o.clients[2] != 64 || len(o.scenarios) != 4 || o.wallets != 10000 {
		t.Errorf("defaults: %+v", o)
	}
	o, err = parseFlags([]string{"-duration", "2s", "-clients", "4, 16", "-scenarios", "2", "-skip-pgbench"})
	if err != nil || o.duration != 2*time.Second || len(o.clients) != 2 || o.clients[1] != 16 || o.scenarios[0] != 2 || !o.skipPgbench {
		t.Errorf("parsed %+v, %v", o, err)
	}
	for _, bad := range [][]string{
		{"-clients", "0"}, {"-clients", "x"}, {"-scenarios", "9"}, {"-url", "http://127.0.0.1:8080"},
		{"-url", "http://10.0.0.1:8080", "-key", "k"}, {"-duration", "100ms"},
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
