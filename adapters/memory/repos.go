package memory

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// errConstraint stands for a database CHECK or unique constraint: it is an
// infrastructure failure, never a business rejection.
var errConstraint = errors.New("memory: constraint violated")

type walletRepo struct{ repos }

// Lock reads the wallet. Transactions run one at a time, so holding the
// store's write lock already is the row lock.
func (r walletRepo) Lock(ctx context.Context, tenant domain.TenantID, account domain.AccountID) (*domain.Wallet, error) {
	if err := r.lockable(walletKey{tenant, account}); err != nil {
		return nil, err
	}
	return r.Get(ctx, tenant, account)
}

func (r walletRepo) LockOrCreate(ctx context.Context, fresh *domain.Wallet) (*domain.Wallet, error) {
	if err := r.lockable(walletKey{fresh.Tenant(), fresh.AccountID()}); err != nil {
		return nil, err
	}
	var w *domain.Wallet
	err := r.write(ctx, func(tx db) error {
		key := walletKey{fresh.Tenant(), fresh.AccountID()}
		rec, ok := tx.wallets.get(key)
		if !ok {
			rec = newWalletRecord(fresh)
			tx.wallets.put(key, rec)
		}
		w = rec.toDomain()
		return nil
	})
	return w, err
}

func (r walletRepo) Get(ctx context.Context, tenant domain.TenantID, account domain.AccountID) (*domain.Wallet, error) {
	var w *domain.Wallet
	err := r.read(ctx, func(d db) error {
		rec, ok := d.wallets.get(walletKey{tenant, account})
		if !ok {
			return fmt.Errorf("wallet of account %q: %w", account, domain.ErrNotFound)
		}
		w = rec.toDomain()
		return nil
	})
	return w, err
}

func (r walletRepo) Save(ctx context.Context, w *domain.Wallet) error {
	key := walletKey{w.Tenant(), w.AccountID()}
	if err := r.lockable(key); err != nil {
		return err
	}
	return r.write(ctx, func(tx db) error {
		rec, ok := tx.wallets.get(key)
		if !ok || rec.id != w.ID() {
			return fmt.Errorf("save wallet %s: %w", w.ID(), domain.ErrNotFound)
		}
		rec = rec.with(w, w.ChangedLots())
		if err := rec.check(); err != nil {
			return fmt.Errorf("save wallet %s: %w", w.ID(), err)
		}
		tx.wallets.put(key, rec)
		return nil
	})
}

// check enforces what the database's CHECK constraints would.
func (rec walletRecord) check() error {
	if rec.balance.IsNegative() || rec.held.IsNegative() || rec.held.Cmp(rec.balance) > 0 {
		return fmt.Errorf("%w: balance %s, held %s", errConstraint, rec.balance, rec.held)
	}
	for _, l := range rec.lots {
		if l.held.IsNegative() || l.held.Cmp(l.remaining) > 0 || l.remaining.Cmp(l.amount) > 0 {
			return fmt.Errorf("%w: lot %s amount %s, remaining %s, held %s", errConstraint, l.id, l.amount, l.remaining, l.held)
		}
	}
	return nil
}

func (r walletRepo) DueForExpiry(ctx context.Context, now time.Time, limit int) ([]application.WalletRef, error) {
	if err := r.outsideOnly("wallets due for expiry"); err != nil {
		return nil, err
	}
	var due []walletRecord
	err := r.read(ctx, func(d db) error {
		for _, w := range d.wallets.all {
			if slices.ContainsFunc(w.lots, func(l lotRecord) bool { return l.isDue(now) }) {
				due = append(due, w)
			}
		}
		return nil
	})
	slices.SortFunc(due, func(a, b walletRecord) int { return bytes.Compare(a.id[:], b.id[:]) })
	var refs []application.WalletRef
	for _, w := range due[:min(len(due), max(limit, 0))] {
		refs = append(refs, application.WalletRef{Tenant: w.tenant, Account: w.account})
	}
	return refs, err
}

type ledgerRepo struct{ repos }

func (r ledgerRepo) Append(ctx context.Context, txs ...domain.Transaction) error {
	return r.write(ctx, func(tx db) error {
		for _, t := range txs {
			if _, dup := tx.ledger.get(t.ID()); dup {
				return fmt.Errorf("append transaction %s: %w: duplicate id", t.ID(), errConstraint)
			}
			tx.ledger.put(t.ID(), newTxRecord(t))
		}
		return nil
	})
}

