package domain

import (
	"fmt"
	"time"
)

// ShortfallPolicy decides what a clawback does with the credits it asks for
// that the funded lots no longer have (they were spent, or are held).
type ShortfallPolicy struct{ slug string }

var (
	// ShortfallDebt takes the shortfall from the wallet's other free credits,
	// and what is still missing becomes debt, which later grants pay first.
	ShortfallDebt = ShortfallPolicy{"debt"}
	// ShortfallAbsorb takes nothing more from the wallet: the shortfall is
	// recorded as a loss of the tenant's.
	ShortfallAbsorb = ShortfallPolicy{"absorb"}
)

// ShortfallPolicyFromString parses "debt" or "absorb".
func ShortfallPolicyFromString(s string) (ShortfallPolicy, error) {
	for _, p := range []ShortfallPolicy{ShortfallDebt, ShortfallAbsorb} {
		if p.slug == s {
			return p, nil
		}
	}
	return ShortfallPolicy{}, fmt.Errorf("%w: shortfall policy must be \"debt\" or \"absorb\"", ErrInvalidInput)
}

func (p ShortfallPolicy) String() string { return p.slug }

// Clawback is a request to take back the credits a payment funded.
type Clawback struct {
	Transaction TransactionID
	Funding     Funding // the payment (or reference) whose lots give the credits back
	Amount      Credits // how many credits to take back
	Policy      ShortfallPolicy
	Memo        Memo
}

// ClawbackResult says where a clawback's credits came from; the four parts
// sum to the amount asked.
type ClawbackResult struct {
	FromFunded Credits // taken from the lots the funding paid for
	FromOther  Credits // taken from the wallet's other lots (debt policy)
	Debt       Credits // added to the wallet's debt (debt policy)
	Absorbed   Credits // recorded as a loss, taken from no one (absorb policy)
}

// Clawback takes back up to c.Amount credits from the free (remaining − held)
// credits of the open lots c.Funding paid for, in consumption order, expired
// lots included: credits not yet swept to breakage are still the payment's.
// Held credits are never taken. The shortfall S, what those lots lack:
//
//   - under ShortfallDebt, is taken from the free credits of the wallet's
//     other unexpired lots, in consumption order, and what is still missing
//     becomes debt;
//   - under ShortfallAbsorb, is not taken from the wallet: it is recorded as
//     a loss, moved from consumption (where the credits went when they were
//     spent) to refund_losses.
//
// Postings, in order: one negative posting per lot taken from; when debt d
// is added, a posting of −d on the wallet's debt (a wallet posting without a
// lot); refunds +(taken + d); and when S is absorbed, refund_losses +S and
// consumption −S.
//
// The transaction's amount is c.Amount, the credits clawed back, which is
// always positive, also when everything is absorbed and the wallet does not
// change. The wallet's net balance falls by c.Amount − Absorbed; balanceAfter
// is the net balance after.
func (w *Wallet) Clawback(c Clawback, now time.Time) (Transaction, ClawbackResult, error) {
	if !c.Amount.IsPositive() {
		return Transaction{}, ClawbackResult{}, fmt.Errorf("%w: amount must be greater than zero", ErrInvalidInput)
	}
	if c.Funding.IsZero() {
		return Transaction{}, ClawbackResult{}, fmt.Errorf("%w: a clawback must name the funding to take credits back from", ErrInvalidInput)
	}
	if c.Policy != ShortfallDebt && c.Policy != ShortfallAbsorb {
		return Transaction{}, ClawbackResult{}, fmt.Errorf("%w: shortfall policy must be debt or absorb", ErrInvalidInput)
	}
	return w.takeBack(takeBack{id: c.Transaction, typ: TransactionClawback, from: func(l *Lot) bool { return l.funding == c.Funding },
		amount: c.Amount, policy: c.Policy, sink: SystemRefunds, memo: c.Memo}, now)
}

// takeBack is a request to take credits back from some of a wallet's lots:
// a clawback (the lots a payment funded) or a grant's reversal (its lot).
type takeBack struct {
	id     TransactionID
	typ    TransactionType
	from   func(*Lot) bool // the lots the credits are taken back from first
	amount Credits
	policy ShortfallPolicy
	sink   SystemAccount // where the credits taken go
	memo   Memo
}

// takeBack is Clawback's rule for any set of lots (see Clawback): the free
// credits of the lots c.from accepts, then the shortfall by c.policy, the
// credits taken going to c.sink.
func (w *Wallet) takeBack(c takeBack, now time.Time) (Transaction, ClawbackResult, error) {
	// Plan first, change nothing until the clawback is known to succeed.
	type part struct {
		lot *Lot
		n   Credits
	}
	var parts []part
	res := ClawbackResult{FromFunded: ZeroCredits, FromOther: ZeroCredits, Debt: ZeroCredits, Absorbed: ZeroCredits}
	left := c.amount
	take := func(l *Lot, free Credits) Credits {
		n := MinCredits(free, left)
		if !n.IsPositive() {
			return ZeroCredits
		}
		parts = append(parts, part{l, n})
		left = left.Sub(n)
		return n
	}
	for _, l := range w.lots {
		if c.from(l) && left.IsPositive() {
			res.FromFunded = res.FromFunded.Add(take(l, l.remaining.Sub(l.held)))
		}
	}
	if left.IsPositive() {
		switch c.policy {
		case ShortfallDebt:
			// The funded lots have no free credits left (they gave them all),
			// so this takes from the other lots only.
			for _, l := range w.lots {
				if !c.from(l) && left.IsPositive() {
					res.FromOther = res.FromOther.Add(take(l, l.free(now)))
				}
			}
			if left.IsPositive() {
				if _, err := creditsFromDecimal(w.debt.Add(left).d); err != nil {
					return Transaction{}, ClawbackResult{}, fmt.Errorf("%w: the debt would exceed the largest amount", ErrBalanceLimit)
				}
				res.Debt = left
			}
		case ShortfallAbsorb:
			res.Absorbed = left
		}
	}
	var postings []Posting
	for _, p := range parts {
		p.lot.remaining = p.lot.remaining.Sub(p.n)
		w.touch(p.lot.id)
		postings = append(postings, w.posting(p.lot, p.n.Neg()))
	}
	out := res.FromFunded.Add(res.FromOther).Add(res.Debt) // what leaves the wallet's net balance
	w.debt = w.debt.Add(res.Debt)
	w.balance = w.balance.Sub(out)
	if res.Debt.IsPositive() {
		postings = append(postings, w.debtPosting(res.Debt.Neg()))
	}
	if out.IsPositive() {
		postings = append(postings, Posting{System: c.sink, Amount: out})
	}
	if res.Absorbed.IsPositive() {
		postings = append(postings,
			Posting{System: SystemRefundLosses, Amount: res.Absorbed},
			Posting{System: SystemConsumption, Amount: res.Absorbed.Neg()})
	}
	t, err := newTransaction(c.id, c.typ, w, c.amount, c.memo, now, postings)
	return t, res, err
}
