//go:build integration

package contract

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/creditd/creditd/adapters/memory"
	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// TestDifferential wires the application's use cases twice, on the memory
// fake and on PostgreSQL, with one stopped clock and two identical sequential
// id generators, applies the same seeded random operations to both, and
// requires the same outcome from each operation: the same error category and
// the same result, field by field. Every checkEvery operations, and at the
// end, it also compares every account, every history, every hold and what is
// due for expiry, and requires a clean audit on both.
//
// By default it runs a fixed seed and a random one. CREDITD_SEED=<n> replays
// one seed; CREDITD_CONTRACT_SEEDS=<n> runs n random seeds instead (a soak);
// CREDITD_CONTRACT_OPS=<n> changes the number of operations per seed.
func TestDifferential(t *testing.T) {
	seeds := []uint64{20261122, uint64(time.Now().UnixNano())}
	if s := os.Getenv("CREDITD_CONTRACT_SEEDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("CREDITD_CONTRACT_SEEDS: %v", err)
		}
		seeds = nil
		for range n {
			seeds = append(seeds, rand.Uint64()>>1)
		}
	}
	if s := os.Getenv("CREDITD_SEED"); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("CREDITD_SEED: %v", err)
		}
		seeds = []uint64{seed}
	}
	ops := 1500
	if s := os.Getenv("CREDITD_CONTRACT_OPS"); s != "" {
		var err error
		if ops, err = strconv.Atoi(s); err != nil {
			t.Fatalf("CREDITD_CONTRACT_OPS: %v", err)
		}
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			t.Logf("replay with CREDITD_SEED=%d", seed)
			r := newRun(t, seed)
			for i := range ops {
				r.step(i)
				if (i+1)%checkEvery == 0 {
					r.compareAll(fmt.Sprintf("after operation %d", i))
				}
			}
			r.compareAll("at the end")
			t.Logf("%d operations; outcomes: %v", ops, r.stats)
		})
	}
}

// checkEvery is how many operations pass between full comparisons, which
// cost about as much as 50 operations each.
const checkEvery = 100

// side is the application wired on one implementation.
type side struct {
	name     string
	ports    ports
	accounts *application.Accounts
	holds    *application.Holds
	expiry   *application.Expiry
	keys     *application.APIKeys
	// reversals under each shortfall policy, debt first
	reversals [2]*application.Reversals
	janitor   func(retention time.Duration) *application.IdempotencyJanitor
	ids       *countingIDs
	secrets   []string // API key secrets issued on this side, in issue order: random, so per side
}

// countingIDs counts the ids drawn: the use cases take the same path on both
// sides only if they draw as many ids in each operation.
type countingIDs struct {
	ids   memory.SequentialIDs
	drawn atomic.Int64
}

func (c *countingIDs) NewID() [16]byte {
	c.drawn.Add(1)
	return c.ids.NewID()
}

func newSide(name string, p ports, clock application.Clock) *side {
	// Each side has its own generator, started identically: the two make the
	// same ids as long as the use cases ask for ids in the same order.
	ids := &countingIDs{}
	// Every unit of work publishes its events, as in production.
	p.uow = application.Publishing(p.uow, ids, clock, application.NewSettings(p.settings, nil, clock))
	return &side{name: name, ports: p, ids: ids,
		accounts: application.NewAccounts(p.uow, p.queries, clock, ids),
		holds:    application.NewHolds(p.uow, p.queries, clock, ids),
		expiry:   application.NewExpiry(p.uow, p.queries, clock, ids),
		keys:     application.NewAPIKeys(p.keys, clock, ids),
		reversals: [2]*application.Reversals{
			application.NewReversals(p.uow, p.queries, clock, ids, application.ReversalsConfig{Shortfall: domain.ShortfallDebt}),
			application.NewReversals(p.uow, p.queries, clock, ids, application.ReversalsConfig{Shortfall: domain.ShortfallAbsorb}),
		},
		janitor: func(retention time.Duration) *application.IdempotencyJanitor {
			return application.NewIdempotencyJanitor(p.cleaner, clock, retention)
		},
	}
}

// op is one operation, run once on each side; do renders the outcome.
type op struct {
	desc string
	do   func(s *side) string
}

type tenant struct {
	name string
	id   domain.TenantID
}

type account struct {
	tenant domain.TenantID
	id     domain.AccountID
}

func (a account) String() string { return fmt.Sprintf("%s/%s", shortID(a.tenant), a.id) }

type holdRef struct {
	tenant domain.TenantID
	id     domain.HoldID
}

type run struct {
	t     *testing.T
	ctx   context.Context
	seed  uint64
	rng   *rand.Rand
	clock *memory.FixedClock
	sides [2]*side // memory first: the generator reads the state it needs from it
	// peek reads the memory side for the generator. It has ids of its own:
	// a read may draw ids (to settle a copy), and the sides' ids must move
	// only with the operations.
	peek *application.Accounts

	tenants   []tenant
	names     []domain.AccountID
	holds     []holdRef                        // every hold placed
	txIDs     []domain.TransactionID           // transaction ids seen, for cursors
	cursors   map[account]domain.TransactionID // last Next cursor per account
	expiries  []time.Time                      // lot and hold expiries, to reuse and to jump to
	idemCalls []op                             // idempotent operations, to retry
	idemTimes []time.Time                      // when idempotent operations ran, for the janitor's cutoff
	nextKey   int
	apiKeys   []domain.APIKeyID
	log       []string
	stats     map[string]int
}

