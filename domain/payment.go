package domain

import (
	"fmt"
	"time"
)

// PaymentID names a purchase order's payment at the payment gateway: creditd
// generates it (the order's id), PortOne V2 calls it paymentId and V1
// merchant_uid. At most 64 characters of [A-Za-z0-9-_.], so it needs no
// escaping anywhere.
type PaymentID struct{ s string }

// ParsePaymentID checks a payment id.
func ParsePaymentID(s string) (PaymentID, error) {
	if len(s) == 0 || len(s) > 64 {
		return PaymentID{}, fmt.Errorf("%w: payment id must be 1 to 64 characters", ErrInvalidInput)
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return PaymentID{}, fmt.Errorf("%w: payment id may contain only A-Z, a-z, 0-9, '-', '_' and '.'", ErrInvalidInput)
		}
	}
	return PaymentID{s: s}, nil
}

func (p PaymentID) String() string { return p.s }
func (p PaymentID) IsZero() bool   { return p.s == "" }

// PaymentStatus is a payment's state at the gateway, in PortOne V2's terms.
// Gateways add statuses without notice: an unknown one is kept as read and
// never treated as paid.
type PaymentStatus string

const (
	PaymentReady                PaymentStatus = "READY"
	PaymentPayPending           PaymentStatus = "PAY_PENDING"
	PaymentVirtualAccountIssued PaymentStatus = "VIRTUAL_ACCOUNT_ISSUED"
	PaymentPaid                 PaymentStatus = "PAID"
	PaymentFailed               PaymentStatus = "FAILED"
	PaymentPartialCancelled     PaymentStatus = "PARTIAL_CANCELLED"
	PaymentCancelled            PaymentStatus = "CANCELLED"
)

// Payment is what the gateway says about a payment when asked: the only
// source creditd trusts about money (never a browser, never a webhook body).
// Amounts are in the currency's minor unit, as the gateway reports them;
// Currency is the gateway's code, kept as read so a mismatch can be reported.
type Payment struct {
	ID            PaymentID
	TransactionID string // the gateway's id of the attempt (V2 transactionId, V1 imp_uid)
	Status        PaymentStatus
	StoreID       string
	OrderName     string
	Currency      string
	Total         int64 // amount.total
	Paid          int64 // amount.paid
	Cancelled     int64 // amount.cancelled: the sum of succeeded cancellations
	CustomData    string
	PaidAt        *time.Time
	// VirtualAccount is set while a virtual account waits for the deposit.
	VirtualAccount *VirtualAccount
	Cancellations  []PaymentCancellation
	// FailureReason says why a FAILED payment failed, as the gateway put it.
	FailureReason string
}

// VirtualAccount is where a buyer pays a bank transfer (가상계좌).
type VirtualAccount struct {
	Bank          string // the gateway's bank code, e.g. SHINHAN
	AccountNumber string
	Holder        string // remitteeName: whose account the buyer pays
	DueAt         *time.Time
}

// CancellationStatus is a cancellation's state at the gateway.
type CancellationStatus string

const (
	CancellationRequested CancellationStatus = "REQUESTED"
	CancellationSucceeded CancellationStatus = "SUCCEEDED"
	CancellationFailed    CancellationStatus = "FAILED"
)

// PaymentCancellation is one (partial or full) cancellation of a payment.
type PaymentCancellation struct {
	ID          string // the gateway's cancellation id
	Status      CancellationStatus
	Amount      int64 // totalAmount, minor units
	Reason      string
	Trigger     string // CONSOLE, API, PORTONE_ADMIN, CHARGEBACK, or empty
	RequestedAt time.Time
	CancelledAt *time.Time
}
