package domain

import (
	"fmt"
	"time"
)

// HoldStatus is where a hold is in its life.
type HoldStatus struct{ slug string }

var (
	HoldActive            = HoldStatus{"ACTIVE"}
	HoldPartiallyCaptured = HoldStatus{"PARTIALLY_CAPTURED"}
	HoldCaptured          = HoldStatus{"CAPTURED"}
	HoldReleased          = HoldStatus{"RELEASED"}
	HoldExpired           = HoldStatus{"EXPIRED"}
)

var holdStatuses = []HoldStatus{HoldActive, HoldPartiallyCaptured, HoldCaptured, HoldReleased, HoldExpired}

// HoldStatusFromString parses a stored hold status.
func HoldStatusFromString(s string) (HoldStatus, error) {
	for _, st := range holdStatuses {
		if st.slug == s {
			return st, nil
		}
	}
	return HoldStatus{}, fmt.Errorf("%w: unknown hold status %q", ErrInvalidInput, s)
}

func (s HoldStatus) String() string { return s.slug }

// IsOpen reports whether the hold still reserves credits.
func (s HoldStatus) IsOpen() bool { return s == HoldActive || s == HoldPartiallyCaptured }

// Hold bounds: a hold lives at least a second and at most 30 days.
const (
	MinHoldDuration = time.Second
	MaxHoldDuration = 30 * 24 * time.Hour
)

// HoldAllocation is the part of one lot a hold still reserves.
type HoldAllocation struct {
	Lot    LotID
	Amount Credits
}

// Hold reserves credits on a wallet without moving them. Captures move up to
// the reserved amount to consumption; release or expiry frees the rest.
type Hold struct {
	id          HoldID
	tenant      TenantID
	wallet      WalletID
	account     AccountID
	amount      Credits
	captured    Credits
	status      HoldStatus
	memo        Memo
	expiresAt   time.Time
	createdAt   time.Time
	allocations []HoldAllocation // in consumption order; empty once closed
}

// RehydrateHold rebuilds a stored hold; adapters only.
func RehydrateHold(id HoldID, tenant TenantID, wallet WalletID, account AccountID, amount, captured Credits,
	status HoldStatus, memo Memo, expiresAt, createdAt time.Time, allocations []HoldAllocation) *Hold {
	return &Hold{id: id, tenant: tenant, wallet: wallet, account: account, amount: amount, captured: captured,
		status: status, memo: memo, expiresAt: expiresAt, createdAt: createdAt, allocations: allocations}
}

func (h *Hold) ID() HoldID                    { return h.id }
func (h *Hold) Tenant() TenantID              { return h.tenant }
func (h *Hold) Wallet() WalletID              { return h.wallet }
func (h *Hold) AccountID() AccountID          { return h.account }
func (h *Hold) Amount() Credits               { return h.amount }
func (h *Hold) Captured() Credits             { return h.captured }
func (h *Hold) Status() HoldStatus            { return h.status }
func (h *Hold) Memo() Memo                    { return h.memo }
func (h *Hold) ExpiresAt() time.Time          { return h.expiresAt }
func (h *Hold) CreatedAt() time.Time          { return h.createdAt }
func (h *Hold) Allocations() []HoldAllocation { return append([]HoldAllocation(nil), h.allocations...) }

// Remaining is what the hold still reserves.
func (h *Hold) Remaining() Credits {
	sum := ZeroCredits
	for _, a := range h.allocations {
		sum = sum.Add(a.Amount)
	}
	return sum
}

// IsDue reports whether an open hold has reached its expiry at now.
func (h *Hold) IsDue(now time.Time) bool { return h.status.IsOpen() && !now.Before(h.expiresAt) }

// ReleasedAt is what release or expiry gave back of the hold as of now: what
// it still reserved when it closed (an open hold past its expiry counts as
// expired, as StatusAt says); zero while it is open or once fully captured.
func (h *Hold) ReleasedAt(now time.Time) Credits {
	if st := h.statusAt(now); st == HoldReleased || st == HoldExpired {
		return h.amount.Sub(h.captured)
	}
	return ZeroCredits
}

// HoldCapture is one capture of a hold as its CAPTURE transaction records it:
// the ledger keeps captures, the hold only their sum.
type HoldCapture struct {
	Transaction TransactionID
	Amount      Credits
	Memo        Memo
	CapturedAt  time.Time
}

// CaptureOf is the capture a CAPTURE transaction records.
func CaptureOf(t Transaction) HoldCapture {
	return HoldCapture{Transaction: t.id, Amount: t.amount, Memo: t.memo, CapturedAt: t.createdAt}
}