// unknownTenant has no row anywhere.
var unknownTenant = domain.TenantID{0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0x70, 0, 0x80}

func newRun(t *testing.T, seed uint64) *run {
	clock := memory.NewFixedClock(start)
	r := &run{t: t, ctx: t.Context(), seed: seed, rng: rand.New(rand.NewPCG(seed, 0xc0ffee)), clock: clock,
		cursors: map[account]domain.TransactionID{}, stats: map[string]int{}}
	r.sides = [2]*side{newSide("memory", newMemoryPorts(t, clock), clock), newSide("postgres", newPostgresPorts(t, clock), clock)}
	mem := r.sides[0].ports
	r.peek = application.NewAccounts(mem.uow, mem.queries, clock, &memory.SequentialIDs{})
	for _, n := range []string{"alice", "bob", "carol"} {
		id, err := domain.ParseAccountID(n)
		if err != nil {
			t.Fatal(err)
		}
		r.names = append(r.names, id)
	}
	// Wallets need their tenant to exist (PostgreSQL has a foreign key).
	for _, name := range []string{"acme", "globex"} {
		r.apply(-1, r.createKey(name))
	}
	return r
}

func (r *run) mem() *side { return r.sides[0] }

func (r *run) primary(s *side) bool { return s == r.sides[0] }

func (r *run) now() time.Time { return r.clock.Now() }

// step draws one operation and applies it to both sides.
func (r *run) step(i int) { r.apply(i, r.next()) }

func (r *run) apply(i int, o op) {
	r.t.Helper()
	var outs [2]string
	for k, s := range r.sides {
		before := s.ids.drawn.Load()
		outs[k] = o.do(s)
		outs[k] += fmt.Sprintf(" | drew %d ids", s.ids.drawn.Load()-before)
	}
	r.stats[statKey(o.desc, outs[0])]++
	r.log = append(r.log, fmt.Sprintf("#%d [%s] %s\n      -> %s", i, renderTime(r.now()), o.desc, firstLine(outs[0], 160)))
	if outs[0] != outs[1] {
		r.fail(fmt.Sprintf("operation #%d: %s", i, o.desc), outs)
	}
	if strings.Contains(outs[0], "UNCATEGORIZED") {
		r.fail(fmt.Sprintf("operation #%d: %s: unexpected error", i, o.desc), outs)
	}
}

func (r *run) fail(what string, outs [2]string) {
	r.t.Helper()
	r.t.Fatalf("seed %d (replay with CREDITD_SEED=%d), clock %s\n%s\n%s\nlast operations:\n  %s",
		r.seed, r.seed, renderTime(r.now()), what, difference(outs[0], outs[1]),
		strings.Join(r.log[max(0, len(r.log)-25):], "\n  "))
}

func (r *run) next() op {
	switch r.rng.IntN(20) {
	case 0:
		return r.clawback()
	case 1:
		return r.reverse()
	}
	switch n := r.rng.IntN(103); {
	case n < 14:
		return r.grant(false)
	case n < 25:
		return r.spend(false)
	case n < 34:
		return r.placeHold(false)
	case n < 42:
		return r.capture(false)
	case n < 46:
		return r.release(false)
	case n < 49:
		return r.extend(false)
	case n < 59:
		return r.idempotent()
	case n < 67:
		return r.advance()
	case n < 72:
		return r.expireLots()
	case n < 77:
		return r.expireHolds()
	case n < 82:
		return r.getAccount()
	case n < 89:
		return r.listTransactions()
	case n < 94:
		return r.getHold()
	case n < 98:
		return r.apiKeyOp()
	case n < 99:
		return r.sweep()
	default:
		return r.audit()
	}
}

// --- picking -----------------------------------------------------------

// pickAccount picks one of the known accounts; lookups sometimes pick one
// under a tenant that does not exist.
func (r *run) pickAccount(lookup bool) account {
	name := r.names[r.rng.IntN(len(r.names))]
	if lookup && r.rng.IntN(15) == 0 {
		return account{unknownTenant, name}
	}
	return account{r.tenants[r.rng.IntN(len(r.tenants))].id, name}
}

func (r *run) otherTenant(t domain.TenantID) domain.TenantID {
	if r.rng.IntN(3) == 0 {
		return unknownTenant
	}
	for {
		if o := r.tenants[r.rng.IntN(len(r.tenants))].id; o != t {
			return o
		}
	}
}

// available is what the account could spend now, as the memory side says.
func (r *run) available(a account) int64 {
	v, err := r.peek.GetAccount(r.ctx, a.tenant, a.id)
	if err != nil {
		return 0
	}
	return micro(v.Available)
}

// Amounts are drawn in micro-credits, the domain's 6 places.
const unit = 1_000_000

// micro converts to micro-credits, capped far below the int64 limit: a
// wallet may hold up to 10^18 credits, which is 10^24 micro-credits.
func micro(c domain.Credits) int64 {
	const most = 1 << 60
	if d := c.Decimal().Shift(domain.CreditScale); d.IntPart() < most && d.Cmp(decimal.NewFromInt(most)) < 0 {
		return d.IntPart()
	}
	return most
}

