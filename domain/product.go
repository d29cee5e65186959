package domain

import (
	"fmt"
	"strings"
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
		return &InvalidFieldError{Field: "name", Reason: err.Error()}
	}
	if strings.TrimSpace(s.Name) != s.Name {
		// " " passes validateText, and PortOne shows the name as the order name.
		return &InvalidFieldError{Field: "name", Reason: "must not start or end with white space"}
	}
	if s.Price.Currency().IsZero() || s.Price.Amount() <= 0 {
		return &InvalidFieldError{Field: "price", Reason: "must be greater than zero"}
	}
	if !s.Credits.IsPositive() {
		return &InvalidFieldError{Field: "credits", Reason: "must be greater than zero"}
	}
	if s.BonusCredits.IsNegative() {
		return &InvalidFieldError{Field: "bonusCredits", Reason: "must not be negative"}
	}
	if d := s.CreditValidityDays; d != nil && (*d < 1 || *d > MaxCreditValidityDays) {
		return &InvalidFieldError{Field: "creditValidityDays", Reason: fmt.Sprintf("must be between 1 and %d", MaxCreditValidityDays)}
	}
	return nil
}

// InvalidFieldError is an ErrInvalidInput that names the field at fault
// ("price"), for callers that report errors per field.
type InvalidFieldError struct {
	Field  string
	Reason string // "must be greater than zero"
}

func (e *InvalidFieldError) Error() string {
	return fmt.Sprintf("%s: %s %s", ErrInvalidInput, e.Field, e.Reason)
}

func (e *InvalidFieldError) Is(target error) bool { return target == ErrInvalidInput }

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
	return &Product{tenant: tenant, id: id, spec: spec.clone(), active: true, createdAt: now, updatedAt: now}, nil
}

// RehydrateProduct rebuilds a stored product; adapters only.
func RehydrateProduct(tenant TenantID, id ProductID, spec ProductSpec, active bool, createdAt, updatedAt time.Time) *Product {
	return &Product{tenant: tenant, id: id, spec: spec.clone(), active: active, createdAt: createdAt, updatedAt: updatedAt}
}

// clone copies the spec's one pointer, so that a product never shares its
// validity with the caller that built it or read it.
func (s ProductSpec) clone() ProductSpec {
	if s.CreditValidityDays != nil {
		d := *s.CreditValidityDays
		s.CreditValidityDays = &d
	}
	return s
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
func (p *Product) Spec() ProductSpec    { return p.spec.clone() }
func (p *Product) Active() bool         { return p.active }
func (p *Product) CreatedAt() time.Time { return p.createdAt }
func (p *Product) UpdatedAt() time.Time { return p.updatedAt }
