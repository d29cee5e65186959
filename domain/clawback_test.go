package domain_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/creditd/creditd/domain"
)

func mustFunding(ref string) domain.Funding {
	f, err := domain.NewFunding(domain.FundedByOrder, ref)
	if err != nil {
		panic(err)
	}
	return f
}

var (
	payment = mustFunding("pay_1")
	another = mustFunding("pay_2")
)

// walletInDebt rehydrates a wallet owing debt, its caches agreeing with its lots.
func walletInDebt(debt string, specs ...lotSpec) *domain.Wallet {
	w := wallet(specs...)
	d := domain.MustCredits(debt)
	return domain.RehydrateWallet(w.ID(), w.Tenant(), w.AccountID(), w.Balance().Sub(d), w.Held(), d, w.CreatedAt(), w.Lots(), nil)
}

// postings renders postings as "A-6" (lot A), "debt-9" and "refunds+20".
func postings(t domain.Transaction) string {
	var out []string
	for _, p := range t.Postings() {
		sign := ""
		if p.Amount.IsPositive() {
			sign = "+"
		}
		switch {
		case p.IsSystem():
			out = append(out, p.System.String()+sign+p.Amount.String())
		case p.IsDebt():
			out = append(out, "debt"+sign+p.Amount.String())
		default:
			out = append(out, string(lotName(p.Lot))+sign+p.Amount.String())
		}
	}
	return strings.Join(out, " ")
}

// remaining renders the open lots as "A:4/4" (remaining/held), in consumption order.
func remaining(w *domain.Wallet) string {
	var out []string
	for _, l := range w.Lots() {
		out = append(out, fmt.Sprintf("%c:%s/%s", lotName(l.ID()), l.Remaining(), l.Held()))
	}
	return strings.Join(out, " ")
}

func result(r domain.ClawbackResult) string {
	return fmt.Sprintf("funded %s other %s debt %s absorbed %s", r.FromFunded, r.FromOther, r.Debt, r.Absorbed)
}