func credits(n int64) domain.Credits {
	sign := ""
	if n < 0 {
		sign, n = "-", -n
	}
	return domain.MustCredits(fmt.Sprintf("%s%d.%06d", sign, n/unit, n%unit))
}

func (r *run) amount() int64 {
	switch r.rng.IntN(5) {
	case 0:
		return (1 + r.rng.Int64N(20)) * unit
	case 1:
		return (1 + r.rng.Int64N(20_000)) * 1000
	case 2:
		return 1 + r.rng.Int64N(10)
	}
	return 1 + r.rng.Int64N(20*unit)
}

// around picks an amount near limit: below it, at it, just over, or anything.
func (r *run) around(limit int64) int64 {
	switch n := r.rng.IntN(20); {
	case limit > 0 && n < 10:
		return 1 + r.rng.Int64N(limit)
	case limit > 0 && n < 14:
		return limit
	case n < 16:
		return limit + 1
	case n < 17:
		return []int64{0, -1}[r.rng.IntN(2)] // refused
	}
	return r.amount()
}

func (r *run) memo() domain.Memo {
	m := domain.Memo{Reason: []string{"", "top-up", "café ☕", `quote " and \ backslash`}[r.rng.IntN(4)]}
	switch r.rng.IntN(4) {
	case 0:
		m.Metadata = domain.Metadata{}
	case 1:
		m.Metadata = domain.Metadata{"order": strconv.Itoa(r.rng.IntN(1000)), "ünï": "✓", "empty": ""}
	}
	return m
}

// expiry picks a future instant, often one already in use, so expiries tie.
func (r *run) expiry() time.Time {
	now := r.now()
	if len(r.expiries) > 0 && r.rng.IntN(5) == 0 {
		if e := r.expiries[r.rng.IntN(len(r.expiries))]; e.After(now) {
			return e
		}
	}
	if r.rng.IntN(3) == 0 {
		return now.Add(time.Duration(1+r.rng.Int64N(2*3600*1_000_000)) * time.Microsecond)
	}
	return now.Add(time.Duration(1+r.rng.IntN(120)) * time.Minute)
}

func (r *run) remember(e time.Time) {
	if !slices.ContainsFunc(r.expiries, e.Equal) {
		r.expiries = append(r.expiries, e)
	}
}

// pickHold prefers holds that can still be captured or released.
func (r *run) pickHold() (holdRef, *domain.Hold) {
	if len(r.holds) == 0 {
		return holdRef{r.tenants[0].id, domain.HoldID{0xdd, 6: 0x70, 8: 0x80}}, nil
	}
	var open []holdRef
	for _, ref := range r.holds {
		if h, err := r.mem().holds.Get(r.ctx, ref.tenant, ref.id); err == nil && h.Status().IsOpen() && !h.IsDue(r.now()) {
			open = append(open, ref)
		}
	}
	ref := r.holds[r.rng.IntN(len(r.holds))]
	if len(open) > 0 && r.rng.IntN(4) > 0 {
		ref = open[r.rng.IntN(len(open))]
	}
	h, _ := r.mem().holds.Get(r.ctx, ref.tenant, ref.id)
	return ref, h.Hold
}

// --- idempotency ---------------------------------------------------------

// idemSpec is the key and fingerprint an idempotent request carries.
type idemSpec struct {
	tenant      domain.TenantID
	key         string
	fingerprint []byte
}

func (s idemSpec) String() string { return fmt.Sprintf("key %q fp %q", s.key, s.fingerprint) }

// idemFor gives an idempotent request of tenant a key: usually a fresh one,
// sometimes one used before (by any kind of request, of any tenant), and a
// fingerprint: the request's own, sometimes another, sometimes empty.
func (r *run) idemFor(tenant domain.TenantID, request string) idemSpec {
	spec := idemSpec{tenant: tenant, key: fmt.Sprintf("k%d", r.nextKey), fingerprint: []byte(request)}
	if len(r.idemCalls) > 0 && r.rng.IntN(3) == 0 {
		spec.key = fmt.Sprintf("k%d", r.rng.IntN(r.nextKey))
	} else {
		r.nextKey++
	}
	switch r.rng.IntN(12) {
	case 0:
		spec.fingerprint = []byte{} // empty, not nil: see TestIdempotencyNilFingerprint
	case 1:
		spec.fingerprint = []byte("a fingerprint shared by unrelated requests")
	}
	return spec
}

func encode[T any](render func(T) string) func(T, error) (application.Receipt, error) {
	return func(v T, rejection error) (application.Receipt, error) {
		if rejection != nil {
			status := map[string]int{"invalid input": 400, "not found": 404}[category(rejection)]
			return application.Receipt{Status: cmpOr(status, 422), Body: []byte(category(rejection))}, nil
		}
		return application.Receipt{Status: 201, Body: []byte(render(v))}, nil
	}
}

func cmpOr(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}

func idem[T any](spec *idemSpec, render func(T) string) *application.Idempotency[T] {
	if spec == nil {
		return nil
	}
	return &application.Idempotency[T]{Key: spec.key, Fingerprint: spec.fingerprint, Encode: encode(render)}
}

