package application_test

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// TestRandomOperations applies thousands of random operations and, after
// each one, checks the ledger's invariants (with the Auditor and
// Wallet.CheckInvariants) and compares everything against a model: a small,
// separate implementation of the rules in integer micro-credits. The seed is
// random; CREDITD_SEED=<n> replays a failing run.
func TestRandomOperations(t *testing.T) {
	seed := time.Now().UnixNano()
	if s := os.Getenv("CREDITD_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseInt(s, 10, 64); err != nil {
			t.Fatalf("CREDITD_SEED: %v", err)
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("replay with CREDITD_SEED=%d", seed)
		}
	})
	// Many short runs rather than one long one: each starts from an empty
	// ledger, and the audit after every operation stays cheap.
	episodes, ops := 25, 200
	if testing.Short() {
		episodes = 5
	}
	outcomes := map[string]int{} // what the run exercised, shown with -v
	defer func() { t.Logf("outcomes: %v", outcomes) }()
	for ep := range episodes {
		r := newRun(t, seed+int64(ep))
		r.outcomes = outcomes
		for i := range ops {
			desc := r.step()
			r.log = append(r.log, desc)
			if err := r.check(); err != nil {
				t.Fatalf("episode %d, operation %d (%s): %v\nlast operations:\n  %s", ep, i, desc, err,
					strings.Join(r.log[max(0, len(r.log)-15):], "\n  "))
			}
		}
		if err := r.checkHistory(); err != nil {
			t.Fatalf("episode %d: history: %v", ep, err)
		}
	}
}

// Amounts in the model are int64 micro-credits (the domain's 6 places).
const unit = 1_000_000

type mLot struct {
	id        domain.LotID
	seq       int // creation order, which is id order with sequential ids
	priority  int
	expiresAt *time.Time
	createdAt time.Time
	remaining int64
	held      int64
}

func (l *mLot) expired(now time.Time) bool { return l.expiresAt != nil && !now.Before(*l.expiresAt) }

func (l *mLot) free(now time.Time) int64 {
	if l.expired(now) {
		return 0
	}
	return l.remaining - l.held
}

// consumptionOrder is written out again here rather than borrowed from the domain.
func consumptionOrder(a, b *mLot) int {
	if a.priority != b.priority {
		return cmp.Compare(a.priority, b.priority)
	}
	switch {
	case a.expiresAt == nil && b.expiresAt != nil:
		return 1
	case a.expiresAt != nil && b.expiresAt == nil:
		return -1
	case a.expiresAt != nil:
		if c := a.expiresAt.Compare(*b.expiresAt); c != 0 {
			return c
		}
	}
	if c := a.createdAt.Compare(b.createdAt); c != 0 {
		return c
	}
	return cmp.Compare(a.seq, b.seq)
}

type mAccount struct {
	tenant  domain.TenantID
	account domain.AccountID
	lots    []*mLot // all, emptied ones too
	txs     int
}

// ordered returns the lots with credits left, in consumption order.
func (a *mAccount) ordered() []*mLot {
	var out []*mLot
	for _, l := range a.lots {
		if l.remaining > 0 {
			out = append(out, l)
		}
	}
	slices.SortFunc(out, consumptionOrder)
	return out
}

func (a *mAccount) sum(f func(*mLot) int64) int64 {
	var n int64
	for _, l := range a.lots {
		n += f(l)
	}
	return n
}

func (a *mAccount) balance() int64 { return a.sum(func(l *mLot) int64 { return l.remaining }) }
func (a *mAccount) held() int64    { return a.sum(func(l *mLot) int64 { return l.held }) }

// expire moves the free credits of expired lots out, as every wallet write does first.
func (a *mAccount) expire(now time.Time) bool {
	did := false
	for _, l := range a.lots {
		if l.expired(now) && l.remaining > l.held {
			l.remaining, did = l.held, true
		}
	}
	if did {
		a.txs++
	}
	return did
}

// take removes amount from the free credits of the lots in consumption order.
func (a *mAccount) take(amount int64, now time.Time, f func(l *mLot, n int64)) {
	for _, l := range a.ordered() {
		n := min(l.free(now), amount)
		if n <= 0 {
			continue
		}
		f(l, n)
		if amount -= n; amount == 0 {
			return
		}
	}
}

type mAlloc struct {
	lot    *mLot
	amount int64
}

type mHold struct {
	id        domain.HoldID
	tenant    domain.TenantID
	acc       *mAccount
	amount    int64
	captured  int64
	status    domain.HoldStatus
	expiresAt time.Time
	allocs    []mAlloc
}

