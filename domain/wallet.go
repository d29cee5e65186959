package domain

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Wallet is a user's credits: a cached balance and held amount over the open
// lots that make them up, less what the user owes. Every change to a wallet,
// its lots or its holds goes through a Wallet method, so the caches and the
// postings cannot disagree.
//
// Debt is credits a clawback took back that the wallet no longer had (under
// the debt shortfall policy). While the wallet is in debt, its net balance may
// be negative, spends and new holds may take only what its free credits
// exceed the debt by, and every grant pays the debt first.
type Wallet struct {
	id        WalletID
	tenant    TenantID
	account   AccountID
	balance   Credits // net: sum of open lots' remaining, less debt
	held      Credits // sum of open holds' remaining
	debt      Credits // owed, never negative
	createdAt time.Time
	lots      []*Lot // open lots (remaining > 0), in consumption order
	// holdsDueAt is no later than the expiry of any open hold (nil: none open),
	// so a wallet change can tell cheaply when it must expire holds first.
	holdsDueAt *time.Time
	// lowBalanceThreshold is the account's own threshold for balance.low
	// events; zero when it has none (its tenant's applies).
	lowBalanceThreshold Credits

	changedLots []LotID // lots created or changed since load, for the repository
}

// NewWallet opens an empty wallet for a tenant's user.
func NewWallet(id WalletID, tenant TenantID, account AccountID, now time.Time) *Wallet {
	return &Wallet{id: id, tenant: tenant, account: account, createdAt: now}
}

// RehydrateWallet rebuilds a stored wallet with its open lots; adapters only.
// balance is the net balance (see Balance).
func RehydrateWallet(id WalletID, tenant TenantID, account AccountID, balance, held, debt Credits, createdAt time.Time, lots []*Lot, holdsDueAt *time.Time) *Wallet {
	w := &Wallet{id: id, tenant: tenant, account: account, balance: balance, held: held, debt: debt, createdAt: createdAt, lots: lots, holdsDueAt: holdsDueAt}
	w.sortLots()
	return w
}

func (w *Wallet) ID() WalletID         { return w.id }
func (w *Wallet) Tenant() TenantID     { return w.tenant }
func (w *Wallet) AccountID() AccountID { return w.account }
func (w *Wallet) CreatedAt() time.Time { return w.createdAt }

// Balance is the net balance: the open lots' remaining credits (held and
// expired-but-not-swept ones included) less the debt. It is negative only
// while the wallet is in debt.
func (w *Wallet) Balance() Credits { return w.balance }

// Held is what open holds reserve.
func (w *Wallet) Held() Credits { return w.held }

// Debt is what the wallet owes: credits clawed back that it no longer had.
func (w *Wallet) Debt() Credits { return w.debt }

// LowBalanceThreshold is the account's own threshold for balance.low: zero
// when it has none, and its tenant's applies.
func (w *Wallet) LowBalanceThreshold() Credits { return w.lowBalanceThreshold }

// SetLowBalanceThreshold sets the account's threshold; zero removes it.
func (w *Wallet) SetLowBalanceThreshold(t Credits) error {
	if t.IsNegative() {
		return fmt.Errorf("%w: a low-balance threshold cannot be negative", ErrInvalidInput)
	}
	w.lowBalanceThreshold = t
	return nil
}

// Available is Balance less Held. In debt it may be negative, and even when
// positive it is not what a spend may take: credits are spendable only
// beyond the debt (see Spend).
func (w *Wallet) Available() Credits { return w.balance.Sub(w.held) }

// HoldsDueAt is a time no later than the expiry of any open hold; nil when none is open.
func (w *Wallet) HoldsDueAt() *time.Time { return w.holdsDueAt }

// HoldsDue reports whether an open hold may have expired at now.
func (w *Wallet) HoldsDue(now time.Time) bool {
	return w.holdsDueAt != nil && !now.Before(*w.holdsDueAt)
}

