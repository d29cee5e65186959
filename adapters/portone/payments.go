package portone

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// GetPayment reads GET /payments/{id}.
func (c *Client) GetPayment(ctx context.Context, id domain.PaymentID) (domain.Payment, error) {
	var q url.Values
	if c.storeID != "" {
		q = url.Values{"storeId": {c.storeID}}
	}
	var w wirePayment
	err := c.do(ctx, request{op: OpGetPayment, method: http.MethodGet, path: "/payments/" + pathID(id.String()), query: q, retry: true}, &w)
	if err != nil {
		return domain.Payment{}, fmt.Errorf("GetPayment(%s): %w", id, notFound(err))
	}
	p, err := w.toDomain()
	if err != nil {
		return domain.Payment{}, fmt.Errorf("GetPayment(%s): %w", id, err)
	}
	if p.ID != id {
		return domain.Payment{}, fmt.Errorf("GetPayment(%s): PortOne answered with payment %q", id, p.ID)
	}
	return p, nil
}

// PreRegister calls POST /payments/{id}/pre-register. PortOne keeps the
// last amount registered, so repeating it is harmless and it is retried.
func (c *Client) PreRegister(ctx context.Context, id domain.PaymentID, total domain.Money) error {
	body := preRegisterBody{StoreID: c.storeID, TotalAmount: total.Amount(), Currency: total.Currency().String()}
	err := c.do(ctx, request{op: OpPreRegister, method: http.MethodPost, path: "/payments/" + pathID(id.String()) + "/pre-register", body: body, retry: true}, nil)
	if err != nil {
		return fmt.Errorf("PreRegister(%s): %w", id, notFound(err))
	}
	return nil
}

// Cancel calls POST /payments/{id}/cancel. With an idempotency key it is
// retried: PortOne answers a repeat with the first outcome. Without one it
// is tried once, since a lost answer may hide a cancel that happened.
func (c *Client) Cancel(ctx context.Context, r application.CancelRequest) (domain.PaymentCancellation, error) {
	if r.IdempotencyKey != "" {
		if err := checkIdempotencyKey(r.IdempotencyKey); err != nil {
			return domain.PaymentCancellation{}, fmt.Errorf("Cancel(%s): %w", r.Payment, err)
		}
	}
	body := cancelBody{StoreID: c.storeID, Amount: r.Amount, Reason: r.Reason, CurrentCancellableAmount: r.CancellableBefore}
	var w struct {
		Cancellation *wireCancellation `json:"cancellation"`
	}
	err := c.do(ctx, request{
		op: OpCancel, method: http.MethodPost, path: "/payments/" + pathID(r.Payment.String()) + "/cancel", body: body,
		idempotencyKey: r.IdempotencyKey, retry: r.IdempotencyKey != "",
	}, &w)
	if err != nil {
		return domain.PaymentCancellation{}, fmt.Errorf("Cancel(%s): %w", r.Payment, notFound(err))
	}
	if w.Cancellation == nil {
		return domain.PaymentCancellation{}, fmt.Errorf("Cancel(%s): PortOne's answer has no cancellation", r.Payment)
	}
	return w.Cancellation.toDomain(), nil
}

// maxPageSize is PortOne's limit for payments-by-cursor.
const maxPageSize = 1000

// ListPayments calls GET /payments-by-cursor. A Size of 0 asks for 100,
// and more than 1000 (PortOne's limit) is cut to 1000. Payments whose id is
// not a valid domain.PaymentID were not made by creditd (another system on
// the same store) and are left out of Items; the cursor still moves past them.
func (c *Client) ListPayments(ctx context.Context, q application.PaymentListQuery) (application.PaymentPage, error) {
	size := q.Size
	switch {
	case size <= 0:
		size = 100
	case size > maxPageSize:
		size = maxPageSize
	}
	body := listBody{StoreID: c.storeID, From: q.From.UTC().Format(time.RFC3339Nano), Until: q.Until.UTC().Format(time.RFC3339Nano), Cursor: q.Cursor, Size: size}
	raw, err := json.Marshal(body)
	if err != nil {
		return application.PaymentPage{}, fmt.Errorf("ListPayments: %w", err)
	}
	var w struct {
		Items []struct {
			Payment wirePayment `json:"payment"`
			Cursor  string      `json:"cursor"`
		} `json:"items"`
	}
	err = c.do(ctx, request{op: OpListPayments, method: http.MethodGet, path: "/payments-by-cursor", query: url.Values{"requestBody": {string(raw)}}, retry: true}, &w)
	if err != nil {
		return application.PaymentPage{}, fmt.Errorf("ListPayments(%s..%s): %w", body.From, body.Until, err)
	}
	var page application.PaymentPage
	for _, it := range w.Items {
		if _, err := domain.ParsePaymentID(it.Payment.ID); err != nil {
			continue
		}
		p, err := it.Payment.toDomain()
		if err != nil {
			return application.PaymentPage{}, fmt.Errorf("ListPayments: payment %q: %w", it.Payment.ID, err)
		}
		page.Items = append(page.Items, p)
	}
	// PortOne has no "has more": a full page may have a next one.
	if len(w.Items) == size {
		page.Next = w.Items[len(w.Items)-1].Cursor
	}
	return page, nil
}

