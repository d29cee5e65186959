package application

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/creditd/creditd/domain"
)

// PaymentGateway is the payment service creditd sells credits through
// (PortOne V2 today). It speaks in creditd's terms, so another protocol
// (PortOne V1, iamport) plugs in as another adapter without touching the use
// cases. Every method is a network call: never call one inside a unit of work.
//
// Errors: ErrPaymentNotFound when the gateway has no such payment; a
// *GatewayError when the gateway refused the request (4xx, or 5xx after the
// adapter's retries, which wraps ErrUnavailable); ErrUnavailable (wrapped)
// when it could not be reached or did not answer in time.
type PaymentGateway interface {
	// GetPayment reads a payment as the gateway sees it now.
	GetPayment(ctx context.Context, id domain.PaymentID) (domain.Payment, error)
	// PreRegister tells the gateway the amount a payment must have, so the
	// gateway itself refuses a payment of any other amount.
	PreRegister(ctx context.Context, id domain.PaymentID, total domain.Money) error
	// Cancel cancels amount of a payment (all of it when amount is nil).
	Cancel(ctx context.Context, c CancelRequest) (domain.PaymentCancellation, error)
	// ListPayments pages through the payments created in [From, Until),
	// oldest first, for reconciliation.
	ListPayments(ctx context.Context, q PaymentListQuery) (PaymentPage, error)
}

// PaymentGateways are the gateways orders may be paid through; one creditd
// is not configured for is absent.
type PaymentGateways map[domain.Gateway]PaymentGateway

// TransactionReader is a gateway that also reads a payment by the id of one
// attempt at paying it (V1's imp_uid), as a browser reports it.
type TransactionReader interface {
	GetPaymentByTransaction(ctx context.Context, transaction string) (domain.Payment, error)
}

// CancelRequest asks the gateway to give money back.
type CancelRequest struct {
	Payment domain.PaymentID
	// Transaction is the attempt that paid, when known (V1 cancels by
	// imp_uid, which names it exactly); empty: the payment's.
	Transaction string
	// Amount is what to cancel, in minor units; nil cancels what is left.
	Amount *int64
	// CancellableBefore is what creditd believes is still cancellable; the
	// gateway refuses the cancel when it disagrees (PortOne's
	// currentCancellableAmount), so two cancels can never both succeed on one belief.
	CancellableBefore int64
	Reason            string
	// IdempotencyKey makes a retried cancel return the first one's outcome.
	IdempotencyKey string
}

// PaymentListQuery asks for one page of payments.
type PaymentListQuery struct {
	From, Until time.Time
	Cursor      string // empty: the first page
	Size        int
}

// PaymentPage is one page of payments.
type PaymentPage struct {
	Items []domain.Payment
	// Next is the cursor of the following page; empty on the last one.
	Next string
}

// ErrPaymentNotFound means the gateway has no payment with that id.
var ErrPaymentNotFound = errors.New("the payment gateway has no such payment")

// GatewayError is a refusal from the payment gateway, in its own words.
type GatewayError struct {
	Status  int    // the HTTP status it answered with
	Type    string // its error type, e.g. CANCELLABLE_AMOUNT_CONSISTENCY_BROKEN; kept even when unknown to creditd
	Message string
}

func (e *GatewayError) Error() string {
	return fmt.Sprintf("payment gateway answered %d %s: %s", e.Status, e.Type, e.Message)
}

// Unwrap makes a server-side failure (5xx) an ErrUnavailable (the request
// may succeed later), and any other an ErrGatewayRefused.
func (e *GatewayError) Unwrap() error {
	if e.Status >= 500 {
		return ErrUnavailable
	}
	return ErrGatewayRefused
}

// ErrGatewayRefused means the gateway refused a request creditd made (4xx):
// creditd's settings or state disagree with the gateway's.
var ErrGatewayRefused = errors.New("the payment gateway refused the request")

// Gateway error types creditd acts on.
const (
	GatewayErrCancellableAmountMismatch = "CANCELLABLE_AMOUNT_CONSISTENCY_BROKEN"
	GatewayErrAlreadyCancelled          = "PAYMENT_ALREADY_CANCELLED"
	GatewayErrNotPaid                   = "PAYMENT_NOT_PAID"
	// GatewayErrOutstanding: the gateway still works on a request with the same idempotency key.
	GatewayErrOutstanding = "IDEMPOTENCY_OUTSTANDING_REQUEST"
)

// IsGatewayError reports whether err is a gateway refusal of the given type.
func IsGatewayError(err error, typ string) bool {
	var g *GatewayError
	return errors.As(err, &g) && g.Type == typ
}

// WebhookVerifier checks a webhook delivery's signature and reads the event
// it carries. It fails with an error wrapping ErrInvalidWebhook (and naming
// the reason) for anything not provably sent by the gateway just now.
type WebhookVerifier interface {
	Verify(d WebhookDelivery, now time.Time) (WebhookEvent, error)
}

// RefuseWebhooks is the verifier when creditd has no webhook secret (it
// sells through V1 only): no delivery can be proved genuine.
type RefuseWebhooks struct{}

func (RefuseWebhooks) Verify(WebhookDelivery, time.Time) (WebhookEvent, error) {
	return WebhookEvent{}, &InvalidWebhookError{Reason: WebhookNoMatchingSignature}
}

// WebhookDelivery is one HTTP delivery of a webhook, as received.
type WebhookDelivery struct {
	ID        string // webhook-id
	Timestamp string // webhook-timestamp, Unix seconds as sent
	Signature string // webhook-signature, space-separated "v1,<base64>" entries
	Body      []byte // the raw body, exactly as received
}

// WebhookEvent is a verified event. Only what it names is trusted: the
// payment to read again. Its amounts, if any, are never used.
type WebhookEvent struct {
	ID             string // webhook-id: one event, however often delivered
	Type           string // e.g. Transaction.Paid; unknown types are kept as sent
	Payment        domain.PaymentID
	StoreID        string
	CancellationID string
	OccurredAt     time.Time // the body's timestamp, when the event happened
}

// ErrInvalidWebhook means a webhook delivery failed verification.
var ErrInvalidWebhook = errors.New("invalid webhook")

// WebhookRejection says why a delivery failed verification, in Standard
// Webhooks' terms (as PortOne's SDKs name them).
type WebhookRejection string

const (
	WebhookMissingHeaders      WebhookRejection = "MISSING_REQUIRED_HEADERS"
	WebhookInvalidSignature    WebhookRejection = "INVALID_SIGNATURE"
	WebhookNoMatchingSignature WebhookRejection = "NO_MATCHING_SIGNATURE"
	WebhookTimestampTooOld     WebhookRejection = "TIMESTAMP_TOO_OLD"
	WebhookTimestampTooNew     WebhookRejection = "TIMESTAMP_TOO_NEW"
	WebhookMalformedBody       WebhookRejection = "MALFORMED_BODY"
)

// InvalidWebhookError is a failed verification with its reason; it wraps ErrInvalidWebhook.
type InvalidWebhookError struct{ Reason WebhookRejection }

func (e *InvalidWebhookError) Error() string        { return "invalid webhook: " + string(e.Reason) }
func (e *InvalidWebhookError) Is(target error) bool { return target == ErrInvalidWebhook }
