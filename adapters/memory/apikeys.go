package memory

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// apiKeyStore keeps tenants and API keys. Nothing writes them inside a unit
// of work, so they have a lock of their own.
type apiKeyStore struct {
	mu      sync.Mutex
	tenants map[domain.TenantName]domain.TenantID
	keys    map[domain.APIKeyID]apiKeyRecord
	// settings are tenants' event settings, once changed (settings.go).
	settings map[domain.TenantID]application.TenantSettings
}

type apiKeyRecord struct {
	key       application.StoredAPIKey
	revoked   bool
	revokedAt time.Time
}

func newAPIKeyStore() *apiKeyStore {
	return &apiKeyStore{tenants: map[domain.TenantName]domain.TenantID{}, keys: map[domain.APIKeyID]apiKeyRecord{},
		settings: map[domain.TenantID]application.TenantSettings{}}
}

func (s *apiKeyStore) EnsureTenant(ctx context.Context, name domain.TenantName, fresh domain.TenantID) (domain.TenantID, error) {
	if err := ctx.Err(); err != nil {
		return domain.TenantID{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.tenants[name]; ok {
		return id, nil
	}
	for other, id := range s.tenants {
		if id == fresh {
			return domain.TenantID{}, fmt.Errorf("tenant %s: %w: id %s is taken by %s", name, errConstraint, fresh, other)
		}
	}
	s.tenants[name] = fresh
	return fresh, nil
}

func (s *apiKeyStore) Create(ctx context.Context, k application.StoredAPIKey) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.hasTenant(k.Tenant) {
		return fmt.Errorf("API key %s: tenant %s: %w", k.ID, k.Tenant, domain.ErrNotFound)
	}
	if _, dup := s.keys[k.ID]; dup {
		return fmt.Errorf("API key %s: %w: duplicate id", k.ID, errConstraint)
	}
	for _, r := range s.keys {
		if bytes.Equal(r.key.Hash, k.Hash) {
			return fmt.Errorf("API key %s: %w: duplicate hash", k.ID, errConstraint)
		}
	}
	s.keys[k.ID] = apiKeyRecord{key: cloneKey(k)}
	return nil
}

func (s *apiKeyStore) hasTenant(id domain.TenantID) bool {
	return s.tenantName(id) != domain.TenantName{}
}

func (s *apiKeyStore) tenantName(id domain.TenantID) domain.TenantName {
	for name, t := range s.tenants {
		if t == id {
			return name
		}
	}
	return domain.TenantName{}
}

func (s *apiKeyStore) FindActive(ctx context.Context, hash []byte) (application.StoredAPIKey, error) {
	if err := ctx.Err(); err != nil {
		return application.StoredAPIKey{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.keys {
		if !r.revoked && bytes.Equal(r.key.Hash, hash) {
			k := cloneKey(r.key)
			k.TenantName = s.tenantName(k.Tenant)
			return k, nil
		}
	}
	return application.StoredAPIKey{}, fmt.Errorf("API key: %w", domain.ErrNotFound)
}

func (s *apiKeyStore) Revoke(ctx context.Context, id domain.APIKeyID, now time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.keys[id]
	if !ok || r.revoked {
		return fmt.Errorf("API key %s: %w", id, domain.ErrNotFound)
	}
	r.revoked, r.revokedAt = true, now
	s.keys[id] = r
	return nil
}

func (s *apiKeyStore) List(ctx context.Context, tenant domain.TenantName) ([]application.APIKeyInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := []application.APIKeyInfo{}
	for _, r := range s.keys {
		name := s.tenantName(r.key.Tenant)
		if tenant != (domain.TenantName{}) && name != tenant {
			continue
		}
		info := application.APIKeyInfo{ID: r.key.ID, Tenant: r.key.Tenant, TenantName: name,
			Scopes: slices.Clone(r.key.Scopes), CreatedAt: r.key.CreatedAt}
		if r.revoked {
			info.RevokedAt = r.revokedAt
		}
		keys = append(keys, info)
	}
	slices.SortFunc(keys, func(a, b application.APIKeyInfo) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return bytes.Compare(b.ID[:], a.ID[:]) // as PostgreSQL orders uuids
	})
	return keys, nil
}

func cloneKey(k application.StoredAPIKey) application.StoredAPIKey {
	k.Hash = slices.Clone(k.Hash)
	k.Scopes = slices.Clone(k.Scopes)
	return k
}
