package memory

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// productStore keeps tenants' credit packs. Like API keys, products are
// written outside units of work, so they have a lock of their own; holding
// it while fn runs is what PostgreSQL's row lock does for Change.
type productStore struct {
	mu       sync.Mutex
	keys     *apiKeyStore // knows the tenants, as the foreign key does
	products map[productKey]*domain.Product
}

type productKey struct {
	tenant domain.TenantID
	id     domain.ProductID
}

func newProductStore(keys *apiKeyStore) *productStore {
	return &productStore{keys: keys, products: map[productKey]*domain.Product{}}
}

func (s *productStore) Create(ctx context.Context, p *domain.Product) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.keys.mu.Lock()
	known := s.keys.hasTenant(p.Tenant())
	s.keys.mu.Unlock()
	if !known {
		return fmt.Errorf("product %s: %w: tenant %s does not exist", p.ID(), errConstraint, p.Tenant())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := productKey{p.Tenant(), p.ID()}
	if _, dup := s.products[k]; dup {
		return fmt.Errorf("product %s: %w", p.ID(), domain.ErrAlreadyExists)
	}
	s.products[k] = cloneProduct(p)
	return nil
}

func (s *productStore) Change(ctx context.Context, tenant domain.TenantID, id domain.ProductID, fn func(p *domain.Product) error) (*domain.Product, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := productKey{tenant, id}
	stored, ok := s.products[k]
	if !ok {
		return nil, fmt.Errorf("product %s: %w", id, domain.ErrNotFound)
	}
	p := cloneProduct(stored) // fn's failure must leave the stored copy as it was
	if err := fn(p); err != nil {
		return nil, err
	}
	s.products[k] = cloneProduct(p)
	return p, nil
}

func (s *productStore) Get(ctx context.Context, tenant domain.TenantID, id domain.ProductID) (*domain.Product, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.products[productKey{tenant, id}]
	if !ok {
		return nil, fmt.Errorf("product %s: %w", id, domain.ErrNotFound)
	}
	return cloneProduct(p), nil
}

func (s *productStore) List(ctx context.Context, tenant domain.TenantID, activeOnly bool) ([]*domain.Product, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []*domain.Product{}
	for k, p := range s.products {
		if k.tenant == tenant && (!activeOnly || p.Active()) {
			out = append(out, cloneProduct(p))
		}
	}
	// Byte order, as the id column's "C" collation sorts.
	slices.SortFunc(out, func(a, b *domain.Product) int { return strings.Compare(a.ID().String(), b.ID().String()) })
	return out, nil
}

// cloneProduct copies a product, so neither the store nor its callers alias
// the other's copy.
func cloneProduct(p *domain.Product) *domain.Product {
	return domain.RehydrateProduct(p.Tenant(), p.ID(), p.Spec(), p.Active(), p.CreatedAt(), p.UpdatedAt())
}

var _ application.ProductStore = (*productStore)(nil)