func TestClawback(t *testing.T) {
	now := base.Add(time.Hour)
	tests := []struct {
		name   string
		debt   string // owed before
		lots   []lotSpec
		amount string
		policy domain.ShortfallPolicy
		// want
		postings, result, after string
		balance, debtAfter      string
	}{
		{"all from the funded lots, in consumption order", "0", []lotSpec{
			{name: 'A', priority: 60, createdAt: base, remaining: "30", funding: payment},
			{name: 'B', priority: 10, createdAt: base, remaining: "20", funding: payment},
			{name: 'C', priority: 0, createdAt: base, remaining: "50"},
			{name: 'D', priority: 0, createdAt: base, remaining: "5", funding: another},
		}, "35", domain.ShortfallDebt,
			"B-20 A-15 refunds+35", "funded 35 other 0 debt 0 absorbed 0", "C:50/0 D:5/0 B:0/0 A:15/0", "70", "0"},
		{"shortfall under debt: other free lots, then debt", "0", []lotSpec{
			{name: 'A', priority: 50, createdAt: base, remaining: "10", held: "4", funding: payment},
			{name: 'B', priority: 50, createdAt: base.Add(time.Second), remaining: "5"},
			{name: 'C', priority: 40, createdAt: base, remaining: "3", expiresAt: at(time.Minute)}, // expired, not the payment's: never taken
			{name: 'D', priority: 10, createdAt: base, remaining: "2", held: "2"},                  // held: never taken
		}, "20", domain.ShortfallDebt,
			"A-6 B-5 debt-9 refunds+20", "funded 6 other 5 debt 9 absorbed 0", "D:2/2 C:3/0 A:4/4 B:0/0", "0", "9"},
		{"shortfall under debt adds to the debt", "3", []lotSpec{
			{name: 'A', priority: 50, createdAt: base, remaining: "10", funding: payment},
		}, "12", domain.ShortfallDebt,
			"A-10 debt-2 refunds+12", "funded 10 other 0 debt 2 absorbed 0", "A:0/0", "-5", "5"},
		{"shortfall under absorb is a loss", "0", []lotSpec{
			{name: 'A', priority: 50, createdAt: base, remaining: "10", held: "4", funding: payment},
			{name: 'B', priority: 50, createdAt: base.Add(time.Second), remaining: "5"},
		}, "20", domain.ShortfallAbsorb,
			"A-6 refunds+6 refund_losses+14 consumption-14", "funded 6 other 0 debt 0 absorbed 14", "A:4/4 B:5/0", "9", "0"},
		{"all absorbed: the wallet does not change", "0", []lotSpec{
			{name: 'B', priority: 50, createdAt: base, remaining: "5"},
		}, "7", domain.ShortfallAbsorb,
			"refund_losses+7 consumption-7", "funded 0 other 0 debt 0 absorbed 7", "B:5/0", "5", "0"},
		{"expired funded lots are taken, before sweeping", "0", []lotSpec{
			{name: 'A', priority: 50, createdAt: base, remaining: "10", expiresAt: at(time.Minute), funding: payment},
			{name: 'B', priority: 50, createdAt: base, remaining: "10", expiresAt: at(2 * time.Hour), funding: payment},
		}, "15", domain.ShortfallDebt,
			"A-10 B-5 refunds+15", "funded 15 other 0 debt 0 absorbed 0", "A:0/0 B:5/0", "5", "0"},
		{"all debt", "0", []lotSpec{
			{name: 'B', priority: 50, createdAt: base, remaining: "4", held: "4"},
		}, "6", domain.ShortfallDebt,
			"debt-6 refunds+6", "funded 0 other 0 debt 6 absorbed 0", "B:4/4", "-2", "6"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := walletInDebt(tt.debt, tt.lots...)
			before := w.Balance()
			tx, res, err := w.Clawback(domain.Clawback{Transaction: domain.TransactionID(newID(90)), Funding: payment,
				Amount: domain.MustCredits(tt.amount), Policy: tt.policy, Memo: domain.Memo{Reason: "refund"}}, now)
			if err != nil {
				t.Fatal(err)
			}
			if got := postings(tx); got != tt.postings {
				t.Errorf("postings %s\nwant     %s", got, tt.postings)
			}
			if got := result(res); got != tt.result {
				t.Errorf("result %s, want %s", got, tt.result)
			}
			if tx.Type() != domain.TransactionClawback || !tx.Amount().Equal(domain.MustCredits(tt.amount)) || tx.Memo().Reason != "refund" {
				t.Errorf("transaction %s of %s (%q)", tx.Type(), tx.Amount(), tx.Memo().Reason)
			}
			if got := remaining(w); got != tt.after {
				t.Errorf("lots %s, want %s", got, tt.after)
			}
			if !w.Balance().Equal(domain.MustCredits(tt.balance)) || !tx.BalanceAfter().Equal(w.Balance()) || !w.Debt().Equal(domain.MustCredits(tt.debtAfter)) {
				t.Errorf("balance %s (transaction says %s) debt %s, want %s and %s", w.Balance(), tx.BalanceAfter(), w.Debt(), tt.balance, tt.debtAfter)
			}
			// The net balance falls by what was not absorbed.
			if fell := before.Sub(w.Balance()); !fell.Equal(tx.Amount().Sub(res.Absorbed)) {
				t.Errorf("balance fell by %s, want amount %s less absorbed %s", fell, tx.Amount(), res.Absorbed)
			}
			if sum := res.FromFunded.Add(res.FromOther).Add(res.Debt).Add(res.Absorbed); !sum.Equal(tx.Amount()) {
				t.Errorf("result sums to %s, want %s", sum, tx.Amount())
			}
			if err := w.CheckInvariants(nil); err != nil && w.Held().IsZero() {
				t.Error(err)
			}
			w.ForgetChanges()
		})
	}
}

func TestClawbackRefuses(t *testing.T) {
	tests := []struct {
		name string
		c    domain.Clawback
		want error
	}{
		{"zero amount", domain.Clawback{Funding: payment, Amount: domain.ZeroCredits, Policy: domain.ShortfallDebt}, domain.ErrInvalidInput},
		{"negative amount", domain.Clawback{Funding: payment, Amount: domain.MustCredits("-1"), Policy: domain.ShortfallDebt}, domain.ErrInvalidInput},
		{"no funding", domain.Clawback{Amount: domain.MustCredits("1"), Policy: domain.ShortfallDebt}, domain.ErrInvalidInput},
		{"no policy", domain.Clawback{Funding: payment, Amount: domain.MustCredits("1")}, domain.ErrInvalidInput},
		{"debt past the limit", domain.Clawback{Funding: payment, Amount: domain.MustCredits("2"), Policy: domain.ShortfallDebt}, domain.ErrBalanceLimit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := walletInDebt("999999999999999999", lotSpec{name: 'A', createdAt: base, remaining: "1", funding: payment})
			if tt.want != domain.ErrBalanceLimit {
				w = wallet(lotSpec{name: 'A', createdAt: base, remaining: "1", funding: payment})
			}
			before := remaining(w)
			if _, _, err := w.Clawback(tt.c, base); !errors.Is(err, tt.want) {
				t.Fatalf("Clawback = %v, want %v", err, tt.want)
			}
			if after := remaining(w); after != before || len(w.ChangedLots()) != 0 {
				t.Errorf("a refused clawback changed the wallet: %s, then %s", before, after)
			}
		})
	}
}

