package domain

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Entity identifiers are distinct types so one can never be passed for another.
type (
	TenantID      uuid.UUID
	WalletID      uuid.UUID
	LotID         uuid.UUID
	HoldID        uuid.UUID
	TransactionID uuid.UUID
	APIKeyID      uuid.UUID
	// ReconciliationID names one reconciliation run (UUIDv7: runs sort by it).
	ReconciliationID uuid.UUID
	// EventID names one event to product backends: the webhook-id their
	// receivers deduplicate on.
	EventID uuid.UUID
)

func (id TenantID) String() string      { return uuid.UUID(id).String() }
func (id WalletID) String() string      { return uuid.UUID(id).String() }
func (id LotID) String() string         { return uuid.UUID(id).String() }
func (id HoldID) String() string        { return uuid.UUID(id).String() }
func (id TransactionID) String() string { return uuid.UUID(id).String() }
func (id APIKeyID) String() string      { return uuid.UUID(id).String() }

func (id ReconciliationID) String() string { return uuid.UUID(id).String() }
func (id EventID) String() string          { return uuid.UUID(id).String() }

// ParseReconciliationID parses the canonical text form of a reconciliation run's id.
func ParseReconciliationID(s string) (ReconciliationID, error) {
	u, err := uuid.Parse(s)
	if err != nil {
		return ReconciliationID{}, fmt.Errorf("%w: reconciliation id %q is not a UUID", ErrInvalidInput, s)
	}
	return ReconciliationID(u), nil
}

// ParseHoldID parses the canonical text form of a hold id.
func ParseHoldID(s string) (HoldID, error) {
	u, err := uuid.Parse(s)
	if err != nil {
		return HoldID{}, fmt.Errorf("%w: hold id %q is not a UUID", ErrInvalidInput, s)
	}
	return HoldID(u), nil
}

// ParseTransactionID parses the text form of a transaction id.
func ParseTransactionID(s string) (TransactionID, error) {
	u, err := uuid.Parse(s)
	if err != nil {
		return TransactionID{}, fmt.Errorf("%w: transaction id %q is not a UUID", ErrInvalidInput, s)
	}
	return TransactionID(u), nil
}

// ParseAPIKeyID parses the canonical text form of an API key id.
func ParseAPIKeyID(s string) (APIKeyID, error) {
	u, err := uuid.Parse(s)
	if err != nil {
		return APIKeyID{}, fmt.Errorf("%w: API key id %q is not a UUID", ErrInvalidInput, s)
	}
	return APIKeyID(u), nil
}

// MaxAccountIDLength bounds a tenant's own user id, in characters.
const MaxAccountIDLength = 128

// AccountID is the tenant's own identifier for one of its users; it names
// that user's wallet.
type AccountID struct{ s string }

// ParseAccountID accepts 1–128 printable characters (no control characters
// and no white space other than the ASCII space).
func ParseAccountID(s string) (AccountID, error) {
	if err := validateText(s, 1, MaxAccountIDLength); err != nil {
		return AccountID{}, fmt.Errorf("%w: account id %w", ErrInvalidInput, err)
	}
	return AccountID{s: s}, nil
}

// validateText checks an identifier-like text: valid UTF-8 of min to max
// characters, all printable (no control characters, so no NUL, which
// PostgreSQL cannot store, and no white space but the ASCII space).
func validateText(s string, min, max int) error {
	n := utf8.RuneCountInString(s)
	if n < min || n > max || !utf8.ValidString(s) {
		return fmt.Errorf("must be %d to %d characters", min, max)
	}
	if strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return errors.New("must contain printable characters only")
	}
	return nil
}

func (a AccountID) String() string { return a.s }

// TenantName is the human name of a tenant, unique per deployment.
type TenantName struct{ s string }

// ParseTenantName accepts 1–64 characters of [a-z0-9-_.].
func ParseTenantName(s string) (TenantName, error) {
	if len(s) == 0 || len(s) > 64 {
		return TenantName{}, fmt.Errorf("%w: tenant name must be 1 to 64 characters", ErrInvalidInput)
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return TenantName{}, fmt.Errorf("%w: tenant name may contain only a-z, 0-9, '-', '_' and '.'", ErrInvalidInput)
		}
	}
	return TenantName{s: s}, nil
}

func (n TenantName) String() string { return n.s }
