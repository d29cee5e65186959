package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// idempotencyRepo reads and writes idempotency records directly, outside
// any unit of work.
type idempotencyRepo struct{ db bun.IDB }

var _ application.IdempotencyRepository = (*idempotencyRepo)(nil)

// Claim outside a unit of work stores the record at once; the primary key
// refuses a key that is taken.
func (r *idempotencyRepo) Claim(ctx context.Context, rec application.IdempotencyRecord) error {
	return writeRows(ctx, r.db, "claim idempotency key", rowsToWrite{records: []idempotencyRow{toIdempotencyRow(rec)}})
}

// Complete outside a unit of work can only have been claimed by an earlier
// one; it updates the stored receipt.
func (r *idempotencyRepo) Complete(ctx context.Context, tenant domain.TenantID, key string, receipt application.Receipt) error {
	res, err := r.db.NewUpdate().Model((*idempotencyRow)(nil)).
		Set("status = ?", receipt.Status).Set("body = ?", nonNilBytes(receipt.Body)).
		Where("tenant_id = ? AND key = ?", uuid.UUID(tenant), key).Exec(ctx)
	if err != nil {
		return translate(err, "complete idempotency record")
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("complete idempotency record %q: the key is not claimed", key)
	}
	return nil
}

func (r *idempotencyRepo) Get(ctx context.Context, tenant domain.TenantID, key string) (application.IdempotencyRecord, error) {
	var row idempotencyRow
	err := r.db.NewSelect().Model(&row).Where("tenant_id = ? AND key = ?", uuid.UUID(tenant), key).Scan(ctx)
	if err != nil {
		return application.IdempotencyRecord{}, translate(err, "read idempotency record")
	}
	return application.IdempotencyRecord{Tenant: tenant, Key: row.Key, Fingerprint: row.Fingerprint,
		Receipt: application.Receipt{Status: row.Status, Body: row.Body}, CreatedAt: row.CreatedAt.UTC()}, nil
}

func (r *idempotencyRepo) DeleteBefore(ctx context.Context, cutoff time.Time) (int, error) {
	res, err := r.db.NewDelete().Model((*idempotencyRow)(nil)).Where("created_at < ?", cutoff).Exec(ctx)
	if err != nil {
		return 0, translate(err, "forget idempotency records")
	}
	n, err := res.RowsAffected()
	return int(n), err
}

func toIdempotencyRow(rec application.IdempotencyRecord) idempotencyRow {
	return idempotencyRow{TenantID: uuid.UUID(rec.Tenant), Key: rec.Key, Fingerprint: nonNilBytes(rec.Fingerprint),
		Status: rec.Receipt.Status, Body: nonNilBytes(rec.Receipt.Body), CreatedAt: rec.CreatedAt}
}

func nonNilBytes(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
