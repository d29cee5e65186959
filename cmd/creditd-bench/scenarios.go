package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
)

// Scenario numbers, as in the issue.
const (
	scSpend   = 1 // spend 1 from 10,000 wallets, Zipf-skewed
	scHot     = 2 // spend 1 from one hot wallet until it is empty
	scHold    = 3 // hold 10, capture 3, release the rest
	scRead    = 4 // GET balance
	scWebhook = 5 // signed PortOne webhooks to POST /webhooks/portone
)

var scenarioNames = map[int]string{
	scSpend:   "spend, 10k wallets (Zipf)",
	scHot:     "spend, one hot wallet",
	scHold:    "hold+capture+release",
	scRead:    "GET balance",
	scWebhook: "webhook intake",
}

var (
	spendBody   = []byte(`{"amount":"1","reason":"bench"}`)
	holdBody    = []byte(`{"amount":"10","expiresInSeconds":900,"reason":"bench"}`)
	captureBody = []byte(`{"amount":"3"}`)
	releaseBody = []byte(`{}`)
)

const (
	seedAmount   = 1_000_000 // per wallet: far more than any run spends from the hottest one
	captureUnits = 3
)

// step is one measured run of a scenario at one load.
type step struct {
	Round      int       // from 1
	Start      time.Time // when the step started
	Scenario   int
	Mode       string  // "closed" or "open"
	Clients    int     // closed loop: clients; open loop: workers
	TargetRate float64 // open loop: arrivals per second
	Unit       string  // what Throughput counts, per second
	Throughput float64
	OpRate     float64 // operations per second the CPU figures cover, if not Throughput
	Elapsed    time.Duration
	Lat        latencies // every successful request (open loop: first request timed from its due time)
	IterLat    latencies // every successful iteration
	PerKind    map[string]latencies
	Errors     map[string]int
	Usage      usage
	Unsent     int64
	Note       string
	Backlog    int64         // scenario 5: events not processed yet when the step ended
	Drained    time.Duration // scenario 5: how long the inbox then took to drain
	all        *recorder     // open loop: every successful request, to pool the rounds' p99
}

// check is one invariant; a failed one fails the run.
type check struct {
	Name   string
	OK     bool
	Detail string
}

// bench runs the scenarios against one creditd.
type bench struct {
	opts    options
	client  *apiClient
	run     string
	pid     int
	cpu     []cpuSource // besides creditd: PostgreSQL's container
	alive   func() bool // false once the creditd we started has exited
	wallets []string
	steps   []*step
	checks  []check
	notes   []string
	last    []account // balances of the wallets as last read
	logf    func(format string, args ...any)
	settle  time.Duration // pause after each step

	round  int                   // the round being run, from 1
	best   map[int]float64       // this round's best closed-loop rate per scenario
	tally  map[int]*balanceTally // scenarios 1 and 3, over every round
	hot    hotTally              // scenario 2, over every round
	topped int                   // wallets topped up between rounds
	shop   *shop                 // scenario 5; nil when it does not run

	portone *fakePortOne    // scenario 5's PortOne; nil when creditd is not ours
	pg      *pgx.ConnConfig // the benchmark's database; nil when unknown
}

func (b *bench) walletPath(i int, suffix string) string {
	return "/v1/accounts/" + url.PathEscape(b.wallets[i]) + suffix
}

func (b *bench) spec(iter iterFunc) loadSpec {
	return loadSpec{Run: b.run, Seed: b.opts.seed, Client: b.client, ZipfN: len(b.wallets), Iter: iter}
}

// measure runs one step with CPU and memory sampling and records it.
func (b *bench) measure(sc int, mode string, clients int, unit string, load func() *loadResult) (*step, *loadResult) {
	s := startSampler(b.pid, b.cpu)
	lr := load()
	u := s.finish()
	per := map[string]latencies{}
	for k, r := range lr.Lat {
		per[k] = r.summary()
	}
	st := &step{Round: b.round, Start: s.t0, Scenario: sc, Mode: mode, Clients: clients, Unit: unit, Throughput: lr.rate(), Elapsed: lr.Elapsed,
		Lat: lr.All.summary(), IterLat: lr.Iter.summary(), PerKind: per, Errors: lr.Errors, Usage: u, Unsent: lr.Unsent}
	b.steps = append(b.steps, st)
	return st, lr
}

