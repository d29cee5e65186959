//go:build integration

package contract

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/creditd/creditd/adapters/memory"
	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// clawbackFixture drives the use cases on one implementation.
type clawbackFixture struct {
	*fixture
	accounts *application.Accounts
	holds    *application.Holds
}

func (f *clawbackFixture) grant(account, amount string, source domain.LotSource, funding string) domain.Transaction {
	f.t.Helper()
	cmd := application.GrantCommand{Tenant: f.tenant, Account: acct(account), Amount: cr(amount), Source: source, Priority: domain.DefaultLotPriority}
	if funding != "" {
		cmd.Funding = mustFunding(f.t, funding)
	}
	tx, _, err := f.accounts.Grant(f.ctx, cmd, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	return tx
}

func (f *clawbackFixture) spend(account, amount string) error {
	_, _, err := f.accounts.Spend(f.ctx, application.SpendCommand{Tenant: f.tenant, Account: acct(account), Amount: cr(amount)}, nil)
	return err
}

func (f *clawbackFixture) clawback(account, funding, amount string, policy domain.ShortfallPolicy, idem *application.Idempotency[application.ClawbackOutcome]) (application.ClawbackOutcome, *application.Receipt, error) {
	return f.accounts.Clawback(f.ctx, application.ClawbackCommand{Tenant: f.tenant, Account: acct(account), Funding: mustFunding(f.t, funding),
		Amount: cr(amount), Policy: policy, Memo: domain.Memo{Reason: "refund", Metadata: domain.Metadata{"payment": funding}}}, idem)
}

func (f *clawbackFixture) view(account string) application.AccountView {
	f.t.Helper()
	v, err := f.accounts.GetAccount(f.ctx, f.tenant, acct(account))
	if err != nil {
		f.t.Fatal(err)
	}
	return v
}

// newest is the account's newest transaction as history reads it back.
func (f *clawbackFixture) newest(account string) domain.Transaction {
	f.t.Helper()
	page, err := f.accounts.ListTransactions(f.ctx, f.tenant, acct(account), 1, nil)
	if err != nil || len(page.Items) != 1 {
		f.t.Fatalf("history of %s: %v, %v", account, page.Items, err)
	}
	return page.Items[0]
}

func mustFunding(t *testing.T, ref string) domain.Funding {
	t.Helper()
	funding, err := domain.NewFunding(domain.FundedExternally, ref)
	if err != nil {
		t.Fatal(err)
	}
	return funding
}

// postingsOf renders postings as "lot<-5>", "debt<-75>", "refunds<100>".
func postingsOf(t domain.Transaction, lots map[domain.LotID]string) string {
	var out []string
	for _, p := range t.Postings() {
		switch {
		case p.IsSystem():
			out = append(out, fmt.Sprintf("%s %s", p.System, p.Amount))
		case p.IsDebt():
			out = append(out, fmt.Sprintf("debt %s", p.Amount))
		default:
			out = append(out, fmt.Sprintf("%s %s", lots[p.Lot], p.Amount))
		}
	}
	return strings.Join(out, ", ")
}

func viewNumbers(v application.AccountView) string {
	return fmt.Sprintf("balance %s held %s available %s debt %s", v.Balance, v.Held, v.Available, v.Debt)
}

// TestClawback: through the use case, a clawback under each policy, and
// grants paying the debt, read back alike from every implementation, with
// the ledger sound after each step.
func TestClawback(t *testing.T) {
	contract(t, func(t *testing.T, f0 *fixture) {
		clock := memory.NewFixedClock(now)
		f := &clawbackFixture{fixture: f0,
			accounts: application.NewAccounts(f0.ports.uow, f0.ports.queries, clock, f0.ids),
			holds:    application.NewHolds(f0.ports.uow, f0.ports.queries, clock, f0.ids)}
		lots := map[domain.LotID]string{}
		lotOf := func(tx domain.Transaction, name string) { lots[tx.Postings()[1].Lot] = name }

		lotOf(f.grant("alice", "100", domain.LotPaid, "pay_1"), "paid")
		lotOf(f.grant("alice", "20", domain.LotBonus, ""), "bonus")
		if err := f.spend("alice", "90"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.holds.Place(f.ctx, application.PlaceHoldCommand{Tenant: f.tenant, Account: acct("alice"), Amount: cr("5"), ExpiresIn: time.Hour}, nil); err != nil {
			t.Fatal(err)
		}

		// pay_1's lot has 10 left, 5 of them held: 5 back from it, 20 from
		// the bonus lot, and the 75 spent become debt.
		var executed int
		idem := &application.Idempotency[application.ClawbackOutcome]{Key: "k", Fingerprint: []byte("clawback pay_1"),
			Encode: func(out application.ClawbackOutcome, rejection error) (application.Receipt, error) {
				executed++
				return application.Receipt{Status: 201, Body: []byte(out.Transaction.ID().String())}, nil
			}}
		out, _, err := f.clawback("alice", "pay_1", "100", domain.ShortfallDebt, idem)
		if err != nil {
			t.Fatal(err)
		}
		r := out.Result
		if got := fmt.Sprintf("%s %s %s %s", r.FromFunded, r.FromOther, r.Debt, r.Absorbed); got != "5 20 75 0" {
			t.Errorf("result (funded, other, debt, absorbed) %s, want 5 20 75 0", got)
		}
		tx := out.Transaction
		if got, want := postingsOf(tx, lots), "paid -5, bonus -20, debt -75, refunds 100"; got != want {
			t.Errorf("postings %s, want %s", got, want)
		}
		if tx.Type() != domain.TransactionClawback || tx.Amount().String() != "100" || tx.BalanceAfter().String() != "-70" {
			t.Errorf("%s of %s, balance after %s; want CLAWBACK of 100, -70", tx.Type(), tx.Amount(), tx.BalanceAfter())
		}
		if got := renderTx(f.newest("alice")); got != renderTx(tx) {
			t.Errorf("read back %s\nwant      %s", got, renderTx(tx))
		}
		if got, want := viewNumbers(f.view("alice")), "balance -70 held 5 available -75 debt 75"; got != want {
			t.Errorf("account: %s, want %s", got, want)
		}
		f.wantSound()

		// Replayed, not executed again.
		if _, receipt, err := f.clawback("alice", "pay_1", "100", domain.ShortfallDebt, idem); err != nil || receipt == nil || !receipt.Replayed || executed != 1 {
			t.Errorf("replay: %v, %v, executed %d times", renderReceipt(receipt), err, executed)
		}

		// In debt, the 5 held credits can be captured but nothing spent.
		wantErr(t, "spend in debt", f.spend("alice", "1"), domain.ErrInsufficientCredits)

		// A grant smaller than the debt goes to it whole, a larger one pays the rest.
		g := f.grant("alice", "50", domain.LotPaid, "pay_2")
		lotOf(g, "pay_2")
		if got, want := postingsOf(g, lots), "purchases -50, pay_2 50, pay_2 -50, debt 50"; got != want {
			t.Errorf("grant postings %s, want %s", got, want)
		}
		if got := renderTx(f.newest("alice")); got != renderTx(g) {
			t.Errorf("read back %s\nwant      %s", got, renderTx(g))
		}
		g = f.grant("alice", "30", domain.LotBonus, "")
		lotOf(g, "bonus2")
		if got, want := postingsOf(g, lots), "promotions -30, bonus2 30, bonus2 -25, debt 25"; got != want {
			t.Errorf("grant postings %s, want %s", got, want)
		}
		if got, want := viewNumbers(f.view("alice")), "balance 10 held 5 available 5 debt 0"; got != want {
			t.Errorf("account: %s, want %s", got, want)
		}
		if err := f.spend("alice", "5"); err != nil {
			t.Errorf("spend out of debt: %v", err)
		}
		f.wantSound()

		// Under absorb, what was spent is a loss; the wallet keeps the rest.
		lotOf(f.grant("bob", "10", domain.LotPaid, "pay_3"), "pay_3")
		lotOf(f.grant("bob", "4", domain.LotBonus, ""), "bonus3")
		if err := f.spend("bob", "12"); err != nil {
			t.Fatal(err)
		}
		out, _, err = f.clawback("bob", "pay_3", "10", domain.ShortfallAbsorb, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := postingsOf(out.Transaction, lots), "refund_losses 10, consumption -10"; got != want {
			t.Errorf("absorbed postings %s, want %s", got, want)
		}
		if got := renderTx(f.newest("bob")); got != renderTx(out.Transaction) {
			t.Errorf("read back %s\nwant      %s", got, renderTx(out.Transaction))
		}
		if got, want := viewNumbers(f.view("bob")), "balance 2 held 0 available 2 debt 0"; got != want {
			t.Errorf("account: %s, want %s", got, want)
		}

		_, _, err = f.clawback("nobody", "pay_1", "1", domain.ShortfallDebt, nil)
		wantErr(t, "clawback without a wallet", err, domain.ErrNotFound)
		_, _, err = f.accounts.Clawback(f.ctx, application.ClawbackCommand{Tenant: f.tenant, Account: acct("bob"), Amount: cr("1"), Policy: domain.ShortfallDebt}, nil)
		wantErr(t, "clawback without funding", err, domain.ErrInvalidInput)
		f.wantSound()
	})
}
