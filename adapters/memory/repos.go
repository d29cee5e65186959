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

// The repositories of one transaction. Each call fails once ctx has ended,
// as a statement on a cancelled database connection would.

type walletRepo struct{ txRepos }

// Lock reads the wallet. Transactions run one at a time, so holding the
// store's write lock already is the row lock.
func (r walletRepo) Lock(ctx context.Context, tenant domain.TenantID, account domain.AccountID) (*domain.Wallet, error) {
	key := walletKey{tenant, account}
	if err := cmp.Or(ctx.Err(), r.lockable(key)); err != nil {
		return nil, err
	}
	rec, ok := r.tx.wallets.get(key)
	if !ok {
		return nil, fmt.Errorf("wallet of account %q: %w", account, domain.ErrNotFound)
	}
	return rec.toDomain(), nil
}

func (r walletRepo) LockOrCreate(ctx context.Context, fresh *domain.Wallet) (*domain.Wallet, error) {
	key := walletKey{fresh.Tenant(), fresh.AccountID()}
	if err := cmp.Or(ctx.Err(), r.lockable(key)); err != nil {
		return nil, err
	}
	rec, ok := r.tx.wallets.get(key)
	if !ok {
		rec = newWalletRecord(fresh)
		r.tx.wallets.put(key, rec)
	}
	return rec.toDomain(), nil
}

func (r walletRepo) Save(ctx context.Context, w *domain.Wallet) error {
	key := walletKey{w.Tenant(), w.AccountID()}
	if err := cmp.Or(ctx.Err(), r.lockable(key)); err != nil {
		return err
	}
	rec, ok := r.tx.wallets.get(key)
	if !ok || rec.id != w.ID() {
		return fmt.Errorf("save wallet %s: %w", w.ID(), domain.ErrNotFound)
	}
	rec = rec.with(w, w.ChangedLots())
	if err := rec.check(); err != nil {
		return fmt.Errorf("save wallet %s: %w", w.ID(), err)
	}
	r.tx.wallets.put(key, rec)
	return nil
}

// check enforces what the database's CHECK constraints would.
func (rec walletRecord) check() error {
	if rec.debt.IsNegative() || rec.held.IsNegative() || rec.held.Cmp(rec.balance.Add(rec.debt)) > 0 ||
		(rec.balance.IsNegative() && !rec.debt.IsPositive()) {
		return fmt.Errorf("%w: balance %s, held %s, debt %s", errConstraint, rec.balance, rec.held, rec.debt)
	}
	for _, l := range rec.lots {
		if l.held.IsNegative() || l.held.Cmp(l.remaining) > 0 || l.remaining.Cmp(l.amount) > 0 {
			return fmt.Errorf("%w: lot %s amount %s, remaining %s, held %s", errConstraint, l.id, l.amount, l.remaining, l.held)
		}
	}
	return nil
}

type ledgerRepo struct{ txRepos }

func (r ledgerRepo) Append(ctx context.Context, txs ...domain.Transaction) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, t := range txs {
		if _, dup := r.tx.ledger.get(t.ID()); dup {
			return fmt.Errorf("append transaction %s: %w: duplicate id", t.ID(), errConstraint)
		}
		r.tx.ledger.put(t.ID(), newTxRecord(t))
	}
	return nil
}

type holdRepo struct{ txRepos }

func (r holdRepo) Get(ctx context.Context, tenant domain.TenantID, id domain.HoldID) (*domain.Hold, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return getHold(r.tx, tenant, id)
}

func getHold(d db, tenant domain.TenantID, id domain.HoldID) (*domain.Hold, error) {
	rec, ok := d.holds.get(id)
	if !ok || rec.tenant != tenant {
		return nil, fmt.Errorf("hold %s: %w", id, domain.ErrNotFound)
	}
	return rec.toDomain(), nil
}