// openLoopSteps is how many step durations an open-loop run lasts in each
// round. Its p99 is the target, and PostgreSQL's background work at these
// write rates (a checkpoint every minute or so with stock settings, autovacuum
// passes over the append-only tables) stalls commits for 30-100 ms a few
// times a minute: in a 10 s window one stall is 1-2% of the requests and
// decides the p99 by whether it falls in the window. A 40 s window holds
// about one checkpoint, where a stall is a few tenths of a percent of the
// requests; the median over the rounds then drops a window that caught two,
// and the p99 pooled over every round's requests (the note) spans as many
// as the single 90 s step this replaces did.
const openLoopSteps = 4

// openLoop runs scenario sc at half its best closed-loop rate, timing each
// request from when it was due, and records the step.
func (b *bench) openLoop(ctx context.Context, sc int, unit string, best float64, spec loadSpec, note func(*step) string) *loadResult {
	rate := best / 2
	st, lr := b.measure(sc, "open", b.opts.openWorkers, unit, func() *loadResult {
		return runOpen(ctx, rate, openLoopSteps*b.opts.duration, b.opts.openWorkers, spec)
	})
	st.TargetRate = rate
	st.all = &lr.All
	st.Note = note(st) + fmt.Sprintf("; %s; max %s ms", st.Elapsed.Round(time.Second), fmtMs(st.Lat.Max))
	if st.Unsent > 0 {
		st.Note += fmt.Sprintf("; %d arrivals never sent (backlog at 2× duration)", st.Unsent)
	}
	b.logStep(st)
	return lr
}

// snapshotAfter reads every wallet once a scenario's steps are done, for its
// invariant, and keeps the reading for the next scenario.
func (b *bench) snapshotAfter(ctx context.Context) ([]account, error) {
	if err := b.halted(ctx); err != nil {
		return nil, err
	}
	after, err := b.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	b.last = after
	return after, nil
}

func (b *bench) logStep(st *step) {
	load := fmt.Sprintf("%d clients", st.Clients)
	if st.Mode == "open" {
		load = fmt.Sprintf("open %.0f/s", st.TargetRate)
	}
	b.logf("  r%d %d %-26s %-12s %8.0f %-13s p50 %6.2f p99 %7.2f ms  errors %d  cores %s  %.0f MB  %s",
		st.Round, st.Scenario, scenarioNames[st.Scenario], load, st.Throughput, st.Unit, ms(st.Lat.P50), ms(st.Lat.P99),
		sumErrors(st.Errors), fmtCores(st.Usage, stepCPU), st.Usage.RSSMaxMB, st.Note)
	time.Sleep(b.settle) // let connections and the server settle between steps
}

// halted says why the scenarios must stop: interrupted, or creditd gone.
func (b *bench) halted(ctx context.Context) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if !b.alive() {
		return fmt.Errorf("creditd exited")
	}
	return nil
}

func (b *bench) addCheck(name string, ok bool, format string, args ...any) {
	b.checks = append(b.checks, check{Name: name, OK: ok, Detail: fmt.Sprintf(format, args...)})
	status := "ok"
	if !ok {
		status = "FAILED"
	}
	b.logf("  check %s: %s (%s)", name, status, fmt.Sprintf(format, args...))
}

// unknownOutcome is a response after which the change may or may not have
// happened: a transport error or a 5xx.
func unknownOutcome(r response) bool { return r.Err != nil || r.Status >= 500 }

// ---------------------------------------------------------------------------
// Accounts

type account struct {
	Balance, Held, Available decimal.Decimal
}

