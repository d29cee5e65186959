package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

type auditor struct{ s *Store }

// Audit recomputes, from the postings and the open holds alone, every number
// the store caches, and reports each disagreement on a line of its own.
func (a auditor) Audit(ctx context.Context) (application.AuditReport, error) {
	var report application.AuditReport
	err := a.s.read(ctx, func(d db) error {
		report = audit(d)
		return nil
	})
	return report, err
}

func audit(d db) application.AuditReport {
	var report application.AuditReport
	drift := func(format string, args ...any) { report.Drifts = append(report.Drifts, fmt.Sprintf(format, args...)) }

	lotOwner := map[domain.LotID]domain.WalletID{}
	for _, w := range d.wallets.all {
		for _, l := range w.lots {
			lotOwner[l.id] = w.id
		}
	}

	// What the postings say each wallet and lot holds.
	walletPosted := map[domain.WalletID]domain.Credits{}
	debtPosted := map[domain.WalletID]domain.Credits{} // minus the debt
	lotPosted := map[domain.LotID]domain.Credits{}
	for id, t := range d.ledger.all {
		report.Transactions++
		sum := domain.ZeroCredits
		for _, p := range t.postings {
			sum = sum.Add(p.Amount)
			if p.IsSystem() {
				continue
			}
			walletPosted[p.Wallet] = walletPosted[p.Wallet].Add(p.Amount)
			if p.IsDebt() {
				debtPosted[p.Wallet] = debtPosted[p.Wallet].Add(p.Amount)
				continue
			}
			lotPosted[p.Lot] = lotPosted[p.Lot].Add(p.Amount)
			if owner, ok := lotOwner[p.Lot]; !ok || owner != p.Wallet {
				drift("transaction %s: posting on lot %s, which wallet %s does not have", id, p.Lot, p.Wallet)
			}
		}
		if len(t.postings) < 2 {
			drift("transaction %s: %d postings, needs at least 2", id, len(t.postings))
		}
		if !sum.IsZero() {
			drift("transaction %s: postings sum to %s, not zero", id, sum)
		}
	}

	// What each hold's CAPTURE transactions add up to: its captured amount.
	captured := map[domain.HoldID]domain.Credits{}
	for _, t := range d.ledger.all {
		if t.typ == domain.TransactionCapture && t.hasHold {
			captured[t.hold] = captured[t.hold].Add(t.amount)
		}
	}
	for id, h := range d.holds.all {
		if !h.captured.Equal(captured[id]) {
			drift("hold %s: captured %s, its capture transactions sum to %s", id, h.captured, captured[id])
		}
	}

	// What the open holds say each wallet and lot reserves.
	walletReserved := map[domain.WalletID]domain.Credits{}
	lotReserved := map[domain.LotID]domain.Credits{}
	for id, h := range d.holds.all {
		if !h.status.IsOpen() {
			if len(h.allocations) > 0 {
				drift("hold %s: %s but still reserves %s", id, h.status, h.remaining())
			}
			continue
		}
		for _, al := range h.allocations {
			if !al.Amount.IsPositive() {
				drift("hold %s: reserves %s on lot %s", id, al.Amount, al.Lot)
			}
			if owner, ok := lotOwner[al.Lot]; !ok || owner != h.wallet {
				drift("hold %s: reserves lot %s, which wallet %s does not have", id, al.Lot, h.wallet)
			}
			lotReserved[al.Lot] = lotReserved[al.Lot].Add(al.Amount)
		}
		rem := h.remaining()
		walletReserved[h.wallet] = walletReserved[h.wallet].Add(rem)
		if !h.captured.Add(rem).Equal(h.amount) {
			drift("hold %s: amount %s, but captured %s + reserved %s", id, h.amount, h.captured, rem)
		}
	}

	// Every cache against what it should be.
	for _, w := range d.wallets.all {
		report.Wallets++
		name := fmt.Sprintf("wallet %s (account %q)", w.id, w.account)
		if posted := walletPosted[w.id]; !w.balance.Equal(posted) {
			drift("%s: balance %s, postings sum to %s", name, w.balance, posted)
		}
		if reserved := walletReserved[w.id]; !w.held.Equal(reserved) {
			drift("%s: held %s, open holds reserve %s", name, w.held, reserved)
		}
		if posted := debtPosted[w.id]; !w.debt.Equal(posted.Neg()) {
			drift("%s: debt %s, debt postings sum to %s", name, w.debt, posted)
		}
		if w.debt.IsNegative() || w.held.IsNegative() || w.held.Cmp(w.balance.Add(w.debt)) > 0 || (w.balance.IsNegative() && !w.debt.IsPositive()) {
			drift("%s: balance %s, held %s, debt %s: negative or over-held", name, w.balance, w.held, w.debt)
		}
		lotsRemaining := domain.ZeroCredits
		for _, l := range w.lots {
			lotsRemaining = lotsRemaining.Add(l.remaining)
			if posted := lotPosted[l.id]; !l.remaining.Equal(posted) {
				drift("%s: lot %s: remaining %s, postings sum to %s", name, l.id, l.remaining, posted)
			}
			if reserved := lotReserved[l.id]; !l.held.Equal(reserved) {
				drift("%s: lot %s: held %s, open holds reserve %s", name, l.id, l.held, reserved)
			}
			if l.remaining.IsNegative() || l.held.IsNegative() || l.held.Cmp(l.remaining) > 0 || l.remaining.Cmp(l.amount) > 0 {
				drift("%s: lot %s: amount %s, remaining %s, held %s: out of range", name, l.id, l.amount, l.remaining, l.held)
			}
		}
		if !lotsRemaining.Sub(w.debt).Equal(w.balance) {
			drift("%s: balance %s, lots hold %s, debt %s", name, w.balance, lotsRemaining, w.debt)
		}
	}
	auditOrders(d, drift)
	auditReversals(d, drift)
	slices.Sort(report.Drifts) // maps iterate in random order; reports should not
	return report
}