func (r holdRepo) Save(ctx context.Context, h *domain.Hold) error {
	if err := cmp.Or(ctx.Err(), r.lockable(walletKey{h.Tenant(), h.AccountID()})); err != nil {
		return fmt.Errorf("save hold %s: %w", h.ID(), err)
	}
	if old, ok := r.tx.holds.get(h.ID()); ok && (old.tenant != h.Tenant() || old.wallet != h.Wallet()) {
		return fmt.Errorf("save hold %s: %w: it belongs to another wallet", h.ID(), errConstraint)
	}
	r.tx.holds.put(h.ID(), newHoldRecord(h))
	return nil
}

func (r holdRepo) ListOpen(ctx context.Context, wallet domain.WalletID) ([]*domain.Hold, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return openHolds(r.tx, wallet), nil
}

func (r holdRepo) Captures(ctx context.Context, hold domain.HoldID) ([]domain.HoldCapture, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return holdCaptures(r.tx, hold), nil
}

// holdCaptures reads a hold's CAPTURE transactions, oldest first, as the
// Postgres adapter does by their hold_id.
func holdCaptures(d db, hold domain.HoldID) []domain.HoldCapture {
	var recs []txRecord
	for _, t := range d.ledger.all {
		if t.hasHold && t.hold == hold && t.typ == domain.TransactionCapture {
			recs = append(recs, t)
		}
	}
	slices.SortFunc(recs, func(a, b txRecord) int { return cmp.Or(a.createdAt.Compare(b.createdAt), compareIDs(a.id, b.id)) })
	out := make([]domain.HoldCapture, 0, len(recs))
	for _, t := range recs {
		out = append(out, domain.HoldCapture{Transaction: t.id, Amount: t.amount, Memo: cloneMemo(t.memo), CapturedAt: t.createdAt})
	}
	return out
}

// openHolds are the wallet's open holds in id order.
func openHolds(d db, wallet domain.WalletID) []*domain.Hold {
	var open []*domain.Hold
	for _, h := range d.holds.all {
		if h.wallet == wallet && h.status.IsOpen() {
			open = append(open, h.toDomain())
		}
	}
	slices.SortFunc(open, func(a, b *domain.Hold) int { id1, id2 := a.ID(), b.ID(); return bytes.Compare(id1[:], id2[:]) })
	return open
}

type idempotencyRepo struct{ txRepos }

// Claim needs no waiting: transactions run one at a time, so a claim made by
// another transaction has either committed (and is seen here) or rolled back.
func (r idempotencyRepo) Claim(ctx context.Context, rec application.IdempotencyRecord) error {
	key := idempotencyKey{rec.Tenant, rec.Key}
	if err := ctx.Err(); err != nil {
		return err
	}
	if !r.scope.keys[key] {
		return fmt.Errorf("claim idempotency key %q: %w", rec.Key, application.ErrOutOfScope)
	}
	if _, taken := r.tx.idempotency.get(key); taken {
		return fmt.Errorf("idempotency key %q: %w", rec.Key, application.ErrIdempotencyKeyTaken)
	}
	r.tx.idempotency.put(key, newIdempotencyRecord(rec))
	return nil
}

// Complete fails when the key was never claimed: a receipt that is silently
// not stored would turn a retry into a second execution.
func (r idempotencyRepo) Complete(ctx context.Context, tenant domain.TenantID, key string, receipt application.Receipt) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	k := idempotencyKey{tenant, key}
	rec, ok := r.tx.idempotency.get(k)
	if !ok {
		return fmt.Errorf("complete idempotency key %q: %w: the key is not claimed", key, errConstraint)
	}
	rec.Receipt = receipt
	r.tx.idempotency.put(k, newIdempotencyRecord(rec.IdempotencyRecord))
	return nil
}

// The queries: reads of the committed state.

type walletQueries struct{ queries }

func (q walletQueries) Get(ctx context.Context, tenant domain.TenantID, account domain.AccountID) (*domain.Wallet, error) {
	w, _, err := q.get(ctx, tenant, account, false)
	return w, err
}

