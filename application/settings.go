package application

import (
	"context"
	"fmt"
	"slices"
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

// Subscriptions say which events a tenant's webhook endpoints receive:
// events nobody receives are not written at all, so a tenant without
// endpoints pays nothing for them on its spends.
type Subscriptions interface {
	// Subscribed reports whether some live endpoint of the tenant receives
	// every event type, and else the types its live endpoints receive.
	Subscribed(ctx context.Context, tenant domain.TenantID) (all bool, types []domain.EventType, err error)
}

// Settings reads and changes tenants' event settings, and knows which events
// their endpoints want. Both are cached for settingsTTL, so units of work do
// not read them from the database each time; a change made through this
// Settings (or announced to it with Forget) is seen here at once, and by
// other replicas within settingsTTL.
type Settings struct {
	store TenantSettingsStore
	subs  Subscriptions // nil: every event is wanted
	clock Clock

	mu    sync.Mutex
	cache map[domain.TenantID]tenantEvents // one entry per tenant: tenants are few, made by operators
}

// tenantEvents is what units of work need to know of a tenant.
type tenantEvents struct {
	settings TenantSettings
	all      bool // every event type is wanted
	wanted   []domain.EventType
	readAt   time.Time
}

func (t tenantEvents) wants(typ domain.EventType) bool {
	return t.all || slices.Contains(t.wanted, typ)
}

// NewSettings serves the settings kept in store; subs, when nil, wants every event.
func NewSettings(store TenantSettingsStore, subs Subscriptions, clock Clock) *Settings {
	return &Settings{store: store, subs: subs, clock: clock, cache: map[domain.TenantID]tenantEvents{}}
}

// Tenant reads a tenant's settings, at most settingsTTL old.
func (s *Settings) Tenant(ctx context.Context, tenant domain.TenantID) (TenantSettings, error) {
	t, err := s.events(ctx, tenant)
	return t.settings, err
}

// events reads what units of work need to know of a tenant, at most settingsTTL old.
func (s *Settings) events(ctx context.Context, tenant domain.TenantID) (tenantEvents, error) {
	now := s.clock.Now()
	s.mu.Lock()
	c, ok := s.cache[tenant]
	s.mu.Unlock()
	if ok && now.Sub(c.readAt) < settingsTTL && !now.Before(c.readAt) {
		return c, nil
	}
	got, err := s.store.Get(ctx, tenant)
	if err != nil {
		return tenantEvents{}, err
	}
	t := tenantEvents{settings: got, all: true, readAt: now}
	if s.subs != nil {
		if t.all, t.wanted, err = s.subs.Subscribed(ctx, tenant); err != nil {
			return tenantEvents{}, fmt.Errorf("read which events the tenant's endpoints receive: %w", err)
		}
	}
	s.mu.Lock()
	s.cache[tenant] = t
	s.mu.Unlock()
	return t, nil
}

// Forget drops what is cached of a tenant, when its endpoints changed.
func (s *Settings) Forget(tenant domain.TenantID) {
	s.mu.Lock()
	delete(s.cache, tenant)
	s.mu.Unlock()
}

// Current reads a tenant's settings as stored now, for those who asked to see them.
func (s *Settings) Current(ctx context.Context, tenant domain.TenantID) (TenantSettings, error) {
	got, err := s.store.Get(ctx, tenant)
	if err != nil {
		return TenantSettings{}, err
	}
	s.Forget(tenant)
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
	s.Forget(tenant)
	return to, nil
}