func (h *mHold) remaining() int64 {
	var n int64
	for _, a := range h.allocs {
		n += a.amount
	}
	return n
}

func (h *mHold) due(now time.Time) bool { return h.status.IsOpen() && !now.Before(h.expiresAt) }

// free releases what the hold still reserves.
func (h *mHold) free(status domain.HoldStatus) {
	for _, a := range h.allocs {
		a.lot.held -= a.amount
	}
	h.allocs, h.status = nil, status
}

// dueHeld is what holds past their expiry still reserve on l: every wallet
// write and every read frees them first.
func (r *run) dueHeld(l *mLot) int64 {
	var n int64
	for _, h := range r.mholds {
		if h.due(r.now()) {
			for _, a := range h.allocs {
				if a.lot == l {
					n += a.amount
				}
			}
		}
	}
	return n
}

// spendable is what a spend could take once acc is settled, without settling it.
func (r *run) spendable(acc *mAccount) int64 {
	var n int64
	for _, l := range acc.lots {
		if !l.expired(r.now()) {
			n += l.remaining - (l.held - r.dueHeld(l))
		}
	}
	return n
}

// settle frees acc's due holds, then expires its lots, as every wallet write
// does first; it reports whether anything changed.
func (r *run) settle(acc *mAccount) bool {
	did := false
	for _, h := range r.mholds {
		if h.acc == acc && h.due(r.now()) {
			h.free(domain.HoldExpired)
			did = true
		}
	}
	return acc.expire(r.now()) || did
}

type idemCall struct {
	key, fingerprint string
	acc              *mAccount
	amount           int64
	receipt          *application.Receipt
}

type run struct {
	*env
	rng       *rand.Rand
	tenants   []domain.TenantID
	maccounts []*mAccount // every account the run may touch; wallet exists once opened
	opened    map[*mAccount]bool
	mholds    []*mHold
	calls     []idemCall
	lotSeq    int
	log       []string
	outcomes  map[string]int
}

func newRun(t *testing.T, seed int64) *run {
	e := newEnv(t)
	r := &run{env: e, rng: rand.New(rand.NewPCG(uint64(seed), 0x5eed)), opened: map[*mAccount]bool{}}
	r.tenants = []domain.TenantID{e.tenant, domain.TenantID(e.ids.NewID())}
	for _, tenant := range r.tenants {
		for _, name := range []string{"a", "b"} {
			r.maccounts = append(r.maccounts, &mAccount{tenant: tenant, account: acct(name)})
		}
	}
	return r
}

func (r *run) now() time.Time { return r.clock.Now() }

// amount picks a positive amount, often round, sometimes at the smallest unit.
func (r *run) amount() int64 {
	switch r.rng.IntN(4) {
	case 0:
		return (1 + r.rng.Int64N(20)) * unit
	case 1:
		return (1 + r.rng.Int64N(20_000)) * 1000
	case 2:
		return 1 + r.rng.Int64N(10)
	}
	return 1 + r.rng.Int64N(20*unit)
}

// around picks an amount near limit: below it, at it, or just over.
func (r *run) around(limit int64) int64 {
	switch n := r.rng.IntN(10); {
	case limit > 0 && n < 5:
		return 1 + r.rng.Int64N(limit)
	case limit > 0 && n < 7:
		return limit
	case n < 8:
		return limit + 1
	}
	return r.amount()
}

func (r *run) step() string {
	acc := r.maccounts[r.rng.IntN(len(r.maccounts))]
	switch n := r.rng.IntN(100); {
	case n < 22:
		return r.grant(acc)
	case n < 42:
		return r.spend(acc)
	case n < 50:
		return r.idempotentSpend(acc)
	case n < 62:
		return r.placeHold(acc)
	case n < 74:
		return r.capture()
	case n < 80:
		return r.release()
	case n < 88:
		d := time.Duration(1+r.rng.IntN(90*60)) * time.Second
		r.clock.Advance(d)
		return "advance " + d.String()
	case n < 94:
		return r.expireLots()
	default:
		return r.expireHolds()
	}
}

