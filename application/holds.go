package application

import (
	"context"
	"time"

	"github.com/creditd/creditd/domain"
)

// Holds reserves credits for work whose cost is known later.
type Holds struct {
	uow     UnitOfWork
	queries Queries
	clock   Clock
	ids     IDGenerator
}

// NewHolds builds the hold use cases.
func NewHolds(uow UnitOfWork, queries Queries, clock Clock, ids IDGenerator) *Holds {
	return &Holds{uow: uow, queries: queries, clock: clock, ids: ids}
}

// PlaceHoldCommand reserves credits for a while.
type PlaceHoldCommand struct {
	Tenant    domain.TenantID
	Account   domain.AccountID
	Amount    domain.Credits
	ExpiresIn time.Duration
	Memo      domain.Memo
}

// HoldView is a hold as clients see it: with its captures, oldest first,
// read back from the ledger's CAPTURE transactions.
type HoldView struct {
	*domain.Hold
	Captures []domain.HoldCapture
}

// Place reserves credits, or fails with domain.ErrInsufficientCredits.
func (h *Holds) Place(ctx context.Context, cmd PlaceHoldCommand, idem *Idempotency[HoldView]) (HoldView, *Receipt, error) {
	scope := WalletScope(cmd.Tenant, cmd.Account)
	return runOnce(ctx, h.uow, h.queries, h.clock, cmd.Tenant, idem, scope, func(ctx context.Context, r Repos) (HoldView, error) {
		now := h.clock.Now()
		w, err := r.Wallets.Lock(ctx, cmd.Tenant, cmd.Account)
		if err != nil {
			return HoldView{}, err
		}
		settled, err := settle(ctx, r, w, h.ids, now)
		if err != nil {
			return HoldView{}, err
		}
		hold, err := w.PlaceHold(domain.NewHold{Hold: domain.HoldID(h.ids.NewID()), Amount: cmd.Amount,
			ExpiresAt: now.Add(cmd.ExpiresIn), Memo: cmd.Memo}, now)
		if err != nil {
			return HoldView{}, err
		}
		return HoldView{Hold: hold}, settled.store(ctx, r, w, []*domain.Hold{hold})
	})
}

// Capture is a hold after a capture, with the transaction that moved the credits.
type Capture struct {
	Hold        HoldView
	Transaction domain.Transaction
}

// CaptureCommand moves part or all of a hold's reserved credits to consumption.
type CaptureCommand struct {
	Tenant domain.TenantID
	Hold   domain.HoldID
	Amount domain.Credits
	// Rest captures what the hold still reserves, Amount left zero.
	Rest bool
	// Memo is the capture transaction's; its empty parts are the hold's.
	Memo domain.Memo
}

// Capture spends amount (or the rest) of what the hold reserves.
func (h *Holds) Capture(ctx context.Context, cmd CaptureCommand, idem *Idempotency[Capture]) (Capture, *Receipt, error) {
	scope := HoldScope(cmd.Tenant, cmd.Hold)
	return runOnce(ctx, h.uow, h.queries, h.clock, cmd.Tenant, idem, scope, func(ctx context.Context, r Repos) (Capture, error) {
		var t domain.Transaction
		view, err := h.change(ctx, r, cmd.Tenant, cmd.Hold, func(w *domain.Wallet, hold *domain.Hold, now time.Time) (_ []domain.Transaction, err error) {
			t, err = w.Capture(hold, domain.CaptureRequest{Transaction: domain.TransactionID(h.ids.NewID()), Amount: cmd.Amount,
				Rest: cmd.Rest, Memo: cmd.Memo}, now)
			return []domain.Transaction{t}, err
		})
		return Capture{Hold: view, Transaction: t}, err
	})
}