// ExpireDueHolds frees the open holds due at now and returns them. open must
// be every open hold of the wallet: the next due time is computed from it.
func (w *Wallet) ExpireDueHolds(open []*Hold, now time.Time) ([]*Hold, error) {
	var expired []*Hold
	var next *time.Time
	for _, h := range open {
		if err := w.owns(h); err != nil {
			return nil, err
		}
		switch {
		case h.IsDue(now):
			w.closeHold(h, HoldExpired)
			expired = append(expired, h)
		case h.status.IsOpen() && (next == nil || h.expiresAt.Before(*next)):
			next = &h.expiresAt
		}
	}
	w.holdsDueAt = next
	return expired, nil
}

// Lots returns the open lots in consumption order.
func (w *Wallet) Lots() []*Lot { return slices.Clone(w.lots) }

// ChangedLots returns the lots created or changed since the wallet was loaded,
// including lots that have just been emptied.
func (w *Wallet) ChangedLots() []*Lot {
	out := make([]*Lot, 0, len(w.changedLots))
	for _, id := range w.changedLots {
		out = append(out, w.lot(id))
	}
	return out
}

// ForgetChanges clears ChangedLots after they are stored, and drops emptied lots.
func (w *Wallet) ForgetChanges() {
	w.changedLots = nil
	w.lots = slices.DeleteFunc(w.lots, func(l *Lot) bool { return l.remaining.IsZero() })
}

// TimePrecision is the finest time the ledger keeps: expiries are cut to it
// when they are set, so a stored time reads back exactly as it was decided.
const TimePrecision = time.Microsecond

// Grant is a request to add credits to a wallet as a new lot.
type Grant struct {
	Transaction TransactionID
	Lot         LotID
	Amount      Credits
	Source      LotSource
	Priority    int
	ExpiresAt   *time.Time
	Memo        Memo
	Funding     Funding // what paid for the credits; zero when not known
}

// Grant adds a lot and records where its credits came from. A wallet in debt
// pays it first from the new lot: the transaction then also moves
// p = min(amount, debt) from the lot to the debt, so the lot keeps amount − p
// (a lot the debt takes whole is still created, empty, so the ledger shows
// it). Postings: source −amount, lot +amount, and when p > 0, lot −p and
// debt +p. The transaction's amount is the amount granted.
func (w *Wallet) Grant(g Grant, now time.Time) (Transaction, error) {
	if !g.Amount.IsPositive() {
		return Transaction{}, fmt.Errorf("%w: amount must be greater than zero", ErrInvalidInput)
	}
	if g.Source != LotPaid && g.Source != LotBonus {
		return Transaction{}, fmt.Errorf("%w: source must be paid or bonus", ErrInvalidInput)
	}
	if g.Priority < MinLotPriority || g.Priority > MaxLotPriority {
		return Transaction{}, fmt.Errorf("%w: priority must be between %d and %d", ErrInvalidInput, MinLotPriority, MaxLotPriority)
	}
	if g.ExpiresAt != nil && !g.ExpiresAt.After(now) {
		return Transaction{}, fmt.Errorf("%w: expiresAt must be in the future", ErrInvalidInput)
	}
	if _, err := creditsFromDecimal(w.balance.Add(g.Amount).d); err != nil {
		return Transaction{}, fmt.Errorf("%w: the balance would exceed the largest amount", ErrBalanceLimit)
	}
	var expiresAt *time.Time
	if g.ExpiresAt != nil {
		at := g.ExpiresAt.Truncate(TimePrecision)
		expiresAt = &at
	}
	lot := &Lot{id: g.Lot, source: g.Source, amount: g.Amount, remaining: g.Amount, held: ZeroCredits,
		priority: g.Priority, expiresAt: expiresAt, createdAt: now, funding: g.Funding}
	w.lots = append(w.lots, lot)
	w.sortLots()
	w.touch(lot.id)
	w.balance = w.balance.Add(g.Amount) // net: the lot's amount, whether it keeps it or pays debt with it
	postings := []Posting{
		{System: g.Source.fundedBy(), Amount: g.Amount.Neg()},
		w.posting(lot, g.Amount),
	}
	if p := MinCredits(g.Amount, w.debt); p.IsPositive() {
		lot.remaining = lot.remaining.Sub(p)
		w.debt = w.debt.Sub(p)
		postings = append(postings, w.posting(lot, p.Neg()), w.debtPosting(p))
	}
	return newTransaction(g.Transaction, TransactionGrant, w, g.Amount, g.Memo, now, postings)
}

