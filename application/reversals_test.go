package application_test

import (
	"errors"
	"testing"
	"time"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

func (e *env) reversals(policy domain.ShortfallPolicy) *application.Reversals {
	return application.NewReversals(e.store.UnitOfWork(), e.store.Queries(), e.clock, e.ids, application.ReversalsConfig{Shortfall: policy})
}

func (e *env) reverse(r *application.Reversals, tx domain.TransactionID, amount string) (domain.Transaction, error) {
	cmd := application.ReverseCommand{Tenant: e.tenant, Transaction: tx, Memo: domain.Memo{Reason: "mistake"}}
	if amount != "" {
		a := cr(amount)
		cmd.Amount = &a
	}
	t, _, err := r.Reverse(e.ctx, cmd, nil)
	return t, err
}

func (e *env) mustSpend(account, amount string) domain.Transaction {
	e.t.Helper()
	tx, err := e.spend(account, amount)
	if err != nil {
		e.t.Fatal(err)
	}
	return tx
}

// TestReverse runs each rule end to end through the memory store: the
// wallet after the reversals, what history says was reversed, and the
// refusals.
func TestReverse(t *testing.T) {
	type step struct {
		of     int    // index of the transaction reversed among those setup returned
		amount string // "" for all that is left
		want   error
	}
	tests := []struct {
		name   string
		policy domain.ShortfallPolicy
		// setup returns the transactions steps reverse, by index
		setup    func(e *env) []domain.Transaction
		steps    []step
		balance  string
		debt     string
		reversed string // history's reversedAmount of transaction 0
	}{
		{"a spend, in parts, to the emptied lot it came from", domain.ShortfallDebt, func(e *env) []domain.Transaction {
			e.grant("u", "10", priority(10))
			e.grant("u", "10", priority(20))
			return []domain.Transaction{e.mustSpend("u", "15")}
		}, []step{{0, "4", nil}, {0, "", nil}, {0, "0.000001", domain.ErrReversalExceedsOriginal}}, "20", "0", "15"},
		{"more than the spend, at once", domain.ShortfallDebt, func(e *env) []domain.Transaction {
			e.grant("u", "10")
			return []domain.Transaction{e.mustSpend("u", "5")}
		}, []step{{0, "5.000001", domain.ErrReversalExceedsOriginal}, {0, "5", nil}}, "10", "0", "5"},
		{"a capture", domain.ShortfallDebt, func(e *env) []domain.Transaction {
			e.grant("u", "10")
			h, err := e.placeHold("u", "8", time.Hour)
			if err != nil {
				e.t.Fatal(err)
			}
			c, err := e.capture(h.ID(), "6")
			if err != nil {
				e.t.Fatal(err)
			}
			return []domain.Transaction{c.Transaction}
		}, []step{{0, "", nil}}, "10", "0", "6"},
		{"a spend whose lot expired since: breakage", domain.ShortfallDebt, func(e *env) []domain.Transaction {
			e.grant("u", "10", expiresIn(e, time.Hour))
			e.grant("u", "10", priority(90))
			s := e.mustSpend("u", "12")
			e.clock.Advance(2 * time.Hour)
			return []domain.Transaction{s}
		}, []step{{0, "", nil}}, "10", "0", "12"},
		{"a grant, partly spent, debt", domain.ShortfallDebt, func(e *env) []domain.Transaction {
			g := e.grant("u", "10")
			e.mustSpend("u", "7")
			return []domain.Transaction{g}
		}, []step{{0, "", nil}}, "-7", "7", "10"},
		{"a grant, partly spent, absorb", domain.ShortfallAbsorb, func(e *env) []domain.Transaction {
			g := e.grant("u", "10")
			e.mustSpend("u", "7")
			return []domain.Transaction{g}
		}, []step{{0, "", nil}}, "0", "0", "10"},
		{"not a reversal, an expiry, a clawback or a purchase", domain.ShortfallDebt, func(e *env) []domain.Transaction {
			order, _ := domain.NewFunding(domain.FundedByOrder, "pay_1")
			purchase := e.grant("u", "10", func(c *application.GrantCommand) { c.Funding = order })
			e.grant("u", "5", expiresIn(e, time.Hour))
			s := e.mustSpend("u", "1")
			r, err := e.reverse(e.reversals(domain.ShortfallDebt), s.ID(), "1")
			if err != nil {
				e.t.Fatal(err)
			}
			cb, _, err := e.accounts.Clawback(e.ctx, application.ClawbackCommand{Tenant: e.tenant, Account: acct("u"), Funding: order,
				Amount: cr("1"), Policy: domain.ShortfallDebt}, nil)
			if err != nil {
				e.t.Fatal(err)
			}
			e.clock.Advance(2 * time.Hour)
			if _, err := e.expiry.ExpireLots(e.ctx, 10); err != nil {
				e.t.Fatal(err)
			}
			exp := e.history("u")[0]
			return []domain.Transaction{s, r, exp, cb.Transaction, purchase}
		}, []step{{1, "", domain.ErrNotReversible}, {2, "", domain.ErrNotReversible}, {3, "", domain.ErrNotReversible},
			{4, "", domain.ErrNotReversible}}, "9", "0", "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			txs := tt.setup(e)
			r := e.reversals(tt.policy)
			for i, s := range tt.steps {
				before := e.account("u")
				rev, err := e.reverse(r, txs[s.of].ID(), s.amount)
				if !errors.Is(err, s.want) || (s.want == nil && err != nil) {
					t.Fatalf("step %d: reverse = %v, want %v", i, err, s.want)
				}
				if err != nil {
					if after := e.account("u"); !after.Balance.Equal(before.Balance) || !after.Debt.Equal(before.Debt) {
						t.Fatalf("step %d: a refused reversal changed the account", i)
					}
					continue
				}
				if rev.Type() != domain.TransactionReversal || *rev.ReversalOf() != txs[s.of].ID() || rev.Memo().Reason != "mistake" {
					t.Fatalf("step %d: %s of %v (%q)", i, rev.Type(), rev.ReversalOf(), rev.Memo().Reason)
				}
			}
			v := e.account("u")
			if v.Balance.String() != tt.balance || v.Debt.String() != tt.debt {
				t.Errorf("balance %s debt %s, want %s and %s", v.Balance, v.Debt, tt.balance, tt.debt)
			}
			page, err := e.accounts.ListTransactions(e.ctx, e.tenant, acct("u"), 50, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := page.Reversals[txs[0].ID()]; got.Reversed.String() != tt.reversed {
				t.Errorf("history: %s reversed, want %s", got.Reversed, tt.reversed)
			}
			for _, item := range page.Items {
				if info := page.Reversals[item.ID()]; (item.Type() == domain.TransactionReversal) != (info.Of != nil) {
					t.Errorf("history: %s %s links to %v", item.Type(), item.ID(), info.Of)
				}
			}
		})
	}
}

// TestReverseUnknownTransaction: another tenant's transaction is not found,
// and the refusal is kept under the idempotency key like any rejection.
func TestReverseUnknownTransaction(t *testing.T) {
	e := newEnv(t)
	e.grant("u", "10")
	spend := e.mustSpend("u", "5")
	r := e.reversals(domain.ShortfallDebt)
	other := application.ReverseCommand{Tenant: domain.TenantID(e.ids.NewID()), Transaction: spend.ID(), Memo: domain.Memo{Reason: "x"}}
	encoded := 0
	idem := &application.Idempotency[domain.Transaction]{Key: "k", Fingerprint: []byte("f"),
		Encode: func(_ domain.Transaction, rejection error) (application.Receipt, error) {
			encoded++
			if !errors.Is(rejection, domain.ErrNotFound) {
				t.Errorf("encoded %v, want not found", rejection)
			}
			return application.Receipt{Status: 404}, nil
		}}
	for range 2 {
		_, receipt, err := r.Reverse(e.ctx, other, idem)
		if err != nil || receipt.Status != 404 {
			t.Fatalf("reverse another tenant's transaction: %v, %+v", err, receipt)
		}
	}
	if encoded != 1 {
		t.Errorf("the rejection was encoded %d times, want once (then replayed)", encoded)
	}
	if _, err := e.reverse(r, domain.TransactionID(e.ids.NewID()), ""); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("reverse an unknown transaction: %v", err)
	}
}
