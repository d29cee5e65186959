package sandbox

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// PortOne V1's browser checkout: IMP.request_pay (web/iamport.js) posts to
// /v1/checkout and opens the same payment window as V2's SDK; the window
// answers a V1 checkout in V1's shape.

// codeUnknownIMPCode refuses a request_pay after IMP.init named another store.
const codeUnknownIMPCode = "UnknownImpCode"

// Bounds of request_pay's params the sandbox keeps (PortOne's own are not
// documented): an id a URL can carry, a notice_url a log can show.
const (
	maxMerchantUIDBytes = 256
	maxNoticeURLBytes   = 2048
	maxV1TextBytes      = 1024 // pg and the buyer fields
)

// V1PayRequest is IMP.request_pay's params, the fields the sandbox reads
// (the others are ignored).
type V1PayRequest struct {
	PG          string      `json:"pg"`
	PayMethod   string      `json:"pay_method"`
	MerchantUID string      `json:"merchant_uid"`
	Name        string      `json:"name"`
	Amount      json.Number `json:"amount"`
	Currency    string      `json:"currency"` // default KRW
	BuyerName   string      `json:"buyer_name"`
	BuyerEmail  string      `json:"buyer_email"`
	BuyerTel    string      `json:"buyer_tel"`
	CustomData  any         `json:"custom_data,omitempty"` // a string, or anything PortOne stores as JSON text
	NoticeURL   string      `json:"notice_url,omitempty"`  // this payment's V1 webhooks go there
}

// V1Checkout is an opened V1 payment window.
type V1Checkout struct {
	CheckoutID string `json:"checkoutId"`
	ImpUID     string `json:"impUid"`
}

// V1PayResponse is the rsp IMP.request_pay's callback gets: Success, else
// ErrorCode and ErrorMsg.
type V1PayResponse struct {
	Success     bool   `json:"success"`
	ImpUID      string `json:"imp_uid"`
	MerchantUID string `json:"merchant_uid"`
	PayMethod   string `json:"pay_method"`
	PaidAmount  int64  `json:"paid_amount,omitempty"`
	Status      string `json:"status"`
	Name        string `json:"name"`
	Currency    string `json:"currency"`
	PgProvider  string `json:"pg_provider"`
	PgTID       string `json:"pg_tid"`
	BuyerName   string `json:"buyer_name,omitempty"`
	BuyerEmail  string `json:"buyer_email,omitempty"`
	BuyerTel    string `json:"buyer_tel,omitempty"`
	CustomData  string `json:"custom_data,omitempty"`
	PaidAt      int64  `json:"paid_at,omitempty"`
	ReceiptURL  string `json:"receipt_url,omitempty"`
	VbankNum    string `json:"vbank_num,omitempty"`
	VbankName   string `json:"vbank_name,omitempty"`
	VbankHolder string `json:"vbank_holder,omitempty"`
	VbankDate   int64  `json:"vbank_date,omitempty"`
	ErrorCode   string `json:"error_code,omitempty"`
	ErrorMsg    string `json:"error_msg,omitempty"`
}

var v1PayMethod = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

// StartV1Checkout is IMP.request_pay opening the payment window, after
// IMP.init(impCode): it checks the params as PortOne does and creates the
// payment (or, after a failed attempt, re-uses it) in READY, as a V1
// payment. The pre-registered amount is checked only when the buyer pays.
func (s *Sandbox) StartV1Checkout(impCode string, req V1PayRequest) (V1Checkout, error) {
	refuse := func(format string, args ...any) (V1Checkout, error) {
		return V1Checkout{}, &CheckoutError{http.StatusBadRequest, codeInvalidArgument, fmt.Sprintf(format, args...)}
	}
	if impCode != s.V1IMPCode {
		return V1Checkout{}, &CheckoutError{http.StatusBadRequest, codeUnknownIMPCode,
			fmt.Sprintf("IMP.init(%.64q): this sandbox's 가맹점 식별코드 (imp code) is %q", impCode, s.V1IMPCode)}
	}
	amount, amountErr := req.Amount.Int64()
	currency := req.Currency
	if currency == "" {
		currency = "KRW"
	}
	switch {
	case !printable(req.MerchantUID, maxMerchantUIDBytes):
		return refuse("merchant_uid is required: up to %d bytes of printable UTF-8", maxMerchantUIDBytes)
	case amountErr != nil || amount <= 0:
		return refuse("amount must be a positive whole number (won for KRW), not %.32q", req.Amount)
	case !currencyCode.MatchString(currency):
		return refuse("currency %.16q is not like KRW", req.Currency)
	case !v1PayMethod.MatchString(req.PayMethod):
		return refuse("pay_method %.32q is not one like card or vbank", req.PayMethod)
	case req.PG != "" && !printable(req.PG, maxV1TextBytes),
		!printableOrEmpty(req.BuyerName), !printableOrEmpty(req.BuyerEmail), !printableOrEmpty(req.BuyerTel):
		return refuse("pg and buyer_* are printable text of up to %d bytes", maxV1TextBytes)
	case req.NoticeURL != "" && !webURL(req.NoticeURL):
		return refuse("notice_url must be an http(s) URL of up to %d bytes", maxNoticeURLBytes)
	}
	w := PaidWith{Total: amount, Currency: currency, OrderName: req.Name, CustomData: customDataText(req.CustomData),
		Customer: Customer{Name: req.BuyerName, Email: req.BuyerEmail, PhoneNumber: req.BuyerTel},
		Version:  VersionV1, NoticeURL: req.NoticeURL}
	c, p, err := s.openCheckout(req.MerchantUID, req.PayMethod, w)
	if err != nil {
		return V1Checkout{}, err
	}
	return V1Checkout{CheckoutID: c.id, ImpUID: p.ImpUID}, nil
}

