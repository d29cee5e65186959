package sandbox

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"
)

// web holds the browser SDK and the pages; they are static and read the
// ids they need from location.
//
//go:embed web
var web embed.FS

// Outcomes a checkout can end with, as the payment window offers them.
const (
	OutcomeCard            = "card"
	OutcomeVirtualAccount  = "virtual-account"
	OutcomeFail            = "fail"
	OutcomeDifferentAmount = "different-amount"
)

// Browser SDK error codes the checkout answers with.
const (
	codeInvalidArgument    = "InvalidArgument"
	codePaymentAlreadyPaid = "PaymentAlreadyPaid"
	codeCheckoutNotFound   = "CheckoutNotFound"
	codePGFailure          = "FAILURE_TYPE_PG"
)

// CheckoutRequest is PortOne.requestPayment's argument, the fields the
// sandbox reads (the others are ignored).
type CheckoutRequest struct {
	StoreID     string      `json:"storeId"`
	ChannelKey  string      `json:"channelKey"`
	PaymentID   string      `json:"paymentId"`
	OrderName   string      `json:"orderName"`
	TotalAmount json.Number `json:"totalAmount"`
	Currency    string      `json:"currency"` // "KRW" or "CURRENCY_KRW"
	PayMethod   string      `json:"payMethod"`
	CustomData  any         `json:"customData,omitempty"` // a string, or an object PortOne stores as JSON text
	RedirectURL string      `json:"redirectUrl,omitempty"`
	Customer    *struct {
		CustomerID  string `json:"customerId"`
		FullName    string `json:"fullName"`
		Email       string `json:"email"`
		PhoneNumber string `json:"phoneNumber"`
	} `json:"customer,omitempty"`
}

// CheckoutError is a refusal in the browser SDK's shape.
type CheckoutError struct {
	HTTPStatus int    `json:"-"`
	Code       string `json:"code"`
	Message    string `json:"message"`
}

func (e *CheckoutError) Error() string { return "sandbox: checkout: " + e.Code + ": " + e.Message }

// CheckoutDetails is what the payment window shows.
type CheckoutDetails struct {
	CheckoutID              string           `json:"checkoutId"`
	PaymentID               string           `json:"paymentId"`
	StoreID                 string           `json:"storeId"`
	OrderName               string           `json:"orderName"`
	TotalAmount             int64            `json:"totalAmount"`
	Currency                string           `json:"currency"`
	PayMethod               string           `json:"payMethod"`
	PreRegistered           *preRegisteredAs `json:"preRegistered"`
	PreRegistrationEnforced bool             `json:"preRegistrationEnforced"`
	Status                  string           `json:"status"`
	API                     string           `json:"api"`              // V1 for IMP.request_pay's window, else V2
	ImpUID                  string           `json:"impUid,omitempty"` // V1's id of the payment
}

type preRegisteredAs struct {
	TotalAmount int64  `json:"totalAmount"`
	Currency    string `json:"currency"`
}

// PaymentResult is the browser SDK's PaymentResponse: a failure has Code.
type PaymentResult struct {
	TransactionType string `json:"transactionType"`
	PaymentID       string `json:"paymentId"`
	TxID            string `json:"txId"`
	Code            string `json:"code,omitempty"`
	Message         string `json:"message,omitempty"`
	PgCode          string `json:"pgCode,omitempty"`
	PgMessage       string `json:"pgMessage,omitempty"`
}

type checkout struct {
	id        string
	paymentID string
	payMethod string
	v1        bool // opened by IMP.request_pay: answered in V1's shape
	createdAt time.Time
	done      bool
}

var currencyCode = regexp.MustCompile(`^[A-Z]{3}$`)