func (b *bench) getAccount(ctx context.Context, path string) (account, error) {
	r := b.client.do(ctx, http.MethodGet, path, "", nil)
	if r.Err != nil || r.Status != http.StatusOK {
		return account{}, fmt.Errorf("GET %s: %s", path, errorKey(r))
	}
	var a struct{ Balance, Held, Available string }
	if err := json.Unmarshal(r.Body, &a); err != nil {
		return account{}, fmt.Errorf("GET %s: %w", path, err)
	}
	var acc account
	var err error
	if acc.Balance, err = decimal.NewFromString(a.Balance); err != nil {
		return acc, err
	}
	if acc.Held, err = decimal.NewFromString(a.Held); err != nil {
		return acc, err
	}
	acc.Available, err = decimal.NewFromString(a.Available)
	return acc, err
}

// snapshot reads every bench wallet through the API.
func (b *bench) snapshot(ctx context.Context) ([]account, error) {
	accts := make([]account, len(b.wallets))
	err := forEach(ctx, len(b.wallets), 16, func(i int) error {
		a, err := b.getAccount(ctx, b.walletPath(i, ""))
		accts[i] = a
		return err
	})
	return accts, err
}

func totals(accts []account) (balance, held decimal.Decimal, negative int) {
	for _, a := range accts {
		balance, held = balance.Add(a.Balance), held.Add(a.Held)
		if a.Balance.IsNegative() || a.Available.IsNegative() || a.Held.IsNegative() {
			negative++
		}
	}
	return balance, held, negative
}

// lastSnapshot is the wallets' balances as last read, reading them if needed.
func (b *bench) lastSnapshot(ctx context.Context) ([]account, error) {
	if b.last != nil {
		return b.last, nil
	}
	s, err := b.snapshot(ctx)
	if err == nil {
		b.last = s
	}
	return s, err
}

