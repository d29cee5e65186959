//go:build integration

package integration

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/creditd/creditd/adapters/system"
	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// seed creates a tenant and grants amount to account.
func seed(t *testing.T, l *ledger, account, amount string) (domain.TenantID, domain.AccountID) {
	t.Helper()
	key, err := l.keys.Create(context.Background(), mustTenant(t, "acme"), nil)
	if err != nil {
		t.Fatal(err)
	}
	acct, err := domain.ParseAccountID(account)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = l.accounts.Grant(context.Background(), application.GrantCommand{Tenant: key.Tenant, Account: acct,
		Amount: domain.MustCredits(amount), Source: domain.LotPaid, Priority: domain.DefaultLotPriority}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return key.Tenant, acct
}

func TestLedgerRowsCannotBeChanged(t *testing.T) {
	t.Parallel()
	l := newLedger(t, system.Clock{})
	seed(t, l, "user-1", "10")
	ctx := context.Background()
	for _, stmt := range []string{
		"UPDATE transactions SET amount = 1",
		"DELETE FROM transactions",
		"TRUNCATE transactions CASCADE",
		"UPDATE postings SET amount = 1",
		"DELETE FROM postings",
		"TRUNCATE postings",
	} {
		_, err := l.db.ExecContext(ctx, stmt)
		if err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: want the append-only refusal, got %v", stmt, err)
		}
	}
	var n int
	if err := l.db.NewRaw("SELECT count(*) FROM postings").Scan(ctx, &n); err != nil || n != 2 {
		t.Fatalf("postings after refused changes: %d, %v", n, err)
	}
	l.requireSound(t)
}

func TestUnbalancedPostingsAreRefused(t *testing.T) {
	t.Parallel()
	l := newLedger(t, system.Clock{})
	tenant, _ := seed(t, l, "user-1", "10")
	ctx := context.Background()
	var wallet, lot string
	if err := l.db.NewRaw("SELECT wallet_id, id FROM lots LIMIT 1").Scan(ctx, &wallet, &lot); err != nil {
		t.Fatal(err)
	}
	_, err := l.db.ExecContext(ctx, `
		WITH t AS (INSERT INTO transactions (id, tenant_id, wallet_id, account_id, type, amount, balance_after, reason, metadata, created_at)
		           VALUES ('00000000-0000-7000-8000-000000000001', ?::uuid, ?::uuid, 'user-1', 'SPEND', 1, 9, '', '{}', now()) RETURNING id)
		INSERT INTO postings (transaction_id, seq, tenant_id, wallet_id, lot_id, system_account, amount)
		SELECT t.id, 0, ?::uuid, ?::uuid, ?::uuid, NULL, -1 FROM t
		UNION ALL SELECT t.id, 1, ?::uuid, NULL, NULL, 'consumption', 2 FROM t`,
		tenant.String(), wallet, tenant.String(), wallet, lot, tenant.String())
	if err == nil || !strings.Contains(err.Error(), "do not balance") {
		t.Fatalf("want the balance trigger to refuse, got %v", err)
	}
	l.requireSound(t)
}

func TestVerifyReportsDrift(t *testing.T) {
	t.Parallel()
	l := newLedger(t, system.Clock{})
	seed(t, l, "user-1", "10")
	ctx := context.Background()
	l.requireSound(t)
	if _, err := l.db.ExecContext(ctx, "UPDATE wallets SET balance = balance + 1"); err != nil {
		t.Fatal(err)
	}
	report, err := l.verify.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(report.Drifts) == 0 {
		t.Fatal("verify found no drift after the balance cache was tampered with")
	}
	t.Log(report.Drifts)
}

// TestConcurrentSpendsNeverOverdraw: 64 clients make 2,000 one-credit spend
// attempts on a wallet of 1,000 credits.
func TestConcurrentSpendsNeverOverdraw(t *testing.T) {
	t.Parallel()
	l := newLedger(t, system.Clock{})
	tenant, acct := seed(t, l, "hot-wallet", "1000")
	var ok, insufficient, other atomic.Int64
	attempts := make(chan struct{}, 2000)
	for range 2000 {
		attempts <- struct{}{}
	}
	close(attempts)
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for range attempts {
				_, _, err := l.accounts.Spend(context.Background(), application.SpendCommand{Tenant: tenant, Account: acct, Amount: domain.MustCredits("1")}, nil)
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, domain.ErrInsufficientCredits):
					insufficient.Add(1)
				default:
					other.Add(1)
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if ok.Load() != 1000 || insufficient.Load() != 1000 || other.Load() != 0 {
		t.Fatalf("spent %d, refused %d, failed %d; want 1000, 1000, 0", ok.Load(), insufficient.Load(), other.Load())
	}
	view, err := l.accounts.GetAccount(context.Background(), tenant, acct)
	if err != nil || !view.Balance.IsZero() {
		t.Fatalf("balance %s, %v; want 0", view.Balance, err)
	}
	l.requireSound(t)
}

