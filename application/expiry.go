package application

import (
	"context"
	"slices"
	"time"
)

// Expiry sweeps expired lots into breakage and frees expired holds. Several
// replicas may sweep at once: each wallet is changed under its own lock and a
// second sweeper finds nothing left to do.
type Expiry struct {
	uow     UnitOfWork
	queries Queries
	clock   Clock
	ids     IDGenerator
}

// NewExpiry builds the expiry use cases.
func NewExpiry(uow UnitOfWork, queries Queries, clock Clock, ids IDGenerator) *Expiry {
	return &Expiry{uow: uow, queries: queries, clock: clock, ids: ids}
}

// Sweep is what one pass of a sweep found and did.
type Sweep struct {
	Due     int // items found due, at most the batch asked for
	Changed int // wallets changed
	// OldestDue is when the longest overdue item found became due (zero when
	// none was): how far behind the sweeps are.
	OldestDue time.Time
}

// ExpireLots settles up to batch wallets holding expired lots.
func (e *Expiry) ExpireLots(ctx context.Context, batch int) (Sweep, error) {
	due, err := e.queries.Wallets.DueForExpiry(ctx, e.clock.Now(), batch)
	if err != nil {
		return Sweep{}, err
	}
	s := Sweep{Due: len(due)}
	wallets := make([]WalletRef, len(due))
	for i, w := range due {
		wallets[i] = w.WalletRef
		if s.OldestDue.IsZero() || w.DueAt.Before(s.OldestDue) {
			s.OldestDue = w.DueAt
		}
	}
	s.Changed, err = e.settleAll(ctx, wallets)
	return s, err
}

// ExpireHolds settles the wallets of up to batch holds past their expiry.
// Settling frees every due hold of a wallet, so each hold is freed exactly
// once whichever sweep gets to it.
func (e *Expiry) ExpireHolds(ctx context.Context, batch int) (Sweep, error) {
	due, err := e.queries.Holds.Due(ctx, e.clock.Now(), batch)
	if err != nil {
		return Sweep{}, err
	}
	s := Sweep{Due: len(due)}
	var wallets []WalletRef
	for _, ref := range due {
		if w := (WalletRef{Tenant: ref.Tenant, Account: ref.Account}); !slices.Contains(wallets, w) {
			wallets = append(wallets, w)
		}
		if s.OldestDue.IsZero() || ref.ExpiresAt.Before(s.OldestDue) {
			s.OldestDue = ref.ExpiresAt
		}
	}
	s.Changed, err = e.settleAll(ctx, wallets)
	return s, err
}

// settleAll settles each wallet in its own unit of work and says how many it changed.
func (e *Expiry) settleAll(ctx context.Context, wallets []WalletRef) (int, error) {
	changed := 0
	for _, ref := range wallets {
		did := false // set inside the closure, which may run more than once
		err := e.uow.WithinTx(ctx, Scope{Wallets: []WalletRef{ref}}, func(ctx context.Context, r Repos) error {
			did = false
			w, err := r.Wallets.Lock(ctx, ref.Tenant, ref.Account)
			if err != nil {
				return err
			}
			settled, err := settle(ctx, r, w, e.ids, e.clock.Now())
			if err != nil || (len(settled.expiredHolds) == 0 && len(settled.expirations) == 0) {
				return err
			}
			did = true
			return settled.store(ctx, r, w, nil)
		})
		if err != nil {
			return changed, err
		}
		if did {
			changed++
		}
	}
	return changed, nil
}
