package memory

import (
	"context"
	"fmt"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

var _ application.TenantSettingsStore = settingsStore{}

// Settings keeps tenants' event settings beside the tenants themselves.
func (s *Store) Settings() application.TenantSettingsStore { return settingsStore{s.keys} }

type settingsStore struct{ keys *apiKeyStore }

func (s settingsStore) Get(ctx context.Context, tenant domain.TenantID) (application.TenantSettings, error) {
	if err := ctx.Err(); err != nil {
		return application.TenantSettings{}, err
	}
	s.keys.mu.Lock()
	defer s.keys.mu.Unlock()
	if !s.keys.hasTenant(tenant) {
		return application.TenantSettings{}, fmt.Errorf("tenant %s: %w", tenant, domain.ErrNotFound)
	}
	if got, ok := s.keys.settings[tenant]; ok {
		return got, nil
	}
	return application.TenantSettings{LotsExpiringNotice: application.DefaultLotsExpiringNotice}, nil
}

func (s settingsStore) Put(ctx context.Context, tenant domain.TenantID, settings application.TenantSettings) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.keys.mu.Lock()
	defer s.keys.mu.Unlock()
	if !s.keys.hasTenant(tenant) {
		return fmt.Errorf("tenant %s: %w", tenant, domain.ErrNotFound)
	}
	s.keys.settings[tenant] = settings
	return nil
}
