package domain

import (
	"fmt"
	"time"
)

// LotSource says whether a lot's credits were paid for or given.
type LotSource struct{ slug string }

var (
	LotPaid  = LotSource{"paid"}
	LotBonus = LotSource{"bonus"}
)

// LotSourceFromString parses "paid" or "bonus".
func LotSourceFromString(s string) (LotSource, error) {
	switch s {
	case LotPaid.slug:
		return LotPaid, nil
	case LotBonus.slug:
		return LotBonus, nil
	}
	return LotSource{}, fmt.Errorf("%w: source must be \"paid\" or \"bonus\"", ErrInvalidInput)
}

func (s LotSource) String() string { return s.slug }

// fundedBy is the system account a grant of this source draws from.
func (s LotSource) fundedBy() SystemAccount {
	if s == LotPaid {
		return SystemPurchases
	}
	return SystemPromotions
}

// Lot priorities: lower values are consumed first (as Stripe's credit grants).
const (
	MinLotPriority     = 0
	MaxLotPriority     = 100
	DefaultLotPriority = 50
)

// FundingKind says what paid for a lot.
type FundingKind struct{ slug string }

var (
	// FundedByOrder: a purchase order's payment, named by its payment id.
	FundedByOrder = FundingKind{"order"}
	// FundedExternally: a reference of the tenant's own (an invoice, a contract).
	FundedExternally = FundingKind{"external"}
)

// FundingKindFromString parses "order" or "external".
func FundingKindFromString(s string) (FundingKind, error) {
	for _, k := range []FundingKind{FundedByOrder, FundedExternally} {
		if k.slug == s {
			return k, nil
		}
	}
	return FundingKind{}, fmt.Errorf("%w: unknown funding kind %q", ErrInvalidInput, s)
}

func (k FundingKind) String() string { return k.slug }

// MaxFundingReferenceLength bounds a funding reference, in characters.
const MaxFundingReferenceLength = 128

// Funding is what paid for a lot, so that "how much of this payment is still
// unspent" is one query over lots. The zero value is no funding.
type Funding struct {
	kind      FundingKind
	reference string
}

// NewFunding checks a reference: 1 to 128 printable characters.
func NewFunding(kind FundingKind, reference string) (Funding, error) {
	if kind != FundedByOrder && kind != FundedExternally {
		return Funding{}, fmt.Errorf("%w: unknown funding kind", ErrInvalidInput)
	}
	if err := validateText(reference, 1, MaxFundingReferenceLength); err != nil {
		return Funding{}, fmt.Errorf("%w: funding reference %w", ErrInvalidInput, err)
	}
	return Funding{kind: kind, reference: reference}, nil
}

func (f Funding) Kind() FundingKind { return f.kind }
func (f Funding) Reference() string { return f.reference }
func (f Funding) IsZero() bool      { return f == Funding{} }

// Lot is one grant's credits on a wallet. Spends take credits from lots in
// consumption order: priority, then soonest expiry (never-expiring last), then oldest.
type Lot struct {
	id        LotID
	source    LotSource
	amount    Credits
	remaining Credits // not yet spent or expired
	held      Credits // part of remaining reserved by open holds
	priority  int
	expiresAt *time.Time
	createdAt time.Time
	funding   Funding // zero when the grant named none
}

// RehydrateLot rebuilds a stored lot; adapters only.
func RehydrateLot(id LotID, source LotSource, amount, remaining, held Credits, priority int, expiresAt *time.Time, createdAt time.Time, funding Funding) *Lot {
	return &Lot{id: id, source: source, amount: amount, remaining: remaining, held: held,
		priority: priority, expiresAt: expiresAt, createdAt: createdAt, funding: funding}
}

func (l *Lot) ID() LotID             { return l.id }
func (l *Lot) Source() LotSource     { return l.source }
func (l *Lot) Amount() Credits       { return l.amount }
func (l *Lot) Remaining() Credits    { return l.remaining }
func (l *Lot) Held() Credits         { return l.held }
func (l *Lot) Priority() int         { return l.priority }
func (l *Lot) ExpiresAt() *time.Time { return l.expiresAt }
func (l *Lot) CreatedAt() time.Time  { return l.createdAt }
func (l *Lot) Funding() Funding      { return l.funding }

// IsExpired reports whether the lot's credits can no longer be spent at now.
func (l *Lot) IsExpired(now time.Time) bool { return l.expiresAt != nil && !now.Before(*l.expiresAt) }

// free is what a spend or a new hold may take from the lot.
func (l *Lot) free(now time.Time) Credits {
	if l.IsExpired(now) {
		return ZeroCredits
	}
	return l.remaining.Sub(l.held)
}

// consumedBefore orders lots for consumption.
func (l *Lot) consumedBefore(o *Lot) bool {
	if l.priority != o.priority {
		return l.priority < o.priority
	}
	switch {
	case l.expiresAt != nil && o.expiresAt == nil:
		return true
	case l.expiresAt == nil && o.expiresAt != nil:
		return false
	case l.expiresAt != nil && !l.expiresAt.Equal(*o.expiresAt):
		return l.expiresAt.Before(*o.expiresAt)
	}
	if !l.createdAt.Equal(o.createdAt) {
		return l.createdAt.Before(o.createdAt)
	}
	return l.id.String() < o.id.String()
}
