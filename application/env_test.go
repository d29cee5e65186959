package application_test

import (
	"context"
	"testing"
	"time"

	"github.com/creditd/creditd/adapters/memory"
	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

var start = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// env is the application wired to an in-memory store, a stopped clock and
// deterministic ids.
type env struct {
	t        *testing.T
	ctx      context.Context
	store    *memory.Store
	clock    *memory.FixedClock
	ids      *memory.SequentialIDs
	accounts *application.Accounts
	holds    *application.Holds
	expiry   *application.Expiry
	tenant   domain.TenantID
}

// newEnv also audits the ledger when the test ends: every scenario must
// leave it sound, whatever it did.
func newEnv(t *testing.T) *env {
	t.Helper()
	store, clock, ids := memory.NewStore(), memory.NewFixedClock(start), &memory.SequentialIDs{}
	e := &env{t: t, ctx: t.Context(), store: store, clock: clock, ids: ids,
		accounts: application.NewAccounts(store.UnitOfWork(), store.Queries(), clock, ids),
		holds:    application.NewHolds(store.UnitOfWork(), store.Queries(), clock, ids),
		expiry:   application.NewExpiry(store.UnitOfWork(), store.Queries(), clock, ids),
		tenant:   domain.TenantID(ids.NewID()),
	}
	t.Cleanup(func() { assertSound(t, store) })
	return e
}

func assertSound(t *testing.T, store *memory.Store) {
	t.Helper()
	report, err := application.NewVerifier(store.Auditor()).Verify(context.Background())
	if err != nil {
		t.Fatalf("audit: %v", err)
	}
	for _, d := range report.Drifts {
		t.Errorf("audit drift: %s", d)
	}
}

func cr(s string) domain.Credits { return domain.MustCredits(s) }

func acct(s string) domain.AccountID {
	a, err := domain.ParseAccountID(s)
	if err != nil {
		panic(err)
	}
	return a
}

func (e *env) at(d time.Duration) *time.Time { t := e.clock.Now().Add(d); return &t }

// grant adds a bonus lot of default priority that never expires, or as opts say.
func (e *env) grant(account string, amount string, opts ...func(*application.GrantCommand)) domain.Transaction {
	e.t.Helper()
	cmd := application.GrantCommand{Tenant: e.tenant, Account: acct(account), Amount: cr(amount),
		Source: domain.LotBonus, Priority: domain.DefaultLotPriority}
	for _, o := range opts {
		o(&cmd)
	}
	tx, _, err := e.accounts.Grant(e.ctx, cmd, nil)
	if err != nil {
		e.t.Fatalf("grant %s to %s: %v", amount, account, err)
	}
	return tx
}

func priority(p int) func(*application.GrantCommand) {
	return func(c *application.GrantCommand) { c.Priority = p }
}

func expiresIn(e *env, d time.Duration) func(*application.GrantCommand) {
	return func(c *application.GrantCommand) { c.ExpiresAt = e.at(d) }
}

func (e *env) spend(account, amount string) (domain.Transaction, error) {
	tx, _, err := e.accounts.Spend(e.ctx, application.SpendCommand{Tenant: e.tenant, Account: acct(account), Amount: cr(amount)}, nil)
	return tx, err
}

func (e *env) account(account string) application.AccountView {
	e.t.Helper()
	v, err := e.accounts.GetAccount(e.ctx, e.tenant, acct(account))
	if err != nil {
		e.t.Fatalf("get account %s: %v", account, err)
	}
	return v
}

// wantAccount checks balance, held and available.
func (e *env) wantAccount(account, balance, held string) {
	e.t.Helper()
	v := e.account(account)
	if !v.Balance.Equal(cr(balance)) || !v.Held.Equal(cr(held)) || !v.Available.Equal(cr(balance).Sub(cr(held))) {
		e.t.Fatalf("account %s: balance %s held %s available %s; want balance %s held %s", account, v.Balance, v.Held, v.Available, balance, held)
	}
}

func (e *env) placeHold(account, amount string, in time.Duration) (*domain.Hold, error) {
	h, _, err := e.holds.Place(e.ctx, application.PlaceHoldCommand{Tenant: e.tenant, Account: acct(account), Amount: cr(amount), ExpiresIn: in}, nil)
	return h.Hold, err
}

func (e *env) capture(hold domain.HoldID, amount string) (application.Capture, error) {
	c, _, err := e.holds.Capture(e.ctx, application.CaptureCommand{Tenant: e.tenant, Hold: hold, Amount: cr(amount)}, nil)
	return c, err
}

func (e *env) release(hold domain.HoldID) (*domain.Hold, error) {
	h, _, err := e.holds.Release(e.ctx, application.ReleaseCommand{Tenant: e.tenant, Hold: hold}, nil)
	return h.Hold, err
}

// history reads the account's whole history, newest first.
func (e *env) history(account string) []domain.Transaction {
	e.t.Helper()
	page, err := e.accounts.ListTransactions(e.ctx, e.tenant, acct(account), application.MaxPageSize, nil)
	if err != nil {
		e.t.Fatalf("history of %s: %v", account, err)
	}
	return page.Items
}
