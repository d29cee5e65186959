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

// APIKeyStore keeps tenants and their hashed keys.
type APIKeyStore struct{ db *bun.DB }

var _ application.APIKeyStore = (*APIKeyStore)(nil)

// NewAPIKeyStore binds the key store to db.
func NewAPIKeyStore(db *bun.DB) *APIKeyStore { return &APIKeyStore{db: db} }

func (s *APIKeyStore) EnsureTenant(ctx context.Context, name domain.TenantName, fresh domain.TenantID) (domain.TenantID, error) {
	row := tenantRow{ID: uuid.UUID(fresh), Name: name.String()}
	// DO UPDATE (a no-op) rather than DO NOTHING so RETURNING yields the existing row too.
	err := s.db.NewInsert().Model(&row).On("CONFLICT (name) DO UPDATE").Set("name = EXCLUDED.name").
		Returning("id").Scan(ctx, &row.ID)
	if err != nil {
		return domain.TenantID{}, translate(err, "ensure tenant")
	}
	return domain.TenantID(row.ID), nil
}

func (s *APIKeyStore) Create(ctx context.Context, k application.StoredAPIKey) error {
	scopes := make([]string, len(k.Scopes))
	for i, sc := range k.Scopes {
		scopes[i] = sc.String()
	}
	row := apiKeyRow{ID: uuid.UUID(k.ID), TenantID: uuid.UUID(k.Tenant), Hash: k.Hash, Scopes: scopes, CreatedAt: k.CreatedAt}
	_, err := s.db.NewInsert().Model(&row).Exec(ctx)
	return translate(err, "create API key")
}

func (s *APIKeyStore) FindActive(ctx context.Context, hash []byte) (application.StoredAPIKey, error) {
	var row struct {
		apiKeyRow  `bun:",extend"`
		TenantName string `bun:"tenant_name"`
	}
	err := s.db.NewSelect().Model(&row).ColumnExpr("k.*, t.name AS tenant_name").
		Join("JOIN tenants AS t ON t.id = k.tenant_id").
		Where("k.hash = ? AND k.revoked_at IS NULL", hash).Scan(ctx)
	if err != nil {
		return application.StoredAPIKey{}, translate(err, "find API key")
	}
	tenantName, err := domain.ParseTenantName(row.TenantName)
	if err != nil {
		return application.StoredAPIKey{}, fmt.Errorf("API key %s: %w", row.ID, err)
	}
	scopes := make([]domain.Scope, 0, len(row.Scopes))
	for _, name := range row.Scopes {
		sc, err := domain.ScopeFromString(name)
		if err != nil {
			return application.StoredAPIKey{}, fmt.Errorf("API key %s: %w", row.ID, err)
		}
		scopes = append(scopes, sc)
	}
	return application.StoredAPIKey{ID: domain.APIKeyID(row.ID), Tenant: domain.TenantID(row.TenantID), TenantName: tenantName, Hash: row.Hash,
		Scopes: scopes, CreatedAt: row.CreatedAt.UTC()}, nil
}

func (s *APIKeyStore) Revoke(ctx context.Context, id domain.APIKeyID, now time.Time) error {
	res, err := s.db.NewUpdate().Model((*apiKeyRow)(nil)).Set("revoked_at = ?", now).
		Where("id = ? AND revoked_at IS NULL", uuid.UUID(id)).Exec(ctx)
	if err != nil {
		return translate(err, "revoke API key")
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("active API key %s: %w", id, domain.ErrNotFound)
	}
	return nil
}
