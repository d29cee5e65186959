package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
		{1, []int{5, 1, 2, 3, 4}, true, true, "pgbench TPC-B, hot row; closed 1; closed 2; closed 3; closed 4; closed 5; open 1; open 3"},
		{2, []int{5, 1, 2, 3, 4}, true, true, "closed 5; closed 4; closed 3; closed 2; closed 1; pgbench hot row, TPC-B; open 1; open 3"},
		{2, []int{5}, true, true, "closed 5; pgbench hot row, TPC-B"},
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

// fakeLedger is creditd's API as the scenarios use it, in memory: grants,
// spends, holds with capture and release, balance reads. loseSpend, when set,
// answers a spend 201 without taking the credit, as a broken ledger would.
type fakeLedger struct {
	mu        sync.Mutex
	accts     map[string]*fakeAcct
	holds     map[string]*fakeHold
	keys      map[string]int // Idempotency-Key → times seen
	grants    []string       // accounts granted to, in order
	loseSpend func() bool
}

type fakeAcct struct{ balance, held int64 }
type fakeHold struct {
	acct   *fakeAcct
	amount int64
}

func newFakeLedger() *fakeLedger {
	return &fakeLedger{accts: map[string]*fakeAcct{}, holds: map[string]*fakeHold{}, keys: map[string]int{}}
}

