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
	scopes, err := parseScopes(row.Scopes)
	if err != nil {
		return application.StoredAPIKey{}, fmt.Errorf("API key %s: %w", row.ID, err)
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

func (s *APIKeyStore) List(ctx context.Context, tenant domain.TenantName) ([]application.APIKeyInfo, error) {
	var rows []struct {
		ID         uuid.UUID  `bun:"id"`
		TenantID   uuid.UUID  `bun:"tenant_id"`
		TenantName string     `bun:"tenant_name"`
		Scopes     []string   `bun:"scopes,array"`
		CreatedAt  time.Time  `bun:"created_at"`
		RevokedAt  *time.Time `bun:"revoked_at"`
	}
	// Never the hash: operators see which keys exist, not what they are.
	q := s.db.NewSelect().TableExpr("api_keys AS k").
		ColumnExpr("k.id, k.tenant_id, t.name AS tenant_name, k.scopes, k.created_at, k.revoked_at").
		Join("JOIN tenants AS t ON t.id = k.tenant_id").
		OrderExpr("k.created_at DESC, k.id DESC")
	if tenant != (domain.TenantName{}) {
		q = q.Where("t.name = ?", tenant.String())
	}
	if err := q.Scan(ctx, &rows); err != nil {
		return nil, translate(err, "list API keys")
	}
	keys := make([]application.APIKeyInfo, 0, len(rows))
	for _, row := range rows {
		name, err := domain.ParseTenantName(row.TenantName)
		if err != nil {
			return nil, fmt.Errorf("API key %s: %w", row.ID, err)
		}
		scopes, err := parseScopes(row.Scopes)
		if err != nil {
			return nil, fmt.Errorf("API key %s: %w", row.ID, err)
		}
		info := application.APIKeyInfo{ID: domain.APIKeyID(row.ID), Tenant: domain.TenantID(row.TenantID), TenantName: name,
			Scopes: scopes, CreatedAt: row.CreatedAt.UTC()}
		if row.RevokedAt != nil {
			info.RevokedAt = row.RevokedAt.UTC()
		}
		keys = append(keys, info)
	}
	return keys, nil
}

func parseScopes(names []string) ([]domain.Scope, error) {
	scopes := make([]domain.Scope, 0, len(names))
	for _, name := range names {
		sc, err := domain.ScopeFromString(name)
		if err != nil {
			return nil, err
		}
		scopes = append(scopes, sc)
	}
	return scopes, nil
}