// StartCheckout is requestPayment opening the payment window: it checks the
// request as PortOne's SDK does and creates the payment (or, after a
// failed attempt, re-uses it) in READY. The pre-registered amount is
// checked only when the buyer pays.
func (s *Sandbox) StartCheckout(req CheckoutRequest) (checkoutID string, err error) {
	refuse := func(format string, args ...any) (string, error) {
		return "", &CheckoutError{http.StatusBadRequest, codeInvalidArgument, fmt.Sprintf(format, args...)}
	}
	total, totalErr := req.TotalAmount.Int64()
	currency := normalizeCurrency(req.Currency)
	switch {
	case req.StoreID != s.StoreID:
		return refuse("storeId %q is not this sandbox's store", req.StoreID)
	case req.ChannelKey != s.ChannelKey:
		return refuse("channelKey %q is not this sandbox's channel", req.ChannelKey)
	case req.PaymentID == "":
		return refuse("paymentId is required")
	case req.OrderName == "":
		return refuse("orderName is required")
	case totalErr != nil || total <= 0:
		return refuse("totalAmount must be a positive integer")
	case !currencyCode.MatchString(currency):
		return refuse("currency %q is not like KRW or CURRENCY_KRW", req.Currency)
	case req.PayMethod == "":
		return refuse("payMethod is required")
	}
	w := PaidWith{Total: total, Currency: currency, OrderName: req.OrderName, CustomData: customDataText(req.CustomData)}
	if c := req.Customer; c != nil {
		w.Customer = Customer{ID: c.CustomerID, Name: c.FullName, Email: c.Email, PhoneNumber: c.PhoneNumber}
	}
	c, _, err := s.openCheckout(req.PaymentID, req.PayMethod, w)
	if err != nil {
		return "", err
	}
	return c.id, nil
}

// customDataText is customData as PortOne stores it: a string as it is, anything else as JSON.
func customDataText(v any) string {
	text, ok := v.(string)
	if !ok && v != nil {
		text = string(mustJSON(v))
	}
	return text
}

// openCheckout creates the payment of a checkout (or, after a failed
// attempt, re-uses it) in READY, and the checkout the window completes.
func (s *Sandbox) openCheckout(paymentID, payMethod string, w PaidWith) (*checkout, Payment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.payments[paymentID]; ok && p.Status != StatusReady && p.Status != StatusFailed {
		return nil, Payment{}, &CheckoutError{http.StatusBadRequest, codePaymentAlreadyPaid, fmt.Sprintf("payment %q is %s", p.ID, p.Status)}
	}
	p := s.put(w.payment(paymentID, StatusReady))
	s.forgetOldCheckoutsLocked()
	c := &checkout{id: uuid.NewString(), paymentID: paymentID, payMethod: payMethod, v1: w.Version == VersionV1, createdAt: s.now()}
	s.checkouts[c.id] = c
	return c, p.clone(), nil
}

// forgetOldCheckoutsLocked drops expired checkouts and, at the cap, the oldest.
func (s *Sandbox) forgetOldCheckoutsLocked() {
	cutoff := s.now().Add(-checkoutLifetime)
	var oldest *checkout
	for id, c := range s.checkouts {
		if c.createdAt.Before(cutoff) {
			delete(s.checkouts, id)
		} else if oldest == nil || c.createdAt.Before(oldest.createdAt) {
			oldest = c
		}
	}
	if len(s.checkouts) >= maxCheckouts && oldest != nil {
		delete(s.checkouts, oldest.id)
	}
}

func (s *Sandbox) checkoutLocked(id string) (*checkout, *Payment, error) {
	c, ok := s.checkouts[id]
	if ok && c.createdAt.Before(s.now().Add(-checkoutLifetime)) {
		delete(s.checkouts, id)
		ok = false
	}
	if !ok {
		return nil, nil, &CheckoutError{http.StatusNotFound, codeCheckoutNotFound, "no such checkout, or it expired"}
	}
	p, ok := s.payments[c.paymentID]
	if !ok { // reset since
		return nil, nil, &CheckoutError{http.StatusNotFound, codeCheckoutNotFound, "the checkout's payment is gone"}
	}
	return c, p, nil
}

// CheckoutDetails is what the payment window of a checkout shows.
func (s *Sandbox) CheckoutDetails(checkoutID string) (CheckoutDetails, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, p, err := s.checkoutLocked(checkoutID)
	if err != nil {
		return CheckoutDetails{}, err
	}
	d := CheckoutDetails{CheckoutID: c.id, PaymentID: p.ID, StoreID: p.StoreID, OrderName: p.OrderName, TotalAmount: p.Total,
		Currency: p.Currency, PayMethod: c.payMethod, PreRegistrationEnforced: s.enforcePreReg, Status: p.Status, API: VersionV2}
	if c.v1 {
		d.API, d.ImpUID = VersionV1, p.ImpUID
	}
	if r, ok := s.preRegistered[p.ID]; ok {
		d.PreRegistered = &preRegisteredAs{r.TotalAmount, r.Currency}
	}
	return d, nil
}