func (f *fakeLedger) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if k := r.Header.Get("Idempotency-Key"); k != "" {
		f.keys[k]++
	}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/v1/"), "/")
	reply := func(status int, v any) {
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	acct := func(id string) *fakeAcct {
		a := f.accts[id]
		if a == nil {
			a = &fakeAcct{}
			f.accts[id] = a
		}
		return a
	}
	var body struct{ Amount string }
	_ = json.NewDecoder(r.Body).Decode(&body)
	amount, _ := strconv.ParseInt(body.Amount, 10, 64)
	switch {
	case len(parts) == 2 && parts[0] == "accounts" && r.Method == http.MethodGet:
		a := acct(parts[1])
		reply(http.StatusOK, map[string]string{"balance": strconv.FormatInt(a.balance, 10), "held": strconv.FormatInt(a.held, 10),
			"available": strconv.FormatInt(a.balance-a.held, 10)})
	case len(parts) == 3 && parts[0] == "accounts" && parts[2] == "grants":
		acct(parts[1]).balance += amount
		f.grants = append(f.grants, parts[1])
		reply(http.StatusCreated, map[string]string{})
	case len(parts) == 3 && parts[0] == "accounts" && parts[2] == "spends":
		a := acct(parts[1])
		if a.balance-a.held < amount {
			reply(http.StatusConflict, map[string]any{"type": "https://creditd.dev/problems/insufficient-credits", "status": 409})
			return
		}
		if f.loseSpend == nil || !f.loseSpend() {
			a.balance -= amount
		}
		reply(http.StatusCreated, map[string]string{"balanceAfter": strconv.FormatInt(a.balance, 10)})
	case len(parts) == 3 && parts[0] == "accounts" && parts[2] == "holds":
		a := acct(parts[1])
		if a.balance-a.held < amount {
			reply(http.StatusConflict, map[string]any{"type": "https://creditd.dev/problems/insufficient-credits", "status": 409})
			return
		}
		a.held += amount
		id := "h" + strconv.Itoa(len(f.holds))
		f.holds[id] = &fakeHold{acct: a, amount: amount}
		reply(http.StatusCreated, map[string]string{"id": id})
	case len(parts) == 3 && parts[0] == "holds" && parts[2] == "capture":
		h := f.holds[parts[1]]
		h.acct.balance, h.acct.held, h.amount = h.acct.balance-amount, h.acct.held-amount, h.amount-amount
		reply(http.StatusOK, map[string]string{})
	case len(parts) == 3 && parts[0] == "holds" && parts[2] == "release":
		h := f.holds[parts[1]]
		h.acct.held, h.amount = h.acct.held-h.amount, 0
		reply(http.StatusOK, map[string]string{})
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

func fakeBench(t *testing.T, f *fakeLedger, rounds int) *bench {
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	o := options{duration: 100 * time.Millisecond, rounds: rounds, clients: []int{2}, scenarios: []int{1, 2, 3, 4},
		wallets: 20, openLoop: true, openWorkers: 8, seed: 1}
	return &bench{opts: o, client: newAPIClient(srv.URL, "k", 32), alive: func() bool { return true }, logf: t.Logf,
		run: "t" + strconv.FormatInt(time.Now().UnixNano(), 36)}
}

// Two rounds against the fake: every round runs every step in roundPlan's
// order, each invariant becomes one check over both rounds, scenario 2
// drains a wallet of its own in each round, and no idempotency key is ever
// sent twice.
func TestRoundsAgainstFakeLedger(t *testing.T) {
	f := newFakeLedger()
	b := fakeBench(t, f, 2)
	baselines, err := runRounds(context.Background(), b, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(baselines) != 0 {
		t.Errorf("baselines without pgbench: %v", baselines)
	}
	var order []string
	for _, st := range b.steps {
		order = append(order, fmt.Sprintf("r%d %s %d", st.Round, st.Mode, st.Scenario))
	}
	want := []string{
		"r1 closed 1", "r1 closed 2", "r1 closed 3", "r1 closed 4", "r1 open 1", "r1 open 3",
		"r2 closed 4", "r2 closed 3", "r2 closed 2", "r2 closed 1", "r2 open 1", "r2 open 3",
	}
	if !slices.Equal(order, want) {
		t.Errorf("steps ran as\n%v\nwant\n%v", order, want)
	}
	for i := 1; i < len(b.steps); i++ {
		if !b.steps[i].Start.After(b.steps[i-1].Start) {
			t.Errorf("step %d did not start after step %d", i, i-1)
		}
	}
	// Each round's open loop runs at half of that round's best closed rate.
	for _, st := range b.steps {
		if st.Mode != "open" {
			continue
		}
		for _, c := range b.steps {
			if c.Mode == "closed" && c.Scenario == st.Scenario && c.Round == st.Round && st.TargetRate != c.Throughput/2 {
				t.Errorf("round %d scenario %d: open at %.1f/s, closed best %.1f/s", st.Round, st.Scenario, st.TargetRate, c.Throughput)
			}
		}
		if st.all == nil || st.all.count() == 0 {
			t.Errorf("round %d scenario %d: open-loop latencies not kept for pooling", st.Round, st.Scenario)
		}
	}

	names := map[string]check{}
	for _, c := range b.checks {
		names[c.Name] = c
		if !c.OK {
			t.Errorf("check failed: %s: %s", c.Name, c.Detail)
		}
	}
	for _, n := range []string{
		"scenario 1: spends observed = drop in total balance, no wallet negative",
		"scenario 2: no overdraft, every hot wallet ends at exactly 0, successes = funding",
		"scenario 2: probe wallet balance = funding − spends",
		"scenario 3: nothing held at the end, captured = drop in total balance",
	} {
		if _, ok := names[n]; !ok {
			t.Errorf("no check %q among %v", n, b.checks)
		}
	}
	if len(b.checks) != 4 {
		t.Errorf("%d checks, want one per invariant over both rounds", len(b.checks))
	}
	if d := names["scenario 1: spends observed = drop in total balance, no wallet negative"].Detail; !strings.Contains(d, "over 4 phases (2 rounds)") {
		t.Errorf("scenario 1 detail: %s", d)
	}
	// The overdraft target reads the aggregated check.
	rep := &report{Steps: b.steps, Checks: b.checks}
	for _, tg := range rep.targets() {
		if strings.HasPrefix(tg.Goal, "Scenario 2: zero overdraft") && tg.Status != "PASS" {
			t.Errorf("overdraft target: %s %s", tg.Status, tg.Measured)
		}
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	hot := map[string]bool{}
	for _, id := range f.grants {
		if strings.Contains(id, "-hot-") && !strings.Contains(id, "-probe-") {
			if hot[id] {
				t.Errorf("hot wallet %s funded twice", id)
			}
			hot[id] = true
			if a := f.accts[id]; a.balance != 0 || a.held != 0 {
				t.Errorf("hot wallet %s ends at %d (held %d)", id, a.balance, a.held)
			}
		}
	}
	if len(hot) != 2 {
		t.Errorf("hot wallets %v, want one per round", hot)
	}
	for k, n := range f.keys {
		if n > 1 {
			t.Fatalf("idempotency key %q sent %d times", k, n)
		}
	}
}

// A spend answered 201 but never taken, in round 2 only: the scenario 1
// check over both rounds fails and says where.
func TestRoundsInvariantFailsInLaterRound(t *testing.T) {
	f := newFakeLedger()
	b := fakeBench(t, f, 2)
	b.opts.scenarios, b.opts.openLoop = []int{1}, false
	// The server's goroutine learns the round from the driver's log line, not
	// from b.round, which the driver writes without a lock.
	var round2 atomic.Bool
	b.logf = func(format string, args ...any) {
		if strings.HasPrefix(format, "round %d of %d") && args[0] == 2 {
			round2.Store(true)
		}
		t.Logf(format, args...)
	}
	lost := false
	f.loseSpend = func() bool {
		if round2.Load() && !lost { // f.mu is held: one spend at a time
			lost = true
			return true
		}
		return false
	}
	if _, err := runRounds(context.Background(), b, nil); err != nil {
		t.Fatal(err)
	}
	if len(b.checks) != 1 || b.checks[0].OK || !strings.Contains(b.checks[0].Detail, "FAILED in round 2, closed loop") {
		t.Errorf("checks: %+v", b.checks)
	}
}

// Between rounds, wallets drained below half their seed are granted back
// up to it, and the next phase reads the balances afresh.
func TestTopUpBetweenRounds(t *testing.T) {
	f := newFakeLedger()
	b := fakeBench(t, f, 1)
	b.opts.scenarios = []int{4}
	if _, err := runRounds(context.Background(), b, nil); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.accts[b.wallets[0]].balance = 100
	f.accts[b.wallets[3]].balance, f.accts[b.wallets[3]].held = seedAmount-10, seedAmount/2 // available below half
	f.mu.Unlock()
	if _, err := b.snapshotAfter(context.Background()); err != nil {
		t.Fatal(err)
	}
	b.round = 2
	if err := b.topUp(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if got := f.accts[b.wallets[0]].balance; got != seedAmount {
		t.Errorf("wallet 0 at %d after top-up", got)
	}
	if got := f.accts[b.wallets[3]].balance; got != seedAmount {
		t.Errorf("wallet 3 at %d after top-up", got)
	}
	if b.topped != 2 || b.last != nil {
		t.Errorf("topped %d, last reading kept: %v", b.topped, b.last != nil)
	}
}
