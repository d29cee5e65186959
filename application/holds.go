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

// Place reserves credits, or fails with domain.ErrInsufficientCredits.
func (h *Holds) Place(ctx context.Context, cmd PlaceHoldCommand, idem *Idempotency[*domain.Hold]) (*domain.Hold, *Receipt, error) {
	scope := WalletScope(cmd.Tenant, cmd.Account)
	return runOnce(ctx, h.uow, h.queries, h.clock, cmd.Tenant, idem, scope, func(ctx context.Context, r Repos) (*domain.Hold, error) {
		now := h.clock.Now()
		w, err := r.Wallets.Lock(ctx, cmd.Tenant, cmd.Account)
		if err != nil {
			return nil, err
		}
		settled, err := settle(ctx, r, w, h.ids, now)
		if err != nil {
			return nil, err
		}
		hold, err := w.PlaceHold(domain.NewHold{Hold: domain.HoldID(h.ids.NewID()), Amount: cmd.Amount,
			ExpiresAt: now.Add(cmd.ExpiresIn), Memo: cmd.Memo}, now)
		if err != nil {
			return nil, err
		}
		return hold, settled.store(ctx, r, w, []*domain.Hold{hold})
	})
}

// Capture is a hold after a capture, with the transaction that moved the credits.
type Capture struct {
	Hold        *domain.Hold
	Transaction domain.Transaction
}

// CaptureCommand moves part or all of a hold's reserved credits to consumption.
type CaptureCommand struct {
	Tenant domain.TenantID
	Hold   domain.HoldID
	Amount domain.Credits
}

// Capture spends amount of what the hold reserves.
func (h *Holds) Capture(ctx context.Context, cmd CaptureCommand, idem *Idempotency[Capture]) (Capture, *Receipt, error) {
	scope := HoldScope(cmd.Tenant, cmd.Hold)
	return runOnce(ctx, h.uow, h.queries, h.clock, cmd.Tenant, idem, scope, func(ctx context.Context, r Repos) (Capture, error) {
		now := h.clock.Now()
		w, hold, err := lockHold(ctx, r, cmd.Tenant, cmd.Hold)
		if err != nil {
			return Capture{}, err
		}
		// Settling never touches this hold unless it is due, and a due hold
		// refuses the capture below before anything is stored.
		settled, err := settle(ctx, r, w, h.ids, now)
		if err != nil {
			return Capture{}, err
		}
		t, err := w.CaptureHold(hold, domain.TransactionID(h.ids.NewID()), cmd.Amount, now)
		if err != nil {
			return Capture{}, err
		}
		return Capture{Hold: hold, Transaction: t}, settled.store(ctx, r, w, []*domain.Hold{hold}, t)
	})
}

// ReleaseCommand frees what a hold still reserves.
type ReleaseCommand struct {
	Tenant domain.TenantID
	Hold   domain.HoldID
}

// Release frees the hold's remaining credits.
func (h *Holds) Release(ctx context.Context, cmd ReleaseCommand, idem *Idempotency[*domain.Hold]) (*domain.Hold, *Receipt, error) {
	scope := HoldScope(cmd.Tenant, cmd.Hold)
	return runOnce(ctx, h.uow, h.queries, h.clock, cmd.Tenant, idem, scope, func(ctx context.Context, r Repos) (*domain.Hold, error) {
		now := h.clock.Now()
		w, hold, err := lockHold(ctx, r, cmd.Tenant, cmd.Hold)
		if err != nil {
			return nil, err
		}
		settled, err := settle(ctx, r, w, h.ids, now) // as in Capture: a due hold refuses release below
		if err != nil {
			return nil, err
		}
		if err := w.ReleaseHold(hold, now); err != nil {
			return nil, err
		}
		return hold, settled.store(ctx, r, w, []*domain.Hold{hold})
	})
}

// Get reads a hold.
func (h *Holds) Get(ctx context.Context, tenant domain.TenantID, id domain.HoldID) (*domain.Hold, error) {
	return h.queries.Holds.Get(ctx, tenant, id)
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