func (r *run) grant(acc *mAccount) string {
	cmd := application.GrantCommand{Tenant: acc.tenant, Account: acc.account, Amount: toCredits(r.amount()),
		Source: domain.LotBonus, Priority: []int{0, 10, 50, 50, 100}[r.rng.IntN(5)]}
	if r.rng.IntN(2) == 0 {
		cmd.Source = domain.LotPaid
	}
	valid := true
	switch n := r.rng.IntN(20); {
	case n < 10:
		// Whole minutes, from now, so lots often share an expiry.
		at := r.now().Add(time.Duration(1+r.rng.IntN(120)) * time.Minute)
		cmd.ExpiresAt = &at
	case n < 11:
		at := r.now().Add(-time.Duration(r.rng.IntN(60)) * time.Second) // refused: not in the future
		cmd.ExpiresAt, valid = &at, false
	}
	desc := fmt.Sprintf("grant %s to %s prio %d expires %v", cmd.Amount, acc.account, cmd.Priority, cmd.ExpiresAt)

	tx, _, err := r.accounts.Grant(r.ctx, cmd, nil)
	if !valid {
		r.wantErr(desc, err, domain.ErrInvalidInput)
		return desc
	}
	if err != nil {
		r.t.Fatalf("%s: %v", desc, err)
	}
	r.opened[acc] = true
	r.settle(acc)
	r.lotSeq++
	lot := &mLot{seq: r.lotSeq, priority: cmd.Priority, expiresAt: cmd.ExpiresAt, createdAt: r.now(), remaining: micro(cmd.Amount)}
	for _, p := range tx.Postings() {
		if !p.IsSystem() {
			lot.id = p.Lot
		}
	}
	acc.lots = append(acc.lots, lot)
	acc.txs++
	r.wantTx(desc, tx, domain.TransactionGrant, micro(cmd.Amount), acc)
	return desc
}

func (r *run) spend(acc *mAccount) string {
	amount := r.around(r.spendable(acc))
	desc := fmt.Sprintf("spend %s from %s", toCredits(amount), acc.account)
	tx, _, err := r.accounts.Spend(r.ctx, application.SpendCommand{Tenant: acc.tenant, Account: acc.account, Amount: toCredits(amount)}, nil)
	want := r.spendOutcome(acc, amount)
	r.wantErr(desc, err, want)
	if want == nil {
		r.wantTx(desc, tx, domain.TransactionSpend, amount, acc)
	}
	return desc
}

// spendOutcome applies a spend to the model and says which error it expects.
func (r *run) spendOutcome(acc *mAccount, amount int64) error {
	if !r.opened[acc] {
		return domain.ErrNotFound
	}
	if amount > r.spendable(acc) {
		return domain.ErrInsufficientCredits
	}
	r.settle(acc)
	acc.take(amount, r.now(), func(l *mLot, n int64) { l.remaining -= n })
	acc.txs++
	return nil
}

func (r *run) idempotentSpend(acc *mAccount) string {
	call := idemCall{key: fmt.Sprintf("k%d", len(r.calls)), acc: acc, amount: r.around(r.spendable(acc))}
	reuse := len(r.calls) > 0 && r.rng.IntN(2) == 0
	if reuse {
		call = r.calls[r.rng.IntN(len(r.calls))]
	}
	call.fingerprint = fmt.Sprintf("%s/%s/%d", call.acc.tenant, call.acc.account, call.amount)
	changed := reuse && r.rng.IntN(4) == 0
	if changed {
		call.fingerprint += "!"
	}
	desc := fmt.Sprintf("spend %s from %s with key %s (reuse %v, changed %v)", toCredits(call.amount), call.acc.account, call.key, reuse, changed)

	_, receipt, err := r.accounts.Spend(r.ctx, application.SpendCommand{Tenant: call.acc.tenant, Account: call.acc.account,
		Amount: toCredits(call.amount)}, txKey(call.key, call.fingerprint))
	switch {
	case changed:
		r.wantErr(desc, err, application.ErrIdempotencyKeyReused)
	case reuse:
		if err != nil || !sameReceipt(receipt, call.receipt) {
			r.t.Fatalf("%s: replay %s, %v; want %s", desc, showReceipt(receipt), err, showReceipt(call.receipt))
		}
		r.outcomes[fmt.Sprintf("spend: replayed %d", receipt.Status)]++
	default:
		if err != nil {
			r.t.Fatalf("%s: %v", desc, err)
		}
		want := r.spendOutcome(call.acc, call.amount)
		if ok := receipt.Status == 201; ok != (want == nil) {
			r.t.Fatalf("%s: receipt %d %s, want error %v", desc, receipt.Status, receipt.Body, want)
		}
		call.receipt = receipt
		r.calls = append(r.calls, call)
		r.outcomes[fmt.Sprintf("spend: with key %d", receipt.Status)]++
	}
	return desc
}

