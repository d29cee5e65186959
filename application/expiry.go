package application

import (
	"context"
	"slices"
)

// Expiry sweeps expired lots into breakage and frees expired holds. Several
// replicas may sweep at once: each wallet is changed under its own lock and a
// second sweeper finds nothing left to do.
type Expiry struct {
	uow   UnitOfWork
	reads Repos
	clock Clock
	ids   IDGenerator
}

// NewExpiry builds the expiry use cases.
func NewExpiry(uow UnitOfWork, reads Repos, clock Clock, ids IDGenerator) *Expiry {
	return &Expiry{uow: uow, reads: reads, clock: clock, ids: ids}
}

// ExpireLots settles up to batch wallets holding expired lots and says how many it changed.
func (e *Expiry) ExpireLots(ctx context.Context, batch int) (int, error) {
	due, err := e.reads.Wallets.DueForExpiry(ctx, e.clock.Now(), batch)
	if err != nil {
		return 0, err
	}
	return e.settleAll(ctx, due)
}

// ExpireHolds settles the wallets of up to batch holds past their expiry and
// says how many wallets it changed. Settling frees every due hold of a
// wallet, so each hold is freed exactly once whichever sweep gets to it.
func (e *Expiry) ExpireHolds(ctx context.Context, batch int) (int, error) {
	due, err := e.reads.Holds.Due(ctx, e.clock.Now(), batch)
	if err != nil {
		return 0, err
	}
	var wallets []WalletRef
	for _, ref := range due {
		if w := (WalletRef{Tenant: ref.Tenant, Account: ref.Account}); !slices.Contains(wallets, w) {
			wallets = append(wallets, w)
		}
	}
	return e.settleAll(ctx, wallets)
}

// settleAll settles each wallet in its own unit of work.
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
