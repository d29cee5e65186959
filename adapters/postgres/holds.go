package postgres

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// holdRepo reads and writes holds directly, outside any unit of work.
type holdRepo struct{ db bun.IDB }

var _ application.HoldRepository = (*holdRepo)(nil)

func (r *holdRepo) Get(ctx context.Context, tenant domain.TenantID, id domain.HoldID) (*domain.Hold, error) {
	row, err := selectHold(ctx, r.db, tenant, id)
	if err != nil {
		return nil, err
	}
	return row.toDomain()
}

func (r *holdRepo) Save(ctx context.Context, h *domain.Hold) error {
	return writeRows(ctx, r.db, "save hold", rowsToWrite{holds: []holdRow{toHoldRow(h, time.Now().UTC())}})
}

func (r *holdRepo) ListOpen(ctx context.Context, wallet domain.WalletID) ([]*domain.Hold, error) {
	rows, err := selectHolds(ctx, r.db, nil, []uuid.UUID{uuid.UUID(wallet)})
	if err != nil {
		return nil, err
	}
	return holdsFromRows(rows)
}

func (r *holdRepo) Due(ctx context.Context, now time.Time, limit int) ([]application.HoldRef, error) {
	if limit <= 0 { // bun reads LIMIT 0 as no limit
		return nil, nil
	}
	var rows []holdRow
	err := r.db.NewSelect().Model(&rows).Column("id", "tenant_id", "account_id").
		Where("open AND expires_at <= ?", now).
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

func selectHold(ctx context.Context, db bun.IDB, tenant domain.TenantID, id domain.HoldID) (holdRow, error) {
	var row holdRow
	err := db.NewSelect().Model(&row).Where("id = ? AND tenant_id = ?", uuid.UUID(id), uuid.UUID(tenant)).Scan(ctx)
	return row, translate(err, "read hold")
}

func (r holdRow) isOpen() bool {
	s, err := domain.HoldStatusFromString(r.Status)
	return err == nil && s.IsOpen()
}

func holdsFromRows(rows []holdRow) ([]*domain.Hold, error) {
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