func (q walletQueries) GetWithOpenHolds(ctx context.Context, tenant domain.TenantID, account domain.AccountID) (*domain.Wallet, []*domain.Hold, error) {
	return q.get(ctx, tenant, account, true)
}

func (q walletQueries) get(ctx context.Context, tenant domain.TenantID, account domain.AccountID, withHolds bool) (w *domain.Wallet, open []*domain.Hold, err error) {
	err = q.s.read(ctx, func(d db) error {
		rec, ok := d.wallets.get(walletKey{tenant, account})
		if !ok {
			return fmt.Errorf("wallet of account %q: %w", account, domain.ErrNotFound)
		}
		w = rec.toDomain()
		if withHolds {
			open = openHolds(d, rec.id)
		}
		return nil
	})
	return w, open, err
}

func (q walletQueries) DueForExpiry(ctx context.Context, now time.Time, limit int) ([]application.DueWallet, error) {
	var due []application.DueWallet
	err := q.s.read(ctx, func(d db) error {
		for _, w := range d.wallets.all {
			var dueAt time.Time
			for _, l := range w.lots {
				if l.isDue(now) && (dueAt.IsZero() || l.expiresAt.Before(dueAt)) {
					dueAt = l.expiresAt
				}
			}
			if !dueAt.IsZero() {
				due = append(due, application.DueWallet{WalletRef: application.WalletRef{Tenant: w.tenant, Account: w.account}, DueAt: dueAt})
			}
		}
		return nil
	})
	slices.SortFunc(due, func(a, b application.DueWallet) int {
		return cmp.Or(a.DueAt.Compare(b.DueAt), cmp.Compare(a.Tenant.String(), b.Tenant.String()), cmp.Compare(a.Account.String(), b.Account.String()))
	})
	return due[:min(len(due), max(limit, 0))], err
}

type ledgerQueries struct{ queries }

// compareIDs orders UUIDv7 ids by their bytes, which is their creation order.
func compareIDs(a, b domain.TransactionID) int { return bytes.Compare(a[:], b[:]) }

type holdQueries struct{ queries }

func (q holdQueries) Get(ctx context.Context, tenant domain.TenantID, id domain.HoldID) (h *domain.Hold, err error) {
	err = q.s.read(ctx, func(d db) error {
		h, err = getHold(d, tenant, id)
		return err
	})
	return h, err
}

func (q holdQueries) GetWithCaptures(ctx context.Context, tenant domain.TenantID, id domain.HoldID) (h *domain.Hold, captures []domain.HoldCapture, err error) {
	err = q.s.read(ctx, func(d db) error {
		if h, err = getHold(d, tenant, id); err != nil {
			return err
		}
		captures = holdCaptures(d, id)
		return nil
	})
	return h, captures, err
}

func (q holdQueries) Due(ctx context.Context, now time.Time, limit int) ([]application.HoldRef, error) {
	var due []holdRecord
	err := q.s.read(ctx, func(d db) error {
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
		refs = append(refs, application.HoldRef{Tenant: h.tenant, Account: h.account, Hold: h.id, ExpiresAt: h.expiresAt})
	}
	return refs, err
}

type idempotencyQueries struct{ queries }

func (q idempotencyQueries) Get(ctx context.Context, tenant domain.TenantID, key string) (application.IdempotencyRecord, error) {
	var out application.IdempotencyRecord
	err := q.s.read(ctx, func(d db) error {
		rec, ok := d.idempotency.get(idempotencyKey{tenant, key})
		if !ok {
			return fmt.Errorf("idempotency key %q: %w", key, domain.ErrNotFound)
		}
		out = rec.toApplication()
		return nil
	})
	return out, err
}

func (q idempotencyQueries) DeleteBefore(ctx context.Context, cutoff time.Time) (int, error) {
	n := 0
	err := q.s.write(ctx, func(tx db) error {
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
