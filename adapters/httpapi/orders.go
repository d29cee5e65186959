package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// orderHandlers sell credit packs: create, read, list and complete orders.
type orderHandlers struct {
	orders *application.Orders
	log    *slog.Logger
}

type createOrderRequest struct {
	AccountID string `json:"accountId"`
	ProductID string `json:"productId"`
	Gateway   string `json:"gateway"` // empty: the configured default
}

func (r createOrderRequest) toCommand(tenant domain.TenantID) (application.CreateOrderCommand, error) {
	var fe fieldErrors
	cmd := application.CreateOrderCommand{Tenant: tenant}
	if r.AccountID == "" {
		fe.addf("accountId", "is required")
	} else if a, err := domain.ParseAccountID(r.AccountID); err != nil {
		fe.add("accountId", err)
	} else {
		cmd.Account = a
	}
	if r.ProductID == "" {
		fe.addf("productId", "is required")
	} else if p, err := domain.ParseProductID(r.ProductID); err != nil {
		fe.add("productId", err)
	} else {
		cmd.Product = p
	}
	if r.Gateway != "" {
		if g, err := domain.ParseGateway(r.Gateway); err != nil {
			fe.add("gateway", err)
		} else {
			cmd.Gateway = g
		}
	}
	return cmd, fe.err()
}

// completeOrderRequest may be left out.
type completeOrderRequest struct {
	// ImpUID is the V1 payment attempt the browser reported: a hint only.
	ImpUID string `json:"impUid"`
}

func (completeOrderRequest) bodyIsOptional() {}

// maxTransactionIDLength bounds a transaction id a client names; PortOne's
// are short tokens such as imp_123456789012.
const maxTransactionIDLength = 64

func (r completeOrderRequest) transaction() (string, error) {
	if r.ImpUID == "" {
		return "", nil
	}
	if len(r.ImpUID) > maxTransactionIDLength || strings.IndexFunc(r.ImpUID, func(c rune) bool {
		return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.')
	}) >= 0 {
		var fe fieldErrors
		fe.addf("impUid", "must be 1 to %d characters of A-Z, a-z, 0-9, '-', '_' and '.'", maxTransactionIDLength)
		return "", fe.err()
	}
	return r.ImpUID, nil
}

// orderResponse carries, beside the order, everything the browser needs to
// pay it. For V2, what the SDK's requestPayment takes: storeId, channelKey,
// paymentId, orderName, totalAmount (a JSON integer in the currency's minor
// unit, as the SDK takes it), currency and customData. For V1, what
// IMP.init and IMP.request_pay take: impCode, pg, merchantUid, name, amount
// (a JSON integer), currency and customData.
type orderResponse struct {
	PaymentID          string                  `json:"paymentId"`
	AccountID          string                  `json:"accountId"`
	ProductID          string                  `json:"productId"`
	Status             string                  `json:"status"`
	Gateway            string                  `json:"gateway"`
	StoreID            *string                 `json:"storeId,omitempty"`
	ChannelKey         *string                 `json:"channelKey,omitempty"`
	IMPCode            *string                 `json:"impCode,omitempty"`
	PG                 *string                 `json:"pg,omitempty"`
	MerchantUID        *string                 `json:"merchantUid,omitempty"`
	Name               *string                 `json:"name,omitempty"`
	Amount             *int64                  `json:"amount,omitempty"`
	TransactionID      *string                 `json:"transactionId"`
	OrderName          string                  `json:"orderName"`
	TotalAmount        int64                   `json:"totalAmount"`
	Currency           string                  `json:"currency"`
	CustomData         json.RawMessage         `json:"customData"`
	Credits            string                  `json:"credits"`
	BonusCredits       string                  `json:"bonusCredits"`
	CreditValidityDays *int                    `json:"creditValidityDays"`
	RefundedAmount     string                  `json:"refundedAmount"`
	VirtualAccount     *virtualAccountResponse `json:"virtualAccount"`
	Rejection          *string                 `json:"rejection"`
	PaidAt             *string                 `json:"paidAt"`
	CreatedAt          string                  `json:"createdAt"`
	UpdatedAt          string                  `json:"updatedAt"`
}

type virtualAccountResponse struct {
	Bank          string  `json:"bank"`
	AccountNumber string  `json:"accountNumber"`
	Holder        string  `json:"holder"`
	DueAt         *string `json:"dueAt"`
}