// auditOrders checks what each order did to the ledger: a paid order (PAID,
// PARTIALLY_REFUNDED, REFUNDED) funds exactly one paid lot of its credits
// and, with a bonus, one bonus lot of its bonus credits, an order in any
// other status funds none; and the CLAWBACK transactions naming an order's
// payment take back, in all, what its cancellations take back.
func auditOrders(d db, drift func(format string, args ...any)) {
	funded := map[string][]lotRecord{} // by payment id
	for _, w := range d.wallets.all {
		for _, l := range w.lots {
			if l.funding.Kind() == domain.FundedByOrder {
				funded[l.funding.Reference()] = append(funded[l.funding.Reference()], l)
			}
		}
	}
	clawedBack := map[string]domain.Credits{} // by payment id
	for _, t := range d.ledger.all {
		if t.typ == domain.TransactionClawback {
			id := t.memo.Metadata["paymentId"]
			clawedBack[id] = clawedBack[id].Add(t.amount)
		}
	}
	for id, o := range d.orders.all {
		var want []string
		if o.Status().IsPaid() {
			want = append(want, "paid "+o.Spec().Credits.String())
			if o.Spec().BonusCredits.IsPositive() {
				want = append(want, "bonus "+o.Spec().BonusCredits.String())
			}
		}
		lots := funded[id.String()]
		slices.SortFunc(lots, func(a, b lotRecord) int { // as the SQL check: paid first, then by amount
			return cmp.Or(-cmp.Compare(a.source.String(), b.source.String()), a.amount.Cmp(b.amount))
		})
		found := make([]string, len(lots))
		for i, l := range lots {
			found[i] = l.source.String() + " " + l.amount.String()
		}
		if !slices.Equal(found, want) {
			drift("order %s (%s): lots funded by it: %s; want %s", id, o.Status(), listOrNone(found), listOrNone(want))
		}
		if got, want := clawedBack[id.String()], o.CreditsTakenBack(); !got.Equal(want) {
			drift("order %s (%s): clawbacks take back %s, but %d of %d cancelled takes back %s", id, o.Status(), got, o.Cancelled(), o.Price().Amount(), want)
		}
	}
}

func listOrNone(items []string) string {
	if len(items) == 0 {
		return "none"
	}
	return strings.Join(items, " + ")
}