// Spend moves credits from the wallet's free lots to consumption. Expired
// lots and held credits are never spent, nor the free credits a debt
// outweighs: a spend never overdraws.
func (w *Wallet) Spend(id TransactionID, amount Credits, memo Memo, now time.Time) (Transaction, error) {
	if !amount.IsPositive() {
		return Transaction{}, fmt.Errorf("%w: amount must be greater than zero", ErrInvalidInput)
	}
	if avail := w.spendable(now); avail.Cmp(amount) < 0 {
		return Transaction{}, &InsufficientCreditsError{Requested: amount, Available: avail}
	}
	postings := []Posting{}
	w.takeFree(amount, now, func(l *Lot, take Credits) {
		l.remaining = l.remaining.Sub(take)
		postings = append(postings, w.posting(l, take.Neg()))
	})
	w.balance = w.balance.Sub(amount)
	postings = append(postings, Posting{System: SystemConsumption, Amount: amount})
	return newTransaction(id, TransactionSpend, w, amount, memo, now, postings)
}

// spendable is what a spend or a new hold may take: the free credits of the
// unexpired lots beyond the debt, so credits freed while the wallet is in
// debt (by a released hold, say) cannot be spent until grants pay it.
func (w *Wallet) spendable(now time.Time) Credits {
	sum := ZeroCredits
	for _, l := range w.lots {
		sum = sum.Add(l.free(now))
	}
	if sum = sum.Sub(w.debt); sum.IsNegative() {
		return ZeroCredits
	}
	return sum
}

// HasExpiredCredits reports whether ExpireDue would expire anything at now.
func (w *Wallet) HasExpiredCredits(now time.Time) bool {
	return slices.ContainsFunc(w.lots, func(l *Lot) bool { return l.IsExpired(now) && l.remaining.Cmp(l.held) > 0 })
}

// ExpireDue moves the free remainder of every lot expired at now to
// breakage. It reports false when nothing was due. Held credits on an expired
// lot stay until their hold is captured or freed; a later call expires what is freed.
func (w *Wallet) ExpireDue(id TransactionID, now time.Time) (Transaction, bool, error) {
	postings := []Posting{}
	total := ZeroCredits
	for _, l := range w.lots {
		due := l.remaining.Sub(l.held)
		if !l.IsExpired(now) || !due.IsPositive() {
			continue
		}
		l.remaining = l.remaining.Sub(due)
		w.touch(l.id)
		postings = append(postings, w.posting(l, due.Neg()))
		total = total.Add(due)
	}
	if total.IsZero() {
		return Transaction{}, false, nil
	}
	w.balance = w.balance.Sub(total)
	postings = append(postings, Posting{System: SystemBreakage, Amount: total})
	t, err := newTransaction(id, TransactionExpiration, w, total, Memo{Reason: "lot expired"}, now, postings)
	return t, true, err
}

// NewHold is a request to reserve credits.
type NewHold struct {
	Hold      HoldID
	Amount    Credits
	ExpiresAt time.Time
	Memo      Memo
}

// PlaceHold reserves credits from free lots in consumption order.
func (w *Wallet) PlaceHold(r NewHold, now time.Time) (*Hold, error) {
	if err := r.check(now); err != nil {
		return nil, err
	}
	if avail := w.spendable(now); avail.Cmp(r.Amount) < 0 {
		return nil, &InsufficientCreditsError{Requested: r.Amount, Available: avail}
	}
	return w.placeHold(r, now, nil), nil
}

func (r NewHold) check(now time.Time) error {
	if !r.Amount.IsPositive() {
		return fmt.Errorf("%w: amount must be greater than zero", ErrInvalidInput)
	}
	if d := r.ExpiresAt.Sub(now); d < MinHoldDuration || d > MaxHoldDuration {
		return fmt.Errorf("%w: a hold must expire between %s and %s from now", ErrInvalidInput, MinHoldDuration, MaxHoldDuration)
	}
	return nil
}

