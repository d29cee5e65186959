package domain

import (
	"fmt"
	"time"
)

// ProductID is a tenant's own name for a credit pack ("pack-100"): 1 to 64
// characters of [A-Za-z0-9-_.].
type ProductID struct{ s string }

// ParseProductID checks a product id.
func ParseProductID(s string) (ProductID, error) {
	if len(s) == 0 || len(s) > 64 {
		return ProductID{}, fmt.Errorf("%w: product id must be 1 to 64 characters", ErrInvalidInput)
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return ProductID{}, fmt.Errorf("%w: product id may contain only A-Z, a-z, 0-9, '-', '_' and '.'", ErrInvalidInput)
		}
	}
	return ProductID{s: s}, nil
}

func (p ProductID) String() string { return p.s }

// Product limits.
const (
	MaxProductNameLength  = 100 // PortOne shows it as the order name
	MaxCreditValidityDays = 3650
)

// ProductSpec is what a tenant says about a credit pack.
type ProductSpec struct {
	Name               string
	Price              Money
	Credits            Credits
	BonusCredits       Credits // zero: no bonus
	CreditValidityDays *int    // nil: the credits never expire
}

func (s ProductSpec) validate() error {
	if err := validateText(s.Name, 1, MaxProductNameLength); err != nil {
		return fmt.Errorf("%w: name %w", ErrInvalidInput, err)
	}
	if s.Price.Currency().IsZero() || s.Price.Amount() <= 0 {
		return fmt.Errorf("%w: price must be greater than zero", ErrInvalidInput)
	}
	if !s.Credits.IsPositive() {
		return fmt.Errorf("%w: credits must be greater than zero", ErrInvalidInput)
	}
	if s.BonusCredits.IsNegative() {
		return fmt.Errorf("%w: bonusCredits must not be negative", ErrInvalidInput)
	}
	if d := s.CreditValidityDays; d != nil && (*d < 1 || *d > MaxCreditValidityDays) {
		return fmt.Errorf("%w: creditValidityDays must be between 1 and %d", ErrInvalidInput, MaxCreditValidityDays)
	}
	return nil
}

// Product is a credit pack a tenant sells. Packs are archived (inactive),
// never deleted: orders keep what they were sold as.
type Product struct {
	tenant    TenantID
	id        ProductID
	spec      ProductSpec
	active    bool
	createdAt time.Time
	updatedAt time.Time
}

// NewProduct creates an active pack.
func NewProduct(tenant TenantID, id ProductID, spec ProductSpec, now time.Time) (*Product, error) {
	if err := spec.validate(); err != nil {
		return nil, err
	}
	return &Product{tenant: tenant, id: id, spec: spec, active: true, createdAt: now, updatedAt: now}, nil
}

// RehydrateProduct rebuilds a stored product; adapters only.
func RehydrateProduct(tenant TenantID, id ProductID, spec ProductSpec, active bool, createdAt, updatedAt time.Time) *Product {
	return &Product{tenant: tenant, id: id, spec: spec, active: active, createdAt: createdAt, updatedAt: updatedAt}
}

// ProductChange is a partial update: nil fields stay as they are.
// ClearCreditValidity makes the credits of later orders never expire.
type ProductChange struct {
	Name                *string
	Price               *Money
	Credits             *Credits
	BonusCredits        *Credits
	CreditValidityDays  *int
	ClearCreditValidity bool
	Active              *bool
}

// Change applies a partial update. Orders already created keep the pack as
// it was when they were created.
func (p *Product) Change(c ProductChange, now time.Time) error {
	next := p.spec
	if c.Name != nil {
		next.Name = *c.Name
	}
	if c.Price != nil {
		next.Price = *c.Price
	}
	if c.Credits != nil {
		next.Credits = *c.Credits
	}
	if c.BonusCredits != nil {
		next.BonusCredits = *c.BonusCredits
	}
	if c.ClearCreditValidity {
		next.CreditValidityDays = nil
	} else if c.CreditValidityDays != nil {
		d := *c.CreditValidityDays
		next.CreditValidityDays = &d
	}
	if err := next.validate(); err != nil {
		return err
	}
	p.spec = next
	if c.Active != nil {
		p.active = *c.Active
	}
	p.updatedAt = now
	return nil
}

func (p *Product) Tenant() TenantID     { return p.tenant }
func (p *Product) ID() ProductID        { return p.id }
func (p *Product) Spec() ProductSpec    { return p.spec }
func (p *Product) Active() bool         { return p.active }
func (p *Product) CreatedAt() time.Time { return p.createdAt }
func (p *Product) UpdatedAt() time.Time { return p.updatedAt }