// notFound adds application.ErrPaymentNotFound to a PAYMENT_NOT_FOUND
// refusal, keeping the *GatewayError in the chain.
func notFound(err error) error {
	if application.IsGatewayError(err, "PAYMENT_NOT_FOUND") {
		return fmt.Errorf("%w: %w", application.ErrPaymentNotFound, err)
	}
	return err
}

// Request bodies, with PortOne's field names.
type preRegisterBody struct {
	StoreID     string `json:"storeId,omitempty"`
	TotalAmount int64  `json:"totalAmount"`
	Currency    string `json:"currency"`
}

type cancelBody struct {
	StoreID                  string `json:"storeId,omitempty"`
	Amount                   *int64 `json:"amount,omitempty"`
	Reason                   string `json:"reason"`
	CurrentCancellableAmount int64  `json:"currentCancellableAmount"`
}

type listBody struct {
	StoreID string `json:"storeId,omitempty"`
	From    string `json:"from"`
	Until   string `json:"until"`
	Cursor  string `json:"cursor,omitempty"`
	Size    int    `json:"size"`
}

// wirePayment is the part of PortOne's Payment (any status) creditd reads.
// Unknown fields are ignored, and amounts are int64 so that a fraction
// fails to decode instead of being rounded. method is kept raw because its
// shape depends on its type, which may be one this code has never seen.
type wirePayment struct {
	Status        string `json:"status"`
	ID            string `json:"id"`
	TransactionID string `json:"transactionId"`
	StoreID       string `json:"storeId"`
	OrderName     string `json:"orderName"`
	Currency      string `json:"currency"`
	Amount        struct {
		Total     int64 `json:"total"`
		Paid      int64 `json:"paid"`
		Cancelled int64 `json:"cancelled"`
	} `json:"amount"`
	CustomData string     `json:"customData"`
	PaidAt     *time.Time `json:"paidAt"`
	Failure    *struct {
		Reason string `json:"reason"`
	} `json:"failure"`
	Method        json.RawMessage    `json:"method"`
	Cancellations []wireCancellation `json:"cancellations"`
}

type wireVirtualAccount struct {
	Bank          string     `json:"bank"`
	AccountNumber string     `json:"accountNumber"`
	RemitteeName  string     `json:"remitteeName"`
	ExpiredAt     *time.Time `json:"expiredAt"`
}

type wireCancellation struct {
	Status      string     `json:"status"`
	ID          string     `json:"id"`
	TotalAmount int64      `json:"totalAmount"`
	Reason      string     `json:"reason"`
	Trigger     string     `json:"trigger"`
	RequestedAt time.Time  `json:"requestedAt"`
	CancelledAt *time.Time `json:"cancelledAt"`
}

func (w wirePayment) toDomain() (domain.Payment, error) {
	id, err := domain.ParsePaymentID(w.ID)
	if err != nil {
		return domain.Payment{}, fmt.Errorf("PortOne's payment id %q: %w", w.ID, err)
	}
	if w.Status == "" {
		return domain.Payment{}, errors.New("PortOne's payment has no status")
	}
	p := domain.Payment{
		ID:            id,
		TransactionID: w.TransactionID,
		Status:        domain.PaymentStatus(w.Status),
		StoreID:       w.StoreID,
		OrderName:     w.OrderName,
		Currency:      w.Currency,
		Total:         w.Amount.Total,
		Paid:          w.Amount.Paid,
		Cancelled:     w.Amount.Cancelled,
		CustomData:    w.CustomData,
		PaidAt:        w.PaidAt,
	}
	if w.Failure != nil {
		p.FailureReason = w.Failure.Reason
	}
	if len(w.Method) > 0 {
		var m struct {
			Type string `json:"type"`
		}
		// An unreadable method is not creditd's business unless it is a
		// virtual account, whose details the buyer needs.
		if json.Unmarshal(w.Method, &m) == nil && m.Type == "PaymentMethodVirtualAccount" {
			var va wireVirtualAccount
			if err := json.Unmarshal(w.Method, &va); err != nil {
				return domain.Payment{}, fmt.Errorf("PortOne's virtual account: %w", err)
			}
			p.VirtualAccount = &domain.VirtualAccount{Bank: va.Bank, AccountNumber: va.AccountNumber, Holder: va.RemitteeName, DueAt: va.ExpiredAt}
		}
	}
	for _, c := range w.Cancellations {
		p.Cancellations = append(p.Cancellations, c.toDomain())
	}
	return p, nil
}

func (w wireCancellation) toDomain() domain.PaymentCancellation {
	return domain.PaymentCancellation{
		ID:          w.ID,
		Status:      domain.CancellationStatus(w.Status),
		Amount:      w.TotalAmount,
		Reason:      w.Reason,
		Trigger:     w.Trigger,
		RequestedAt: w.RequestedAt,
		CancelledAt: w.CancelledAt,
	}
}