// change runs do on a hold under its wallet's lock, stores the outcome with
// the transactions do made, and answers the hold with its captures.
// Settling first never touches this hold unless it is due, and a due hold
// refuses do before anything is stored.
func (h *Holds) change(ctx context.Context, r Repos, tenant domain.TenantID, id domain.HoldID,
	do func(w *domain.Wallet, hold *domain.Hold, now time.Time) ([]domain.Transaction, error)) (HoldView, error) {
	now := h.clock.Now()
	w, hold, err := lockHold(ctx, r, tenant, id)
	if err != nil {
		return HoldView{}, err
	}
	settled, err := settle(ctx, r, w, h.ids, now)
	if err != nil {
		return HoldView{}, err
	}
	txs, err := do(w, hold, now)
	if err != nil {
		return HoldView{}, err
	}
	if err := settled.store(ctx, r, w, []*domain.Hold{hold}, txs...); err != nil {
		return HoldView{}, err
	}
	return withCaptures(ctx, r, hold)
}

// ReleaseCommand frees what a hold still reserves.
type ReleaseCommand struct {
	Tenant domain.TenantID
	Hold   domain.HoldID
}

// Release frees the hold's remaining credits.
func (h *Holds) Release(ctx context.Context, cmd ReleaseCommand, idem *Idempotency[HoldView]) (HoldView, *Receipt, error) {
	scope := HoldScope(cmd.Tenant, cmd.Hold)
	return runOnce(ctx, h.uow, h.queries, h.clock, cmd.Tenant, idem, scope, func(ctx context.Context, r Repos) (HoldView, error) {
		return h.change(ctx, r, cmd.Tenant, cmd.Hold, func(w *domain.Wallet, hold *domain.Hold, now time.Time) ([]domain.Transaction, error) {
			return nil, w.ReleaseHold(hold, now)
		})
	})
}

// ExtendHoldCommand moves an open hold's expiry to now + ExpiresIn.
type ExtendHoldCommand struct {
	Tenant    domain.TenantID
	Hold      domain.HoldID
	ExpiresIn time.Duration
}

// Extend gives an open hold more time (see domain.Wallet.ExtendHold: it never
// shortens one). It runs under the hold's wallet lock, as the expiry sweep
// does, so of an extend and a sweep that race, one sees the other's outcome:
// a hold already due is expired and refuses the extend (domain.ErrHoldNotOpen);
// a hold extended first is no longer due when the sweep looks.
func (h *Holds) Extend(ctx context.Context, cmd ExtendHoldCommand, idem *Idempotency[HoldView]) (HoldView, *Receipt, error) {
	scope := HoldScope(cmd.Tenant, cmd.Hold)
	return runOnce(ctx, h.uow, h.queries, h.clock, cmd.Tenant, idem, scope, func(ctx context.Context, r Repos) (HoldView, error) {
		return h.change(ctx, r, cmd.Tenant, cmd.Hold, func(w *domain.Wallet, hold *domain.Hold, now time.Time) ([]domain.Transaction, error) {
			return nil, w.ExtendHold(hold, now.Add(cmd.ExpiresIn), now)
		})
	})
}

// Get reads a hold with its captures.
func (h *Holds) Get(ctx context.Context, tenant domain.TenantID, id domain.HoldID) (HoldView, error) {
	hold, captures, err := h.queries.Holds.GetWithCaptures(ctx, tenant, id)
	if err != nil {
		return HoldView{}, err
	}
	return HoldView{Hold: hold, Captures: captures}, nil
}

// withCaptures reads the captures of a hold the unit of work has locked,
// after it stored its own changes, so a capture just made is among them.
func withCaptures(ctx context.Context, r Repos, hold *domain.Hold) (HoldView, error) {
	captures, err := r.Holds.Captures(ctx, hold.ID())
	if err != nil {
		return HoldView{}, err
	}
	return HoldView{Hold: hold, Captures: captures}, nil
}

// lockHold locks the wallet a hold belongs to, then reads the hold again:
// holds change only under their wallet's lock, so the second read is current.
func lockHold(ctx context.Context, r Repos, tenant domain.TenantID, id domain.HoldID) (*domain.Wallet, *domain.Hold, error) {
	hold, err := r.Holds.Get(ctx, tenant, id)
	if err != nil {
		return nil, nil, err
	}
	w, err := r.Wallets.Lock(ctx, tenant, hold.AccountID())
	if err != nil {
		return nil, nil, err
	}
	if hold, err = r.Holds.Get(ctx, tenant, id); err != nil {
		return nil, nil, err
	}
	return w, hold, nil
}