func (r *run) placeHold(acc *mAccount) string {
	amount := r.around(r.spendable(acc))
	in := time.Duration(1+r.rng.IntN(120)) * time.Minute
	if r.rng.IntN(15) == 0 {
		in = time.Duration(r.rng.IntN(1000)) * time.Millisecond // refused: shorter than a second
	}
	desc := fmt.Sprintf("hold %s on %s for %s", toCredits(amount), acc.account, in)
	h, _, err := r.holds.Place(r.ctx, application.PlaceHoldCommand{Tenant: acc.tenant, Account: acc.account,
		Amount: toCredits(amount), ExpiresIn: in}, nil)
	var want error
	switch {
	case !r.opened[acc]:
		want = domain.ErrNotFound
	case in < domain.MinHoldDuration:
		want = domain.ErrInvalidInput
	case amount > r.spendable(acc):
		want = domain.ErrInsufficientCredits
	}
	r.wantErr(desc, err, want)
	if want != nil {
		return desc
	}
	r.settle(acc)
	mh := &mHold{id: h.ID(), tenant: acc.tenant, acc: acc, amount: amount, status: domain.HoldActive, expiresAt: r.now().Add(in)}
	acc.take(amount, r.now(), func(l *mLot, n int64) {
		l.held += n
		mh.allocs = append(mh.allocs, mAlloc{l, n})
	})
	r.mholds = append(r.mholds, mh)
	var want2, got []string
	for _, a := range mh.allocs {
		want2 = append(want2, fmt.Sprintf("%s:%d", a.lot.id, a.amount))
	}
	for _, a := range h.Allocations() {
		got = append(got, fmt.Sprintf("%s:%d", a.Lot, micro(a.Amount)))
	}
	if !slices.Equal(got, want2) {
		r.t.Fatalf("%s: allocations %v, want %v", desc, got, want2)
	}
	return desc
}

func (r *run) pickHold() *mHold {
	if len(r.mholds) == 0 {
		return nil
	}
	var open []*mHold
	for _, h := range r.mholds {
		if h.status.IsOpen() && !h.due(r.now()) {
			open = append(open, h)
		}
	}
	if len(open) > 0 && r.rng.IntN(4) > 0 {
		return open[r.rng.IntN(len(open))]
	}
	return r.mholds[r.rng.IntN(len(r.mholds))]
}

func (r *run) capture() string {
	h := r.pickHold()
	if h == nil {
		return "capture: no hold yet"
	}
	amount := r.around(h.remaining())
	tenant := h.tenant
	if r.rng.IntN(20) == 0 {
		tenant = r.tenants[(slices.Index(r.tenants, h.tenant)+1)%len(r.tenants)]
	}
	desc := fmt.Sprintf("capture %s of hold %s (%s, %s left)", toCredits(amount), h.id, h.status, toCredits(h.remaining()))
	c, _, err := r.holds.Capture(r.ctx, application.CaptureCommand{Tenant: tenant, Hold: h.id, Amount: toCredits(amount)}, nil)
	var want error
	switch {
	case tenant != h.tenant:
		want = domain.ErrNotFound
	case !h.status.IsOpen() || h.due(r.now()):
		want = domain.ErrHoldNotCapturable
	case amount > h.remaining():
		want = domain.ErrCaptureExceedsHold
	}
	r.wantErr(desc, err, want)
	if want != nil {
		return desc
	}
	r.settle(h.acc)
	left := amount
	for i := range h.allocs {
		a := &h.allocs[i]
		n := min(a.amount, left)
		a.lot.remaining -= n
		a.lot.held -= n
		a.amount -= n
		if left -= n; left == 0 {
			break
		}
	}
	h.allocs = slices.DeleteFunc(h.allocs, func(a mAlloc) bool { return a.amount == 0 })
	h.captured += amount
	h.status = domain.HoldPartiallyCaptured
	if len(h.allocs) == 0 {
		h.status = domain.HoldCaptured
	}
	h.acc.txs++
	r.wantTx(desc, c.Transaction, domain.TransactionCapture, amount, h.acc)
	return desc
}

func (r *run) release() string {
	h := r.pickHold()
	if h == nil {
		return "release: no hold yet"
	}
	desc := fmt.Sprintf("release hold %s (%s)", h.id, h.status)
	_, _, err := r.holds.Release(r.ctx, application.ReleaseCommand{Tenant: h.tenant, Hold: h.id}, nil)
	if !h.status.IsOpen() || h.due(r.now()) {
		r.wantErr(desc, err, domain.ErrHoldNotReleasable)
		return desc
	}
	r.wantErr(desc, err, nil)
	r.settle(h.acc)
	h.free(domain.HoldReleased)
	return desc
}

