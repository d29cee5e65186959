package application

import (
	"context"
	"errors"

	"github.com/creditd/creditd/domain"
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

// ExpireLots expires the due lots of up to batch wallets and says how many wallets it changed.
func (e *Expiry) ExpireLots(ctx context.Context, batch int) (int, error) {
	due, err := e.reads.Wallets.DueForExpiry(ctx, e.clock.Now(), batch)
	if err != nil {
		return 0, err
	}
	changed := 0
	for _, ref := range due {
		did := false // set inside the closure, which may run more than once
		err := e.uow.WithinTx(ctx, func(ctx context.Context, r Repos) error {
			did = false
			w, err := r.Wallets.Lock(ctx, ref.Tenant, ref.Account)
			if err != nil {
				return err
			}
			txs, err := expireDue(w, e.ids, e.clock.Now())
			if err != nil || len(txs) == 0 {
				return err
			}
			did = true
			return saveWallet(ctx, r, w, txs...)
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

// ExpireHolds frees up to batch holds past their expiry and says how many.
func (e *Expiry) ExpireHolds(ctx context.Context, batch int) (int, error) {
	due, err := e.reads.Holds.Due(ctx, e.clock.Now(), batch)
	if err != nil {
		return 0, err
	}
	expired := 0
	for _, ref := range due {
		did := false
		err := e.uow.WithinTx(ctx, func(ctx context.Context, r Repos) error {
			did = false
			w, hold, err := lockHold(ctx, r, ref.Tenant, ref.Hold)
			if err != nil {
				return err
			}
			ok, err := w.ExpireHold(hold, e.clock.Now())
			if err != nil || !ok {
				return err
			}
			did = true
			if err := saveWallet(ctx, r, w); err != nil {
				return err
			}
			return r.Holds.Save(ctx, hold)
		})
		if err != nil && !errors.Is(err, domain.ErrNotFound) {
			return expired, err
		}
		if err == nil && did {
			expired++
		}
	}
	return expired, nil
}
