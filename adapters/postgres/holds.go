package postgres

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

type holdRepo struct{ db bun.IDB }

var _ application.HoldRepository = (*holdRepo)(nil)

func (r *holdRepo) Get(ctx context.Context, tenant domain.TenantID, id domain.HoldID) (*domain.Hold, error) {
	var row holdRow
	err := r.db.NewSelect().Model(&row).Where("id = ? AND tenant_id = ?", uuid.UUID(id), uuid.UUID(tenant)).Scan(ctx)
	if err != nil {
		return nil, translate(err, "read hold")
	}
	return row.toDomain()
}

func (r *holdRepo) Save(ctx context.Context, h *domain.Hold) error {
	row := toHoldRow(h, time.Now().UTC())
	_, err := r.db.NewInsert().Model(&row).
		On("CONFLICT (id) DO UPDATE").
		Set("captured = EXCLUDED.captured").Set("status = EXCLUDED.status").
		Set("allocations = EXCLUDED.allocations").Set("updated_at = EXCLUDED.updated_at").
		Exec(ctx)
	return translate(err, "save hold")
}

func (r *holdRepo) Due(ctx context.Context, now time.Time, limit int) ([]application.HoldRef, error) {
	var rows []holdRow
	err := r.db.NewSelect().Model(&rows).Column("id", "tenant_id").
		Where("status IN ('ACTIVE', 'PARTIALLY_CAPTURED') AND expires_at <= ?", now).
		OrderExpr("expires_at").Limit(int64(limit)).Scan(ctx)
	if err != nil {
		return nil, translate(err, "find due holds")
	}
	refs := make([]application.HoldRef, len(rows))
	for i, row := range rows {
		refs[i] = application.HoldRef{Tenant: domain.TenantID(row.TenantID), Hold: domain.HoldID(row.ID)}
	}
	return refs, nil
}