// printable says s is 1 to limit bytes of UTF-8 without control characters.
func printable(s string, limit int) bool {
	return s != "" && len(s) <= limit && utf8.ValidString(s) && !strings.ContainsFunc(s, unicode.IsControl)
}

func printableOrEmpty(s string) bool { return s == "" || printable(s, maxV1TextBytes) }

// webURL says s is an absolute http(s) URL the sandbox may POST to.
func webURL(s string) bool {
	if !printable(s, maxNoticeURLBytes) {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// CompleteV1Checkout is CompleteCheckout answering what IMP.request_pay's
// callback gets.
func (s *Sandbox) CompleteV1Checkout(checkoutID, outcome string, amount int64) (V1PayResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, done, err := s.completeCheckoutLocked(checkoutID, outcome, amount)
	if err != nil {
		return V1PayResponse{}, err
	}
	return s.v1PayResponse(done), nil
}

// v1PayResponse is V1's rsp for a payment a checkout ended: what V1's API
// shows of it, and a failure's reason.
func (s *Sandbox) v1PayResponse(p *Payment) V1PayResponse {
	v := s.renderV1(p)
	rsp := V1PayResponse{Success: p.Status != StatusFailed, ImpUID: v.ImpUID, MerchantUID: v.MerchantUID, PayMethod: v.PayMethod,
		Status: v.Status, Name: v.Name, Currency: v.Currency, PgProvider: v.PgProvider, PgTID: v.PgTID,
		BuyerName: v.BuyerName, BuyerEmail: v.BuyerEmail, BuyerTel: v.BuyerTel, CustomData: v.CustomData}
	if !rsp.Success {
		rsp.ErrorCode, rsp.ErrorMsg = p.Failure.PgCode, p.Failure.Reason
		return rsp
	}
	rsp.PaidAmount, rsp.PaidAt = v.Amount, v.PaidAt
	if p.Status == StatusPaid {
		rsp.ReceiptURL = "https://sandbox.invalid/receipts/" + p.TransactionID
	}
	rsp.VbankNum, rsp.VbankName, rsp.VbankHolder, rsp.VbankDate = v.VbankNum, v.VbankName, v.VbankHolder, v.VbankDate
	return rsp
}

// postV1Checkout is POST /v1/checkout {impCode, params}: iamport.js's request_pay.
func (s *Sandbox) postV1Checkout(w http.ResponseWriter, r *http.Request) {
	var body struct {
		ImpCode string          `json:"impCode"`
		Params  json.RawMessage `json:"params"`
	}
	var req V1PayRequest
	var fields map[string]json.RawMessage
	raw, _ := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes))
	err := json.Unmarshal(raw, &body)
	if err == nil {
		err = json.Unmarshal(body.Params, &req)
	}
	if err != nil {
		writeCheckoutError(w, &CheckoutError{http.StatusBadRequest, codeInvalidArgument, "the body is {impCode, params: request_pay's params}: " + err.Error()})
		return
	}
	// json.Number would take "1000" too; V1 wants a number.
	if _ = json.Unmarshal(body.Params, &fields); strings.HasPrefix(string(fields["amount"]), `"`) {
		writeCheckoutError(w, &CheckoutError{http.StatusBadRequest, codeInvalidArgument, "amount must be a number, not a string"})
		return
	}
	c, err := s.StartV1Checkout(body.ImpCode, req)
	if err != nil {
		writeCheckoutError(w, err)
		return
	}
	encodeJSON(w, http.StatusOK, map[string]string{"checkoutId": c.CheckoutID, "impUid": c.ImpUID, "checkoutUrl": s.publicURL(r) + "/checkout/" + c.CheckoutID})
}
