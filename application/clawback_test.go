package application_test

import (
	"errors"
	"testing"
	"time"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

func funded(ref string) func(*application.GrantCommand) {
	return func(c *application.GrantCommand) {
		c.Source = domain.LotPaid
		c.Funding, _ = domain.NewFunding(domain.FundedExternally, ref)
	}
}

func (e *env) clawback(account, ref, amount string, policy domain.ShortfallPolicy) (application.ClawbackOutcome, error) {
	f, _ := domain.NewFunding(domain.FundedExternally, ref)
	out, _, err := e.accounts.Clawback(e.ctx, application.ClawbackCommand{Tenant: e.tenant, Account: acct(account), Funding: f,
		Amount: cr(amount), Policy: policy}, nil)
	return out, err
}

func TestClawbackDebtThenGrant(t *testing.T) {
	e := newEnv(t)
	e.grant("alice", "10", funded("pay_1"))
	if _, err := e.spend("alice", "8"); err != nil {
		t.Fatal(err)
	}
	out, err := e.clawback("alice", "pay_1", "10", domain.ShortfallDebt)
	if err != nil {
		t.Fatal(err)
	}
	if !out.Result.FromFunded.Equal(cr("2")) || !out.Result.Debt.Equal(cr("8")) {
		t.Fatalf("result %+v, want 2 from the funded lot and 8 of debt", out.Result)
	}
	if v := e.account("alice"); !v.Balance.Equal(cr("-8")) || !v.Debt.Equal(cr("8")) || !v.Available.Equal(cr("-8")) {
		t.Fatalf("account balance %s debt %s available %s, want -8, 8, -8", v.Balance, v.Debt, v.Available)
	}
	if _, err := e.spend("alice", "1"); !errors.Is(err, domain.ErrInsufficientCredits) {
		t.Fatalf("spend in debt: %v", err)
	}
	e.grant("alice", "10")
	if v := e.account("alice"); !v.Balance.Equal(cr("2")) || !v.Debt.IsZero() {
		t.Fatalf("after a grant: balance %s debt %s, want 2 and 0", v.Balance, v.Debt)
	}
	if _, err := e.clawback("nobody", "pay_1", "1", domain.ShortfallDebt); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("clawback without a wallet: %v", err)
	}
}

// TestClawbackSettlesFirst: like every movement, a clawback first sweeps
// what has expired, so a funded lot past its expiry gives nothing back:
// its credits went to breakage, and the shortfall follows the policy.
func TestClawbackSettlesFirst(t *testing.T) {
	e := newEnv(t)
	e.grant("alice", "10", funded("pay_1"), expiresIn(e, time.Hour))
	e.grant("alice", "3")
	e.clock.Advance(2 * time.Hour)
	out, err := e.clawback("alice", "pay_1", "10", domain.ShortfallAbsorb)
	if err != nil {
		t.Fatal(err)
	}
	if !out.Result.FromFunded.IsZero() || !out.Result.Absorbed.Equal(cr("10")) {
		t.Fatalf("result %+v, want all 10 absorbed", out.Result)
	}
	h := e.history("alice")
	if h[0].Type() != domain.TransactionClawback || h[1].Type() != domain.TransactionExpiration {
		t.Fatalf("history %s, %s; want the expiration, then the clawback", h[1].Type(), h[0].Type())
	}
	e.wantAccount("alice", "3", "0")
}