func (r *run) expireLots() string {
	s, err := r.expiry.ExpireLots(r.ctx, 100)
	n := s.Changed
	want := 0
	for _, acc := range r.maccounts {
		expirable := slices.ContainsFunc(acc.lots, func(l *mLot) bool { return l.expired(r.now()) && l.remaining > l.held })
		if expirable && r.settle(acc) {
			want++
		}
	}
	if err != nil || n != want {
		r.t.Fatalf("ExpireLots = %d, %v; want %d", n, err, want)
	}
	r.outcomes["wallets expired by ExpireLots"] += n
	return fmt.Sprintf("expire lots: %d wallets", n)
}

func (r *run) expireHolds() string {
	s, err := r.expiry.ExpireHolds(r.ctx, 100)
	n := s.Changed
	want := 0 // wallets settled: those with a due hold
	for _, acc := range r.maccounts {
		if slices.ContainsFunc(r.mholds, func(h *mHold) bool { return h.acc == acc && h.due(r.now()) }) && r.settle(acc) {
			want++
		}
	}
	if err != nil || n != want {
		r.t.Fatalf("ExpireHolds = %d, %v; want %d", n, err, want)
	}
	r.outcomes["wallets settled by ExpireHolds"] += n
	return fmt.Sprintf("expire holds: %d", n)
}

func (r *run) wantErr(desc string, got, want error) {
	r.t.Helper()
	outcome := "ok"
	if want != nil {
		outcome = want.Error()
	}
	r.outcomes[strings.Fields(desc)[0]+": "+outcome]++
	if (want == nil) != (got == nil) || !errors.Is(got, want) {
		r.t.Fatalf("%s: error %v, want %v", desc, got, want)
	}
}

// wantTx checks a movement against the model after it.
func (r *run) wantTx(desc string, tx domain.Transaction, typ domain.TransactionType, amount int64, acc *mAccount) {
	r.t.Helper()
	if tx.Type() != typ || micro(tx.Amount()) != amount || micro(tx.BalanceAfter()) != acc.balance() {
		r.t.Fatalf("%s: %s of %s with balance after %s; want %s of %s with %s", desc, tx.Type(), tx.Amount(), tx.BalanceAfter(),
			typ, toCredits(amount), toCredits(acc.balance()))
	}
}

// check compares the store with the model and runs every invariant check.
func (r *run) check() error {
	report, err := r.store.Auditor().Audit(r.ctx)
	if err != nil {
		return err
	}
	if len(report.Drifts) > 0 {
		return fmt.Errorf("audit drifts:\n%s", strings.Join(report.Drifts, "\n"))
	}
	txs := 0
	for _, acc := range r.maccounts {
		txs += acc.txs
	}
	if report.Wallets != len(r.opened) || report.Transactions != txs {
		return fmt.Errorf("audit saw %d wallets and %d transactions, want %d and %d", report.Wallets, report.Transactions, len(r.opened), txs)
	}

	reads := r.store.Queries()
	open := map[*mAccount][]*domain.Hold{}
	for _, mh := range r.mholds {
		h, err := reads.Holds.Get(r.ctx, mh.tenant, mh.id)
		if err != nil {
			return err
		}
		if h.Status() != mh.status || micro(h.Remaining()) != mh.remaining() || micro(h.Captured()) != mh.captured {
			return fmt.Errorf("hold %s: %s, %s left, %s captured; model: %s, %s, %s", mh.id, h.Status(), h.Remaining(), h.Captured(),
				mh.status, toCredits(mh.remaining()), toCredits(mh.captured))
		}
		if h.Status().IsOpen() {
			open[mh.acc] = append(open[mh.acc], h)
		}
	}
	for _, acc := range r.maccounts {
		if !r.opened[acc] {
			continue
		}
		w, err := reads.Wallets.Get(r.ctx, acc.tenant, acc.account)
		if err != nil {
			return err
		}
		if err := w.CheckInvariants(open[acc]); err != nil {
			return fmt.Errorf("account %s: %w", acc.account, err)
		}
		if w.Available().IsNegative() || w.Held().Cmp(w.Balance()) > 0 {
			return fmt.Errorf("account %s: balance %s, held %s", acc.account, w.Balance(), w.Held())
		}
		if err := sameLots("stored", w.Balance(), w.Held(), w.Lots(), acc.balance(), acc.held(), acc.ordered()); err != nil {
			return fmt.Errorf("account %s: %w", acc.account, err)
		}

		// What a client reads is settled: due holds freed, expired lots left out.
		view, err := r.accounts.GetAccount(r.ctx, acc.tenant, acc.account)
		if err != nil {
			return err
		}
		now := r.now()
		var lots []*mLot
		var balance, held int64
		for _, l := range acc.ordered() {
			c := *l
			c.held -= r.dueHeld(l)
			if c.expired(now) {
				c.remaining = c.held
			}
			if c.remaining > 0 {
				lots, balance, held = append(lots, &c), balance+c.remaining, held+c.held
			}
		}
		if err := sameLots("read", view.Balance, view.Held, view.Lots, balance, held, lots); err != nil {
			return fmt.Errorf("account %s: %w", acc.account, err)
		}
		if !view.Available.Equal(view.Balance.Sub(view.Held)) || view.Available.IsNegative() {
			return fmt.Errorf("account %s: available %s of balance %s, held %s", acc.account, view.Available, view.Balance, view.Held)
		}
	}
	return nil
}