// ReserveFunded reserves credits only from the free, unexpired credits of
// the lots funding paid for, as a refund of that funding does while the
// payment gateway is asked to give the money back.
func (w *Wallet) ReserveFunded(r NewHold, funding Funding, now time.Time) (*Hold, error) {
	if err := r.check(now); err != nil {
		return nil, err
	}
	if avail := w.FundedFree(funding, now); avail.Cmp(r.Amount) < 0 {
		return nil, &InsufficientCreditsError{Requested: r.Amount, Available: avail}
	}
	return w.placeHold(r, now, func(l *Lot) bool { return l.funding == funding }), nil
}

// FundedFree is what may still be spent of the credits funding paid for.
func (w *Wallet) FundedFree(funding Funding, now time.Time) Credits {
	sum := ZeroCredits
	for _, l := range w.lots {
		if l.funding == funding {
			sum = sum.Add(l.free(now))
		}
	}
	return sum
}

// placeHold reserves credits from the free lots (those of only, when set),
// the caller having checked the request and that enough are free.
func (w *Wallet) placeHold(r NewHold, now time.Time, only func(*Lot) bool) *Hold {
	h := &Hold{id: r.Hold, tenant: w.tenant, wallet: w.id, account: w.account, amount: r.Amount,
		captured: ZeroCredits, status: HoldActive, memo: r.Memo, expiresAt: r.ExpiresAt.Truncate(TimePrecision), createdAt: now}
	w.takeFreeOf(r.Amount, now, only, func(l *Lot, take Credits) {
		l.held = l.held.Add(take)
		h.allocations = append(h.allocations, HoldAllocation{Lot: l.id, Amount: take})
	})
	w.held = w.held.Add(r.Amount)
	if w.holdsDueAt == nil || h.expiresAt.Before(*w.holdsDueAt) {
		w.holdsDueAt = &h.expiresAt
	}
	return h
}

// CaptureHold moves amount of the hold's reserved credits to consumption,
// recorded with the hold's memo.
func (w *Wallet) CaptureHold(h *Hold, id TransactionID, amount Credits, now time.Time) (Transaction, error) {
	return w.Capture(h, CaptureRequest{Transaction: id, Amount: amount}, now)
}

// CaptureRequest is a request to capture part or all of a hold.
type CaptureRequest struct {
	Transaction TransactionID
	// Amount is what to capture; with Rest, it must be zero.
	Amount Credits
	// Rest captures whatever the hold still reserves, so a client need not
	// know (or race) how much is left.
	Rest bool
	// Memo is recorded on the capture's transaction. An empty reason, or
	// empty metadata, falls back to the hold's own.
	Memo Memo
}

