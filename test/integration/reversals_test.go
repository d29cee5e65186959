//go:build integration

package integration

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/creditd/creditd/adapters/postgres"
	"github.com/creditd/creditd/adapters/system"
	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
	"github.com/creditd/creditd/test/pgtest"
)

// reversalLedger is a ledger that also reverses, opened on the database at
// dsn: two of them on one database are two replicas of creditd.
type reversalLedger struct {
	*ledger
	reversals *application.Reversals
	tenant    domain.TenantID
}

func openReversalLedger(t *testing.T, dsn string, clock application.Clock, policy domain.ShortfallPolicy) *reversalLedger {
	t.Helper()
	cfg := postgres.Config{URL: dsn, MaxConns: 16}
	db, err := postgres.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	uow, queries, ids := postgres.NewUnitOfWork(db, cfg, clock), postgres.NewQueries(db, cfg), system.UUIDv7{}
	l := &ledger{db: db, accounts: application.NewAccounts(uow, queries, clock, ids), holds: application.NewHolds(uow, queries, clock, ids),
		expiry: application.NewExpiry(uow, queries, clock, ids), keys: application.NewAPIKeys(postgres.NewAPIKeyStore(db), clock, ids),
		verify: application.NewVerifier(postgres.NewAuditor(db))}
	tenant, err := postgres.NewAPIKeyStore(db).EnsureTenant(context.Background(), mustTenant(t, "acme"), domain.TenantID(uuid.Must(uuid.NewV7())))
	if err != nil {
		t.Fatal(err)
	}
	return &reversalLedger{ledger: l, tenant: tenant,
		reversals: application.NewReversals(uow, queries, clock, ids, application.ReversalsConfig{Shortfall: policy})}
}

