package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

type walletRepo struct{ session }

var _ application.WalletRepository = (*walletRepo)(nil)

// Lock takes the wallet row lock first and reads the lots in a second
// statement: in READ COMMITTED that statement sees everything committed
// before the lock was granted, whereas lots joined into the locking query
// could come from the snapshot taken before waiting for the lock.
func (r *walletRepo) Lock(ctx context.Context, tenant domain.TenantID, account domain.AccountID) (*domain.Wallet, error) {
	if err := r.read(ctx); err != nil {
		return nil, err
	}
	var row walletRow
	err := r.db.NewSelect().Model(&row).
		Where("tenant_id = ? AND account_id = ?", uuid.UUID(tenant), account.String()).
		For("UPDATE").Scan(ctx)
	if err != nil {
		return nil, translate(err, "lock wallet")
	}
	return r.withLots(ctx, row)
}

// LockOrCreate inserts the wallet or, when it exists, locks it, in one
// statement: ON CONFLICT DO UPDATE takes the row lock and returns the latest row.
func (r *walletRepo) LockOrCreate(ctx context.Context, fresh *domain.Wallet) (*domain.Wallet, error) {
	if err := r.read(ctx); err != nil {
		return nil, err
	}
	row := walletRow{ID: uuid.UUID(fresh.ID()), TenantID: uuid.UUID(fresh.Tenant()), AccountID: fresh.AccountID().String(),
		Balance: fresh.Balance().Decimal(), Held: fresh.Held().Decimal(), CreatedAt: fresh.CreatedAt(), UpdatedAt: fresh.CreatedAt()}
	err := r.db.NewInsert().Model(&row).
		On("CONFLICT (tenant_id, account_id) DO UPDATE").Set("updated_at = EXCLUDED.updated_at").
		Returning("*").Scan(ctx, &row)
	if err != nil {
		return nil, translate(err, "lock or create wallet")
	}
	return r.withLots(ctx, row)
}

func (r *walletRepo) withLots(ctx context.Context, row walletRow) (*domain.Wallet, error) {
	var lots []lotRow
	if err := r.db.NewSelect().Model(&lots).Where("wallet_id = ? AND remaining > 0", row.ID).Scan(ctx); err != nil {
		return nil, translate(err, "read lots")
	}
	return walletFromRows(row, lots)
}

func walletFromRows(row walletRow, lots []lotRow) (*domain.Wallet, error) {
	ls := make([]*domain.Lot, 0, len(lots))
	for _, lr := range lots {
		l, err := lr.toDomain()
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
	}
	return row.toDomain(ls)
}

// walletWithLotRow is one row of the snapshot join in Get; the lot columns
// are NULL for a wallet without open lots.
type walletWithLotRow struct {
	walletRow    `bun:",extend"`
	LotID        *uuid.UUID       `bun:"lot_id"`
	LotSource    *string          `bun:"lot_source"`
	LotAmount    *decimal.Decimal `bun:"lot_amount"`
	LotRemaining *decimal.Decimal `bun:"lot_remaining"`
	LotHeld      *decimal.Decimal `bun:"lot_held"`
	LotPriority  *int             `bun:"lot_priority"`
	LotExpiresAt *time.Time       `bun:"lot_expires_at"`
	LotCreatedAt *time.Time       `bun:"lot_created_at"`
}

// Get reads the wallet and its open lots in one statement, so the balance
// and the lots come from the same snapshot.
func (r *walletRepo) Get(ctx context.Context, tenant domain.TenantID, account domain.AccountID) (*domain.Wallet, error) {
	if err := r.read(ctx); err != nil {
		return nil, err
	}
	var rows []walletWithLotRow
	err := r.db.NewRaw(`
		SELECT w.*, l.id AS lot_id, l.source AS lot_source, l.amount AS lot_amount, l.remaining AS lot_remaining,
		       l.held AS lot_held, l.priority AS lot_priority, l.expires_at AS lot_expires_at, l.created_at AS lot_created_at
		FROM wallets w LEFT JOIN lots l ON l.wallet_id = w.id AND l.remaining > 0
		WHERE w.tenant_id = ? AND w.account_id = ?`, uuid.UUID(tenant), account.String()).Scan(ctx, &rows)
	if err != nil {
		return nil, translate(err, "read wallet")
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("wallet of %q: %w", account, domain.ErrNotFound)
	}
	lots := make([]lotRow, 0, len(rows))
	for _, row := range rows {
		if row.LotID != nil {
			lots = append(lots, lotRow{ID: *row.LotID, WalletID: row.ID, Source: *row.LotSource, Amount: *row.LotAmount,
				Remaining: *row.LotRemaining, Held: *row.LotHeld, Priority: *row.LotPriority, ExpiresAt: row.LotExpiresAt,
				CreatedAt: *row.LotCreatedAt})
		}
	}
	return walletFromRows(rows[0].walletRow, lots)
}

func (r *walletRepo) Save(ctx context.Context, w *domain.Wallet) error {
	if changed := w.ChangedLots(); len(changed) > 0 {
		rows := make([]lotRow, len(changed))
		for i, l := range changed {
			rows[i] = toLotRow(w.ID(), l)
		}
		err := r.write(ctx, r.db.NewInsert().Model(&rows).
			On("CONFLICT (id) DO UPDATE").Set("remaining = EXCLUDED.remaining").Set("held = EXCLUDED.held"))
		if err != nil {
			return translate(err, "save lots")
		}
	}
	err := r.write(ctx, r.db.NewUpdate().Model((*walletRow)(nil)).
		Set("balance = ?", w.Balance().Decimal()).Set("held = ?", w.Held().Decimal()).Set("holds_due_at = ?", w.HoldsDueAt()).Set("updated_at = now()").
		Where("id = ?", uuid.UUID(w.ID())))
	return translate(err, "save wallet")
}

func (r *walletRepo) DueForExpiry(ctx context.Context, now time.Time, limit int) ([]application.WalletRef, error) {
	if limit <= 0 { // bun reads LIMIT 0 as no limit
		return nil, nil
	}
	if err := r.read(ctx); err != nil {
		return nil, err
	}
	var rows []struct {
		ID        uuid.UUID `bun:"id"`
		TenantID  uuid.UUID `bun:"tenant_id"`
		AccountID string    `bun:"account_id"`
	}
	err := r.db.NewRaw(`
		SELECT DISTINCT w.id, w.tenant_id, w.account_id
		FROM lots l JOIN wallets w ON w.id = l.wallet_id
		WHERE l.remaining > l.held AND l.expires_at IS NOT NULL AND l.expires_at <= ?
		ORDER BY w.id -- a deterministic batch: the oldest wallets first
		LIMIT ?`, now, limit).Scan(ctx, &rows)
	if err != nil {
		return nil, translate(err, "find wallets due for expiry")
	}
	refs := make([]application.WalletRef, 0, len(rows))
	for _, row := range rows {
		account, err := domain.ParseAccountID(row.AccountID)
		if err != nil {
			return nil, err
		}
		refs = append(refs, application.WalletRef{Tenant: domain.TenantID(row.TenantID), Account: account})
	}
	return refs, nil
}