func TestShortfallPolicyFromString(t *testing.T) {
	for _, p := range []domain.ShortfallPolicy{domain.ShortfallDebt, domain.ShortfallAbsorb} {
		if got, err := domain.ShortfallPolicyFromString(p.String()); err != nil || got != p {
			t.Errorf("ShortfallPolicyFromString(%q) = %v, %v", p, got, err)
		}
	}
	for _, s := range []string{"", "DEBT", "loss"} {
		if _, err := domain.ShortfallPolicyFromString(s); !errors.Is(err, domain.ErrInvalidInput) {
			t.Errorf("ShortfallPolicyFromString(%q) = %v, want ErrInvalidInput", s, err)
		}
	}
}

func TestGrantPaysDebtFirst(t *testing.T) {
	w := walletInDebt("9", lotSpec{name: 'A', createdAt: base, remaining: "4", held: "4"})
	grant := func(n int, amount string) domain.Transaction {
		t.Helper()
		tx, err := w.Grant(domain.Grant{Transaction: domain.TransactionID(newID(n)), Lot: domain.LotID(newID(n)), Amount: domain.MustCredits(amount),
			Source: domain.LotPaid, Priority: domain.DefaultLotPriority, Funding: another}, base)
		if err != nil {
			t.Fatal(err)
		}
		return tx
	}

	// A grant smaller than the debt goes to it whole; its lot is created empty.
	tx := grant('G', "5")
	if got, want := postings(tx), "purchases-5 G+5 G-5 debt+5"; got != want {
		t.Errorf("postings %s, want %s", got, want)
	}
	if !tx.Amount().Equal(domain.MustCredits("5")) || !tx.BalanceAfter().Equal(domain.MustCredits("0")) || !w.Debt().Equal(domain.MustCredits("4")) {
		t.Errorf("grant of %s: balance after %s, debt %s; want 5, 0, 4", tx.Amount(), tx.BalanceAfter(), w.Debt())
	}
	if changed := w.ChangedLots(); len(changed) != 1 || !changed[0].Remaining().IsZero() || !changed[0].Amount().Equal(domain.MustCredits("5")) {
		t.Errorf("changed lots %v, want the new lot, empty", changed)
	}
	if tx.Funding() != another {
		t.Errorf("the grant's funding %v, want %v", tx.Funding(), another)
	}
	w.ForgetChanges()
	if got := remaining(w); got != "A:4/4" {
		t.Errorf("lots %s, want the emptied lot gone", got)
	}

	// A larger one pays off the rest and keeps the remainder.
	tx = grant('H', "10")
	if got, want := postings(tx), "purchases-10 H+10 H-4 debt+4"; got != want {
		t.Errorf("postings %s, want %s", got, want)
	}
	if !tx.BalanceAfter().Equal(domain.MustCredits("10")) || !w.Debt().IsZero() {
		t.Errorf("balance after %s, debt %s; want 10, 0", tx.BalanceAfter(), w.Debt())
	}
	if err := w.CheckInvariants(nil); err != nil && !strings.Contains(err.Error(), "open holds reserve") {
		t.Error(err)
	}
	// Out of debt, the next grant is a plain one.
	if got, want := postings(grant('I', "1")), "purchases-1 I+1"; got != want {
		t.Errorf("postings %s, want %s", got, want)
	}
	if got := remaining(w); got != "A:4/4 H:6/0 I:1/0" {
		t.Errorf("lots %s", got)
	}
}

