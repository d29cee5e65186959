package domain_test

import (
	"errors"
	"testing"
	"time"

	"github.com/creditd/creditd/domain"
)

// spent is a wallet with lots A (20, expiring at +1h) and B (50), after a
// spend of 30 that took A's 20 then B's 10; emptied is A, no longer open.
func spent(t *testing.T) (w *domain.Wallet, spend domain.Transaction, emptied []*domain.Lot) {
	t.Helper()
	w = wallet(
		lotSpec{name: 'A', priority: 10, createdAt: base, remaining: "20", expiresAt: at(time.Hour)},
		lotSpec{name: 'B', priority: 50, createdAt: base, remaining: "50"},
	)
	lots := w.Lots()
	spend, err := w.Spend(domain.TransactionID(newID(80)), domain.MustCredits("30"), domain.Memo{}, base)
	if err != nil {
		t.Fatal(err)
	}
	if got := postings(spend); got != "A-20 B-10 consumption+30" {
		t.Fatalf("spend postings %s", got)
	}
	w.ForgetChanges()
	return w, spend, lots[:1]
}

func credits(s string) *domain.Credits { c := domain.MustCredits(s); return &c }

func TestReverseSpend(t *testing.T) {
	tests := []struct {
		name     string
		reversed string          // reversed before
		amount   *domain.Credits // nil: all that is left
		now      time.Time
		// want
		postings, lots, balance string
	}{
		{"all, to the lots it came from, last taken first", "0", nil, base,
			"B+10 A+20 consumption-30", "A:20/0 B:50/0", "70"},
		{"part: the last lot's share first", "0", credits("5"), base,
			"B+5 consumption-5", "B:45/0", "45"},
		{"a second part goes on where the first stopped", "5", credits("10"), base,
			"B+5 A+5 consumption-10", "A:5/0 B:45/0", "50"},
		{"the rest", "15", nil, base,
			"A+15 consumption-15", "A:15/0 B:40/0", "55"},
		{"an expired lot's share goes to breakage", "0", nil, base.Add(2 * time.Hour),
			"B+10 breakage+20 consumption-30", "B:50/0", "50"},
		{"only breakage", "10", credits("20"), base.Add(2 * time.Hour),
			"breakage+20 consumption-20", "B:40/0", "40"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, spend, emptied := spent(t)
			rev, err := w.Reverse(domain.Reversal{Transaction: domain.TransactionID(newID(81)), Original: spend,
				Reversed: domain.MustCredits(tt.reversed), Amount: tt.amount, Lots: emptied, Memo: domain.Memo{Reason: "oops"}}, tt.now)
			if err != nil {
				t.Fatal(err)
			}
			if got := postings(rev); got != tt.postings {
				t.Errorf("postings %s\nwant     %s", got, tt.postings)
			}
			if rev.Type() != domain.TransactionReversal || rev.ReversalOf() == nil || *rev.ReversalOf() != spend.ID() || rev.Memo().Reason != "oops" {
				t.Errorf("reversal %s of %v (%q)", rev.Type(), rev.ReversalOf(), rev.Memo().Reason)
			}
			w.ForgetChanges()
			if got := remaining(w); got != tt.lots {
				t.Errorf("lots %s, want %s", got, tt.lots)
			}
			if !w.Balance().Equal(domain.MustCredits(tt.balance)) || !rev.BalanceAfter().Equal(w.Balance()) {
				t.Errorf("balance %s (transaction says %s), want %s", w.Balance(), rev.BalanceAfter(), tt.balance)
			}
			if err := w.CheckInvariants(nil); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestReverseCapture(t *testing.T) {
	w := wallet(lotSpec{name: 'A', createdAt: base, remaining: "10"}, lotSpec{name: 'B', createdAt: base.Add(time.Second), remaining: "10"})
	lots := w.Lots()
	h, err := w.PlaceHold(domain.NewHold{Hold: domain.HoldID(newID(70)), Amount: domain.MustCredits("15"), ExpiresAt: base.Add(time.Hour)}, base)
	if err != nil {
		t.Fatal(err)
	}
	capture, err := w.CaptureHold(h, domain.TransactionID(newID(71)), domain.MustCredits("12"), base)
	if err != nil {
		t.Fatal(err)
	}
	w.ForgetChanges()
	rev, err := w.Reverse(domain.Reversal{Transaction: domain.TransactionID(newID(72)), Original: capture, Reversed: domain.ZeroCredits,
		Lots: lots}, base)
	if err != nil {
		t.Fatal(err)
	}
	if got := postings(rev); got != "B+2 A+10 consumption-12" {
		t.Errorf("postings %s", got)
	}
	w.ForgetChanges()
	if got := remaining(w); got != "A:10/0 B:10/3" || !w.Held().Equal(domain.MustCredits("3")) {
		t.Errorf("lots %s held %s", got, w.Held())
	}
	if err := w.CheckInvariants([]*domain.Hold{h}); err != nil {
		t.Error(err)
	}
}

func TestReverseGrant(t *testing.T) {
	now := base.Add(time.Minute)
	tests := []struct {
		name     string
		spend    string // spent of the grant before
		reversed string
		amount   *domain.Credits
		policy   domain.ShortfallPolicy
		// want
		postings, lots, balance, debt string
	}{
		{"unspent: all back to promotions", "0", "0", nil, domain.ShortfallDebt,
			"G-50 promotions+50", "O:5/0", "5", "0"},
		{"part of an unspent grant", "0", "0", credits("20"), domain.ShortfallDebt,
			"G-20 promotions+20", "G:30/0 O:5/0", "35", "0"},
		{"partly spent, debt: the other lots, then debt", "45", "0", nil, domain.ShortfallDebt,
			"G-5 O-5 debt-40 promotions+50", "", "-40", "40"},
		{"partly spent, absorb: a loss", "45", "0", nil, domain.ShortfallAbsorb,
			"G-5 promotions+5 refund_losses+45 consumption-45", "O:5/0", "5", "0"},
		{"what is left after an earlier reversal", "0", "30", nil, domain.ShortfallDebt,
			"G-20 promotions+20", "G:30/0 O:5/0", "35", "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := wallet(lotSpec{name: 'O', priority: 60, createdAt: base, remaining: "5"})
			grant, err := w.Grant(domain.Grant{Transaction: domain.TransactionID(newID(60)), Lot: domain.LotID(newID('G')),
				Amount: domain.MustCredits("50"), Source: domain.LotBonus, Priority: 10}, base)
			if err != nil {
				t.Fatal(err)
			}
			lots := w.Lots()
			if tt.spend != "0" {
				if _, err := w.Spend(domain.TransactionID(newID(61)), domain.MustCredits(tt.spend), domain.Memo{}, base); err != nil {
					t.Fatal(err)
				}
			}
			w.ForgetChanges()
			rev, err := w.Reverse(domain.Reversal{Transaction: domain.TransactionID(newID(62)), Original: grant,
				Reversed: domain.MustCredits(tt.reversed), Amount: tt.amount, Policy: tt.policy, Lots: lots}, now)
			if err != nil {
				t.Fatal(err)
			}
			if got := postings(rev); got != tt.postings {
				t.Errorf("postings %s\nwant     %s", got, tt.postings)
			}
			w.ForgetChanges()
			if got := remaining(w); got != tt.lots {
				t.Errorf("lots %s, want %s", got, tt.lots)
			}
			if !w.Balance().Equal(domain.MustCredits(tt.balance)) || !w.Debt().Equal(domain.MustCredits(tt.debt)) {
				t.Errorf("balance %s debt %s, want %s and %s", w.Balance(), w.Debt(), tt.balance, tt.debt)
			}
			if err := w.CheckInvariants(nil); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestReverseRefuses(t *testing.T) {
	w := wallet(lotSpec{name: 'A', createdAt: base, remaining: "100"})
	order := mustFunding("pay_9")
	purchase, err := w.Grant(domain.Grant{Transaction: domain.TransactionID(newID(50)), Lot: domain.LotID(newID('P')),
		Amount: domain.MustCredits("10"), Source: domain.LotPaid, Priority: 50, Funding: order}, base)
	if err != nil {
		t.Fatal(err)
	}
	expiring, err := w.Grant(domain.Grant{Transaction: domain.TransactionID(newID(51)), Lot: domain.LotID(newID('E')),
		Amount: domain.MustCredits("10"), Source: domain.LotBonus, Priority: 50, ExpiresAt: at(time.Minute)}, base)
	if err != nil {
		t.Fatal(err)
	}
	granted := w.Lots()
	spend, err := w.Spend(domain.TransactionID(newID(52)), domain.MustCredits("10"), domain.Memo{}, base)
	if err != nil {
		t.Fatal(err)
	}
	w.ForgetChanges()
	later := base.Add(time.Hour)
	expiry, _, err := w.ExpireDue(domain.TransactionID(newID(53)), later)
	if err != nil {
		t.Fatal(err)
	}
	clawback, _, err := w.Clawback(domain.Clawback{Transaction: domain.TransactionID(newID(54)), Funding: order,
		Amount: domain.MustCredits("1"), Policy: domain.ShortfallDebt}, later)
	if err != nil {
		t.Fatal(err)
	}
	reversal, err := w.Reverse(domain.Reversal{Transaction: domain.TransactionID(newID(55)), Original: spend, Reversed: domain.ZeroCredits,
		Amount: credits("1")}, later)
	if err != nil {
		t.Fatal(err)
	}
	w.ForgetChanges()
	other := wallet(lotSpec{name: 'A', createdAt: base, remaining: "100"})
	otherSpend, err := other.Spend(domain.TransactionID(newID(56)), domain.MustCredits("1"), domain.Memo{}, base)
	if err != nil {
		t.Fatal(err)
	}
	otherSpend, _ = domain.RehydrateTransaction(otherSpend.ID(), otherSpend.Tenant(), otherSpend.Type(), domain.WalletID(newID(199)),
		otherSpend.AccountID(), otherSpend.Amount(), otherSpend.BalanceAfter(), nil, domain.Memo{}, base, otherSpend.Postings())

	tests := []struct {
		name     string
		original domain.Transaction
		reversed string
		amount   *domain.Credits
		want     error // nil: any error that is not a rejection
	}{
		{"a reversal", reversal, "0", nil, domain.ErrNotReversible},
		{"an expiration", expiry, "0", nil, domain.ErrNotReversible},
		{"a clawback", clawback, "0", nil, domain.ErrNotReversible},
		{"a purchase grant", purchase, "0", nil, domain.ErrNotReversible},
		{"a grant whose lot expired", expiring, "0", nil, domain.ErrNotReversible},
		{"more than the original", spend, "0", credits("10.000001"), domain.ErrReversalExceedsOriginal},
		{"more than is left", spend, "4", credits("7"), domain.ErrReversalExceedsOriginal},
		{"nothing left", spend, "10", nil, domain.ErrReversalExceedsOriginal},
		{"zero", spend, "0", credits("0"), domain.ErrInvalidInput},
		{"negative", spend, "0", credits("-1"), domain.ErrInvalidInput},
		{"another wallet's transaction", otherSpend, "0", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, balance := remaining(w), w.Balance()
			_, err := w.Reverse(domain.Reversal{Transaction: domain.TransactionID(newID(57)), Original: tt.original,
				Reversed: domain.MustCredits(tt.reversed), Amount: tt.amount, Policy: domain.ShortfallDebt, Lots: granted}, later)
			switch {
			case err == nil:
				t.Fatal("Reverse succeeded")
			case tt.want == nil && domain.IsRejection(err):
				t.Fatalf("Reverse = %v, want a programming error", err)
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Fatalf("Reverse = %v, want %v", err, tt.want)
			}
			if after := remaining(w); after != before || !w.Balance().Equal(balance) || len(w.ChangedLots()) != 0 {
				t.Errorf("a refused reversal changed the wallet: %s, then %s", before, after)
			}
		})
	}
}

func TestReversalTypeParses(t *testing.T) {
	for _, typ := range []string{"GRANT", "SPEND", "CAPTURE", "EXPIRATION", "CLAWBACK", "REVERSAL"} {
		if _, err := domain.TransactionTypeFromString(typ); err != nil {
			t.Errorf("TransactionTypeFromString(%q): %v", typ, err)
		}
	}
}
