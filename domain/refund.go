package domain

import (
	"fmt"
	"time"

	"github.com/shopspring/decimal"
)

// RefundHoldDuration is how long a refund keeps the credits it will take
// back reserved while the payment gateway is asked to give the money back.
// Past it, the reservation lapses and the refund is forgotten unless the
// gateway has done it (a later sync then takes the credits back anyway).
const RefundHoldDuration = 15 * time.Minute

// PendingRefund is a refund creditd has asked the gateway for and not yet
// seen done. An order has at most one.
type PendingRefund struct {
	Key    string // the client's idempotency key: a retry resumes this refund
	Amount int64  // minor units
	// CancellableBefore is what was cancellable when the refund began: the
	// gateway refuses the cancel if that changed meanwhile.
	CancellableBefore int64
	Hold              HoldID // reserves the credits the refund takes back
	Reason            string
	RequestedAt       time.Time
}

// RefundQuote is what a refund of an order may give back now: money pro
// rata to the unspent credits the order granted.
type RefundQuote struct {
	Amount  int64   // minor units
	Credits Credits // what a refund of Amount takes back
	// InProgress: a refund is waiting for the gateway; another must wait.
	InProgress bool
}

// RefundQuote prices the unspent (free, unexpired) credits of the order's
// lots on the wallet, rounded down to the minor unit, never more than what
// is left of the payment.
func (o *Order) RefundQuote(w *Wallet, now time.Time) RefundQuote {
	q := RefundQuote{Credits: ZeroCredits, InProgress: o.refund != nil}
	if !o.status.IsPaid() || o.status == OrderRefunded || w == nil {
		return q
	}
	free := w.FundedFree(o.Funding(), now)
	worth := o.spec.Price.Amount()
	whole, _ := free.d.Mul(decimal.NewFromInt(worth)).QuoRem(o.Credits().d, 0) // rounded down, exactly
	amount := whole.IntPart()
	amount = min(amount, worth-o.cancelled)
	// Credits round down per cumulative amount, so the step may be a hair
	// more than the quote's share: step down until it fits.
	for amount > 0 && o.refundCredits(amount).Cmp(free) > 0 {
		amount--
	}
	q.Amount, q.Credits = amount, o.refundCredits(amount)
	return q
}

// refundCredits is what cancelling amount more of the payment takes back.
func (o *Order) refundCredits(amount int64) Credits {
	return o.creditsFor(o.cancelled + amount).Sub(o.creditsFor(o.cancelled))
}

// RefundRequest asks for part (Amount) or all (nil) of what is refundable.
type RefundRequest struct {
	Key    string
	Amount *int64
	Reason string
	Hold   HoldID // the id the reservation gets
}

// StartRefund reserves the credits a refund will take back, on the order's
// own lots, and records the refund as pending.
func (o *Order) StartRefund(r RefundRequest, w *Wallet, now time.Time) (*Hold, error) {
	if !o.status.IsPaid() || o.status == OrderRefunded {
		return nil, fmt.Errorf("%w: order %s is %s", ErrOrderNotRefundable, o.payment, o.status)
	}
	if o.refund != nil {
		return nil, fmt.Errorf("%w: order %s waits for the refund asked at %s", ErrRefundInProgress, o.payment, o.refund.RequestedAt.Format(time.RFC3339))
	}
	if err := ValidateReason(r.Reason); err != nil {
		return nil, err
	}
	q := o.RefundQuote(w, now)
	amount := q.Amount
	if r.Amount != nil {
		amount = *r.Amount
	}
	if amount <= 0 || amount > q.Amount {
		return nil, &RefundExceedsError{Requested: amount, Refundable: q.Amount}
	}
	memo := Memo{Reason: "refund " + o.payment.String(), Metadata: Metadata{"paymentId": o.payment.String()}}
	h, err := w.ReserveFunded(NewHold{Hold: r.Hold, Amount: o.refundCredits(amount), ExpiresAt: now.Add(RefundHoldDuration), Memo: memo}, o.Funding(), now)
	if err != nil {
		return nil, err
	}
	o.refund = &PendingRefund{Key: r.Key, Amount: amount, CancellableBefore: o.spec.Price.Amount() - o.cancelled,
		Hold: r.Hold, Reason: r.Reason, RequestedAt: now}
	o.updatedAt = now
	return h, nil
}

// PendingRefund is the refund waiting for the gateway; nil when none.
func (o *Order) PendingRefund() *PendingRefund { return o.refund }

// LastRefundKey is the key of the last refund seen done, so a retry of it
// after a crash finds it done rather than starting another.
func (o *Order) LastRefundKey() string { return o.lastRefundKey }

// AbandonRefund forgets the pending refund (the gateway refused it) and
// returns the hold to release.
func (o *Order) AbandonRefund(now time.Time) (HoldID, bool) {
	if o.refund == nil {
		return HoldID{}, false
	}
	h := o.refund.Hold
	o.refund, o.updatedAt = nil, now
	return h, true
}

// RefundExceedsError says how much was asked and how much is refundable.
type RefundExceedsError struct{ Requested, Refundable int64 }

func (e *RefundExceedsError) Error() string {
	return fmt.Sprintf("refund of %d exceeds the refundable %d", e.Requested, e.Refundable)
}

func (e *RefundExceedsError) Is(target error) bool { return target == ErrRefundExceedsRefundable }