// CompleteCheckout is the buyer finishing the payment window with outcome
// (amount: what different-amount pays). It answers what the browser SDK
// returns, and sends the payment's webhook. A checkout completes once.
func (s *Sandbox) CompleteCheckout(checkoutID, outcome string, amount int64) (PaymentResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, done, err := s.completeCheckoutLocked(checkoutID, outcome, amount)
	if err != nil {
		return PaymentResult{}, err
	}
	return paymentResult(done), nil
}

// completeCheckoutLocked ends a checkout with outcome and returns it and its payment.
func (s *Sandbox) completeCheckoutLocked(checkoutID, outcome string, amount int64) (*checkout, *Payment, error) {
	c, p, err := s.checkoutLocked(checkoutID)
	if err != nil {
		return nil, nil, err
	}
	if outcome == OutcomeDifferentAmount && amount <= 0 {
		return nil, nil, &CheckoutError{http.StatusBadRequest, codeInvalidArgument, "different-amount needs a positive amount"}
	}
	if c.done || p.Status != StatusReady {
		return nil, nil, &CheckoutError{http.StatusConflict, codePaymentAlreadyPaid, fmt.Sprintf("this checkout has ended: the payment is %s", p.Status)}
	}
	attempt := p.clone()
	attempt.Status, attempt.TransactionID, attempt.History = StatusPaid, uuid.NewString(), nil
	var done *Payment
	switch outcome {
	case OutcomeCard:
		done = s.payLocked(attempt, false)
	case OutcomeVirtualAccount:
		done = s.payLocked(attempt, true)
	case OutcomeDifferentAmount:
		attempt.Total = amount
		done = s.payLocked(attempt, false)
	case OutcomeFail:
		done = s.failLocked(p.ID, Failure{Reason: "카드사 승인 거절", PgCode: "CARD_DECLINED", PgMessage: "[3011] 한도초과 또는 잔액부족으로 승인이 거절되었습니다."})
	default:
		return nil, nil, &CheckoutError{http.StatusBadRequest, codeInvalidArgument, "outcome is card, virtual-account, fail or different-amount"}
	}
	c.done = true
	return c, done, nil
}

// paymentResult is what the browser SDK answers for a payment a checkout ended.
func paymentResult(done *Payment) PaymentResult {
	result := PaymentResult{TransactionType: "PAYMENT", PaymentID: done.ID, TxID: done.TransactionID}
	if done.Status == StatusFailed {
		result.Code, result.Message = codePGFailure, done.Failure.Reason
		result.PgCode, result.PgMessage = done.Failure.PgCode, done.Failure.PgMessage
		if done.Failure.PgCode == codeAmountNotEqualToPredefined {
			result.Code, result.PgCode, result.PgMessage = codeAmountNotEqualToPredefined, "", ""
		}
	}
	return result
}

// --- HTTP -----------------------------------------------------------------

func (s *Sandbox) checkoutRoutes(mux *http.ServeMux) {
	mux.Handle("GET /v2/browser-sdk.js", cors(library("web/browser-sdk.js")))
	mux.Handle("GET /v1/iamport.js", cors(library("web/iamport.js")))
	mux.Handle("POST /v1/checkout", cors(http.HandlerFunc(s.postV1Checkout)))
	mux.Handle("OPTIONS /v1/checkout", cors(nil))
	mux.Handle("OPTIONS /v1/iamport.js", cors(nil))
	mux.Handle("GET /checkout/{checkoutId}", asset("web/checkout.html", "text/html; charset=utf-8"))
	mux.Handle("GET /sandbox/{$}", asset("web/sandbox.html", "text/html; charset=utf-8"))
	mux.Handle("GET /static/style.css", asset("web/style.css", "text/css; charset=utf-8"))
	mux.Handle("POST /checkout", cors(http.HandlerFunc(s.postCheckout)))
	mux.Handle("GET /checkout/{checkoutId}/details", cors(http.HandlerFunc(s.getCheckoutDetails)))
	mux.Handle("POST /checkout/{checkoutId}/outcome", cors(http.HandlerFunc(s.postOutcome)))
	mux.Handle("OPTIONS /checkout", cors(nil))
	mux.Handle("OPTIONS /checkout/{checkoutId}/{action}", cors(nil))
	mux.Handle("OPTIONS /v2/browser-sdk.js", cors(nil))
}

