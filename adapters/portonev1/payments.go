package portonev1

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/shopspring/decimal"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// GetPayment reads GET /payments/find/{merchant_uid}?sorting=-paid. V1
// keeps one payment per attempt and answers with the first by sorting: by
// its default (-started) an attempt begun after the one that paid would
// hide it, and the order would never be granted; sorted by paid_at, the
// attempt that paid (cancelled since or not) comes first whenever there is one.
func (c *Client) GetPayment(ctx context.Context, id domain.PaymentID) (domain.Payment, error) {
	p, err := c.readPayment(ctx, "GetPayment", "/payments/find/"+url.PathEscape(id.String()), url.Values{"sorting": {"-paid"}})
	if err == nil && p.ID != id {
		err = fmt.Errorf("PortOne answered with merchant_uid %q", p.ID)
	}
	if err != nil {
		return domain.Payment{}, fmt.Errorf("GetPayment(%s): %w", id, err)
	}
	return p, nil
}

// GetPaymentByTransaction reads GET /payments/{imp_uid}: the one attempt a
// browser reported, whichever order it names.
func (c *Client) GetPaymentByTransaction(ctx context.Context, impUID string) (domain.Payment, error) {
	p, err := c.readPayment(ctx, "GetPaymentByTransaction", "/payments/"+url.PathEscape(impUID), nil)
	if err == nil && p.TransactionID != impUID {
		err = fmt.Errorf("PortOne answered with imp_uid %q", p.TransactionID)
	}
	if err != nil {
		return domain.Payment{}, fmt.Errorf("GetPaymentByTransaction(%s): %w", impUID, err)
	}
	return p, nil
}

// readPayment reads one payment; ErrPaymentNotFound when PortOne has none.
func (c *Client) readPayment(ctx context.Context, op, path string, query url.Values) (domain.Payment, error) {
	var w wirePayment
	if err := c.call(ctx, op, http.MethodGet, path, query, nil, &w); err != nil {
		return domain.Payment{}, notFound(err)
	}
	return c.toDomain(w)
}

// PreRegister calls POST /payments/prepare {merchant_uid, amount, currency},
// so PortOne refuses a payment of any other amount.
func (c *Client) PreRegister(ctx context.Context, id domain.PaymentID, total domain.Money) error {
	amount := decimal.New(total.Amount(), -int32(total.Currency().MinorDigits()))
	body := prepareBody{MerchantUID: id.String(), Amount: json.Number(amount.String()), Currency: total.Currency().String()}
	if err := c.call(ctx, "PreRegister", http.MethodPost, "/payments/prepare", nil, body, nil); err != nil {
		return fmt.Errorf("PreRegister(%s): %w", id, err)
	}
	return nil
}

// Cancel calls POST /payments/cancel {imp_uid, amount, checksum, reason}
// (merchant_uid when the request names no attempt), with checksum =
// CancellableBefore so PortOne refuses the cancel when it disagrees about
// what is left. It is tried once: a lost answer may hide a cancel that
// happened.
//
// PortOne answers with the payment after the cancel. The cancel counts only
// when that payment shows it: what is left to cancel must have dropped from
// CancellableBefore by the amount asked (to zero for a full cancel).
// Anything else, even with code 0, is an error and not a refund.
//
// Amounts are sent as they are in minor units, so this suits KRW (and other
// currencies without a minor unit) only, which is what V1 merchants sell in.
func (c *Client) Cancel(ctx context.Context, r application.CancelRequest) (domain.PaymentCancellation, error) {
	if r.Amount != nil && *r.Amount <= 0 {
		// V1 takes 0 as "cancel everything".
		return domain.PaymentCancellation{}, fmt.Errorf("Cancel(%s): amount %d is not positive", r.Payment, *r.Amount)
	}
	body := cancelBody{IMPUID: r.Transaction, Amount: r.Amount, Checksum: r.CancellableBefore, Reason: r.Reason}
	if r.Transaction == "" {
		body.MerchantUID = r.Payment.String()
	}
	var w wirePayment
	if err := c.call(ctx, "Cancel", http.MethodPost, "/payments/cancel", nil, body, &w); err != nil {
		return domain.PaymentCancellation{}, fmt.Errorf("Cancel(%s): %w", r.Payment, notFound(err))
	}
	p, err := c.toDomain(w)
	if err != nil {
		return domain.PaymentCancellation{}, fmt.Errorf("Cancel(%s): %w", r.Payment, err)
	}
	if p.ID != r.Payment {
		return domain.PaymentCancellation{}, fmt.Errorf("Cancel(%s): PortOne answered with merchant_uid %q", r.Payment, p.ID)
	}
	left := p.Total - p.Cancelled
	cancelled := r.CancellableBefore - left
	want := r.CancellableBefore
	if r.Amount != nil {
		want = *r.Amount
	}
	if cancelled <= 0 || cancelled != want {
		return domain.PaymentCancellation{}, fmt.Errorf("Cancel(%s): PortOne's answer does not show the cancel: %d of %d left to cancel, %d asked, %d believed cancellable before",
			r.Payment, left, p.Total, want, r.CancellableBefore)
	}
	out := domain.PaymentCancellation{Status: domain.CancellationSucceeded, Amount: cancelled, Reason: r.Reason, Trigger: "API", RequestedAt: c.now()}
	// The newest entry of cancel_history is this cancel when its amount agrees.
	if n := len(p.Cancellations); n > 0 && p.Cancellations[n-1].Amount == cancelled {
		last := p.Cancellations[n-1]
		out.ID, out.CancelledAt = last.ID, last.CancelledAt
	}
	return out, nil
}

