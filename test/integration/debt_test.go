//go:build integration

package integration

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creditd/creditd/adapters/system"
	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// ledgerTotals adds up what the operations that succeeded say they did.
type ledgerTotals struct {
	mu                                  sync.Mutex
	granted, spent, captured            domain.Credits
	clawedOut, absorbed                 domain.Credits // out of the wallet's net balance; recorded as a loss
	debtAdded, debtPaid                 domain.Credits
	grants, spends, clawbacks, refusals int
}

func (s *ledgerTotals) add(f func()) { s.mu.Lock(); defer s.mu.Unlock(); f() }

// TestConcurrentClawbacksSpendsAndGrants: many clients spend from, hold on,
// grant to and claw back from one wallet at once, under both shortfall
// policies. No movement may fail but a spend or hold refused for want of
// credits; afterwards verify finds no drift, and the wallet's balance, debt
// and the system accounts are what the successful movements add up to.
func TestConcurrentClawbacksSpendsAndGrants(t *testing.T) {
	t.Parallel()
	l := newLedger(t, system.Clock{})
	tenant, acct := seed(t, l, "hot-wallet", "100")
	ctx := context.Background()
	var totals ledgerTotals
	totals.granted = domain.MustCredits("100")

	const payments = 8
	funding := func(i int) domain.Funding {
		f, err := domain.NewFunding(domain.FundedExternally, fmt.Sprintf("pay_%d", i))
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	grant := func(amount domain.Credits, f domain.Funding) error {
		tx, _, err := l.accounts.Grant(ctx, application.GrantCommand{Tenant: tenant, Account: acct, Amount: amount,
			Source: domain.LotPaid, Priority: domain.DefaultLotPriority, Funding: f}, nil)
		if err != nil {
			return err
		}
		totals.add(func() {
			totals.grants++
			totals.granted = totals.granted.Add(amount)
			for _, p := range tx.Postings() {
				if p.IsDebt() {
					totals.debtPaid = totals.debtPaid.Add(p.Amount)
				}
			}
		})
		return nil
	}
	for i := range payments {
		if err := grant(domain.MustCredits("20"), funding(i)); err != nil {
			t.Fatal(err)
		}
	}

	ops := make(chan int, 1200)
	for i := range cap(ops) {
		ops <- i
	}
	close(ops)
	var wg sync.WaitGroup
	for worker := range 48 {
		wg.Go(func() {
			rnd := rand.New(rand.NewPCG(uint64(worker), 42))
			for range ops {
				amount := domain.MustCredits(fmt.Sprint(1 + rnd.IntN(6)))
				var err error
				switch k := rnd.IntN(10); {
				case k < 4:
					_, _, err = l.accounts.Spend(ctx, application.SpendCommand{Tenant: tenant, Account: acct, Amount: amount}, nil)
					if err == nil {
						totals.add(func() { totals.spends++; totals.spent = totals.spent.Add(amount) })
					}
				case k < 6:
					err = grant(amount.Add(amount), funding(rnd.IntN(payments)))
				case k < 9:
					policy := domain.ShortfallDebt
					if rnd.IntN(2) == 0 {
						policy = domain.ShortfallAbsorb
					}
					var out application.ClawbackOutcome
					out, _, err = l.accounts.Clawback(ctx, application.ClawbackCommand{Tenant: tenant, Account: acct,
						Funding: funding(rnd.IntN(payments)), Amount: amount.Add(amount), Policy: policy}, nil)
					if err == nil {
						r := out.Result
						if sum := r.FromFunded.Add(r.FromOther).Add(r.Debt).Add(r.Absorbed); !sum.Equal(out.Transaction.Amount()) {
							t.Errorf("clawback of %s: result sums to %s", out.Transaction.Amount(), sum)
						}
						if policy == domain.ShortfallAbsorb && !(r.FromOther.IsZero() && r.Debt.IsZero()) {
							t.Errorf("absorbing clawback took %s from other lots and %s as debt", r.FromOther, r.Debt)
						}
						totals.add(func() {
							totals.clawbacks++
							totals.clawedOut = totals.clawedOut.Add(r.FromFunded).Add(r.FromOther).Add(r.Debt)
							totals.absorbed = totals.absorbed.Add(r.Absorbed)
							totals.debtAdded = totals.debtAdded.Add(r.Debt)
						})
					}
				default: // hold, then capture half or release
					var h application.HoldView
					h, _, err = l.holds.Place(ctx, application.PlaceHoldCommand{Tenant: tenant, Account: acct, Amount: amount, ExpiresIn: time.Hour}, nil)
					if err != nil {
						break
					}
					if rnd.IntN(2) == 0 {
						_, _, err = l.holds.Release(ctx, application.ReleaseCommand{Tenant: tenant, Hold: h.ID()}, nil)
						break
					}
					if _, _, err = l.holds.Capture(ctx, application.CaptureCommand{Tenant: tenant, Hold: h.ID(), Amount: amount}, nil); err == nil {
						totals.add(func() { totals.captured = totals.captured.Add(amount) })
					}
				}
				switch {
				case errors.Is(err, domain.ErrInsufficientCredits):
					totals.add(func() { totals.refusals++ })
				case err != nil:
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	t.Logf("%d grants, %d spends, %d clawbacks, %d refusals; debt added %s, paid %s; absorbed %s",
		totals.grants, totals.spends, totals.clawbacks, totals.refusals, totals.debtAdded, totals.debtPaid, totals.absorbed)
	if totals.clawbacks == 0 || totals.debtAdded.IsZero() || totals.debtPaid.IsZero() || totals.absorbed.IsZero() || totals.refusals == 0 {
		t.Errorf("the mix did not exercise debt, its payment, absorption and refusals; change the amounts")
	}

	l.requireSound(t)
	view, err := l.accounts.GetAccount(ctx, tenant, acct)
	if err != nil {
		t.Fatal(err)
	}
	wantBalance := totals.granted.Sub(totals.spent).Sub(totals.captured).Sub(totals.clawedOut)
	wantDebt := totals.debtAdded.Sub(totals.debtPaid)
	if !view.Balance.Equal(wantBalance) || !view.Debt.Equal(wantDebt) || !view.Held.IsZero() {
		t.Errorf("balance %s debt %s held %s; the movements add up to balance %s debt %s held 0", view.Balance, view.Debt, view.Held, wantBalance, wantDebt)
	}
	if view.Balance.IsNegative() && !view.Debt.IsPositive() {
		t.Errorf("balance %s negative without debt", view.Balance)
	}

	// The system accounts, derived from the postings, say the same.
	var rows []struct {
		Account string `bun:"system_account"`
		Total   string `bun:"total"`
	}
	if err := l.db.NewRaw("SELECT system_account, sum(amount)::text AS total FROM postings WHERE system_account IS NOT NULL GROUP BY 1").Scan(ctx, &rows); err != nil {
		t.Fatal(err)
	}
	got := map[string]domain.Credits{}
	for _, r := range rows {
		got[r.Account] = domain.MustCredits(r.Total)
	}
	for account, want := range map[string]domain.Credits{
		"purchases":     totals.granted.Neg(),
		"consumption":   totals.spent.Add(totals.captured).Sub(totals.absorbed),
		"refunds":       totals.clawedOut,
		"refund_losses": totals.absorbed,
	} {
		if !got[account].Equal(want) {
			t.Errorf("%s: postings sum to %s, the movements to %s", account, got[account], want)
		}
	}
}

// TestDebtConstraints: the database refuses caches no model state has: a
// negative balance without debt, negative debt, more held than the lots
// have; and a system posting naming a wallet or lot.
func TestDebtConstraints(t *testing.T) {
	t.Parallel()
	l := newLedger(t, system.Clock{})
	seed(t, l, "user-1", "10")
	ctx := context.Background()
	for _, c := range []struct{ stmt, constraint string }{ // in order: each starts from a sound wallet of 10
		{"UPDATE wallets SET balance = -1", "wallets_balance_not_negative"},
		{"UPDATE wallets SET debt = -1", "wallets_debt_not_negative"},
		{"UPDATE wallets SET held = 11", "wallets_held_within_balance"},
		{"UPDATE wallets SET balance = -1, debt = 1, held = 1", "wallets_held_within_balance"},
		{"UPDATE wallets SET balance = -1, debt = 11, held = 10", ""}, // in debt with everything held: a state the model has
		{"UPDATE wallets SET balance = 10, debt = 0, held = 0", ""},
	} {
		stmt, constraint := c.stmt, c.constraint
		_, err := l.db.ExecContext(ctx, stmt)
		switch {
		case constraint == "" && err != nil:
			t.Errorf("%s: %v", stmt, err)
		case constraint != "" && (err == nil || !strings.Contains(err.Error(), constraint)):
			t.Errorf("%s: %v, want %s refused", stmt, err, constraint)
		}
	}
	var wallet string
	if err := l.db.NewRaw("SELECT id FROM wallets").Scan(ctx, &wallet); err != nil {
		t.Fatal(err)
	}
	_, err := l.db.ExecContext(ctx, `
		WITH t AS (INSERT INTO transactions (id, tenant_id, wallet_id, account_id, type, amount, balance_after, reason, metadata, created_at)
		           SELECT '00000000-0000-7000-8000-000000000002', tenant_id, id, account_id, 'CLAWBACK', 1, 10, '', '{}', now() FROM wallets RETURNING id, tenant_id)
		INSERT INTO postings (transaction_id, seq, tenant_id, wallet_id, lot_id, system_account, amount)
		SELECT t.id, 0, t.tenant_id, ?::uuid, NULL::uuid, 'refunds', 1 FROM t
		UNION ALL SELECT t.id, 1, t.tenant_id, NULL::uuid, NULL::uuid, 'refund_losses', -1 FROM t`, wallet)
	if err == nil || !strings.Contains(err.Error(), "postings_one_side") {
		t.Errorf("a system posting on a wallet: %v, want postings_one_side refused", err)
	}
	l.requireSound(t)
}