// Capture moves part or all of the hold's reserved credits to consumption.
func (w *Wallet) Capture(h *Hold, r CaptureRequest, now time.Time) (Transaction, error) {
	if err := w.owns(h); err != nil {
		return Transaction{}, err
	}
	if err := ValidateReason(r.Memo.Reason); err != nil {
		return Transaction{}, err
	}
	if err := ValidateMetadata(r.Memo.Metadata); err != nil {
		return Transaction{}, err
	}
	if r.Rest && !r.Amount.IsZero() {
		return Transaction{}, fmt.Errorf("%w: a capture of the rest names no amount", ErrInvalidInput)
	}
	if !r.Rest && !r.Amount.IsPositive() {
		return Transaction{}, fmt.Errorf("%w: amount must be greater than zero", ErrInvalidInput)
	}
	if !h.status.IsOpen() || h.IsDue(now) {
		return Transaction{}, fmt.Errorf("%w: hold %s is %s", ErrHoldNotCapturable, h.id, h.statusAt(now))
	}
	amount := r.Amount
	if r.Rest {
		amount = h.Remaining()
	}
	if rem := h.Remaining(); amount.Cmp(rem) > 0 {
		return Transaction{}, fmt.Errorf("%w: capture %s, remaining %s", ErrCaptureExceedsHold, amount, rem)
	}
	memo := h.memo
	if r.Memo.Reason != "" {
		memo.Reason = r.Memo.Reason
	}
	if len(r.Memo.Metadata) > 0 {
		memo.Metadata = r.Memo.Metadata
	}
	postings := []Posting{}
	left := amount
	for i := range h.allocations {
		a := &h.allocations[i]
		take := MinCredits(a.Amount, left)
		if !take.IsPositive() {
			continue
		}
		l := w.lot(a.Lot)
		l.remaining = l.remaining.Sub(take)
		l.held = l.held.Sub(take)
		w.touch(l.id)
		a.Amount = a.Amount.Sub(take)
		postings = append(postings, w.posting(l, take.Neg()))
		if left = left.Sub(take); left.IsZero() {
			break
		}
	}
	h.allocations = slices.DeleteFunc(h.allocations, func(a HoldAllocation) bool { return a.Amount.IsZero() })
	h.captured = h.captured.Add(amount)
	h.status = HoldPartiallyCaptured
	if len(h.allocations) == 0 {
		h.status = HoldCaptured
	}
	w.balance = w.balance.Sub(amount)
	w.held = w.held.Sub(amount)
	postings = append(postings, Posting{System: SystemConsumption, Amount: amount})
	t, err := newTransaction(r.Transaction, TransactionCapture, w, amount, memo, now, postings)
	t.hold = &h.id
	return t, err
}

// ExtendHold moves an open hold's expiry to expiresAt, which must lie
// between MinHoldDuration and MaxHoldDuration from now, as when placing it.
// It never shortens a hold: an expiry later than expiresAt is kept, so a late
// or repeated extend (two workers' heartbeats) cannot cut short what another
// extended further; a client that is done with a hold releases it. The
// wallet's next hold expiry needs no change: it stays a bound no later
// than every open hold's expiry.
func (w *Wallet) ExtendHold(h *Hold, expiresAt, now time.Time) error {
	if err := w.owns(h); err != nil {
		return err
	}
	if !h.status.IsOpen() || h.IsDue(now) {
		return fmt.Errorf("%w: hold %s is %s", ErrHoldNotOpen, h.id, h.statusAt(now))
	}
	if d := expiresAt.Sub(now); d < MinHoldDuration || d > MaxHoldDuration {
		return fmt.Errorf("%w: a hold must expire between %s and %s from now", ErrInvalidInput, MinHoldDuration, MaxHoldDuration)
	}
	if at := expiresAt.Truncate(TimePrecision); at.After(h.expiresAt) {
		h.expiresAt = at
	}
	return nil
}

// ReleaseHold frees what the hold still reserves.
func (w *Wallet) ReleaseHold(h *Hold, now time.Time) error {
	if err := w.owns(h); err != nil {
		return err
	}
	if !h.status.IsOpen() || h.IsDue(now) {
		return fmt.Errorf("%w: hold %s is %s", ErrHoldNotReleasable, h.id, h.statusAt(now))
	}
	w.closeHold(h, HoldReleased)
	return nil
}

func (w *Wallet) closeHold(h *Hold, status HoldStatus) {
	for _, a := range h.allocations {
		l := w.lot(a.Lot)
		l.held = l.held.Sub(a.Amount)
		w.touch(l.id)
		w.held = w.held.Sub(a.Amount)
	}
	h.allocations = nil
	h.status = status
}

// statusAt is the status a client should see: an open hold past its expiry
// is expired even before the expiry job has run.
func (h *Hold) statusAt(now time.Time) HoldStatus {
	if h.IsDue(now) {
		return HoldExpired
	}
	return h.status
}

// StatusAt is the hold's status as of now (see statusAt).
func (h *Hold) StatusAt(now time.Time) HoldStatus { return h.statusAt(now) }

func (w *Wallet) owns(h *Hold) error {
	if h.wallet != w.id {
		return fmt.Errorf("hold %s belongs to wallet %s, not %s", h.id, h.wallet, w.id)
	}
	for _, a := range h.allocations {
		if w.lot(a.Lot) == nil {
			return fmt.Errorf("hold %s reserves lot %s that wallet %s does not hold open", h.id, a.Lot, w.id)
		}
	}
	return nil
}

