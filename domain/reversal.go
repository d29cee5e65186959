package domain

import (
	"fmt"
	"time"
)

// Reversal is a request to undo part or all of an earlier transaction of the
// wallet, by a new transaction: the ledger is never edited.
type Reversal struct {
	Transaction TransactionID // the reversal's id
	Original    Transaction
	// Reversed is how much of Original earlier reversals took back. The
	// caller reads it under the wallet's lock, which every reversal of
	// Original takes, so it cannot change before this reversal is stored.
	Reversed Credits
	// Amount is how much to reverse; nil reverses all that is left.
	Amount *Credits
	// Policy decides, for a grant whose credits were partly spent, what
	// happens to the part that is gone (as for a clawback).
	Policy ShortfallPolicy
	// Lots are the lots Original's postings name that the wallet no longer
	// holds open (emptied since); the wallet's open lots need not be given.
	Lots []*Lot
	Memo Memo
}

// ReversibleLeft is how much of a transaction may still be reversed when
// reversed has been already; zero when it is of a type that cannot be.
func ReversibleLeft(t Transaction, reversed Credits) Credits {
	if CheckReversible(t) != nil || reversed.Cmp(t.amount) >= 0 {
		return ZeroCredits
	}
	return t.amount.Sub(reversed)
}

// CheckReversible says whether a transaction's type allows a reversal:
// spends, captures and grants, except a purchase's grant (funded by an
// order), which only a refund of the order gives back, as it also returns
// the money.
func CheckReversible(t Transaction) error {
	switch t.typ {
	case TransactionSpend, TransactionCapture:
		return nil
	case TransactionGrant:
		if t.Funding().Kind() == FundedByOrder {
			return fmt.Errorf("%w: transaction %s granted a purchase (order %s): refund the order instead", ErrNotReversible, t.id, t.Funding().Reference())
		}
		return nil
	}
	return fmt.Errorf("%w: a %s transaction cannot be reversed", ErrNotReversible, t.typ)
}

// Reverse undoes r.Amount (or all that is left) of r.Original:
//
//   - a spend or capture gives the credits back to the lots they came from,
//     undoing the original's postings from its last one backwards (so
//     partial reversals of one transaction never give one lot's share
//     twice); the share of a lot that has expired since goes to breakage,
//     not back to the user. Postings: each lot +share, breakage +expired
//     shares, consumption −amount.
//   - a grant takes back what is left of its lot and, when part of it was
//     spent (or is held), the shortfall follows r.Policy exactly as a
//     clawback's does (see Clawback), the credits taken going back to the
//     grant's source account. A grant whose lot has expired is refused: its
//     credits went to breakage, and none of them are the user's to take.
//
// Several reversals of one transaction never take back more than its amount.
// The reversal's amount is the amount reversed.
func (w *Wallet) Reverse(r Reversal, now time.Time) (Transaction, error) {
	o := r.Original
	if o.wallet != w.id || o.tenant != w.tenant {
		return Transaction{}, fmt.Errorf("transaction %s is not of wallet %s", o.id, w.id)
	}
	if err := CheckReversible(o); err != nil {
		return Transaction{}, err
	}
	left := ReversibleLeft(o, r.Reversed)
	amount := left
	if r.Amount != nil {
		amount = *r.Amount
		if !amount.IsPositive() {
			return Transaction{}, fmt.Errorf("%w: amount must be greater than zero", ErrInvalidInput)
		}
	}
	if !left.IsPositive() {
		return Transaction{}, fmt.Errorf("%w: transaction %s of %s is reversed in full already", ErrReversalExceedsOriginal, o.id, o.amount)
	}
	if amount.Cmp(left) > 0 {
		return Transaction{}, fmt.Errorf("%w: %s asked, %s of %s is left to reverse", ErrReversalExceedsOriginal, amount, left, o.amount)
	}
	var t Transaction
	var err error
	if o.typ == TransactionGrant {
		t, err = w.reverseGrant(r, amount, now)
	} else {
		t, err = w.reverseConsumption(r, amount, now)
	}
	if err != nil {
		return Transaction{}, err
	}
	t.reversalOf = &o.id
	return t, nil
}