func (l *reversalLedger) grant(t *testing.T, account string, cmd application.GrantCommand) domain.Transaction {
	t.Helper()
	cmd.Tenant, cmd.Account = l.tenant, mustAccountID(t, account)
	if cmd.Source == (domain.LotSource{}) {
		cmd.Source = domain.LotPaid
	}
	if cmd.Priority == 0 {
		cmd.Priority = domain.DefaultLotPriority
	}
	tx, _, err := l.accounts.Grant(context.Background(), cmd, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

func (l *reversalLedger) spend(t *testing.T, account, amount string) domain.Transaction {
	t.Helper()
	tx, _, err := l.accounts.Spend(context.Background(), application.SpendCommand{Tenant: l.tenant, Account: mustAccountID(t, account),
		Amount: domain.MustCredits(amount)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

// reverse reverses amount ("" for all that is left) of tx.
func (l *reversalLedger) reverse(tx domain.TransactionID, amount string) (domain.Transaction, error) {
	cmd := application.ReverseCommand{Tenant: l.tenant, Transaction: tx, Memo: domain.Memo{Reason: "mistake"}}
	if amount != "" {
		a := domain.MustCredits(amount)
		cmd.Amount = &a
	}
	rev, _, err := l.reversals.Reverse(context.Background(), cmd, nil)
	return rev, err
}

func (l *reversalLedger) mustReverse(t *testing.T, tx domain.TransactionID, amount string) domain.Transaction {
	t.Helper()
	rev, err := l.reverse(tx, amount)
	if err != nil {
		t.Fatal(err)
	}
	return rev
}

// account renders an account as "balance 70 debt 0 lots 20,50" (lots' remaining in consumption order).
func (l *reversalLedger) account(t *testing.T, account string) string {
	t.Helper()
	v, err := l.accounts.GetAccount(context.Background(), l.tenant, mustAccountID(t, account))
	if err != nil {
		t.Fatal(err)
	}
	s := fmt.Sprintf("balance %s debt %s lots", v.Balance, v.Debt)
	for i, lot := range v.Lots {
		sep := ","
		if i == 0 {
			sep = " "
		}
		s += sep + lot.Remaining().String()
	}
	return s
}

func (l *reversalLedger) systemTotal(t *testing.T, system string) string {
	t.Helper()
	var total string
	if err := l.db.NewRaw("SELECT trim_scale(coalesce(sum(amount), 0))::text FROM postings WHERE system_account = ?", system).
		Scan(context.Background(), &total); err != nil {
		t.Fatal(err)
	}
	return total
}

func mustAccountID(t *testing.T, s string) domain.AccountID {
	t.Helper()
	a, err := domain.ParseAccountID(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestReversingSpendsAndCaptures: credits go back to the lots they came
// from, emptied ones included, the last taken first; partial reversals add
// up to the original and no further; history shows what was reversed.
func TestReversingSpendsAndCaptures(t *testing.T) {
	t.Parallel()
	l := openReversalLedger(t, pgtest.NewDatabase(t), system.Clock{}, domain.ShortfallDebt)
	ctx := context.Background()
	l.grant(t, "u1", application.GrantCommand{Amount: domain.MustCredits("20"), Priority: 10})
	l.grant(t, "u1", application.GrantCommand{Amount: domain.MustCredits("50"), Priority: 50})
	spend := l.spend(t, "u1", "30") // all of the first lot, 10 of the second
	if got := l.account(t, "u1"); got != "balance 40 debt 0 lots 40" {
		t.Fatalf("after the spend: %s", got)
	}
	first := l.mustReverse(t, spend.ID(), "5")
	if got := l.account(t, "u1"); got != "balance 45 debt 0 lots 45" {
		t.Fatalf("after reversing 5: %s", got)
	}
	l.requireSound(t)
	second := l.mustReverse(t, spend.ID(), "") // the rest: 5 to the second lot, 20 to the emptied first
	if second.Amount().String() != "25" || *second.ReversalOf() != spend.ID() || second.Type() != domain.TransactionReversal {
		t.Fatalf("second reversal: %s of %s, of %v", second.Type(), second.Amount(), second.ReversalOf())
	}
	if got := l.account(t, "u1"); got != "balance 70 debt 0 lots 20,50" {
		t.Fatalf("after reversing all: %s", got)
	}
	if _, err := l.reverse(spend.ID(), "0.000001"); !errors.Is(err, domain.ErrReversalExceedsOriginal) {
		t.Fatalf("reversing a fully reversed spend: %v", err)
	}
	if _, err := l.reverse(spend.ID(), ""); !errors.Is(err, domain.ErrReversalExceedsOriginal) {
		t.Fatalf("reversing the rest of a fully reversed spend: %v", err)
	}
	page, err := l.accounts.ListTransactions(ctx, l.tenant, mustAccountID(t, "u1"), 10, nil)
	if err != nil {
		t.Fatal(err)
	}
	info := page.Reversals[spend.ID()]
	if info.Reversed.String() != "30" || len(info.By) != 2 || info.By[0] != first.ID() || info.By[1] != second.ID() {
		t.Fatalf("history says of the spend: %+v", info)
	}
	if of := page.Reversals[first.ID()].Of; of == nil || *of != spend.ID() {
		t.Fatalf("history says of the first reversal: %+v", page.Reversals[first.ID()])
	}
	got, err := l.reversalQueries().Get(ctx, l.tenant, second.ID())
	if err != nil || got.ReversalOf() == nil || *got.ReversalOf() != spend.ID() {
		t.Fatalf("reading the reversal back: %v of %v", err, got.ReversalOf())
	}
	l.requireSound(t)

	// A capture's credits go back to the lots the hold reserved.
	hold, _, err := l.holds.Place(ctx, application.PlaceHoldCommand{Tenant: l.tenant, Account: mustAccountID(t, "u1"),
		Amount: domain.MustCredits("30"), ExpiresIn: time.Hour}, nil)
	if err != nil {
		t.Fatal(err)
	}
	capture, _, err := l.holds.Capture(ctx, application.CaptureCommand{Tenant: l.tenant, Hold: hold.ID(), Amount: domain.MustCredits("25")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	l.mustReverse(t, capture.Transaction.ID(), "")
	if got := l.account(t, "u1"); got != "balance 70 debt 0 lots 20,50" {
		t.Fatalf("after reversing the capture: %s", got)
	}
	if consumption := l.systemTotal(t, "consumption"); consumption != "0" {
		t.Fatalf("consumption %s after reversing everything", consumption)
	}
	// The links are append-only, as the ledger is.
	for _, stmt := range []string{"UPDATE transaction_reversals SET amount = amount + 1", "DELETE FROM transaction_reversals",
		"TRUNCATE transaction_reversals"} {
		if _, err := l.db.ExecContext(ctx, stmt); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v", stmt, err)
		}
	}
	l.requireSound(t)
}

func (l *reversalLedger) reversalQueries() application.LedgerQueries {
	return postgres.NewQueries(l.db, postgres.Config{}).Ledger
}

// TestReversalOfAnExpiredLotsShareGoesToBreakage: credits a spend took from
// a lot that has expired since are not the user's again.
func TestReversalOfAnExpiredLotsShareGoesToBreakage(t *testing.T) {
	t.Parallel()
	clock := &steppedClock{now: time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)}
	l := openReversalLedger(t, pgtest.NewDatabase(t), clock, domain.ShortfallDebt)
	soon := clock.Now().Add(time.Hour)
	l.grant(t, "u1", application.GrantCommand{Amount: domain.MustCredits("10"), ExpiresAt: &soon, Source: domain.LotBonus})
	l.grant(t, "u1", application.GrantCommand{Amount: domain.MustCredits("10")})
	spend := l.spend(t, "u1", "14") // 10 of the expiring lot, 4 of the other
	clock.advance(2 * time.Hour)
	rev := l.mustReverse(t, spend.ID(), "")
	if got := l.account(t, "u1"); got != "balance 10 debt 0 lots 10" {
		t.Fatalf("after the reversal: %s", got)
	}
	if breakage := l.systemTotal(t, "breakage"); breakage != "10" {
		t.Fatalf("breakage %s, want the expired lot's 10", breakage)
	}
	if rev.Amount().String() != "14" {
		t.Fatalf("reversal of %s", rev.Amount())
	}
	l.requireSound(t)
}

// TestReversingGrants: a grant's unspent credits go back to its source; the
// spent part follows the shortfall policy, as a cancelled payment's does.
func TestReversingGrants(t *testing.T) {
	t.Parallel()
	dsn := pgtest.NewDatabase(t)
	for _, tc := range []struct {
		policy             domain.ShortfallPolicy
		spend              string
		account            string
		promotions, losses string // how the system accounts move
	}{
		{domain.ShortfallDebt, "0", "balance 5 debt 0 lots 5", "0", "0"},
		{domain.ShortfallDebt, "40", "balance -35 debt 35 lots", "0", "0"},
		{domain.ShortfallAbsorb, "40", "balance 5 debt 0 lots 5", "-40", "40"},
	} {
		t.Run(tc.policy.String()+" after spending "+tc.spend, func(t *testing.T) {
			l := openReversalLedger(t, dsn, system.Clock{}, tc.policy)
			account := "u-" + tc.policy.String() + "-" + tc.spend
			before := l.systemTotal(t, "promotions")
			lossesBefore := l.systemTotal(t, "refund_losses")
			l.grant(t, account, application.GrantCommand{Amount: domain.MustCredits("5"), Priority: 90}) // another lot
			grant := l.grant(t, account, application.GrantCommand{Amount: domain.MustCredits("50"), Source: domain.LotBonus, Priority: 10})
			if tc.spend != "0" {
				l.spend(t, account, tc.spend)
			}
			l.mustReverse(t, grant.ID(), "")
			if got := l.account(t, account); got != tc.account {
				t.Errorf("after reversing the grant: %s, want %s", got, tc.account)
			}
			promotions := domain.MustCredits(l.systemTotal(t, "promotions")).Sub(domain.MustCredits(before))
			losses := domain.MustCredits(l.systemTotal(t, "refund_losses")).Sub(domain.MustCredits(lossesBefore))
			if promotions.String() != tc.promotions || losses.String() != tc.losses {
				t.Errorf("promotions moved %s, losses %s; want %s and %s", promotions, losses, tc.promotions, tc.losses)
			}
			if _, err := l.reverse(grant.ID(), "1"); !errors.Is(err, domain.ErrReversalExceedsOriginal) {
				t.Errorf("reversing a reversed grant again: %v", err)
			}
			l.requireSound(t)
		})
	}
}

// TestReversalsRefused: what may not be reversed is refused, and changes nothing.
func TestReversalsRefused(t *testing.T) {
	t.Parallel()
	clock := &steppedClock{now: time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)}
	dsn := pgtest.NewDatabase(t)
	l := openReversalLedger(t, dsn, clock, domain.ShortfallDebt)
	ctx := context.Background()
	order, err := domain.NewFunding(domain.FundedByOrder, "pay_1")
	if err != nil {
		t.Fatal(err)
	}
	purchase := l.grant(t, "u1", application.GrantCommand{Amount: domain.MustCredits("10"), Funding: order})
	soon := clock.Now().Add(time.Hour)
	expiring := l.grant(t, "u1", application.GrantCommand{Amount: domain.MustCredits("10"), Source: domain.LotBonus, ExpiresAt: &soon, Priority: 90})
	spend := l.spend(t, "u1", "3")
	reversal := l.mustReverse(t, spend.ID(), "1")
	clawback, _, err := l.accounts.Clawback(ctx, application.ClawbackCommand{Tenant: l.tenant, Account: mustAccountID(t, "u1"), Funding: order,
		Amount: domain.MustCredits("1"), Policy: domain.ShortfallDebt, Memo: domain.Memo{Reason: "cancelled"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	clock.advance(2 * time.Hour)
	if s, err := l.expiry.ExpireLots(ctx, 10); err != nil || s.Changed != 1 {
		t.Fatalf("expired %d wallets, %v", s.Changed, err)
	}
	page, err := l.accounts.ListTransactions(ctx, l.tenant, mustAccountID(t, "u1"), 1, nil)
	if err != nil || page.Items[0].Type() != domain.TransactionExpiration {
		t.Fatalf("the last transaction: %v, %v", page.Items, err)
	}
	expiration := page.Items[0]
	other := openReversalLedger(t, dsn, clock, domain.ShortfallDebt) // another tenant on the same database
	other.tenant, err = postgres.NewAPIKeyStore(other.db).EnsureTenant(ctx, mustTenant(t, "other"), domain.TenantID(uuid.Must(uuid.NewV7())))
	if err != nil {
		t.Fatal(err)
	}
	before := l.account(t, "u1")
	for _, tc := range []struct {
		name   string
		l      *reversalLedger
		tx     domain.TransactionID
		amount string
		want   error
	}{
		{"a reversal", l, reversal.ID(), "", domain.ErrNotReversible},
		{"an expiration", l, expiration.ID(), "", domain.ErrNotReversible},
		{"a clawback", l, clawback.Transaction.ID(), "", domain.ErrNotReversible},
		{"a purchase's grant", l, purchase.ID(), "", domain.ErrNotReversible},
		{"a grant whose credits expired", l, expiring.ID(), "", domain.ErrNotReversible},
		{"more than is left", l, spend.ID(), "2.000001", domain.ErrReversalExceedsOriginal},
		{"an unknown transaction", l, domain.TransactionID(uuid.Must(uuid.NewV7())), "", domain.ErrNotFound},
		{"another tenant's transaction", other, spend.ID(), "", domain.ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.l.reverse(tc.tx, tc.amount); !errors.Is(err, tc.want) {
				t.Fatalf("reverse: %v, want %v", err, tc.want)
			}
			if after := l.account(t, "u1"); after != before {
				t.Fatalf("a refused reversal changed the account: %s, then %s", before, after)
			}
		})
	}
	l.requireSound(t)
}

// TestConcurrentReversalsOfOneTransaction: 32 clients, on two replicas of
// creditd, each reverse 10 of a spend of 100 at once: exactly 10 succeed,
// the others are refused, and the reversals add up to the spend. When the
// spend's lots have expired since, no lot's CHECK constraint stands in the
// way of too many reversals: only the sum of the reversals does.
func TestConcurrentReversalsOfOneTransaction(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		expired bool
		account string // after the reversals
	}{
		{"to open lots", false, "balance 100 debt 0 lots 25,25,25,25"},
		{"to expired lots", true, "balance 0 debt 0 lots"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := &steppedClock{now: time.Now().UTC()}
			dsn := pgtest.NewDatabase(t)
			replicas := []*reversalLedger{openReversalLedger(t, dsn, clock, domain.ShortfallDebt)}
			second := openReversalLedger(t, dsn, clock, domain.ShortfallDebt)
			second.tenant = replicas[0].tenant // EnsureTenant found the same tenant by name
			replicas = append(replicas, second)
			l := replicas[0]
			expires := clock.Now().Add(time.Hour)
			for range 4 { // several lots, so reversals return credits to several
				l.grant(t, "u1", application.GrantCommand{Amount: domain.MustCredits("25"), ExpiresAt: &expires})
			}
			spend := l.spend(t, "u1", "100")
			if tc.expired {
				clock.advance(2 * time.Hour)
			}
			var ok, refused atomic.Int64
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range 32 {
				wg.Go(func() {
					<-start
					_, err := replicas[i%2].reverse(spend.ID(), "10")
					switch {
					case err == nil:
						ok.Add(1)
					case errors.Is(err, domain.ErrReversalExceedsOriginal):
						refused.Add(1)
					default:
						t.Error(err)
					}
				})
			}
			close(start)
			wg.Wait()
			var reversed string
			if err := l.db.NewRaw("SELECT trim_scale(sum(amount))::text FROM transactions WHERE type = 'REVERSAL'").Scan(context.Background(), &reversed); err != nil || reversed != "100" {
				t.Errorf("reversals add up to %s, %v", reversed, err)
			}
			if ok.Load() != 10 || refused.Load() != 22 {
				t.Errorf("%d reversals succeeded, %d refused; want 10 and 22", ok.Load(), refused.Load())
			}
			if got := l.account(t, "u1"); got != tc.account {
				t.Errorf("after the reversals: %s, want %s", got, tc.account)
			}
			l.requireSound(t)
		})
	}
}

// TestReversalsRaceSpends: spends, grants and reversals of earlier spends hit
// one wallet at once; none may fail but for want of credits or of something
// left to reverse, and the balance is what the successful ones add up to.
func TestReversalsRaceSpends(t *testing.T) {
	t.Parallel()
	l := openReversalLedger(t, pgtest.NewDatabase(t), system.Clock{}, domain.ShortfallDebt)
	ctx := context.Background()
	l.grant(t, "u1", application.GrantCommand{Amount: domain.MustCredits("100")})
	var spends []domain.Transaction
	for range 10 {
		spends = append(spends, l.spend(t, "u1", "5"))
	}
	var mu sync.Mutex
	balance := domain.MustCredits("50")
	add := func(c domain.Credits) { mu.Lock(); defer mu.Unlock(); balance = balance.Add(c) }
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 60 {
		wg.Go(func() {
			<-start
			switch i % 3 {
			case 0:
				tx, _, err := l.accounts.Spend(ctx, application.SpendCommand{Tenant: l.tenant, Account: mustAccountID(t, "u1"), Amount: domain.MustCredits("3")}, nil)
				if err == nil {
					add(tx.Amount().Neg())
				} else if !errors.Is(err, domain.ErrInsufficientCredits) {
					t.Error(err)
				}
			case 1:
				rev, err := l.reverse(spends[i%len(spends)].ID(), "2")
				if err == nil {
					add(rev.Amount())
				} else if !errors.Is(err, domain.ErrReversalExceedsOriginal) {
					t.Error(err)
				}
			case 2:
				tx, _, err := l.accounts.Grant(ctx, application.GrantCommand{Tenant: l.tenant, Account: mustAccountID(t, "u1"),
					Amount: domain.MustCredits("1"), Source: domain.LotBonus, Priority: domain.DefaultLotPriority}, nil)
				if err != nil {
					t.Error(err)
					return
				}
				add(tx.Amount())
			}
		})
	}
	close(start)
	wg.Wait()
	v, err := l.accounts.GetAccount(ctx, l.tenant, mustAccountID(t, "u1"))
	if err != nil {
		t.Fatal(err)
	}
	if !v.Balance.Equal(balance) {
		t.Fatalf("balance %s, the movements add up to %s", v.Balance, balance)
	}
	l.requireSound(t)
}

// TestReversalReplaysUnderItsKey: a retry with the same key does not reverse twice.
func TestReversalReplaysUnderItsKey(t *testing.T) {
	t.Parallel()
	l := openReversalLedger(t, pgtest.NewDatabase(t), system.Clock{}, domain.ShortfallDebt)
	l.grant(t, "u1", application.GrantCommand{Amount: domain.MustCredits("10")})
	spend := l.spend(t, "u1", "10")
	amount := domain.MustCredits("4")
	idem := &application.Idempotency[domain.Transaction]{Key: "rev-1", Fingerprint: []byte("reverse 4"),
		Encode: func(tx domain.Transaction, rejection error) (application.Receipt, error) {
			if rejection != nil {
				return application.Receipt{Status: 409, Body: []byte(rejection.Error())}, nil
			}
			return application.Receipt{Status: 201, Body: []byte(tx.ID().String())}, nil
		}}
	var bodies []string
	for range 3 {
		_, receipt, err := l.reversals.Reverse(context.Background(), application.ReverseCommand{Tenant: l.tenant, Transaction: spend.ID(),
			Amount: &amount, Memo: domain.Memo{Reason: "retry"}}, idem)
		if err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, string(receipt.Body))
	}
	if bodies[0] != bodies[1] || bodies[1] != bodies[2] {
		t.Fatalf("receipts differ: %q", bodies)
	}
	if got := l.account(t, "u1"); got != "balance 4 debt 0 lots 4" {
		t.Fatalf("after three tries of one reversal: %s", got)
	}
	l.requireSound(t)
}