func sameLots(what string, balance, held domain.Credits, lots []*domain.Lot, wantBalance, wantHeld int64, want []*mLot) error {
	if micro(balance) != wantBalance || micro(held) != wantHeld {
		return fmt.Errorf("%s balance %s held %s, model %s and %s", what, balance, held, toCredits(wantBalance), toCredits(wantHeld))
	}
	same := len(lots) == len(want)
	for i := 0; same && i < len(lots); i++ {
		same = lots[i].ID() == want[i].id && micro(lots[i].Remaining()) == want[i].remaining && micro(lots[i].Held()) == want[i].held
	}
	if same {
		return nil
	}
	format := func(id domain.LotID, remaining, held int64) string {
		return fmt.Sprintf("%s:%d/%d", id, remaining, held)
	}
	var got, exp []string
	for _, l := range lots {
		got = append(got, format(l.ID(), micro(l.Remaining()), micro(l.Held())))
	}
	for _, l := range want {
		exp = append(exp, format(l.id, l.remaining, l.held))
	}
	return fmt.Errorf("%s lots (id:remaining/held in order)\n  %v\nmodel\n  %v", what, got, exp)
}

// checkHistory pages through each account's history: every transaction is
// there once, newest first, and the movements add up to the balance.
func (r *run) checkHistory() error {
	for _, acc := range r.maccounts {
		if !r.opened[acc] {
			continue
		}
		var all []domain.Transaction
		var cursor *domain.TransactionID
		limit := 1 + r.rng.IntN(7)
		for {
			page, err := r.accounts.ListTransactions(r.ctx, acc.tenant, acc.account, limit, cursor)
			if err != nil {
				return err
			}
			all = append(all, page.Items...)
			if cursor = page.Next; cursor == nil {
				break
			}
		}
		if len(all) != acc.txs {
			return fmt.Errorf("account %s: %d transactions, model %d", acc.account, len(all), acc.txs)
		}
		var sum int64
		for i, tx := range all {
			if i > 0 && compareTxIDs(all[i-1].ID(), tx.ID()) <= 0 {
				return fmt.Errorf("account %s: history not newest first at %d", acc.account, i)
			}
			if tx.Type() == domain.TransactionGrant {
				sum += micro(tx.Amount())
			} else {
				sum -= micro(tx.Amount())
			}
		}
		if sum != acc.balance() || (len(all) > 0 && micro(all[0].BalanceAfter()) != acc.balance()) {
			return fmt.Errorf("account %s: history sums to %s, newest balance after %s, model %s", acc.account,
				toCredits(sum), all[0].BalanceAfter(), toCredits(acc.balance()))
		}
	}
	return nil
}

func compareTxIDs(a, b domain.TransactionID) int { return slices.Compare(a[:], b[:]) }

func micro(c domain.Credits) int64 {
	d := c.Decimal().Shift(6)
	if !d.IsInteger() {
		panic(fmt.Sprintf("%s has more than 6 decimal places", c))
	}
	return d.IntPart()
}

func toCredits(n int64) domain.Credits {
	return domain.MustCredits(fmt.Sprintf("%d.%06d", n/unit, n%unit))
}

func showReceipt(r *application.Receipt) string {
	if r == nil {
		return "no receipt"
	}
	return fmt.Sprintf("%d %q", r.Status, r.Body)
}