func asset(name, contentType string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		b, err := web.ReadFile(name)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(b)
	})
}

// library serves a browser library with the payment window it shares with
// the other (web/payment-window.js), in one function so that neither leaks
// a global but the one it defines.
func library(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		shared, err1 := web.ReadFile("web/payment-window.js")
		own, err2 := web.ReadFile(name)
		if err := errors.Join(err1, err2); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/javascript; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = fmt.Fprintf(w, "(function () {\n\"use strict\";\n%s\n%s})();\n", shared, own)
	})
}

// cors lets any page call the checkout, as PortOne's SDK is called from
// the merchant's pages; a nil h answers the preflight only.
func cors(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		if r.Method == http.MethodOptions || h == nil {
			w.Header().Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
			w.Header().Set("Access-Control-Allow-Headers", "Content-Type")
			w.Header().Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func writeCheckoutError(w http.ResponseWriter, err error) {
	ce, ok := err.(*CheckoutError)
	if !ok {
		ce = &CheckoutError{http.StatusInternalServerError, "InternalError", err.Error()}
	}
	encodeJSON(w, ce.HTTPStatus, ce)
}

// publicURL is where browsers reach the sandbox: Config.PublicURL, else
// the host this request came to.
func (s *Sandbox) publicURL(r *http.Request) string {
	if s.cfg.PublicURL != "" {
		return s.cfg.PublicURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (s *Sandbox) postCheckout(w http.ResponseWriter, r *http.Request) {
	var req CheckoutRequest
	var fields map[string]json.RawMessage
	raw, _ := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes))
	if err := json.Unmarshal(raw, &req); err != nil {
		writeCheckoutError(w, &CheckoutError{http.StatusBadRequest, codeInvalidArgument, "the body is not requestPayment's argument: " + err.Error()})
		return
	}
	// json.Number would take "1000" too; the SDK wants a number.
	if _ = json.Unmarshal(raw, &fields); strings.HasPrefix(string(fields["totalAmount"]), `"`) {
		writeCheckoutError(w, &CheckoutError{http.StatusBadRequest, codeInvalidArgument, "totalAmount must be a positive integer"})
		return
	}
	id, err := s.StartCheckout(req)
	if err != nil {
		writeCheckoutError(w, err)
		return
	}
	encodeJSON(w, http.StatusOK, map[string]string{"checkoutId": id, "checkoutUrl": s.publicURL(r) + "/checkout/" + id})
}

func (s *Sandbox) getCheckoutDetails(w http.ResponseWriter, r *http.Request) {
	d, err := s.CheckoutDetails(r.PathValue("checkoutId"))
	if err != nil {
		writeCheckoutError(w, err)
		return
	}
	encodeJSON(w, http.StatusOK, d)
}

func (s *Sandbox) postOutcome(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Outcome string `json:"outcome"`
		Amount  int64  `json:"amount"`
	}
	raw, _ := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes))
	if err := json.Unmarshal(raw, &req); err != nil {
		writeCheckoutError(w, &CheckoutError{http.StatusBadRequest, codeInvalidArgument, "the body is {outcome, amount?}: " + err.Error()})
		return
	}
	// The window answers in the shape of the library that opened it.
	s.mu.Lock()
	c, done, err := s.completeCheckoutLocked(r.PathValue("checkoutId"), req.Outcome, req.Amount)
	var result any
	switch {
	case err != nil:
	case c.v1:
		result = s.v1PayResponse(done)
	default:
		result = paymentResult(done)
	}
	s.mu.Unlock()
	if err != nil {
		writeCheckoutError(w, err)
		return
	}
	encodeJSON(w, http.StatusOK, result)
}
