package application

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/creditd/creditd/domain"
)

// TenantSettings are what a tenant chose about its events.
type TenantSettings struct {
	// LowBalanceThreshold is the default for balance.low: an account without
	// a threshold of its own is told when its available credits fall below
	// it. Zero: no default.
	LowBalanceThreshold domain.Credits
	// LotsExpiringNotice is how long before a lot expires its account is
	// told (lots.expiring).
	LotsExpiringNotice time.Duration
}

// Bounds and default of LotsExpiringNotice (the database checks the same).
const (
	MinLotsExpiringNotice     = time.Hour
	MaxLotsExpiringNotice     = 366 * 24 * time.Hour
	DefaultLotsExpiringNotice = 7 * 24 * time.Hour
)

// Validate refuses settings outside their bounds.
func (s TenantSettings) Validate() error {
	if s.LowBalanceThreshold.IsNegative() {
		return fmt.Errorf("%w: a low-balance threshold cannot be negative", domain.ErrInvalidInput)
	}
	if s.LotsExpiringNotice < MinLotsExpiringNotice || s.LotsExpiringNotice > MaxLotsExpiringNotice {
		return fmt.Errorf("%w: the lots-expiring notice must be between 1 hour and 366 days", domain.ErrInvalidInput)
	}
	return nil
}

// settingsTTL is how long a replica may go on using a tenant's settings
// after another replica changed them.
const settingsTTL = 5 * time.Second

// Settings reads and changes tenants' event settings. Reads are cached for
// settingsTTL, so the units of work that judge balance.low do not read them
// from the database each time; a change made here is seen here at once.
type Settings struct {
	store TenantSettingsStore
	clock Clock

	mu    sync.Mutex
	cache map[domain.TenantID]cachedSettings // one entry per tenant: tenants are few, made by operators
}

type cachedSettings struct {
	settings TenantSettings
	readAt   time.Time
}

// NewSettings serves the settings kept in store.
func NewSettings(store TenantSettingsStore, clock Clock) *Settings {
	return &Settings{store: store, clock: clock, cache: map[domain.TenantID]cachedSettings{}}
}

// Tenant reads a tenant's settings, at most settingsTTL old.
func (s *Settings) Tenant(ctx context.Context, tenant domain.TenantID) (TenantSettings, error) {
	now := s.clock.Now()
	s.mu.Lock()
	c, ok := s.cache[tenant]
	s.mu.Unlock()
	if ok && now.Sub(c.readAt) < settingsTTL && !now.Before(c.readAt) {
		return c.settings, nil
	}
	got, err := s.store.Get(ctx, tenant)
	if err != nil {
		return TenantSettings{}, err
	}
	s.remember(tenant, got, now)
	return got, nil
}

// Current reads a tenant's settings as stored now, for those who asked to see them.
func (s *Settings) Current(ctx context.Context, tenant domain.TenantID) (TenantSettings, error) {
	got, err := s.store.Get(ctx, tenant)
	if err != nil {
		return TenantSettings{}, err
	}
	s.remember(tenant, got, s.clock.Now())
	return got, nil
}

// ChangeTenant stores a tenant's settings.
func (s *Settings) ChangeTenant(ctx context.Context, tenant domain.TenantID, to TenantSettings) (TenantSettings, error) {
	if err := to.Validate(); err != nil {
		return TenantSettings{}, err
	}
	if err := s.store.Put(ctx, tenant, to); err != nil {
		return TenantSettings{}, fmt.Errorf("store the event settings: %w", err)
	}
	s.remember(tenant, to, s.clock.Now())
	return to, nil
}

func (s *Settings) remember(tenant domain.TenantID, settings TenantSettings, at time.Time) {
	s.mu.Lock()
	s.cache[tenant] = cachedSettings{settings: settings, readAt: at}
	s.mu.Unlock()
}
