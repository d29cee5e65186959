package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// WebhookEndpointStore keeps tenants' webhook endpoints in
// webhook_endpoints. Like the product store it works outside the unit of
// work: each call is a transaction of its own.
type WebhookEndpointStore struct{ db *bun.DB }

var (
	_ application.WebhookEndpointStore = (*WebhookEndpointStore)(nil)
	_ application.Subscriptions        = (*WebhookEndpointStore)(nil)
)

// NewWebhookEndpointStore binds the endpoint store to db.
func NewWebhookEndpointStore(db *bun.DB) *WebhookEndpointStore { return &WebhookEndpointStore{db: db} }

type webhookEndpointRow struct {
	bun.BaseModel `bun:"table:webhook_endpoints"`

	TenantID  uuid.UUID  `bun:"tenant_id,pk,type:uuid"`
	ID        uuid.UUID  `bun:"id,pk,type:uuid"`
	URL       string     `bun:"url"`
	Events    []string   `bun:"events,array"`
	Secret    string     `bun:"secret"`
	CreatedAt time.Time  `bun:"created_at"`
	DeletedAt *time.Time `bun:"deleted_at"`
}

func toWebhookEndpointRow(e *domain.WebhookEndpoint) webhookEndpointRow {
	events := make([]string, 0, len(e.Events()))
	for _, t := range e.Events() {
		events = append(events, t.String())
	}
	return webhookEndpointRow{TenantID: uuid.UUID(e.Tenant()), ID: uuid.UUID(e.ID()), URL: e.URL(), Events: events, Secret: e.Secret(),
		CreatedAt: e.CreatedAt()}
}

func (r webhookEndpointRow) toDomain() (*domain.WebhookEndpoint, error) {
	events := make([]domain.EventType, 0, len(r.Events))
	for _, s := range r.Events {
		t, err := domain.EventTypeFromString(s)
		if err != nil {
			return nil, fmt.Errorf("stored webhook endpoint %s: %w", r.ID, err)
		}
		events = append(events, t)
	}
	return domain.RehydrateWebhookEndpoint(domain.WebhookEndpointID(r.ID), domain.TenantID(r.TenantID), r.URL, events, r.Secret,
		r.CreatedAt), nil
}

// endpointLockClass is the first key of the per-tenant advisory lock under
// which an endpoint is counted and inserted ("wh" in ASCII).
const endpointLockClass = 0x7768

func (s *WebhookEndpointStore) Create(ctx context.Context, e *domain.WebhookEndpoint, max int) error {
	row := toWebhookEndpointRow(e)
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		// Two creates of one tenant at once would each count 19 and insert:
		// the lock makes them count one after the other.
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(?, hashtext(?))", endpointLockClass, row.TenantID.String()); err != nil {
			return err
		}
		var live int
		if err := tx.NewSelect().Model((*webhookEndpointRow)(nil)).ColumnExpr("count(*)").
			Where("tenant_id = ? AND deleted_at IS NULL", row.TenantID).Scan(ctx, &live); err != nil {
			return err
		}
		if live >= max {
			return fmt.Errorf("%w (%d)", domain.ErrWebhookEndpointLimit, max)
		}
		_, err := tx.NewInsert().Model(&row).Exec(ctx)
		return err
	})
	return translate(err, "create webhook endpoint")
}

func (s *WebhookEndpointStore) Get(ctx context.Context, tenant domain.TenantID, id domain.WebhookEndpointID) (*domain.WebhookEndpoint, error) {
	var row webhookEndpointRow
	err := s.db.NewSelect().Model(&row).Where("tenant_id = ? AND id = ? AND deleted_at IS NULL", uuid.UUID(tenant), uuid.UUID(id)).
		Scan(ctx)
	if err != nil {
		return nil, translate(err, "get webhook endpoint")
	}
	return row.toDomain()
}

func (s *WebhookEndpointStore) List(ctx context.Context, tenant domain.TenantID) ([]*domain.WebhookEndpoint, error) {
	var rows []webhookEndpointRow
	err := s.db.NewSelect().Model(&rows).Where("tenant_id = ? AND deleted_at IS NULL", uuid.UUID(tenant)).
		Order("created_at", "id").Scan(ctx)
	if err != nil {
		return nil, translate(err, "list webhook endpoints")
	}
	out := make([]*domain.WebhookEndpoint, 0, len(rows))
	for _, r := range rows {
		e, err := r.toDomain()
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

func (s *WebhookEndpointStore) Delete(ctx context.Context, tenant domain.TenantID, id domain.WebhookEndpointID, now time.Time) error {
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewUpdate().Model((*webhookEndpointRow)(nil)).Set("deleted_at = ?", now).
			Where("tenant_id = ? AND id = ? AND deleted_at IS NULL", uuid.UUID(tenant), uuid.UUID(id)).Exec(ctx)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return cmpErr(err, sql.ErrNoRows)
		}
		// A worker sending one of these now records nothing: its Record
		// finds the delivery no longer pending.
		_, err = tx.NewUpdate().Model((*deliveryRow)(nil)).
			Set("status = 'cancelled', finished_at = ?, next_attempt_at = ?", now, now).
			Where("tenant_id = ? AND endpoint_id = ? AND status = 'pending'", uuid.UUID(tenant), uuid.UUID(id)).Exec(ctx)
		return err
	})
	return translate(err, "delete webhook endpoint")
}

// cmpErr is err, or other when err is nil.
func cmpErr(err, other error) error {
	if err != nil {
		return err
	}
	return other
}

// Subscribed reads which event types the tenant's live endpoints receive.
func (s *WebhookEndpointStore) Subscribed(ctx context.Context, tenant domain.TenantID) (bool, []domain.EventType, error) {
	var lists []webhookEndpointRow
	if err := s.db.NewSelect().Model(&lists).Column("events").Where("tenant_id = ? AND deleted_at IS NULL", uuid.UUID(tenant)).
		Scan(ctx); err != nil {
		return false, nil, translate(err, "read webhook subscriptions")
	}
	var types []domain.EventType
	for _, r := range lists {
		if len(r.Events) == 0 {
			return true, nil, nil
		}
		for _, name := range r.Events {
			t, err := domain.EventTypeFromString(name)
			if err != nil {
				return false, nil, fmt.Errorf("stored webhook endpoint %s: %w", r.ID, err)
			}
			if !slices.Contains(types, t) {
				types = append(types, t)
			}
		}
	}
	return false, types, nil
}
