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
}

// RehydrateLot rebuilds a stored lot; adapters only.
func RehydrateLot(id LotID, source LotSource, amount, remaining, held Credits, priority int, expiresAt *time.Time, createdAt time.Time) *Lot {
	return &Lot{id: id, source: source, amount: amount, remaining: remaining, held: held,
		priority: priority, expiresAt: expiresAt, createdAt: createdAt}
}

func (l *Lot) ID() LotID             { return l.id }
func (l *Lot) Source() LotSource     { return l.source }
func (l *Lot) Amount() Credits       { return l.amount }
func (l *Lot) Remaining() Credits    { return l.remaining }
func (l *Lot) Held() Credits         { return l.held }
func (l *Lot) Priority() int         { return l.priority }
func (l *Lot) ExpiresAt() *time.Time { return l.expiresAt }
func (l *Lot) CreatedAt() time.Time  { return l.createdAt }

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