// takeFree hands amount out of the free credits of the lots, in consumption
// order, to take; the caller has checked that enough is free.
func (w *Wallet) takeFree(amount Credits, now time.Time, take func(l *Lot, n Credits)) {
	w.takeFreeOf(amount, now, nil, take)
}

// takeFreeOf is takeFree from the lots only accepts (all when nil).
func (w *Wallet) takeFreeOf(amount Credits, now time.Time, only func(*Lot) bool, take func(l *Lot, n Credits)) {
	left := amount
	for _, l := range w.lots {
		if only != nil && !only(l) {
			continue
		}
		n := MinCredits(l.free(now), left)
		if !n.IsPositive() {
			continue
		}
		take(l, n)
		w.touch(l.id)
		if left = left.Sub(n); left.IsZero() {
			return
		}
	}
}

func (w *Wallet) posting(l *Lot, amount Credits) Posting {
	return Posting{Wallet: w.id, AccountID: w.account, Lot: l.id, LotSource: l.source, LotFunding: l.funding, Amount: amount}
}

// debtPosting is a posting on the wallet's debt: negative adds to it.
func (w *Wallet) debtPosting(amount Credits) Posting {
	return Posting{Wallet: w.id, AccountID: w.account, Amount: amount}
}

func (w *Wallet) lot(id LotID) *Lot {
	for _, l := range w.lots {
		if l.id == id {
			return l
		}
	}
	return nil
}

func (w *Wallet) touch(id LotID) {
	if !slices.Contains(w.changedLots, id) {
		w.changedLots = append(w.changedLots, id)
	}
}

func (w *Wallet) sortLots() {
	slices.SortStableFunc(w.lots, func(a, b *Lot) int {
		switch {
		case a.consumedBefore(b):
			return -1
		case b.consumedBefore(a):
			return 1
		}
		return 0
	})
}

// CheckInvariants verifies the wallet's caches against its lots and holds:
// balance = Σ lot remaining − debt, held = Σ open hold remaining = Σ lot
// held <= Σ lot remaining, debt >= 0, and no lot is negative or over-held.
func (w *Wallet) CheckInvariants(openHolds []*Hold) error {
	var errs []error
	remaining, lotHeld := ZeroCredits, ZeroCredits
	for _, l := range w.lots {
		remaining = remaining.Add(l.remaining)
		lotHeld = lotHeld.Add(l.held)
		if l.remaining.IsNegative() || l.held.IsNegative() || l.held.Cmp(l.remaining) > 0 || l.remaining.Cmp(l.amount) > 0 {
			errs = append(errs, fmt.Errorf("lot %s: amount %s remaining %s held %s", l.id, l.amount, l.remaining, l.held))
		}
	}
	holdHeld := ZeroCredits
	for _, h := range openHolds {
		holdHeld = holdHeld.Add(h.Remaining())
		if h.status.IsOpen() && (w.holdsDueAt == nil || h.expiresAt.Before(*w.holdsDueAt)) {
			errs = append(errs, fmt.Errorf("hold %s expires at %s, before the wallet's next hold expiry %v", h.id, h.expiresAt, w.holdsDueAt))
		}
	}
	if w.debt.IsNegative() {
		errs = append(errs, fmt.Errorf("debt %s is negative", w.debt))
	}
	if net := remaining.Sub(w.debt); !net.Equal(w.balance) {
		errs = append(errs, fmt.Errorf("balance %s, lots remaining %s less debt %s is %s", w.balance, remaining, w.debt, net))
	}
	if !lotHeld.Equal(w.held) || !holdHeld.Equal(w.held) {
		errs = append(errs, fmt.Errorf("held %s, lots hold %s, open holds reserve %s", w.held, lotHeld, holdHeld))
	}
	if w.held.IsNegative() || w.held.Cmp(remaining) > 0 {
		errs = append(errs, fmt.Errorf("held %s outside [0, lots remaining %s]", w.held, remaining))
	}
	return errors.Join(errs...)
}
