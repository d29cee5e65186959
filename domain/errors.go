package domain

import (
	"errors"
	"fmt"
)

// Categories of domain failure. Callers branch on them with errors.Is; the
// typed errors below wrap them when a caller needs the details.
var (
	ErrInvalidInput        = errors.New("invalid input")
	ErrNotFound            = errors.New("not found")
	ErrInsufficientCredits = errors.New("insufficient credits")
	ErrHoldNotCapturable   = errors.New("hold is not capturable")
	ErrHoldNotReleasable   = errors.New("hold is not releasable")
	ErrCaptureExceedsHold  = errors.New("capture exceeds the hold's remaining amount")
	ErrBalanceLimit        = errors.New("balance limit exceeded")
)

// InsufficientCreditsError says how much was asked for and how much was available.
type InsufficientCreditsError struct {
	Requested Credits
	Available Credits
}

func (e *InsufficientCreditsError) Error() string {
	return fmt.Sprintf("insufficient credits: requested %s, available %s", e.Requested, e.Available)
}

func (e *InsufficientCreditsError) Is(target error) bool { return target == ErrInsufficientCredits }

// IsRejection reports whether err is a business decision (as opposed to an
// infrastructure failure): rejections are remembered for idempotent replay.
func IsRejection(err error) bool {
	for _, e := range []error{ErrInvalidInput, ErrNotFound, ErrInsufficientCredits, ErrHoldNotCapturable,
		ErrHoldNotReleasable, ErrCaptureExceedsHold, ErrBalanceLimit} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