func toOrderResponse(o *domain.Order, checkout application.Checkout) orderResponse {
	spec := o.Spec()
	r := orderResponse{PaymentID: o.PaymentID().String(), AccountID: o.Account().String(), ProductID: o.Product().String(),
		Status: o.Status().String(), Gateway: string(o.Gateway()), TransactionID: optionalString(o.Transaction()), OrderName: spec.Name,
		TotalAmount: spec.Price.Amount(), Currency: spec.Price.Currency().String(), CustomData: json.RawMessage(o.CustomData()),
		Credits: spec.Credits.String(), BonusCredits: spec.BonusCredits.String(), CreditValidityDays: spec.CreditValidityDays,
		RefundedAmount: strconv.FormatInt(o.Cancelled(), 10), PaidAt: optionalTime(o.PaidAt()),
		CreatedAt: formatTime(o.CreatedAt()), UpdatedAt: formatTime(o.UpdatedAt())}
	switch o.Gateway() {
	case domain.GatewayPortOneV1:
		id, amount := o.PaymentID().String(), spec.Price.Amount()
		r.IMPCode, r.PG, r.MerchantUID, r.Name, r.Amount = &checkout.StoreID, &checkout.PG, &id, &spec.Name, &amount
	default:
		r.StoreID, r.ChannelKey = &checkout.StoreID, &checkout.ChannelKey
	}
	if va := o.VirtualAccount(); va != nil {
		r.VirtualAccount = &virtualAccountResponse{Bank: va.Bank, AccountNumber: va.AccountNumber, Holder: va.Holder, DueAt: optionalTime(va.DueAt)}
	}
	if reason := o.Rejection(); reason != "" {
		s := string(reason)
		r.Rejection = &s
	}
	return r
}

func optionalString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func optionalTime(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := formatTime(*t)
	return &s
}

func (h *orderHandlers) render(o *domain.Order) any {
	return toOrderResponse(o, h.orders.Checkout(o.Gateway()))
}

func (h *orderHandlers) create(c *gin.Context) {
	idempotentPost(c, http.StatusCreated, func(r createOrderRequest) (application.CreateOrderCommand, error) {
		return r.toCommand(principal(c).Tenant)
	}, h.orders.Create, h.render)
}

func parsePaymentParam(c *gin.Context) (domain.PaymentID, error) {
	id, err := domain.ParsePaymentID(c.Param("paymentId"))
	if err != nil {
		var fe fieldErrors
		fe.add("paymentId", err)
		return id, fe.err()
	}
	return id, nil
}

func (h *orderHandlers) get(c *gin.Context) {
	id, err := parsePaymentParam(c)
	if err != nil {
		_ = c.Error(err)
		return
	}
	o, err := h.orders.Get(c.Request.Context(), principal(c).Tenant, id)
	if err != nil {
		_ = c.Error(err)
		return
	}
	writeJSON(c, http.StatusOK, h.render(o))
}

// complete converges the order with the gateway and answers with it. It
// needs no Idempotency-Key: it is idempotent by nature, and its answer is
// the order's state now, which a stored receipt could only make stale.
func (h *orderHandlers) complete(c *gin.Context) {
	id, err := parsePaymentParam(c)
	if err != nil {
		_ = c.Error(err)
		return
	}
	// A body that is not JSON is ignored, as it was before V1's impUid.
	var req completeOrderRequest
	if requireJSONContentType(c.Request) == nil {
		if err := bindJSON(c, &req); err != nil {
			_ = c.Error(err)
			return
		}
	}
	transaction, err := req.transaction()
	if err != nil {
		_ = c.Error(err)
		return
	}
	o, err := h.orders.Complete(c.Request.Context(), principal(c).Tenant, id, transaction)
	if errors.Is(err, application.ErrCancelFailed) && o != nil {
		// The order is rejected and stays so; the refund of the payment is
		// retried by the next sync. The client's answer is the order.
		h.log.Warn("cancel a rejected payment", "paymentId", id.String(), "error", err.Error())
		err = nil
	}
	if err != nil {
		_ = c.Error(err)
		return
	}
	writeJSON(c, http.StatusOK, h.render(o))
}

type orderListResponse struct {
	Items      []orderResponse `json:"items"`
	NextCursor *string         `json:"nextCursor"`
}

func (h *orderHandlers) list(c *gin.Context) {
	f, limit, err := parseOrderQuery(principal(c).Tenant, c)
	if err != nil {
		_ = c.Error(err)
		return
	}
	page, err := h.orders.List(c.Request.Context(), f, limit)
	if err != nil {
		_ = c.Error(err)
		return
	}
	out := orderListResponse{Items: make([]orderResponse, len(page.Items))}
	for i, o := range page.Items {
		out.Items[i] = toOrderResponse(o, h.orders.Checkout(o.Gateway()))
	}
	if page.Next != nil {
		s := encodeOrderCursor(*page.Next)
		out.NextCursor = &s
	}
	writeJSON(c, http.StatusOK, out)
}