// idempotent draws an idempotent request, or retries an earlier one as is.
func (r *run) idempotent() op {
	if len(r.idemTimes) == 0 || !r.idemTimes[len(r.idemTimes)-1].Equal(r.now()) {
		r.idemTimes = append(r.idemTimes, r.now())
	}
	if len(r.idemCalls) > 0 && r.rng.IntN(3) == 0 {
		o := r.idemCalls[r.rng.IntN(len(r.idemCalls))]
		return op{desc: "retry " + o.desc, do: o.do}
	}
	var o op
	switch r.rng.IntN(6) {
	case 0:
		o = r.grant(true)
	case 1:
		o = r.spend(true)
	case 2:
		o = r.placeHold(true)
	case 3:
		o = r.capture(true)
	case 4:
		o = r.extend(true)
	default:
		o = r.release(true)
	}
	r.idemCalls = append(r.idemCalls, o)
	return o
}

func withIdem(desc string, spec *idemSpec) string {
	if spec == nil {
		return desc
	}
	return desc + " with " + spec.String()
}

func result(err error, parts ...string) string {
	return category(err) + " | " + strings.Join(parts, " | ")
}

// --- operations ------------------------------------------------------------

func (r *run) grant(idempotent bool) op {
	a := r.pickAccount(false)
	amount := credits(r.amount())
	switch r.rng.IntN(50) {
	case 0:
		amount = credits(0) // refused
	case 1:
		amount = domain.MustCredits("500000000000000000") // half the balance limit
	case 2:
		amount = domain.MustCredits("999999999999999999.999999") // the largest balance there may be
	}
	cmd := application.GrantCommand{Tenant: a.tenant, Account: a.id, Amount: amount, Source: domain.LotBonus,
		Priority: []int{0, 10, 50, 50, 100}[r.rng.IntN(5)], Memo: r.memo()}
	if r.rng.IntN(2) == 0 {
		cmd.Source = domain.LotPaid
	}
	if r.rng.IntN(40) == 0 {
		cmd.Priority = []int{-1, 101}[r.rng.IntN(2)] // refused
	}
	switch n := r.rng.IntN(20); {
	case n < 9:
		e := r.expiry()
		cmd.ExpiresAt = &e
		r.remember(e)
	case n < 10:
		e := r.now().Add(-time.Duration(r.rng.IntN(60)) * time.Second) // refused: not in the future
		cmd.ExpiresAt = &e
	}
	switch r.rng.IntN(3) {
	case 0:
		cmd.Funding, _ = domain.NewFunding(domain.FundedExternally, fmt.Sprintf("pay_%d", r.rng.IntN(1000)))
	case 1:
		cmd.Funding, _ = domain.NewFunding(domain.FundedExternally, fmt.Sprintf("인보이스 %d", r.rng.IntN(1000)))
	}
	desc := fmt.Sprintf("grant %s %s prio %d expires %s to %s memo %s funding %s", cmd.Amount, cmd.Source, cmd.Priority,
		renderTimePtr(cmd.ExpiresAt), a, renderMemo(cmd.Memo), renderFunding(cmd.Funding))
	var spec *idemSpec
	if idempotent {
		s := r.idemFor(a.tenant, desc)
		spec = &s
	}
	return op{desc: withIdem(desc, spec), do: func(s *side) string {
		tx, receipt, err := s.accounts.Grant(r.ctx, cmd, idem(spec, renderTx))
		if err == nil && r.primary(s) && tx.ID() != (domain.TransactionID{}) {
			r.txIDs = append(r.txIDs, tx.ID())
		}
		return result(err, renderTx(tx), renderReceipt(receipt))
	}}
}

func (r *run) spend(idempotent bool) op {
	a := r.pickAccount(true)
	cmd := application.SpendCommand{Tenant: a.tenant, Account: a.id, Amount: credits(r.around(r.available(a))), Memo: r.memo()}
	desc := fmt.Sprintf("spend %s from %s", cmd.Amount, a)
	var spec *idemSpec
	if idempotent {
		s := r.idemFor(a.tenant, desc)
		spec = &s
	}
	return op{desc: withIdem(desc, spec), do: func(s *side) string {
		tx, receipt, err := s.accounts.Spend(r.ctx, cmd, idem(spec, renderTx))
		if err == nil && r.primary(s) && tx.ID() != (domain.TransactionID{}) {
			r.txIDs = append(r.txIDs, tx.ID()) // to reverse
		}
		return result(err, renderTx(tx), renderReceipt(receipt))
	}}
}

// clawback takes credits back, under either policy, for the funding of one
// of the account's lots (or for one no lot names), around what that lot has.
func (r *run) clawback() op {
	a := r.pickAccount(true)
	funding, _ := domain.NewFunding(domain.FundedExternally, fmt.Sprintf("pay_%d", r.rng.IntN(1000)))
	var left int64
	if v, err := r.peek.GetAccount(r.ctx, a.tenant, a.id); err == nil && len(v.Lots) > 0 && r.rng.IntN(5) > 0 {
		l := v.Lots[r.rng.IntN(len(v.Lots))]
		if !l.Funding().IsZero() {
			funding = l.Funding()
		}
		left = micro(l.Remaining())
	}
	cmd := application.ClawbackCommand{Tenant: a.tenant, Account: a.id, Funding: funding, Amount: credits(r.around(left)),
		Policy: []domain.ShortfallPolicy{domain.ShortfallDebt, domain.ShortfallAbsorb}[r.rng.IntN(2)], Memo: r.memo()}
	desc := fmt.Sprintf("clawback %s of %s from %s under %s memo %s", cmd.Amount, renderFunding(cmd.Funding), a, cmd.Policy, renderMemo(cmd.Memo))
	return op{desc: desc, do: func(s *side) string {
		out, receipt, err := s.accounts.Clawback(r.ctx, cmd, nil)
		res := out.Result
		return result(err, renderTx(out.Transaction), fmt.Sprintf("funded %s other %s debt %s absorbed %s", res.FromFunded, res.FromOther, res.Debt, res.Absorbed),
			renderReceipt(receipt))
	}}
}

