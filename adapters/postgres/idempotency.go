package postgres

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

type idempotencyRepo struct{ session }

var _ application.IdempotencyRepository = (*idempotencyRepo)(nil)

// Claim relies on the primary key: a concurrent claim of the same key waits
// on this uncommitted row, then fails as a duplicate once this one commits.
func (r *idempotencyRepo) Claim(ctx context.Context, rec application.IdempotencyRecord) error {
	if err := r.read(ctx); err != nil {
		return err
	}
	row := idempotencyRow{TenantID: uuid.UUID(rec.Tenant), Key: rec.Key, Fingerprint: nonNilBytes(rec.Fingerprint),
		Status: rec.Receipt.Status, Body: nonNilBytes(rec.Receipt.Body), CreatedAt: rec.CreatedAt}
	_, err := r.db.NewInsert().Model(&row).Exec(ctx)
	return translate(err, "claim idempotency key")
}

func (r *idempotencyRepo) Complete(ctx context.Context, tenant domain.TenantID, key string, receipt application.Receipt) error {
	return translate(r.write(ctx, r.db.NewUpdate().Model((*idempotencyRow)(nil)).
		Set("status = ?", receipt.Status).Set("body = ?", nonNilBytes(receipt.Body)).
		Where("tenant_id = ? AND key = ?", uuid.UUID(tenant), key)), "complete idempotency record")
}

func nonNilBytes(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func (r *idempotencyRepo) Get(ctx context.Context, tenant domain.TenantID, key string) (application.IdempotencyRecord, error) {
	if err := r.read(ctx); err != nil {
		return application.IdempotencyRecord{}, err
	}
	var row idempotencyRow
	err := r.db.NewSelect().Model(&row).Where("tenant_id = ? AND key = ?", uuid.UUID(tenant), key).Scan(ctx)
	if err != nil {
		return application.IdempotencyRecord{}, translate(err, "read idempotency record")
	}
	return application.IdempotencyRecord{Tenant: tenant, Key: row.Key, Fingerprint: row.Fingerprint,
		Receipt: application.Receipt{Status: row.Status, Body: row.Body}, CreatedAt: row.CreatedAt.UTC()}, nil
}

func (r *idempotencyRepo) DeleteBefore(ctx context.Context, cutoff time.Time) (int, error) {
	if err := r.read(ctx); err != nil {
		return 0, err
	}
	res, err := r.db.NewDelete().Model((*idempotencyRow)(nil)).Where("created_at < ?", cutoff).Exec(ctx)
	if err != nil {
		return 0, translate(err, "forget idempotency records")
	}
	n, err := res.RowsAffected()
	return int(n), err
}
