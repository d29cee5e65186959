package domain_test

import (
	"errors"
	"testing"

	"github.com/creditd/creditd/domain"
)

// TestEveryDomainErrorIsARejection: the domain's error categories are all
// business refusals, listed once by Rejections (which the replay store and
// the HTTP error table rely on), and told apart from one another. (The HTTP
// adapter's error-table test finds every Err* the package declares, so a
// new one cannot be left out of Rejections.)
func TestEveryDomainErrorIsARejection(t *testing.T) {
	byName := map[string]error{
		"ErrInvalidInput": domain.ErrInvalidInput, "ErrNotFound": domain.ErrNotFound,
		"ErrInsufficientCredits": domain.ErrInsufficientCredits, "ErrHoldNotCapturable": domain.ErrHoldNotCapturable,
		"ErrHoldNotReleasable": domain.ErrHoldNotReleasable, "ErrCaptureExceedsHold": domain.ErrCaptureExceedsHold,
		"ErrHoldNotOpen":             domain.ErrHoldNotOpen,
		"ErrBalanceLimit":            domain.ErrBalanceLimit,
		"ErrAlreadyExists":           domain.ErrAlreadyExists,
		"ErrProductUnavailable":      domain.ErrProductUnavailable,
		"ErrOrderNotRefundable":      domain.ErrOrderNotRefundable,
		"ErrRefundInProgress":        domain.ErrRefundInProgress,
		"ErrRefundExceedsRefundable": domain.ErrRefundExceedsRefundable,
		"ErrRefundRefused":           domain.ErrRefundRefused,
		"ErrNotReversible":           domain.ErrNotReversible,
		"ErrReversalExceedsOriginal": domain.ErrReversalExceedsOriginal,
		"ErrWebhookEndpointLimit":    domain.ErrWebhookEndpointLimit,
		"ErrGatewayNotConfigured":    domain.ErrGatewayNotConfigured,
		"ErrPaymentMismatch":         domain.ErrPaymentMismatch,
	}
	if len(domain.Rejections()) != len(byName) {
		t.Fatalf("Rejections lists %d, this test knows %d: add the new one here", len(domain.Rejections()), len(byName))
	}
	for name, err := range byName {
		if !domain.IsRejection(err) || !domain.IsRejection(errors.Join(errors.New("context"), err)) {
			t.Errorf("%s is not a rejection", name)
		}
		for other, o := range byName {
			if other != name && errors.Is(err, o) {
				t.Errorf("%s is also %s", name, other)
			}
		}
	}
	insufficient := &domain.InsufficientCreditsError{}
	if !domain.IsRejection(insufficient) || !errors.Is(insufficient, domain.ErrInsufficientCredits) {
		t.Error("InsufficientCreditsError is not an insufficient-credits rejection")
	}
	for _, err := range []error{errors.New("connection refused"), nil} {
		if domain.IsRejection(err) {
			t.Errorf("%v is a rejection", err)
		}
	}
}