// reverse reverses part or all of a transaction seen (of any type, so
// refusals too), as one of the tenants, under either shortfall policy.
func (r *run) reverse() op {
	tx := domain.TransactionID{0xee, 6: 0x70, 8: 0x80} // no such transaction
	if len(r.txIDs) > 0 && r.rng.IntN(15) > 0 {
		tx = r.txIDs[len(r.txIDs)-1-r.rng.IntN(min(len(r.txIDs), 8))] // mostly recent ones
	}
	cmd := application.ReverseCommand{Tenant: r.tenants[r.rng.IntN(len(r.tenants))].id, Transaction: tx, Memo: r.memo()}
	if r.rng.IntN(3) > 0 {
		a := credits(r.amount())
		cmd.Amount = &a
	}
	policy := r.rng.IntN(2)
	amount := "all"
	if cmd.Amount != nil {
		amount = cmd.Amount.String()
	}
	desc := fmt.Sprintf("reverse %s of %s as %s under %s", amount, shortID(tx), shortID(cmd.Tenant), []string{"debt", "absorb"}[policy])
	return op{desc: desc, do: func(s *side) string {
		rev, receipt, err := s.reversals[policy].Reverse(r.ctx, cmd, nil)
		of := "-"
		if o := rev.ReversalOf(); o != nil {
			of = o.String()
		}
		return result(err, renderTx(rev), "reverses "+of, renderReceipt(receipt))
	}}
}

func (r *run) placeHold(idempotent bool) op {
	a := r.pickAccount(true)
	cmd := application.PlaceHoldCommand{Tenant: a.tenant, Account: a.id, Amount: credits(r.around(r.available(a))), Memo: r.memo()}
	switch n := r.rng.IntN(30); {
	case n < 1:
		cmd.ExpiresIn = time.Duration(r.rng.IntN(1000)) * time.Millisecond // refused: under a second
	case n < 2:
		cmd.ExpiresIn = domain.MaxHoldDuration + time.Duration(r.rng.IntN(2))*time.Microsecond // at or just over the limit
	default:
		cmd.ExpiresIn = r.expiry().Sub(r.now())
	}
	desc := fmt.Sprintf("hold %s on %s for %s", cmd.Amount, a, cmd.ExpiresIn)
	var spec *idemSpec
	if idempotent {
		s := r.idemFor(a.tenant, desc)
		spec = &s
	}
	return op{desc: withIdem(desc, spec), do: func(s *side) string {
		h, receipt, err := s.holds.Place(r.ctx, cmd, idem(spec, renderHold))
		if err == nil && h.Hold != nil && r.primary(s) {
			r.holds = append(r.holds, holdRef{a.tenant, h.ID()})
			r.remember(h.ExpiresAt())
		}
		return result(err, renderHold(h), renderReceipt(receipt))
	}}
}

func (r *run) capture(idempotent bool) op {
	ref, h := r.pickHold()
	var left int64
	if h != nil {
		left = micro(h.Remaining())
	}
	cmd := application.CaptureCommand{Tenant: ref.tenant, Hold: ref.id, Amount: credits(r.around(left))}
	if r.rng.IntN(20) == 0 {
		cmd.Tenant = r.otherTenant(ref.tenant)
	}
	desc := fmt.Sprintf("capture %s of hold %s (%s left) as %s", cmd.Amount, shortID(ref.id), credits(left), shortID(cmd.Tenant))
	var spec *idemSpec
	if idempotent {
		s := r.idemFor(cmd.Tenant, desc)
		spec = &s
	}
	render := func(c application.Capture) string { return renderHold(c.Hold) + " | " + renderTx(c.Transaction) }
	return op{desc: withIdem(desc, spec), do: func(s *side) string {
		c, receipt, err := s.holds.Capture(r.ctx, cmd, idem(spec, render))
		return result(err, render(c), renderReceipt(receipt))
	}}
}

func (r *run) release(idempotent bool) op {
	ref, _ := r.pickHold()
	cmd := application.ReleaseCommand{Tenant: ref.tenant, Hold: ref.id}
	if r.rng.IntN(20) == 0 {
		cmd.Tenant = r.otherTenant(ref.tenant)
	}
	desc := fmt.Sprintf("release hold %s as %s", shortID(ref.id), shortID(cmd.Tenant))
	var spec *idemSpec
	if idempotent {
		s := r.idemFor(cmd.Tenant, desc)
		spec = &s
	}
	return op{desc: withIdem(desc, spec), do: func(s *side) string {
		h, receipt, err := s.holds.Release(r.ctx, cmd, idem(spec, renderHold))
		return result(err, renderHold(h), renderReceipt(receipt))
	}}
}