// maxPageSize is V1's limit for /payments/status.
const maxPageSize = 1000

// ListPayments pages GET /payments/status/all, oldest first (sorting
// started). The cursor is the next page number. V1 filters each payment by
// the time of its current status (paid_at for a paid one, cancelled_at for a
// cancelled one...), not by its creation, in whole seconds. Payments whose
// merchant_uid is not a valid domain.PaymentID were not made by creditd and
// are left out of Items.
func (c *Client) ListPayments(ctx context.Context, q application.PaymentListQuery) (application.PaymentPage, error) {
	page := 1
	if q.Cursor != "" {
		n, err := strconv.Atoi(q.Cursor)
		if err != nil || n < 1 {
			return application.PaymentPage{}, fmt.Errorf("ListPayments: cursor %q is not a page number", q.Cursor)
		}
		page = n
	}
	size := q.Size
	switch {
	case size <= 0:
		size = 100
	case size > maxPageSize:
		size = maxPageSize
	}
	// to is inclusive and Until is not.
	to := q.Until.Unix()
	if q.Until.Equal(time.Unix(to, 0)) {
		to--
	}
	query := url.Values{
		"page": {strconv.Itoa(page)}, "limit": {strconv.Itoa(size)}, "sorting": {"started"},
		"from": {strconv.FormatInt(q.From.Unix(), 10)}, "to": {strconv.FormatInt(to, 10)},
	}
	var w struct {
		Next int           `json:"next"`
		List []wirePayment `json:"list"`
	}
	if err := c.call(ctx, "ListPayments", http.MethodGet, "/payments/status/all", query, nil, &w); err != nil {
		return application.PaymentPage{}, fmt.Errorf("ListPayments(page %d): %w", page, err)
	}
	var out application.PaymentPage
	for _, wp := range w.List {
		if _, err := domain.ParsePaymentID(wp.MerchantUID); err != nil {
			continue
		}
		p, err := c.toDomain(wp)
		if err != nil {
			return application.PaymentPage{}, fmt.Errorf("ListPayments: payment %q: %w", wp.MerchantUID, err)
		}
		out.Items = append(out.Items, p)
	}
	if w.Next > 0 {
		out.Next = strconv.Itoa(w.Next)
	}
	return out, nil
}

// notFound adds application.ErrPaymentNotFound to a 404, keeping the
// *GatewayError in the chain.
func notFound(err error) error {
	var g *application.GatewayError
	if errors.As(err, &g) && g.Status == http.StatusNotFound {
		return fmt.Errorf("%w: %w", application.ErrPaymentNotFound, err)
	}
	return err
}

// Request bodies, with V1's field names.
type prepareBody struct {
	MerchantUID string      `json:"merchant_uid"`
	Amount      json.Number `json:"amount"`
	Currency    string      `json:"currency"`
}

type cancelBody struct {
	IMPUID      string `json:"imp_uid,omitempty"` // wins over merchant_uid when both are sent
	MerchantUID string `json:"merchant_uid,omitempty"`
	Amount      *int64 `json:"amount,omitempty"` // omitted: everything left
	Checksum    int64  `json:"checksum"`
	Reason      string `json:"reason"`
}

// wirePayment is the part of V1's Payment creditd reads. Amounts are
// json.Number, never float64, and times are Unix seconds (0: none).
type wirePayment struct {
	ImpUID        string          `json:"imp_uid"`
	MerchantUID   string          `json:"merchant_uid"`
	Status        string          `json:"status"`
	Name          string          `json:"name"`
	Amount        json.Number     `json:"amount"`
	CancelAmount  json.Number     `json:"cancel_amount"`
	Currency      string          `json:"currency"`
	CustomData    string          `json:"custom_data"`
	PaidAt        int64           `json:"paid_at"`
	FailReason    string          `json:"fail_reason"`
	VbankCode     string          `json:"vbank_code"`
	VbankName     string          `json:"vbank_name"`
	VbankNum      string          `json:"vbank_num"`
	VbankHolder   string          `json:"vbank_holder"`
	VbankDate     int64           `json:"vbank_date"`
	CancelHistory []wireCancelled `json:"cancel_history"`
}