// TestConcurrentRequestsWithOneKeyExecuteOnce: 32 clients send the same
// idempotent spend; one executes and all see its receipt.
func TestConcurrentRequestsWithOneKeyExecuteOnce(t *testing.T) {
	t.Parallel()
	l := newLedger(t, system.Clock{})
	tenant, acct := seed(t, l, "user-1", "100")
	var executions atomic.Int64
	idem := &application.Idempotency[domain.Transaction]{Key: "order-42", Fingerprint: []byte("spend 7"),
		Encode: func(tx domain.Transaction, rejection error) (application.Receipt, error) {
			executions.Add(1)
			return application.Receipt{Status: 201, Body: []byte(tx.ID().String())}, nil
		}}
	bodies := make(chan string, 32)
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			_, receipt, err := l.accounts.Spend(context.Background(), application.SpendCommand{Tenant: tenant, Account: acct, Amount: domain.MustCredits("7")}, idem)
			if err != nil {
				t.Error(err)
				return
			}
			bodies <- string(receipt.Body)
		})
	}
	wg.Wait()
	close(bodies)
	first := ""
	for b := range bodies {
		if first == "" {
			first = b
		}
		if b != first {
			t.Fatalf("receipts differ: %q vs %q", b, first)
		}
	}
	view, _ := l.accounts.GetAccount(context.Background(), tenant, acct)
	if view.Balance.String() != "93" {
		t.Fatalf("balance %s, want 93 (one spend of 7)", view.Balance)
	}
	if executions.Load() != 1 {
		t.Fatalf("the spend executed %d times, want once", executions.Load())
	}
	l.requireSound(t)
}

// TestExpiryAndHoldsOnPostgres: lots expire into breakage, expired credits
// cannot be spent, holds expire on their own, and held credits are spent last.
func TestExpiryAndHoldsOnPostgres(t *testing.T) {
	t.Parallel()
	clock := &steppedClock{now: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	l := newLedger(t, clock)
	ctx := context.Background()
	tenant, acct := seed(t, l, "user-1", "5") // never expires
	soon := clock.Now().Add(time.Hour)
	if _, _, err := l.accounts.Grant(ctx, application.GrantCommand{Tenant: tenant, Account: acct, Amount: domain.MustCredits("3"),
		Source: domain.LotBonus, Priority: domain.DefaultLotPriority, ExpiresAt: &soon}, nil); err != nil {
		t.Fatal(err)
	}
	// The expiring lot is consumed first: a 2-credit hold takes from it.
	hold, _, err := l.holds.Place(ctx, application.PlaceHoldCommand{Tenant: tenant, Account: acct, Amount: domain.MustCredits("2"), ExpiresIn: 2 * time.Hour}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a := hold.Allocations(); len(a) != 1 || a[0].Amount.String() != "2" {
		t.Fatalf("allocations %v", a)
	}
	clock.advance(90 * time.Minute) // the bonus lot has expired; the hold has not
	if s, err := l.expiry.ExpireLots(ctx, 100); err != nil || s.Changed != 1 {
		t.Fatalf("expired %d wallets, %v", s.Changed, err)
	}
	view, _ := l.accounts.GetAccount(ctx, tenant, acct)
	if view.Balance.String() != "7" || view.Available.String() != "5" { // 5 + 2 still held on the expired lot
		t.Fatalf("after lot expiry: balance %s available %s", view.Balance, view.Available)
	}
	if _, _, err := l.accounts.Spend(ctx, application.SpendCommand{Tenant: tenant, Account: acct, Amount: domain.MustCredits("6")}, nil); !errors.Is(err, domain.ErrInsufficientCredits) {
		t.Fatalf("spend of 6 with 5 available: %v", err)
	}
	clock.advance(time.Hour) // now the hold is due too
	// Settling the wallet frees the hold and, in the same transaction, expires
	// the 2 credits it had pinned on the expired lot: the lot sweep finds nothing.
	if s, err := l.expiry.ExpireHolds(ctx, 100); err != nil || s.Changed != 1 {
		t.Fatalf("hold sweep settled %d wallets, %v", s.Changed, err)
	}
	if s, err := l.expiry.ExpireLots(ctx, 100); err != nil || s.Changed != 0 {
		t.Fatalf("lot sweep after the hold sweep changed %d wallets, %v", s.Changed, err)
	}
	view, _ = l.accounts.GetAccount(ctx, tenant, acct)
	if view.Balance.String() != "5" || !view.Held.IsZero() {
		t.Fatalf("after hold expiry: balance %s held %s", view.Balance, view.Held)
	}
	got, _ := l.holds.Get(ctx, tenant, hold.ID())
	if got.Status() != domain.HoldExpired {
		t.Fatalf("hold status %s", got.Status())
	}
	var breakage string
	if err := l.db.NewRaw("SELECT sum(amount)::text FROM postings WHERE system_account = 'breakage'").Scan(ctx, &breakage); err != nil || breakage != "3.000000" {
		t.Fatalf("breakage %s, %v", breakage, err)
	}
	l.requireSound(t)
}

type steppedClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *steppedClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *steppedClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