// extend gives a hold more time: usually an open one, sometimes one that is
// closed or due (refused), sometimes as another tenant (not found), now and
// then for less than it has left (kept) or outside the bounds (refused).
func (r *run) extend(idempotent bool) op {
	ref, h := r.pickHold()
	cmd := application.ExtendHoldCommand{Tenant: ref.tenant, Hold: ref.id}
	switch n := r.rng.IntN(30); {
	case n < 1:
		cmd.ExpiresIn = time.Duration(r.rng.IntN(1000)) * time.Millisecond // refused: under a second
	case n < 2:
		cmd.ExpiresIn = domain.MaxHoldDuration + time.Duration(r.rng.IntN(2))*time.Microsecond // at or just over the limit
	case n < 5 && h != nil && h.ExpiresAt().After(r.now().Add(domain.MinHoldDuration)):
		cmd.ExpiresIn = h.ExpiresAt().Sub(r.now()) - time.Duration(r.rng.IntN(2))*time.Microsecond // no later: kept as is
	default:
		cmd.ExpiresIn = r.expiry().Sub(r.now())
	}
	if r.rng.IntN(20) == 0 {
		cmd.Tenant = r.otherTenant(ref.tenant)
	}
	status := "unknown"
	if h != nil {
		status = h.StatusAt(r.now()).String()
	}
	desc := fmt.Sprintf("extend hold %s (%s) by %s as %s", shortID(ref.id), status, cmd.ExpiresIn, shortID(cmd.Tenant))
	var spec *idemSpec
	if idempotent {
		s := r.idemFor(cmd.Tenant, desc)
		spec = &s
	}
	return op{desc: withIdem(desc, spec), do: func(s *side) string {
		h, receipt, err := s.holds.Extend(r.ctx, cmd, idem(spec, renderHold))
		if err == nil && h.Hold != nil && r.primary(s) {
			r.remember(h.ExpiresAt())
		}
		return result(err, renderHold(h), renderReceipt(receipt))
	}}
}

// advance moves the shared clock: by a while, by a few microseconds, or
// onto (or just before) the next lot or hold expiry, where "due" flips.
func (r *run) advance() op {
	var to time.Time
	now := r.now()
	switch n := r.rng.IntN(20); {
	case n < 8:
		to = now.Add(time.Duration(1+r.rng.IntN(90*60)) * time.Second)
	case n < 11:
		to = now.Add(time.Duration(1+r.rng.IntN(10_000_000)) * time.Microsecond)
	default:
		to = now.Add(time.Minute) // when nothing is left to expire
		found := false
		for _, e := range r.expiries {
			if e.After(now) && (!found || e.Before(to)) {
				to, found = e, true
			}
		}
		if n < 13 && to.Sub(now) > time.Microsecond {
			to = to.Add(-time.Microsecond)
		}
	}
	return op{desc: fmt.Sprintf("clock to %s (+%s)", renderTime(to), to.Sub(now)), do: func(s *side) string {
		if r.primary(s) { // one clock for both sides
			r.clock.Set(to)
		}
		return r.due(s)
	}}
}

// due renders what the repositories say is due at now, in a canonical
// order (the ports promise none): the clock often lands right on an expiry.
func (r *run) due(s *side) string {
	wallets, err := s.ports.queries.Wallets.DueForExpiry(r.ctx, r.now(), 1000)
	if err != nil {
		return result(err)
	}
	holds, err := s.ports.queries.Holds.Due(r.ctx, r.now(), 1000)
	if err != nil {
		return result(err)
	}
	var ws, hs []string
	for _, w := range wallets {
		ws = append(ws, account{w.Tenant, w.Account}.String())
	}
	for _, h := range holds {
		hs = append(hs, shortID(h.Tenant)+"/"+shortID(h.Hold))
	}
	slices.Sort(ws)
	slices.Sort(hs)
	return result(nil, "wallets due "+strings.Join(ws, " "), "holds due "+strings.Join(hs, " "))
}

func (r *run) batch() int {
	if r.rng.IntN(5) == 0 {
		return 1 + r.rng.IntN(2)
	}
	return 100
}

func (r *run) expireLots() op {
	batch := r.batch()
	return op{desc: fmt.Sprintf("expire lots, batch %d", batch), do: func(s *side) string {
		sw, err := s.expiry.ExpireLots(r.ctx, batch)
		return result(err, sweepResult(sw), r.newest(s))
	}}
}

func (r *run) expireHolds() op {
	batch := r.batch()
	return op{desc: fmt.Sprintf("expire holds, batch %d", batch), do: func(s *side) string {
		sw, err := s.expiry.ExpireHolds(r.ctx, batch)
		return result(err, sweepResult(sw))
	}}
}

func sweepResult(s application.Sweep) string {
	return fmt.Sprintf("%d due (oldest %s), %d wallets changed", s.Due, s.OldestDue.Format(time.RFC3339Nano), s.Changed)
}

