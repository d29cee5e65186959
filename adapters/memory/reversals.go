package memory

import (
	"context"
	"fmt"
	"slices"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

type reversalRepo struct{ txRepos }

// Reversed sums the reversals the transaction sees, its own included.
func (r reversalRepo) Reversed(ctx context.Context, original domain.TransactionID) (domain.Credits, error) {
	if err := ctx.Err(); err != nil {
		return domain.Credits{}, err
	}
	return reversedOf(r.tx, original), nil
}

func reversedOf(d db, original domain.TransactionID) domain.Credits {
	sum := domain.ZeroCredits
	for _, t := range d.ledger.all {
		if t.reversalOf != nil && *t.reversalOf == original {
			sum = sum.Add(t.amount)
		}
	}
	return sum
}

// Lots reads lots of the wallet, emptied ones included: the record keeps them all.
func (r reversalRepo) Lots(ctx context.Context, wallet domain.WalletID, ids []domain.LotID) ([]*domain.Lot, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []*domain.Lot
	for _, w := range r.tx.wallets.all {
		if w.id != wallet {
			continue
		}
		if err := r.lockable(walletKey{w.tenant, w.account}); err != nil {
			return nil, err
		}
		for _, l := range w.lots {
			if slices.Contains(ids, l.id) {
				out = append(out, l.toDomain())
			}
		}
	}
	return out, nil
}

func (q ledgerQueries) Get(ctx context.Context, tenant domain.TenantID, id domain.TransactionID) (t domain.Transaction, err error) {
	err = q.s.read(ctx, func(d db) error {
		rec, ok := d.ledger.get(id)
		if !ok || rec.tenant != tenant {
			return fmt.Errorf("transaction %s: %w", id, domain.ErrNotFound)
		}
		t, err = rec.toDomain()
		return err
	})
	return t, err
}

func (q ledgerQueries) Reversals(ctx context.Context, ids []domain.TransactionID) (map[domain.TransactionID]application.ReversalInfo, error) {
	out := map[domain.TransactionID]application.ReversalInfo{}
	err := q.s.read(ctx, func(d db) error {
		for _, t := range d.ledger.all {
			if t.reversalOf == nil {
				continue
			}
			if slices.Contains(ids, *t.reversalOf) {
				info := out[*t.reversalOf]
				info.Reversed = info.Reversed.Add(t.amount)
				info.By = append(info.By, t.id)
				out[*t.reversalOf] = info
			}
			if slices.Contains(ids, t.id) {
				info := out[t.id]
				of := *t.reversalOf
				info.Of = &of
				out[t.id] = info
			}
		}
		return nil
	})
	for id, info := range out {
		slices.SortFunc(info.By, compareIDs) // UUIDv7: oldest first
		out[id] = info
	}
	return out, err
}

// auditReversals checks every reversal: it names a transaction of its own
// wallet of a type that may be reversed, and the reversals of one
// transaction take back no more than its amount.
func auditReversals(d db, drift func(format string, args ...any)) {
	reversed := map[domain.TransactionID]domain.Credits{}
	for id, t := range d.ledger.all {
		if (t.typ == domain.TransactionReversal) != (t.reversalOf != nil) {
			drift("transaction %s: a %s reversing %v", id, t.typ, t.reversalOf)
			continue
		}
		if t.reversalOf == nil {
			continue
		}
		o, ok := d.ledger.get(*t.reversalOf)
		if !ok || o.wallet != t.wallet {
			drift("reversal %s: reverses %s, not a transaction of its wallet", id, *t.reversalOf)
			continue
		}
		if ot, err := o.toDomain(); err != nil || domain.CheckReversible(ot) != nil {
			drift("reversal %s: reverses %s, a %s, which cannot be reversed", id, o.id, o.typ)
		}
		reversed[o.id] = reversed[o.id].Add(t.amount)
	}
	for id, sum := range reversed {
		if o, _ := d.ledger.get(id); sum.Cmp(o.amount) > 0 {
			drift("transaction %s: reversals take back %s of %s", id, sum, o.amount)
		}
	}
}