// reverseConsumption gives back amount of a spend or capture.
func (w *Wallet) reverseConsumption(r Reversal, amount Credits, now time.Time) (Transaction, error) {
	type share struct {
		lot *Lot
		n   Credits
	}
	// Plan first, change nothing until the reversal is known to succeed.
	var shares []share
	skip, left := r.Reversed, amount // earlier reversals undid the last `Reversed` credits
	ps := r.Original.postings
	for i := len(ps) - 1; i >= 0 && left.IsPositive(); i-- {
		p := ps[i]
		if p.IsSystem() || p.IsDebt() || !p.Amount.IsNegative() {
			continue
		}
		n := p.Amount.Neg()
		if skip.Cmp(n) >= 0 {
			skip = skip.Sub(n)
			continue
		}
		n, skip = n.Sub(skip), ZeroCredits
		n = MinCredits(n, left)
		l, err := w.lotForReversal(p.Lot, r.Lots)
		if err != nil {
			return Transaction{}, err
		}
		shares = append(shares, share{l, n})
		left = left.Sub(n)
	}
	if left.IsPositive() {
		return Transaction{}, fmt.Errorf("transaction %s: its lot postings do not cover %s", r.Original.id, amount)
	}
	returned, expired := ZeroCredits, ZeroCredits
	for _, s := range shares {
		if s.lot.IsExpired(now) {
			expired = expired.Add(s.n)
		} else {
			returned = returned.Add(s.n)
		}
	}
	if _, err := creditsFromDecimal(w.balance.Add(returned).d); err != nil {
		return Transaction{}, fmt.Errorf("%w: the balance would exceed the largest amount", ErrBalanceLimit)
	}
	var postings []Posting
	for _, s := range shares {
		if s.lot.IsExpired(now) {
			continue
		}
		if w.lot(s.lot.id) == nil { // an emptied lot opens again
			w.lots = append(w.lots, s.lot)
			w.sortLots()
		}
		s.lot.remaining = s.lot.remaining.Add(s.n)
		w.touch(s.lot.id)
		postings = append(postings, w.posting(s.lot, s.n))
	}
	w.balance = w.balance.Add(returned)
	if expired.IsPositive() {
		postings = append(postings, Posting{System: SystemBreakage, Amount: expired})
	}
	postings = append(postings, Posting{System: SystemConsumption, Amount: amount.Neg()})
	return newTransaction(r.Transaction, TransactionReversal, w, amount, r.Memo, now, postings)
}

// reverseGrant takes back amount of a grant.
func (w *Wallet) reverseGrant(r Reversal, amount Credits, now time.Time) (Transaction, error) {
	if r.Policy != ShortfallDebt && r.Policy != ShortfallAbsorb {
		return Transaction{}, fmt.Errorf("%w: shortfall policy must be debt or absorb", ErrInvalidInput)
	}
	var lotID LotID
	for _, p := range r.Original.postings {
		if !p.IsSystem() && !p.IsDebt() && p.Amount.IsPositive() {
			lotID = p.Lot
			break
		}
	}
	l, err := w.lotForReversal(lotID, r.Lots)
	if err != nil {
		return Transaction{}, err
	}
	if l.IsExpired(now) {
		return Transaction{}, fmt.Errorf("%w: the lot of grant %s has expired: its credits went to breakage", ErrNotReversible, r.Original.id)
	}
	t, _, err := w.takeBack(takeBack{id: r.Transaction, typ: TransactionReversal, from: func(o *Lot) bool { return o.id == lotID },
		amount: amount, policy: r.Policy, sink: l.source.fundedBy(), memo: r.Memo}, now)
	return t, err
}

// lotForReversal is the wallet's open lot id, or the emptied one the caller
// loaded.
func (w *Wallet) lotForReversal(id LotID, loaded []*Lot) (*Lot, error) {
	if l := w.lot(id); l != nil {
		return l, nil
	}
	for _, l := range loaded {
		if l.id == id {
			return l, nil
		}
	}
	return nil, fmt.Errorf("lot %s of wallet %s was not loaded", id, w.id)
}
