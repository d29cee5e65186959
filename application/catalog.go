package application

import (
	"context"
	"fmt"

	"github.com/creditd/creditd/domain"
)

// Catalog keeps each tenant's credit packs: what an order sells, at what
// price. Packs are archived (made inactive), never deleted, so an order can
// always name the pack it sold. The rules of a pack live in domain.Product;
// nothing here moves credits, so no call takes an idempotency key.
type Catalog struct {
	store ProductStore
	clock Clock
}

// NewCatalog builds the catalog use cases.
func NewCatalog(store ProductStore, clock Clock) *Catalog {
	return &Catalog{store: store, clock: clock}
}

// Create adds an active pack under the tenant's own id for it; it fails with
// domain.ErrAlreadyExists when the tenant has a pack with that id (archived
// or not), and with domain.ErrInvalidInput when spec breaks a rule.
func (c *Catalog) Create(ctx context.Context, tenant domain.TenantID, id domain.ProductID, spec domain.ProductSpec) (*domain.Product, error) {
	p, err := domain.NewProduct(tenant, id, spec, c.clock.Now())
	if err != nil {
		return nil, fmt.Errorf("create product %s: %w", id, err)
	}
	if err := c.store.Create(ctx, p); err != nil {
		return nil, err // the store names the operation
	}
	return p, nil
}

// Change applies a partial update under the store's lock, so two changes of
// different fields made at the same time both survive. An empty change
// changes nothing, not even the update time, and reads the pack.
func (c *Catalog) Change(ctx context.Context, tenant domain.TenantID, id domain.ProductID, change domain.ProductChange) (*domain.Product, error) {
	if change == (domain.ProductChange{}) {
		return c.Get(ctx, tenant, id)
	}
	return c.store.Change(ctx, tenant, id, func(p *domain.Product) error {
		return p.Change(change, c.clock.Now())
	})
}

// Get reads one pack, archived or not; domain.ErrNotFound when the tenant has none with that id.
func (c *Catalog) Get(ctx context.Context, tenant domain.TenantID, id domain.ProductID) (*domain.Product, error) {
	return c.store.Get(ctx, tenant, id)
}

// List returns the tenant's packs in id order: all of them when active is
// nil, else only the active (*active) or only the archived (!*active) ones.
// A catalog is a handful of packs, so it is one page.
func (c *Catalog) List(ctx context.Context, tenant domain.TenantID, active *bool) ([]*domain.Product, error) {
	activeOnly := active != nil && *active
	all, err := c.store.List(ctx, tenant, activeOnly)
	if err != nil {
		return nil, err
	}
	if active == nil || *active {
		return all, nil
	}
	archived := make([]*domain.Product, 0, len(all))
	for _, p := range all {
		if !p.Active() {
			archived = append(archived, p)
		}
	}
	return archived, nil
}