func (r ledgerRepo) History(ctx context.Context, wallet domain.WalletID, before *domain.TransactionID, limit int) ([]domain.Transaction, error) {
	if err := r.outsideOnly("history"); err != nil {
		return nil, err
	}
	var recs []txRecord
	err := r.read(ctx, func(d db) error {
		for id, t := range d.ledger.all {
			if t.wallet == wallet && (before == nil || compareIDs(id, *before) < 0) {
				recs = append(recs, t)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(recs, func(a, b txRecord) int { return compareIDs(b.id, a.id) }) // newest first
	recs = recs[:min(len(recs), max(limit, 0))]
	out := make([]domain.Transaction, 0, len(recs))
	for _, rec := range recs {
		t, err := rec.toDomain()
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// compareIDs orders UUIDv7 ids by their bytes, which is their creation order.
func compareIDs(a, b domain.TransactionID) int { return bytes.Compare(a[:], b[:]) }

type holdRepo struct{ repos }

func (r holdRepo) Get(ctx context.Context, tenant domain.TenantID, id domain.HoldID) (*domain.Hold, error) {
	var h *domain.Hold
	err := r.read(ctx, func(d db) error {
		rec, ok := d.holds.get(id)
		if !ok || rec.tenant != tenant {
			return fmt.Errorf("hold %s: %w", id, domain.ErrNotFound)
		}
		h = rec.toDomain()
		return nil
	})
	return h, err
}

func (r holdRepo) Save(ctx context.Context, h *domain.Hold) error {
	if err := r.lockable(walletKey{h.Tenant(), h.AccountID()}); err != nil {
		return fmt.Errorf("save hold %s: %w", h.ID(), err)
	}
	return r.write(ctx, func(tx db) error {
		if old, ok := tx.holds.get(h.ID()); ok && (old.tenant != h.Tenant() || old.wallet != h.Wallet()) {
			return fmt.Errorf("save hold %s: %w: it belongs to another wallet", h.ID(), errConstraint)
		}
		tx.holds.put(h.ID(), newHoldRecord(h))
		return nil
	})
}

func (r holdRepo) ListOpen(ctx context.Context, wallet domain.WalletID) ([]*domain.Hold, error) {
	var open []*domain.Hold
	err := r.read(ctx, func(d db) error {
		for _, h := range d.holds.all {
			if h.wallet == wallet && h.status.IsOpen() {
				open = append(open, h.toDomain())
			}
		}
		return nil
	})
	slices.SortFunc(open, func(a, b *domain.Hold) int { id1, id2 := a.ID(), b.ID(); return bytes.Compare(id1[:], id2[:]) })
	return open, err
}

func (r holdRepo) Due(ctx context.Context, now time.Time, limit int) ([]application.HoldRef, error) {
	if err := r.outsideOnly("due holds"); err != nil {
		return nil, err
	}
	var due []holdRecord
	err := r.read(ctx, func(d db) error {
		for _, h := range d.holds.all {
			if h.status.IsOpen() && !now.Before(h.expiresAt) {
				due = append(due, h)
			}
		}
		return nil
	})
	slices.SortFunc(due, func(a, b holdRecord) int {
		return cmp.Or(a.expiresAt.Compare(b.expiresAt), bytes.Compare(a.id[:], b.id[:]))
	})
	var refs []application.HoldRef
	for _, h := range due[:min(len(due), max(limit, 0))] {
		refs = append(refs, application.HoldRef{Tenant: h.tenant, Account: h.account, Hold: h.id})
	}
	return refs, err
}

type idempotencyRepo struct{ repos }

// Claim needs no waiting: transactions run one at a time, so a claim made by
// another transaction has either committed (and is seen here) or rolled back.
func (r idempotencyRepo) Claim(ctx context.Context, rec application.IdempotencyRecord) error {
	key := idempotencyKey{rec.Tenant, rec.Key}
	if r.tx != nil && !r.scope.keys[key] {
		return fmt.Errorf("claim idempotency key %q: %w", rec.Key, application.ErrOutOfScope)
	}
	return r.write(ctx, func(tx db) error {
		if _, taken := tx.idempotency.get(key); taken {
			return fmt.Errorf("idempotency key %q: %w", rec.Key, application.ErrIdempotencyKeyTaken)
		}
		tx.idempotency.put(key, newIdempotencyRecord(rec))
		return nil
	})
}

// Complete fails when the key was never claimed: a receipt that is silently
// not stored would turn a retry into a second execution.
func (r idempotencyRepo) Complete(ctx context.Context, tenant domain.TenantID, key string, receipt application.Receipt) error {
	return r.write(ctx, func(tx db) error {
		k := idempotencyKey{tenant, key}
		rec, ok := tx.idempotency.get(k)
		if !ok {
			return fmt.Errorf("complete idempotency key %q: %w: the key is not claimed", key, errConstraint)
		}
		rec.Receipt = receipt
		tx.idempotency.put(k, newIdempotencyRecord(rec.IdempotencyRecord))
		return nil
	})
}

func (r idempotencyRepo) Get(ctx context.Context, tenant domain.TenantID, key string) (application.IdempotencyRecord, error) {
	if err := r.outsideOnly("read idempotency record"); err != nil {
		return application.IdempotencyRecord{}, err
	}
	var out application.IdempotencyRecord
	err := r.read(ctx, func(d db) error {
		rec, ok := d.idempotency.get(idempotencyKey{tenant, key})
		if !ok {
			return fmt.Errorf("idempotency key %q: %w", key, domain.ErrNotFound)
		}
		out = rec.toApplication()
		return nil
	})
	return out, err
}

func (r idempotencyRepo) DeleteBefore(ctx context.Context, cutoff time.Time) (int, error) {
	if err := r.outsideOnly("forget idempotency records"); err != nil {
		return 0, err
	}
	n := 0
	err := r.write(ctx, func(tx db) error {
		var old []idempotencyKey // collected first: deleting while iterating would change what all yields
		for k, rec := range tx.idempotency.all {
			if rec.CreatedAt.Before(cutoff) {
				old = append(old, k)
			}
		}
		for _, k := range old {
			tx.idempotency.del(k)
		}
		n = len(old)
		return nil
	})
	return n, err
}
