package postgres

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

type holdRepo struct{ session }

var _ application.HoldRepository = (*holdRepo)(nil)

func (r *holdRepo) Get(ctx context.Context, tenant domain.TenantID, id domain.HoldID) (*domain.Hold, error) {
	if err := r.read(ctx); err != nil {
		return nil, err
	}
	var row holdRow
	err := r.db.NewSelect().Model(&row).Where("id = ? AND tenant_id = ?", uuid.UUID(id), uuid.UUID(tenant)).Scan(ctx)
	if err != nil {
		return nil, translate(err, "read hold")
	}
	return row.toDomain()
}

func (r *holdRepo) Save(ctx context.Context, h *domain.Hold) error {
	row := toHoldRow(h, time.Now().UTC())
	return translate(r.write(ctx, r.db.NewInsert().Model(&row).
		On("CONFLICT (id) DO UPDATE").
		Set("captured = EXCLUDED.captured").Set("status = EXCLUDED.status").
		Set("allocations = EXCLUDED.allocations").Set("updated_at = EXCLUDED.updated_at")), "save hold")
}

func (r *holdRepo) ListOpen(ctx context.Context, wallet domain.WalletID) ([]*domain.Hold, error) {
	if err := r.read(ctx); err != nil {
		return nil, err
	}
	var rows []holdRow
	err := r.db.NewSelect().Model(&rows).
		Where("wallet_id = ? AND status IN ('ACTIVE', 'PARTIALLY_CAPTURED')", uuid.UUID(wallet)).OrderExpr("id").Scan(ctx)
	if err != nil {
		return nil, translate(err, "read open holds")
	}
	holds := make([]*domain.Hold, 0, len(rows))
	for _, row := range rows {
		h, err := row.toDomain()
		if err != nil {
			return nil, err
		}
		holds = append(holds, h)
	}
	return holds, nil
}

func (r *holdRepo) Due(ctx context.Context, now time.Time, limit int) ([]application.HoldRef, error) {
	if limit <= 0 { // bun reads LIMIT 0 as no limit
		return nil, nil
	}
	if err := r.read(ctx); err != nil {
		return nil, err
	}
	var rows []holdRow
	err := r.db.NewSelect().Model(&rows).Column("id", "tenant_id", "account_id").
		Where("status IN ('ACTIVE', 'PARTIALLY_CAPTURED') AND expires_at <= ?", now).
		OrderExpr("expires_at, id").Limit(int64(limit)).Scan(ctx)
	if err != nil {
		return nil, translate(err, "find due holds")
	}
	refs := make([]application.HoldRef, len(rows))
	for i, row := range rows {
		account, err := domain.ParseAccountID(row.AccountID)
		if err != nil {
			return nil, err
		}
		refs[i] = application.HoldRef{Tenant: domain.TenantID(row.TenantID), Account: account, Hold: domain.HoldID(row.ID)}
	}
	return refs, nil
}