func parseOrderQuery(tenant domain.TenantID, c *gin.Context) (application.OrderFilter, int, error) {
	var fe fieldErrors
	f := application.OrderFilter{Tenant: tenant}
	if s, ok := c.GetQuery("accountId"); ok {
		if a, err := domain.ParseAccountID(s); err != nil {
			fe.add("accountId", err)
		} else {
			f.Account = &a
		}
	}
	if s, ok := c.GetQuery("status"); ok {
		if st, err := domain.OrderStatusFromString(s); err != nil {
			fe.add("status", err)
		} else {
			f.Status = &st
		}
	}
	if s, ok := c.GetQuery("updatedSince"); ok {
		if t, err := time.Parse(time.RFC3339, s); err != nil {
			fe.addf("updatedSince", "must be an RFC 3339 date-time such as 2030-01-02T15:04:05Z")
		} else {
			t = t.UTC()
			f.UpdatedSince = &t
		}
	}
	limit := fe.pageSize(c.GetQuery("limit"))
	if s, ok := c.GetQuery("cursor"); ok {
		if cur, err := decodeOrderCursor(s); err != nil {
			fe.addf("cursor", "is not a cursor this API returned")
		} else {
			f.After = &cur
		}
	}
	return f, limit, fe.err()
}

// Order cursors are the base64url of "<updatedAt>|<paymentId>": opaque to
// clients, and enough to resume a listing ordered by both.
func encodeOrderCursor(c application.OrderCursor) string {
	return base64.RawURLEncoding.EncodeToString([]byte(c.UpdatedAt.UTC().Format(time.RFC3339Nano) + "|" + c.Payment.String()))
}

func decodeOrderCursor(s string) (application.OrderCursor, error) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return application.OrderCursor{}, err
	}
	at, id, ok := strings.Cut(string(b), "|")
	if !ok {
		return application.OrderCursor{}, errors.New("bad cursor")
	}
	t, err := time.Parse(time.RFC3339Nano, at)
	if err != nil {
		return application.OrderCursor{}, err
	}
	p, err := domain.ParsePaymentID(id)
	if err != nil {
		return application.OrderCursor{}, err
	}
	return application.OrderCursor{UpdatedAt: t.UTC(), Payment: p}, nil
}

type refundRequest struct {
	// Amount is in the currency's minor unit, as a decimal string; absent
	// refunds everything refundable.
	Amount *string `json:"amount,omitempty"`
	Reason string  `json:"reason"`
}

func (r refundRequest) toCommand(tenant domain.TenantID, paymentParam string) (application.RefundCommand, error) {
	var fe fieldErrors
	cmd := application.RefundCommand{Tenant: tenant, Reason: r.Reason}
	if id, err := domain.ParsePaymentID(paymentParam); err != nil {
		fe.add("paymentId", err)
	} else {
		cmd.Payment = id
	}
	if r.Amount != nil {
		// Any currency: the order's currency is checked by the quote.
		if m, err := domain.ParseMoney(*r.Amount, domain.KRW); err != nil || m.IsZero() {
			fe.addf("amount", "must be a positive whole number of the currency's minor unit, as a string such as \"5000\"")
		} else {
			n := m.Amount()
			cmd.Amount = &n
		}
	}
	if r.Reason == "" {
		fe.addf("reason", "is required")
	} else if err := domain.ValidateReason(r.Reason); err != nil {
		fe.add("reason", err)
	}
	return cmd, fe.err()
}

func (h *orderHandlers) refund(c *gin.Context) {
	idempotentPost(c, http.StatusCreated, func(r refundRequest) (application.RefundCommand, error) {
		return r.toCommand(principal(c).Tenant, c.Param("paymentId"))
	}, h.orders.Refund, h.render)
}

type refundQuoteResponse struct {
	PaymentID         string `json:"paymentId"`
	Currency          string `json:"currency"`
	RefundableAmount  string `json:"refundableAmount"`
	RefundableCredits string `json:"refundableCredits"`
	RefundedAmount    string `json:"refundedAmount"`
	RefundInProgress  bool   `json:"refundInProgress"`
}

func (h *orderHandlers) refundQuote(c *gin.Context) {
	id, err := parsePaymentParam(c)
	if err != nil {
		_ = c.Error(err)
		return
	}
	o, q, err := h.orders.RefundQuote(c.Request.Context(), principal(c).Tenant, id)
	if err != nil {
		_ = c.Error(err)
		return
	}
	writeJSON(c, http.StatusOK, refundQuoteResponse{PaymentID: o.PaymentID().String(), Currency: o.Price().Currency().String(),
		RefundableAmount: strconv.FormatInt(q.Amount, 10), RefundableCredits: q.Credits.String(),
		RefundedAmount: strconv.FormatInt(o.Cancelled(), 10), RefundInProgress: q.InProgress})
}
