package application

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/creditd/creditd/domain"
)

// WebhookEndpointStore keeps tenants' webhook endpoints, outside any unit
// of work: each call is a transaction of its own.
type WebhookEndpointStore interface {
	// Create stores a new endpoint unless its tenant has max live endpoints
	// already (domain.ErrWebhookEndpointLimit), counting and inserting
	// under one per-tenant lock so that concurrent creates cannot exceed it.
	Create(ctx context.Context, e *domain.WebhookEndpoint, max int) error
	// Get reads a live endpoint; domain.ErrNotFound when the tenant has none with this id.
	Get(ctx context.Context, tenant domain.TenantID, id domain.WebhookEndpointID) (*domain.WebhookEndpoint, error)
	// List reads the tenant's live endpoints, oldest first (ties: id order).
	List(ctx context.Context, tenant domain.TenantID) ([]*domain.WebhookEndpoint, error)
	// Delete marks a live endpoint deleted at now and cancels its pending
	// deliveries, in one transaction; domain.ErrNotFound when there is none.
	Delete(ctx context.Context, tenant domain.TenantID, id domain.WebhookEndpointID, now time.Time) error
}

// WebhookEndpointsConfig tunes endpoint registration; zero fields take the defaults.
type WebhookEndpointsConfig struct {
	// URLPolicy says which URLs endpoints may have (see domain.URLPolicy).
	URLPolicy domain.URLPolicy
	// MaxEndpoints bounds a tenant's live endpoints; zero is domain.MaxWebhookEndpoints.
	MaxEndpoints int
	// Changed, when set, is told of a tenant whose endpoints changed (so
	// Settings.Forget can drop its cached subscriptions at once).
	Changed func(tenant domain.TenantID)
}

// WebhookEndpoints registers tenants' webhook endpoints, and reads and
// redrives their deliveries.
type WebhookEndpoints struct {
	store      WebhookEndpointStore
	deliveries DeliveryStore
	clock      Clock
	ids        IDGenerator
	cfg        WebhookEndpointsConfig
}

// NewWebhookEndpoints builds the endpoint use cases.
func NewWebhookEndpoints(store WebhookEndpointStore, deliveries DeliveryStore, clock Clock, ids IDGenerator,
	cfg WebhookEndpointsConfig) *WebhookEndpoints {
	if cfg.MaxEndpoints <= 0 {
		cfg.MaxEndpoints = domain.MaxWebhookEndpoints
	}
	return &WebhookEndpoints{store: store, deliveries: deliveries, clock: clock, ids: ids, cfg: cfg}
}

// Create registers an endpoint with a fresh secret. The returned endpoint's
// Secret is for the caller to show once; nothing reads it back afterwards.
func (w *WebhookEndpoints) Create(ctx context.Context, tenant domain.TenantID, url string, events []domain.EventType) (*domain.WebhookEndpoint, error) {
	var key [domain.WebhookSecretBytes]byte
	_, _ = rand.Read(key[:]) // never fails (crypto/rand)
	e, err := domain.NewWebhookEndpoint(domain.WebhookEndpointID(w.ids.NewID()), tenant, url, events, domain.NewWebhookSecret(key),
		w.clock.Now(), w.cfg.URLPolicy)
	if err != nil {
		return nil, err
	}
	if err := w.store.Create(ctx, e, w.cfg.MaxEndpoints); err != nil {
		return nil, err
	}
	w.changed(tenant)
	return e, nil
}

// Get reads one of the tenant's endpoints.
func (w *WebhookEndpoints) Get(ctx context.Context, tenant domain.TenantID, id domain.WebhookEndpointID) (*domain.WebhookEndpoint, error) {
	return w.store.Get(ctx, tenant, id)
}

// List reads the tenant's endpoints, oldest first.
func (w *WebhookEndpoints) List(ctx context.Context, tenant domain.TenantID) ([]*domain.WebhookEndpoint, error) {
	return w.store.List(ctx, tenant)
}

// Delete removes an endpoint: nothing more is delivered to it, and its
// pending deliveries are cancelled.
func (w *WebhookEndpoints) Delete(ctx context.Context, tenant domain.TenantID, id domain.WebhookEndpointID) error {
	if err := w.store.Delete(ctx, tenant, id, w.clock.Now()); err != nil {
		return err
	}
	w.changed(tenant)
	return nil
}

func (w *WebhookEndpoints) changed(tenant domain.TenantID) {
	if w.cfg.Changed != nil {
		w.cfg.Changed(tenant)
	}
}

// Deliveries lists an endpoint's deliveries, newest first; domain.ErrNotFound
// when the tenant has no such endpoint.
func (w *WebhookEndpoints) Deliveries(ctx context.Context, f DeliveryFilter, limit int) ([]Delivery, error) {
	if _, err := w.store.Get(ctx, f.Tenant, f.Endpoint); err != nil {
		return nil, err
	}
	return w.deliveries.ListDeliveries(ctx, f, limit)
}

// Redeliver makes a delivered or failed delivery pending again, due now,
// with a fresh retry window; a pending one is left as it is. domain.ErrNotFound
// when the tenant's endpoint has no delivery of that event.
func (w *WebhookEndpoints) Redeliver(ctx context.Context, tenant domain.TenantID, endpoint domain.WebhookEndpointID, event [16]byte) (Delivery, error) {
	if _, err := w.store.Get(ctx, tenant, endpoint); err != nil {
		return Delivery{}, err
	}
	d, err := w.deliveries.Redeliver(ctx, tenant, endpoint, event, w.clock.Now())
	if err != nil {
		return Delivery{}, fmt.Errorf("redeliver: %w", err)
	}
	return d, nil
}