// grant adds amount to account id, retrying transport errors and 5xx with
// the same idempotency key (safe by creditd's contract).
func (b *bench) grant(ctx context.Context, id string, amount int64, key string) error {
	body := []byte(`{"amount":"` + strconv.FormatInt(amount, 10) + `","source":"paid","reason":"bench funding"}`)
	var r response
	for attempt := 0; attempt < 3; attempt++ {
		r = b.client.do(ctx, http.MethodPost, "/v1/accounts/"+url.PathEscape(id)+"/grants", key, body)
		if r.Err == nil && r.Status == http.StatusCreated {
			return nil
		}
		if !unknownOutcome(r) || ctx.Err() != nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("grant %s to %s: %s", strconv.FormatInt(amount, 10), id, errorKey(r))
}

// seed funds the wallets with concurrent grants.
func (b *bench) seed(ctx context.Context) error {
	b.wallets = make([]string, b.opts.wallets)
	for i := range b.wallets {
		b.wallets[i] = fmt.Sprintf("%s-w%05d", b.run, i)
	}
	t0 := time.Now()
	err := forEach(ctx, len(b.wallets), 32, func(i int) error {
		return b.grant(ctx, b.wallets[i], seedAmount, b.run+"-seed-"+strconv.Itoa(i))
	})
	if err != nil {
		return fmt.Errorf("seeding wallets: %w", err)
	}
	el := time.Since(t0)
	b.logf("seeded %d wallets with %d credits each in %s (%.0f grants/s, 32 clients)",
		len(b.wallets), seedAmount, el.Round(10*time.Millisecond), float64(len(b.wallets))/el.Seconds())
	return nil
}

// ---------------------------------------------------------------------------
// Invariants over the rounds

// balanceTally is the balance invariant of scenario 1 or 3 on the Zipf
// wallets. Each phase that changes them is checked on its own, between two
// readings of every balance (the two scenarios share the wallets, and their
// phases alternate over the rounds); the sums become one check at the end.
type balanceTally struct {
	phases           int
	counted, unknown int64           // credits the answers say left; more that may have left (unknown outcome)
	drop             decimal.Decimal // what the balances lost, summed over the phases
	negative         int             // wallets negative after a phase, the most seen
	failures         []string        // the phases that broke it
}

// onWallets runs one phase that changes the Zipf wallets and checks it: the
// balances must lose what the answers say (up to the credits of answers
// whose outcome is unknown), no wallet may go negative, and after scenario 3
// nothing may stay held. fn returns the credits counted and unknown.
func (b *bench) onWallets(ctx context.Context, sc int, where string, fn func() (counted, unknown int64, err error)) error {
	before, err := b.lastSnapshot(ctx)
	if err != nil {
		return err
	}
	counted, unknown, err := fn()
	if err != nil {
		return err
	}
	after, err := b.snapshotAfter(ctx)
	if err != nil {
		return err
	}
	bal0, _, _ := totals(before)
	bal1, held, neg := totals(after)
	drop := bal0.Sub(bal1)
	ok := drop.GreaterThanOrEqual(decimal.NewFromInt(counted)) && drop.LessThanOrEqual(decimal.NewFromInt(counted+unknown)) && neg == 0
	if sc == scHold {
		ok = ok && held.IsZero()
	}
	if b.tally == nil {
		b.tally = map[int]*balanceTally{}
	}
	t := b.tally[sc]
	if t == nil {
		t = &balanceTally{}
		b.tally[sc] = t
	}
	t.phases++
	t.counted, t.unknown, t.drop, t.negative = t.counted+counted, t.unknown+unknown, t.drop.Add(drop), max(t.negative, neg)
	detail := fmt.Sprintf("counted %d, unknown %d, balances fell by %s, held %s, %d negative", counted, unknown, drop, held, neg)
	if !ok {
		t.failures = append(t.failures, where+": "+detail)
		b.logf("  check %s: FAILED (%s)", where, detail)
	}
	return nil
}

// hotTally is scenario 2's invariants over every round: the hot wallets
// (funded, drained, refused) and the probe wallets that measured the rate.
type hotTally struct {
	wallets, probes                 int
	funded, spent, refused, unknown int64
	notEmptied                      int
	failures, probeFailures         []string
}

// finishChecks turns the tallies into the run's checks, one per invariant.
func (b *bench) finishChecks() {
	rounds := fmt.Sprintf("%d round", b.round)
	if b.round != 1 {
		rounds += "s"
	}
	failed := func(fs []string) string {
		if len(fs) == 0 {
			return ""
		}
		return "; FAILED in " + strings.Join(fs, "; ")
	}
	if t := b.tally[scSpend]; t != nil {
		detail := fmt.Sprintf("%d spends answered 201 over %d phases (%s); total balance of the %d wallets fell by %s; %d wallets negative",
			t.counted, t.phases, rounds, len(b.wallets), t.drop, t.negative)
		if t.unknown > 0 {
			detail += fmt.Sprintf("; %d spends of unknown outcome (transport error or 5xx)", t.unknown)
		}
		b.addCheck("scenario 1: spends observed = drop in total balance, no wallet negative", len(t.failures) == 0, "%s%s", detail, failed(t.failures))
	}
	if b.hot.wallets > 0 {
		h := b.hot
		detail := fmt.Sprintf("%d hot wallets (%s × clients %s): funded %d, %d spends answered 201, %d refused with insufficient-credits",
			h.wallets, rounds, joinInts(b.opts.clients), h.funded, h.spent, h.refused)
		if h.unknown > 0 {
			detail += fmt.Sprintf(", %d of unknown outcome", h.unknown)
		}
		if h.notEmptied > 0 {
			detail += fmt.Sprintf("; %d not emptied within the step", h.notEmptied)
		}
		b.addCheck("scenario 2: no overdraft, every hot wallet ends at exactly 0, successes = funding", len(h.failures) == 0, "%s%s", detail, failed(h.failures))
		b.addCheck("scenario 2: probe wallet balance = funding − spends", len(h.probeFailures) == 0,
			"%d probe wallets%s", h.probes, failed(h.probeFailures))
	}
	if t := b.tally[scHold]; t != nil {
		b.addCheck("scenario 3: nothing held at the end, captured = drop in total balance", len(t.failures) == 0,
			"%d credits captured (200 answers) over %d phases (%s), total balance fell by %s; nothing held after any phase; %d wallets negative%s",
			t.counted, t.phases, rounds, t.drop, t.negative, failed(t.failures))
	}
}

// topUp refunds the Zipf wallets that the rounds so far drained below half
// their seed (see topUps), between rounds, so every round spends from funded
// wallets. The next phase reads the balances afresh.
func (b *bench) topUp(ctx context.Context) error {
	if b.last == nil {
		return nil
	}
	ups := topUps(b.last, seedAmount)
	if len(ups) == 0 {
		return nil
	}
	idx := make([]int, 0, len(ups))
	for i := range ups {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	err := forEach(ctx, len(idx), 8, func(k int) error {
		i := idx[k]
		return b.grant(ctx, b.wallets[i], ups[i], fmt.Sprintf("%s-topup-r%d-%d", b.run, b.round, i))
	})
	if err != nil {
		return fmt.Errorf("topping up wallets: %w", err)
	}
	b.last = nil
	b.topped += len(idx)
	b.logf("topped up %d wallets below half their seed", len(idx))
	return nil
}

// ---------------------------------------------------------------------------
// Scenario 1: spend 1 credit from Zipf-chosen wallets

func (b *bench) spendSpec() loadSpec {
	return b.spec(func(ctx context.Context, w *worker) bool {
		r, ok := w.call(ctx, "spend", http.MethodPost, b.walletPath(w.pick(), "/spends"), spendBody, http.StatusCreated)
		if ok {
			w.counters["spent"]++
		} else if unknownOutcome(r) {
			w.counters["unknown"]++
		}
		return ok
	})
}

// closedSpend sweeps scenario 1 over the client counts.
func (b *bench) closedSpend(ctx context.Context) error {
	spec := b.spendSpec()
	return b.onWallets(ctx, scSpend, fmt.Sprintf("round %d, closed loop", b.round), func() (int64, int64, error) {
		var spent, unknown int64
		for _, c := range b.opts.clients {
			st, lr := b.measure(scSpend, "closed", c, "spends/s", func() *loadResult { return runClosed(ctx, c, b.opts.duration, spec) })
			spent, unknown = spent+lr.Counters["spent"], unknown+lr.Counters["unknown"]
			b.best[scSpend] = max(b.best[scSpend], st.Throughput)
			b.logStep(st)
			if err := b.halted(ctx); err != nil {
				return spent, unknown, err
			}
		}
		return spent, unknown, nil
	})
}

// openSpend runs scenario 1 in open loop at half this round's best rate.
func (b *bench) openSpend(ctx context.Context) error {
	best := b.best[scSpend]
	if best <= 0 {
		b.notes = append(b.notes, fmt.Sprintf("Round %d: no open-loop step for scenario 1 (no closed-loop rate).", b.round))
		return nil
	}
	return b.onWallets(ctx, scSpend, fmt.Sprintf("round %d, open loop", b.round), func() (int64, int64, error) {
		lr := b.openLoop(ctx, scSpend, "spends/s", best, b.spendSpec(), func(*step) string {
			return "half of this round's best closed-loop rate; latency from each request's due time"
		})
		return lr.Counters["spent"], lr.Counters["unknown"], b.halted(ctx)
	})
}

// ---------------------------------------------------------------------------
// Scenario 2: one hot wallet until it is empty

// hotFunding is how many credits to put in the hot wallet: enough for half
// the step at the rate a short probe measured (0.4 of it, as the rate varies), so it runs dry mid-step and
// the rest of the step shows the refusals.
func hotFunding(probeRate float64, dur time.Duration) int64 {
	return max(20, int64(math.Ceil(probeRate*dur.Seconds()*0.4)))
}

// closedHot sweeps scenario 2 over the client counts. Every round drains
// wallets of its own, funded from a probe run in that round: a wallet
// emptied in one round cannot serve the next, and this round's rate (not the
// first round's) decides how much keeps it busy until mid-step.
func (b *bench) closedHot(ctx context.Context) error {
	spendOn := func(path string) loadSpec {
		return b.spec(func(ctx context.Context, w *worker) bool {
			r, ok := w.call(ctx, "spend", http.MethodPost, path, spendBody, http.StatusCreated)
			if ok {
				w.counters["spent"]++
				var t struct{ BalanceAfter string }
				if json.Unmarshal(r.Body, &t) == nil && t.BalanceAfter == "0" {
					w.event("emptied")
				}
			} else if r.Status == http.StatusConflict && strings.HasSuffix(errorKey(r), "insufficient-credits") {
				w.counters["refused"]++
			} else if unknownOutcome(r) {
				w.counters["unknown"]++
			}
			return ok
		})
	}
	probeDur := min(max(b.opts.duration/5, time.Second), 3*time.Second)
	h := &b.hot
	for _, c := range b.opts.clients {
		// Probe: a wallet that cannot run dry, to learn the rate.
		probeID := fmt.Sprintf("%s-hot-probe-r%d-%d", b.run, b.round, c)
		const probeFunds = 1_000_000_000
		if err := b.grant(ctx, probeID, probeFunds, probeID); err != nil {
			return err
		}
		probe := runClosed(ctx, c, probeDur, spendOn("/v1/accounts/"+url.PathEscape(probeID)+"/spends"))
		funded := hotFunding(probe.rate(), b.opts.duration)

		hotID := fmt.Sprintf("%s-hot-r%d-%d", b.run, b.round, c)
		if err := b.grant(ctx, hotID, funded, hotID); err != nil {
			return err
		}
		st, lr := b.measure(scHot, "closed", c, "spends/s", func() *loadResult {
			return runClosed(ctx, c, b.opts.duration, spendOn("/v1/accounts/"+url.PathEscape(hotID)+"/spends"))
		})
		spent, refused, unknown := lr.Counters["spent"], lr.Counters["refused"], lr.Counters["unknown"]
		emptiedAt, emptied := lr.Events["emptied"]
		st.OpRate = float64(spent+refused) / lr.Elapsed.Seconds() // CPU covers the refusals too
		if emptied && emptiedAt > 0 {
			st.Throughput = float64(spent) / emptiedAt.Seconds()
			st.Note = fmt.Sprintf("funded %d (probe %.0f/s); empty at %.2f s; then %d refused (409)", funded, probe.rate(), emptiedAt.Seconds(), refused)
		} else {
			st.Note = fmt.Sprintf("funded %d (probe %.0f/s); NOT emptied within the step (%d spent)", funded, probe.rate(), spent)
		}
		b.best[scHot] = max(b.best[scHot], st.Throughput)
		b.logStep(st)
		if err := b.halted(ctx); err != nil {
			return err
		}

		hot, err := b.getAccount(ctx, "/v1/accounts/"+url.PathEscape(hotID))
		if err != nil {
			return err
		}
		left := decimal.NewFromInt(funded - spent)
		ok := !hot.Balance.IsNegative() && spent <= funded && hot.Held.IsZero() &&
			(hot.Balance.Equal(left) || unknown > 0 && hot.Balance.LessThanOrEqual(left) && hot.Balance.GreaterThanOrEqual(left.Sub(decimal.NewFromInt(unknown))))
		if emptied {
			ok = ok && hot.Balance.IsZero() && spent == funded
		}
		h.wallets++
		h.funded, h.spent, h.refused, h.unknown = h.funded+funded, h.spent+spent, h.refused+refused, h.unknown+unknown
		if !emptied {
			h.notEmptied++
		}
		if !ok {
			detail := fmt.Sprintf("round %d, %d clients: funded %d, %d spends answered 201, %d refused, %d unknown, balance at the end %s",
				b.round, c, funded, spent, refused, unknown, hot.Balance)
			h.failures = append(h.failures, detail)
			b.logf("  check scenario 2: FAILED (%s)", detail)
		}

		pw, err := b.getAccount(ctx, "/v1/accounts/"+url.PathEscape(probeID))
		if err != nil {
			return err
		}
		pSpent, pUnknown := probe.Counters["spent"], probe.Counters["unknown"]
		pLeft := decimal.NewFromInt(probeFunds - pSpent)
		h.probes++
		if !pw.Balance.LessThanOrEqual(pLeft) || !pw.Balance.GreaterThanOrEqual(pLeft.Sub(decimal.NewFromInt(pUnknown))) {
			detail := fmt.Sprintf("round %d, %d clients: %d spends in the %.1f s probe, balance %s", b.round, c, pSpent, probe.Elapsed.Seconds(), pw.Balance)
			h.probeFailures = append(h.probeFailures, detail)
			b.logf("  check scenario 2 probe: FAILED (%s)", detail)
		}
	}
	return nil
}

// ---------------------------------------------------------------------------
// Scenario 3: hold, capture part, release the rest

func (b *bench) holdSpec() loadSpec {
	return b.spec(func(ctx context.Context, w *worker) bool {
		r, ok := w.call(ctx, "hold", http.MethodPost, b.walletPath(w.pick(), "/holds"), holdBody, http.StatusCreated)
		if !ok {
			if unknownOutcome(r) {
				w.counters["unknown.hold"]++ // a hold we cannot release: would show as held
			}
			return false
		}
		var h struct{ ID string }
		if err := json.Unmarshal(r.Body, &h); err != nil || h.ID == "" {
			w.errs["hold response without id"]++
			return false
		}
		r, okc := w.call(ctx, "capture", http.MethodPost, "/v1/holds/"+h.ID+"/capture", captureBody, http.StatusOK)
		if okc {
			w.counters["captured"] += captureUnits
		} else if unknownOutcome(r) {
			w.counters["unknown.capture"]++
		}
		// Release whatever is left, whether the capture worked or not.
		_, okr := w.call(ctx, "release", http.MethodPost, "/v1/holds/"+h.ID+"/release", releaseBody, http.StatusOK)
		return okc && okr
	})
}

func holdNote(st *step) string {
	return fmt.Sprintf("%.0f requests/s; p99 hold %.1f / capture %.1f / release %.1f ms; iteration p99 %.1f ms",
		st.Throughput*3, ms(st.PerKind["hold"].P99), ms(st.PerKind["capture"].P99), ms(st.PerKind["release"].P99), ms(st.IterLat.P99))
}

// closedHold sweeps scenario 3 over the client counts.
func (b *bench) closedHold(ctx context.Context) error {
	spec := b.holdSpec()
	return b.onWallets(ctx, scHold, fmt.Sprintf("round %d, closed loop", b.round), func() (int64, int64, error) {
		var captured, unknownCap int64
		for _, c := range b.opts.clients {
			st, lr := b.measure(scHold, "closed", c, "iterations/s", func() *loadResult { return runClosed(ctx, c, b.opts.duration, spec) })
			captured, unknownCap = captured+lr.Counters["captured"], unknownCap+lr.Counters["unknown.capture"]
			b.best[scHold] = max(b.best[scHold], st.Throughput)
			st.Note = holdNote(st)
			b.logStep(st)
			if err := b.halted(ctx); err != nil {
				return captured, unknownCap * captureUnits, err
			}
		}
		return captured, unknownCap * captureUnits, nil
	})
}

// openHold runs scenario 3 in open loop at half this round's best rate.
func (b *bench) openHold(ctx context.Context) error {
	best := b.best[scHold]
	if best <= 0 {
		b.notes = append(b.notes, fmt.Sprintf("Round %d: no open-loop step for scenario 3 (no closed-loop rate).", b.round))
		return nil
	}
	return b.onWallets(ctx, scHold, fmt.Sprintf("round %d, open loop", b.round), func() (int64, int64, error) {
		lr := b.openLoop(ctx, scHold, "iterations/s", best, b.holdSpec(), func(st *step) string {
			return holdNote(st) + "; hold timed from its due time"
		})
		return lr.Counters["captured"], lr.Counters["unknown.capture"] * captureUnits, b.halted(ctx)
	})
}

// ---------------------------------------------------------------------------
// Scenario 4: balance reads

func (b *bench) closedRead(ctx context.Context) error {
	spec := b.spec(func(ctx context.Context, w *worker) bool {
		_, ok := w.call(ctx, "get", http.MethodGet, b.walletPath(w.pick(), ""), nil, http.StatusOK)
		return ok
	})
	for _, c := range b.opts.clients {
		st, _ := b.measure(scRead, "closed", c, "reads/s", func() *loadResult { return runClosed(ctx, c, b.opts.duration, spec) })
		b.best[scRead] = max(b.best[scRead], st.Throughput)
		b.logStep(st)
		if err := b.halted(ctx); err != nil {
			return err
		}
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func sumErrors(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