// newest renders every account's newest transaction: a sweep's result is
// a count, and this shows which wallets it changed and with which ids.
func (r *run) newest(s *side) string {
	var out []string
	for _, a := range r.accounts() {
		page, err := s.accounts.ListTransactions(r.ctx, a.tenant, a.id, 1, nil)
		if err == nil && len(page.Items) > 0 {
			t := page.Items[0]
			out = append(out, fmt.Sprintf("%s: %s %s %s", a, shortID(t.ID()), t.Type(), t.Amount()))
		}
	}
	return "newest: " + strings.Join(out, ", ")
}

// accounts are all the accounts operations may open.
func (r *run) accounts() []account {
	var out []account
	for _, t := range r.tenants {
		for _, n := range r.names {
			out = append(out, account{t.id, n})
		}
	}
	return out
}

func (r *run) getAccount() op {
	a := r.pickAccount(true)
	return op{desc: fmt.Sprintf("get account %s", a), do: func(s *side) string {
		v, err := s.accounts.GetAccount(r.ctx, a.tenant, a.id)
		return result(err, renderView(v))
	}}
}

func (r *run) listTransactions() op {
	a := r.pickAccount(true)
	limit := 1 + r.rng.IntN(7)
	if r.rng.IntN(30) == 0 {
		limit = []int{0, application.MaxPageSize + 1}[r.rng.IntN(2)] // refused
	}
	var cursor *domain.TransactionID
	switch n := r.rng.IntN(20); {
	case n < 8:
		if c, ok := r.cursors[a]; ok {
			cursor = &c
		}
	case n < 11 && len(r.txIDs) > 0:
		c := r.txIDs[r.rng.IntN(len(r.txIDs))] // possibly another account's
		cursor = &c
	case n < 12:
		c := domain.TransactionID{0xff, 0xff, 6: 0x70, 8: 0x80} // after every id made
		cursor = &c
	}
	desc := fmt.Sprintf("list transactions of %s, limit %d, after %v", a, limit, cursor)
	return op{desc: desc, do: func(s *side) string {
		page, err := s.accounts.ListTransactions(r.ctx, a.tenant, a.id, limit, cursor)
		if err == nil && r.primary(s) {
			if page.Next != nil {
				r.cursors[a] = *page.Next
			} else {
				delete(r.cursors, a)
			}
			for _, tx := range page.Items {
				if !slices.Contains(r.txIDs, tx.ID()) {
					r.txIDs = append(r.txIDs, tx.ID())
				}
			}
		}
		return result(err, renderPage(page), renderReversals(page))
	}}
}

// renderReversals is what a page says reversals link, in the page's order.
func renderReversals(p application.HistoryPage) string {
	var out []string
	for _, t := range p.Items {
		if info, ok := p.Reversals[t.ID()]; ok {
			of := "-"
			if info.Of != nil {
				of = info.Of.String()
			}
			out = append(out, fmt.Sprintf("%s: of %s reversed %s by %v", t.ID(), of, info.Reversed, info.By))
		}
	}
	return "reversals [" + strings.Join(out, "; ") + "]"
}

func (r *run) getHold() op {
	ref, _ := r.pickHold()
	tenant := ref.tenant
	if r.rng.IntN(8) == 0 {
		tenant = r.otherTenant(tenant)
	}
	return op{desc: fmt.Sprintf("get hold %s as %s", shortID(ref.id), shortID(tenant)), do: func(s *side) string {
		h, err := s.holds.Get(r.ctx, tenant, ref.id)
		return result(err, renderHold(h))
	}}
}

func (r *run) createKey(tenantName string) op {
	name, err := domain.ParseTenantName(tenantName)
	if err != nil {
		r.t.Fatal(err)
	}
	var scopes []domain.Scope
	for _, sc := range domain.AllScopes {
		if r.rng.IntN(2) == 0 {
			scopes = append(scopes, sc)
		}
	}
	return op{desc: fmt.Sprintf("create API key for %s with scopes %v", name, scopes), do: func(s *side) string {
		k, err := s.keys.Create(r.ctx, name, scopes)
		if err == nil {
			s.secrets = append(s.secrets, k.Secret)
			if r.primary(s) {
				r.apiKeys = append(r.apiKeys, k.ID)
				if !slices.ContainsFunc(r.tenants, func(t tenant) bool { return t.id == k.Tenant }) {
					r.tenants = append(r.tenants, tenant{tenantName, k.Tenant})
				}
			}
		}
		return result(err, fmt.Sprintf("key %s tenant %s scopes %v", k.ID, k.Tenant, k.Scopes))
	}}
}

func (r *run) apiKeyOp() op {
	switch n := r.rng.IntN(10); {
	case n < 2 || len(r.apiKeys) == 0:
		return r.createKey([]string{"acme", "globex", "initech"}[r.rng.IntN(3)])
	case n < 7:
		i := r.rng.IntN(len(r.apiKeys))
		garbage := []string{"", "cdk_", "cdk_nosuchkey", "not-a-key"}[r.rng.IntN(4)]
		wrong := r.rng.IntN(5) == 0
		desc := fmt.Sprintf("authenticate with key #%d", i)
		if wrong {
			desc = fmt.Sprintf("authenticate with %q", garbage)
		}
		return op{desc: desc, do: func(s *side) string {
			secret := s.secrets[i]
			if wrong {
				secret = garbage
			}
			p, err := s.keys.Authenticate(r.ctx, secret)
			return result(err, fmt.Sprintf("tenant %s key %s scopes %v", p.Tenant, p.Key, p.Scopes))
		}}
	default:
		id := domain.APIKeyID{0xab, 6: 0x70, 8: 0x80}
		if r.rng.IntN(6) > 0 {
			id = r.apiKeys[r.rng.IntN(len(r.apiKeys))]
		}
		return op{desc: fmt.Sprintf("revoke API key %s", shortID(id)), do: func(s *side) string {
			return result(s.keys.Revoke(r.ctx, id))
		}}
	}
}