type wireCancelled struct {
	Amount         json.Number `json:"amount"`
	CancelledAt    int64       `json:"cancelled_at"`
	Reason         string      `json:"reason"`
	CancellationID string      `json:"cancellation_id"`
}

func (c *Client) toDomain(w wirePayment) (domain.Payment, error) {
	id, err := domain.ParsePaymentID(w.MerchantUID)
	if err != nil {
		return domain.Payment{}, fmt.Errorf("PortOne's merchant_uid %q: %w", w.MerchantUID, err)
	}
	cur, err := domain.ParseCurrency(w.Currency)
	if err != nil {
		return domain.Payment{}, fmt.Errorf("PortOne's payment %s: %w", w.ImpUID, err)
	}
	total, err := minorUnits("amount", w.Amount, cur)
	if err != nil {
		return domain.Payment{}, err
	}
	cancelled := int64(0)
	if w.CancelAmount != "" {
		if cancelled, err = minorUnits("cancel_amount", w.CancelAmount, cur); err != nil {
			return domain.Payment{}, err
		}
	}
	p := domain.Payment{
		ID:            id,
		TransactionID: w.ImpUID,
		StoreID:       c.impCode, // see Config.IMPCode
		OrderName:     w.Name,
		Currency:      w.Currency,
		Total:         total,
		Cancelled:     cancelled,
		CustomData:    w.CustomData,
		PaidAt:        unixTime(w.PaidAt),
		FailureReason: w.FailReason,
	}
	switch w.Status {
	case "ready":
		p.Status = domain.PaymentReady
		if w.VbankNum != "" {
			p.Status = domain.PaymentVirtualAccountIssued
			bank := w.VbankCode
			if bank == "" {
				bank = w.VbankName
			}
			p.VirtualAccount = &domain.VirtualAccount{Bank: bank, AccountNumber: w.VbankNum, Holder: w.VbankHolder, DueAt: unixTime(w.VbankDate)}
		}
	case "paid":
		// A partial cancel may leave a V1 payment paid: cancel_amount tells.
		p.Status, p.Paid = domain.PaymentPaid, total
		if cancelled > 0 {
			p.Status = domain.PaymentPartialCancelled
		}
	case "cancelled":
		p.Status = domain.PaymentCancelled
		if p.PaidAt != nil {
			p.Paid = total
		}
	case "failed":
		p.Status = domain.PaymentFailed
	case "":
		return domain.Payment{}, fmt.Errorf("PortOne's payment %s has no status", w.ImpUID)
	default:
		// e.g. paypal_v2's pending: kept as read, never paid.
		p.Status = domain.PaymentStatus(w.Status)
	}
	for _, h := range w.CancelHistory {
		amount, err := minorUnits("cancel_history amount", h.Amount, cur)
		if err != nil {
			return domain.Payment{}, err
		}
		at := unixTime(h.CancelledAt)
		pc := domain.PaymentCancellation{ID: h.CancellationID, Status: domain.CancellationSucceeded, Amount: amount, Reason: h.Reason, CancelledAt: at}
		if at != nil {
			pc.RequestedAt = *at
		}
		p.Cancellations = append(p.Cancellations, pc)
	}
	return p, nil
}

// minorUnits converts a V1 amount (a JSON number in the currency's major
// unit) to the currency's minor unit, refusing a fraction of it, a negative
// amount and anything beyond int64. No float is involved.
func minorUnits(field string, n json.Number, cur domain.Currency) (int64, error) {
	if n == "" {
		return 0, fmt.Errorf("PortOne's %s is missing", field)
	}
	d, err := decimal.NewFromString(n.String())
	if err != nil {
		return 0, fmt.Errorf("PortOne's %s %q is not a number: %w", field, n, err)
	}
	d = d.Shift(int32(cur.MinorDigits()))
	if !d.IsInteger() {
		return 0, fmt.Errorf("PortOne's %s %s is not a whole number of %s minor units", field, n, cur)
	}
	if d.IsNegative() || !d.BigInt().IsInt64() {
		return 0, fmt.Errorf("PortOne's %s %s is out of range", field, n)
	}
	return d.IntPart(), nil
}

func unixTime(s int64) *time.Time {
	if s <= 0 {
		return nil
	}
	t := time.Unix(s, 0).UTC()
	return &t
}
