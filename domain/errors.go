package domain

import (
	"errors"
	"fmt"
	"slices"
)

// Categories of domain failure. Callers branch on them with errors.Is; the
// typed errors below wrap them when a caller needs the details.
//
// Every one is a rejection: a business refusal, final for the request that
// met it. One list classifies them for everyone: application.runOnce stores
// rejections for idempotent replay (a retry cannot turn a refusal into a
// success), the HTTP adapter answers each with its own 4xx problem type
// (a test checks every rejection has one), and any other error (a database
// failure, a bug) is neither stored nor a 4xx.
var (
	ErrInvalidInput        = rejection("invalid input")
	ErrNotFound            = rejection("not found")
	ErrInsufficientCredits = rejection("insufficient credits")
	ErrHoldNotCapturable   = rejection("hold is not capturable")
	ErrHoldNotReleasable   = rejection("hold is not releasable")
	ErrCaptureExceedsHold  = rejection("capture exceeds the hold's remaining amount")
	ErrHoldNotOpen         = rejection("hold is not open")
	ErrBalanceLimit        = rejection("balance limit exceeded")
	ErrAlreadyExists       = rejection("already exists")
	ErrProductUnavailable  = rejection("product unavailable")
	// Refunds.
	ErrOrderNotRefundable      = rejection("order is not refundable")
	ErrRefundInProgress        = rejection("a refund of the order is in progress")
	ErrRefundExceedsRefundable = rejection("refund exceeds the refundable amount")
	ErrRefundRefused           = rejection("the payment gateway refused the refund")
	ErrGatewayNotConfigured    = rejection("the payment gateway is not configured")
	ErrPaymentMismatch         = rejection("the payment named is not the order's")
	// Reversals.
	ErrNotReversible           = rejection("transaction is not reversible")
	ErrReversalExceedsOriginal = rejection("reversal exceeds what is left to reverse of the transaction")
)

var rejections []error

func rejection(text string) error {
	err := errors.New(text)
	rejections = append(rejections, err)
	return err
}

// Rejections lists every category of rejection.
func Rejections() []error { return slices.Clone(rejections) }

// IsRejection reports whether err is a business refusal (see Rejections).
func IsRejection(err error) bool {
	return slices.ContainsFunc(rejections, func(r error) bool { return errors.Is(err, r) })
}

// InsufficientCreditsError says how much was asked for and how much was available.
type InsufficientCreditsError struct {
	Requested Credits
	Available Credits
}

func (e *InsufficientCreditsError) Error() string {
	return fmt.Sprintf("insufficient credits: requested %s, available %s", e.Requested, e.Available)
}

func (e *InsufficientCreditsError) Is(target error) bool { return target == ErrInsufficientCredits }