func TestInDebtSpendsAndHoldsNeverOverdraw(t *testing.T) {
	// 10 free credits, 12 owed: nothing is spendable.
	w := walletInDebt("12", lotSpec{name: 'A', createdAt: base, remaining: "10"})
	if !w.Balance().Equal(domain.MustCredits("-2")) || !w.Available().Equal(domain.MustCredits("-2")) {
		t.Fatalf("balance %s available %s, want -2 and -2", w.Balance(), w.Available())
	}
	_, err := w.Spend(domain.TransactionID(newID(90)), domain.MustCredits("1"), domain.Memo{}, base)
	var insufficient *domain.InsufficientCreditsError
	if !errors.As(err, &insufficient) || !insufficient.Available.IsZero() {
		t.Fatalf("Spend in debt = %v, want insufficient credits with 0 available", err)
	}
	if _, err := w.PlaceHold(domain.NewHold{Hold: domain.HoldID(newID(91)), Amount: domain.MustCredits("1"), ExpiresAt: base.Add(time.Hour)}, base); !errors.Is(err, domain.ErrInsufficientCredits) {
		t.Fatalf("PlaceHold in debt = %v, want insufficient credits", err)
	}

	// Credits a released hold frees stay behind the debt.
	w = wallet(lotSpec{name: 'A', createdAt: base, remaining: "10"})
	h, err := w.PlaceHold(domain.NewHold{Hold: domain.HoldID(newID(92)), Amount: domain.MustCredits("10"), ExpiresAt: base.Add(time.Hour)}, base)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.Clawback(domain.Clawback{Transaction: domain.TransactionID(newID(93)), Funding: payment, Amount: domain.MustCredits("4"),
		Policy: domain.ShortfallDebt}, base); err != nil {
		t.Fatal(err)
	}
	if !w.Debt().Equal(domain.MustCredits("4")) || !w.Balance().Equal(domain.MustCredits("6")) || !w.Available().Equal(domain.MustCredits("-4")) {
		t.Fatalf("debt %s balance %s available %s, want 4, 6, -4", w.Debt(), w.Balance(), w.Available())
	}
	if err := w.CheckInvariants([]*domain.Hold{h}); err != nil {
		t.Fatal(err)
	}
	if err := w.ReleaseHold(h, base); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Spend(domain.TransactionID(newID(94)), domain.MustCredits("6.000001"), domain.Memo{}, base); !errors.Is(err, domain.ErrInsufficientCredits) {
		t.Fatalf("Spend beyond free less debt = %v, want insufficient credits", err)
	}
	tx, err := w.Spend(domain.TransactionID(newID(95)), domain.MustCredits("6"), domain.Memo{}, base)
	if err != nil {
		t.Fatal(err)
	}
	if !tx.BalanceAfter().Equal(domain.MustCredits("0")) || !w.Debt().Equal(domain.MustCredits("4")) {
		t.Errorf("after spending all it may: balance %s debt %s, want 0 and 4", tx.BalanceAfter(), w.Debt())
	}
	if err := w.CheckInvariants(nil); err != nil {
		t.Fatal(err)
	}
}

func TestCheckInvariantsWithDebt(t *testing.T) {
	lot := domain.RehydrateLot(domain.LotID(newID('A')), domain.LotBonus, domain.MustCredits("10"), domain.MustCredits("10"),
		domain.ZeroCredits, 50, nil, base, domain.Funding{})
	tests := []struct {
		balance, debt string
		ok            bool
	}{
		{"10", "0", true},
		{"-2", "12", true},
		{"3", "7", true},
		{"10", "7", false},  // balance is the net
		{"12", "-2", false}, // debt is never negative
	}
	for _, tt := range tests {
		w := domain.RehydrateWallet(walletID, tenantID, account, domain.MustCredits(tt.balance), domain.ZeroCredits, domain.MustCredits(tt.debt),
			base, []*domain.Lot{lot}, nil)
		if err := w.CheckInvariants(nil); tt.ok != (err == nil) {
			t.Errorf("balance %s debt %s: CheckInvariants = %v, want ok=%v", tt.balance, tt.debt, err, tt.ok)
		}
	}
	// held is bounded by the lots' remaining, not by the net balance.
	held := domain.RehydrateLot(domain.LotID(newID('A')), domain.LotBonus, domain.MustCredits("10"), domain.MustCredits("10"),
		domain.MustCredits("10"), 50, nil, base, domain.Funding{})
	h := domain.RehydrateHold(domain.HoldID(newID(70)), tenantID, walletID, account, domain.MustCredits("10"), domain.ZeroCredits,
		domain.HoldActive, domain.Memo{}, base.Add(time.Hour), base, []domain.HoldAllocation{{Lot: held.ID(), Amount: domain.MustCredits("10")}})
	w := domain.RehydrateWallet(walletID, tenantID, account, domain.MustCredits("4"), domain.MustCredits("10"), domain.MustCredits("6"),
		base, []*domain.Lot{held}, ptr(base.Add(time.Hour)))
	if err := w.CheckInvariants([]*domain.Hold{h}); err != nil {
		t.Errorf("held within the lots, above the net balance: %v", err)
	}
}

// The debt leg is a wallet posting without a lot.
func TestDebtPostingIsAWalletPosting(t *testing.T) {
	w := walletInDebt("0", lotSpec{name: 'A', createdAt: base, remaining: "1"})
	tx, _, err := w.Clawback(domain.Clawback{Transaction: domain.TransactionID(newID(90)), Funding: payment, Amount: domain.MustCredits("3"),
		Policy: domain.ShortfallDebt}, base)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(tx.Postings(), domain.Posting.IsDebt)
	if i < 0 {
		t.Fatalf("no debt posting in %s", postings(tx))
	}
	p := tx.Postings()[i]
	if p.IsSystem() || p.Wallet != walletID || p.AccountID != account || p.Lot != (domain.LotID{}) || !p.LotFunding.IsZero() {
		t.Errorf("debt posting %+v", p)
	}
	if !tx.Funding().IsZero() {
		t.Errorf("a clawback has funding %v", tx.Funding())
	}
}