func (r *run) sweep() op {
	retention := time.Duration(10+r.rng.IntN(180)) * time.Minute
	if len(r.idemTimes) > 0 && r.rng.IntN(2) == 0 {
		// A cutoff right on a record's creation time: that record stays.
		retention = r.now().Sub(r.idemTimes[r.rng.IntN(len(r.idemTimes))])
	}
	return op{desc: fmt.Sprintf("forget idempotency records older than %s", retention), do: func(s *side) string {
		n, err := s.janitor(retention).Sweep(r.ctx)
		return result(err, fmt.Sprintf("%d records", n))
	}}
}

func (r *run) audit() op {
	return op{desc: "audit", do: func(s *side) string {
		report, err := s.ports.auditor.Audit(r.ctx)
		return result(err, fmt.Sprintf("%d wallets, %d transactions, drifts %q", report.Wallets, report.Transactions, report.Drifts))
	}}
}

// --- full comparison -------------------------------------------------------

// compareAll compares everything either side stores: every account as a
// client reads it and as stored, every history, every hold, what is due for
// expiry now, and the audit, which must be clean.
func (r *run) compareAll(when string) {
	r.t.Helper()
	var outs [2]string
	for k, s := range r.sides {
		var b strings.Builder
		for _, a := range append(r.accounts(), account{unknownTenant, r.names[0]}) {
			v, err := s.accounts.GetAccount(r.ctx, a.tenant, a.id)
			fmt.Fprintf(&b, "%s: view %s\n", a, result(err, renderView(v)))
			w, err := s.ports.queries.Wallets.Get(r.ctx, a.tenant, a.id)
			stored := "no wallet"
			if err == nil {
				stored = renderWallet(w)
			}
			fmt.Fprintf(&b, "%s: stored %s\n", a, result(err, stored))
			fmt.Fprintf(&b, "%s: history %s\n", a, r.history(s, a))
		}
		for _, ref := range r.holds {
			h, err := s.holds.Get(r.ctx, ref.tenant, ref.id)
			fmt.Fprintf(&b, "%s\n", result(err, renderHold(h)))
		}
		fmt.Fprintf(&b, "%s\n", r.due(s))
		report, err := s.ports.auditor.Audit(r.ctx)
		if err == nil && len(report.Drifts) > 0 {
			r.t.Fatalf("seed %d %s: %s audit drifts:\n  %s\nlast operations:\n  %s", r.seed, when, s.name,
				strings.Join(report.Drifts, "\n  "), strings.Join(r.log[max(0, len(r.log)-25):], "\n  "))
		}
		fmt.Fprintf(&b, "audit: %s\n", result(err, fmt.Sprintf("%d wallets, %d transactions", report.Wallets, report.Transactions)))
		events, err := s.ports.outbox(r.ctx)
		fmt.Fprintf(&b, "outbox: %s\n", result(err, strings.Join(events, "\n")))
		outs[k] = b.String()
	}
	if outs[0] != outs[1] {
		r.fail("full comparison "+when, outs)
	}
}

// history reads an account's whole history, page by page.
func (r *run) history(s *side, a account) string {
	var all []domain.Transaction
	var cursor *domain.TransactionID
	for {
		page, err := s.accounts.ListTransactions(r.ctx, a.tenant, a.id, application.MaxPageSize, cursor)
		if err != nil {
			return result(err)
		}
		all = append(all, page.Items...)
		if cursor = page.Next; cursor == nil {
			return result(nil, renderTxs(all))
		}
	}
}

// --- text helpers ----------------------------------------------------------

var receiptStatus = regexp.MustCompile(`receipt (\d+) .* replayed (true|false)`)

// statKey sums an outcome up for the statistics shown with -v.
func statKey(desc, out string) string {
	key := strings.Fields(desc)[0] + ": " + strings.SplitN(out, " |", 2)[0]
	if m := receiptStatus.FindStringSubmatch(out); m != nil {
		key += ", receipt " + m[1]
		if m[2] == "true" {
			key += " replayed"
		}
	}
	return key
}

// shortID is the part of a SequentialIDs id that varies.
func shortID[T ~[16]byte](id T) string { return fmt.Sprintf("%x", id[:6]) }

func firstLine(s string, n int) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + " …"
	}
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}

// difference shows two renderings side by side: whole when they are one
// line, else only the lines that differ.
func difference(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	if len(al) == 1 && len(bl) == 1 {
		return fmt.Sprintf("  memory:   %s\n  postgres: %s", a, b)
	}
	var out []string
	for i := range max(len(al), len(bl)) {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			out = append(out, fmt.Sprintf("  line %d\n    memory:   %s\n    postgres: %s", i+1, x, y))
		}
		if len(out) == 8 {
			out = append(out, "  …")
			break
		}
	}
	return strings.Join(out, "\n")
}
