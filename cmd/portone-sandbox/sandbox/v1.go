package sandbox

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// PortOne V1 (iamport) REST API, served under Config.V1Prefix because V1's
// GET /payments/{imp_uid} would collide with V2's GET /payments/{id}.

// Defaults of the V1 part of Config.
const (
	DefaultV1Prefix        = "/v1compat"
	DefaultV1IMPKey        = "sandbox-imp-key"
	DefaultV1IMPSecret     = "sandbox-imp-secret"
	DefaultV1IMPCode       = "imp00000000"
	DefaultV1TokenLifetime = 30 * time.Minute // PortOne's
	maxV1Tokens            = 10_000
)

// V1 envelope messages the sandbox answers with.
const (
	v1MsgNoPayment        = "존재하지 않는 결제정보입니다."
	v1MsgNoCancelPayment  = "취소할 결제건이 존재하지 않습니다."
	v1MsgAlreadyCancelled = "이미 전액취소된 주문입니다."
	v1MsgChecksum         = "[checksum] 취소가능잔액 검증에 실패하였습니다."
	v1MsgUnauthorized     = "Unauthorized"
)

// v1Envelope is every V1 answer.
type v1Envelope struct {
	Code     int    `json:"code"`
	Message  string `json:"message"`
	Response any    `json:"response"`
}

func v1OK(v any) (int, any) { return http.StatusOK, v1Envelope{Code: 0, Response: v} }

func v1Err(status, code int, msg string) (int, any) {
	return status, v1Envelope{Code: code, Message: msg}
}

func (s *Sandbox) v1Routes(mux *http.ServeMux) {
	p := s.cfg.V1Prefix
	mux.HandleFunc("POST "+p+"/users/getToken", s.v1api(false, s.v1GetToken))
	mux.HandleFunc("GET "+p+"/payments/find/{merchant_uid}", s.v1api(true, s.v1Find))
	mux.HandleFunc("GET "+p+"/payments/status/{status}", s.v1api(true, s.v1List))
	mux.HandleFunc("POST "+p+"/payments/prepare", s.v1api(true, s.v1Prepare))
	mux.HandleFunc("POST "+p+"/payments/cancel", s.v1api(true, s.v1Cancel))
	mux.HandleFunc("GET "+p+"/payments/{imp_uid}", s.v1api(true, s.v1Get))
	mux.HandleFunc(p+"/", s.v1api(false, func(*http.Request, map[string]any) (int, any) {
		return v1Err(http.StatusNotFound, -1, "the sandbox does not serve this V1 endpoint")
	}))
	mux.HandleFunc("POST /sandbox/v1/tokens/expire", func(w http.ResponseWriter, _ *http.Request) {
		encodeJSON(w, http.StatusOK, map[string]int{"expired": s.ExpireV1Tokens()})
	})
}

// ExpireV1Tokens makes every V1 access token issued so far expired, as if
// their 30 minutes had passed; it returns how many there were.
func (s *Sandbox) ExpireV1Tokens() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.v1Tokens)
	s.v1Tokens = map[string]time.Time{}
	return n
}

// V1URL is the base URL of the V1 API of a Server (URL + Config.V1Prefix).
func (s *Server) V1URL() string { return s.URL + s.cfg.V1Prefix }

// v1api wraps a V1 endpoint with the log, the API faults shared with V2
// (answered as V1 envelopes), the token check and delays. h runs under s.mu.
func (s *Sandbox) v1api(auth bool, h func(r *http.Request, body map[string]any) (int, any)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes))
		body := decodeObject(raw)
		if body == nil && len(raw) > 0 { // V1 takes form bodies too
			if form, err := url.ParseQuery(string(raw)); err == nil {
				body = map[string]any{}
				for k, v := range form {
					body[k] = v[0]
				}
			}
		}
		logged := &Request{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.Query(), Body: body}

		s.mu.Lock()
		s.requests = appendBounded(s.requests, logged, maxRequestLog)
		var status int
		var out []byte
		switch {
		case len(s.failures) > 0:
			f := s.failures[0]
			s.failures = s.failures[1:]
			status, out = f.status, f.v1body
		case auth && !s.v1TokenValidLocked(r):
			status, out = http.StatusUnauthorized, mustJSON(v1Envelope{Code: -1, Message: v1MsgUnauthorized})
		case body == nil && len(raw) > 0:
			status, out = http.StatusBadRequest, mustJSON(v1Envelope{Code: -1, Message: "the body is neither JSON nor a form"})
		default:
			var v any
			status, v = h(r, body)
			out = mustJSON(v)
		}
		hold := s.takeDelayLocked()
		s.mu.Unlock()
		s.sleep(hold)
		s.mu.Lock()
		logged.Status = status
		s.mu.Unlock()

		writeAnswer(w, status, out)
	}
}

// v1TokenValidLocked accepts the token as Authorization: Bearer <token>,
// Authorization: <token> or X-ImpTokenHeader: <token>, as PortOne does.
func (s *Sandbox) v1TokenValidLocked(r *http.Request) bool {
	tok := r.Header.Get("X-ImpTokenHeader")
	if tok == "" {
		tok = strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	}
	exp, ok := s.v1Tokens[tok]
	return tok != "" && ok && s.now().Before(exp)
}

// v1GetToken is POST /users/getToken: the same token again while it lives,
// its life extended by 5 minutes when asked for in its last minute (as
// PortOne does).
func (s *Sandbox) v1GetToken(_ *http.Request, body map[string]any) (int, any) {
	key, _ := body["imp_key"].(string)
	secret, _ := body["imp_secret"].(string)
	if key != s.cfg.V1IMPKey || secret != s.cfg.V1IMPSecret {
		return v1Err(http.StatusUnauthorized, -1, "imp_key, imp_secret 파라미터가 올바르지 않습니다.")
	}
	now := s.now()
	tok, exp := "", time.Time{}
	for t, e := range s.v1Tokens {
		if !now.Before(e) {
			delete(s.v1Tokens, t)
		} else if e.After(exp) {
			tok, exp = t, e
		}
	}
	if tok != "" && exp.Sub(now) <= time.Minute {
		exp = exp.Add(5 * time.Minute)
		s.v1Tokens[tok] = exp
	}
	if tok == "" {
		if len(s.v1Tokens) >= maxV1Tokens {
			s.v1Tokens = map[string]time.Time{}
		}
		b := make([]byte, 20)
		_, _ = rand.Read(b)
		tok, exp = hex.EncodeToString(b), now.Add(s.cfg.V1TokenLifetime)
		s.v1Tokens[tok] = exp
	}
	return v1OK(struct {
		AccessToken string `json:"access_token"`
		ExpiredAt   int64  `json:"expired_at"`
		Now         int64  `json:"now"`
	}{tok, exp.Unix(), now.Unix()})
}

// v1Payment is a payment in V1's shape. Amounts are the sandbox's minor
// units as they are, which for KRW are won.
type v1Payment struct {
	ImpUID        string            `json:"imp_uid"`
	MerchantUID   string            `json:"merchant_uid"`
	PayMethod     string            `json:"pay_method"`
	Channel       string            `json:"channel"`
	PgProvider    string            `json:"pg_provider"`
	PgTID         string            `json:"pg_tid"`
	Sandbox       bool              `json:"sandbox"`
	Name          string            `json:"name"`
	Amount        int64             `json:"amount"`
	CancelAmount  int64             `json:"cancel_amount"`
	Currency      string            `json:"currency"`
	BuyerName     string            `json:"buyer_name"`
	BuyerEmail    string            `json:"buyer_email"`
	BuyerTel      string            `json:"buyer_tel"`
	CustomData    string            `json:"custom_data"`
	Status        string            `json:"status"`
	StartedAt     int64             `json:"started_at"`
	PaidAt        int64             `json:"paid_at"`
	FailedAt      int64             `json:"failed_at"`
	CancelledAt   int64             `json:"cancelled_at"`
	FailReason    string            `json:"fail_reason"`
	CancelReason  string            `json:"cancel_reason"`
	VbankCode     string            `json:"vbank_code"`
	VbankName     string            `json:"vbank_name"`
	VbankNum      string            `json:"vbank_num"`
	VbankHolder   string            `json:"vbank_holder"`
	VbankDate     int64             `json:"vbank_date"`
	VbankIssuedAt int64             `json:"vbank_issued_at"`
	CancelHistory []v1CancelHistory `json:"cancel_history"`
}

type v1CancelHistory struct {
	PgTID          string `json:"pg_tid"`
	Amount         int64  `json:"amount"`
	CancelledAt    int64  `json:"cancelled_at"`
	Reason         string `json:"reason"`
	CancellationID string `json:"cancellation_id"`
}

// v1Status maps a V2 status to V1's: a partial cancel leaves a payment paid
// (with its cancel_amount), an issued virtual account is ready.
func v1Status(status string) string {
	switch status {
	case StatusPaid, StatusPartialCancelled:
		return "paid"
	case StatusCancelled:
		return "cancelled"
	case StatusFailed:
		return "failed"
	case StatusPayPending:
		return "pending"
	default: // READY, VIRTUAL_ACCOUNT_ISSUED
		return "ready"
	}
}

// v1Banks gives V1's bank code and name for the sandbox's V2 bank names.
var v1Banks = map[string][2]string{
	"SHINHAN": {"088", "신한은행"}, "KOOKMIN": {"004", "KB국민은행"}, "WOORI": {"020", "우리은행"},
	"HANA": {"081", "하나은행"}, "NONGHYUP": {"011", "NH농협은행"}, "IBK": {"003", "IBK기업은행"},
}

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

func (s *Sandbox) renderV1(p *Payment) v1Payment {
	w := v1Payment{
		ImpUID: p.ImpUID, MerchantUID: p.ID, PayMethod: "card", Channel: "api", PgProvider: "sandbox", PgTID: p.TransactionID,
		Sandbox: true, Name: p.OrderName, Amount: p.Total, CancelAmount: p.Cancelled, Currency: p.Currency,
		BuyerName: p.Customer.Name, BuyerEmail: p.Customer.Email, BuyerTel: p.Customer.PhoneNumber, CustomData: p.CustomData,
		Status: v1Status(p.Status), StartedAt: unixOrZero(p.RequestedAt), PaidAt: unixOrZero(p.PaidAt),
		FailedAt: unixOrZero(p.FailedAt), CancelledAt: unixOrZero(p.CancelledAt), CancelHistory: []v1CancelHistory{},
	}
	if p.Status == StatusFailed {
		w.FailReason = p.Failure.Reason
	}
	if va := p.VirtualAccount; va != nil {
		w.PayMethod = "vbank"
		w.VbankCode, w.VbankName = va.Bank, va.Bank
		if b, ok := v1Banks[va.Bank]; ok {
			w.VbankCode, w.VbankName = b[0], b[1]
		}
		w.VbankNum, w.VbankHolder, w.VbankDate, w.VbankIssuedAt = va.AccountNumber, va.RemitteeName, unixOrZero(va.ExpiredAt), unixOrZero(va.IssuedAt)
	}
	for _, c := range p.Cancellations {
		w.CancelHistory = append(w.CancelHistory, v1CancelHistory{PgTID: p.TransactionID, Amount: c.Amount,
			CancelledAt: unixOrZero(c.CancelledAt), Reason: c.Reason, CancellationID: c.ID})
		w.CancelReason = c.Reason
	}
	return w
}

func (s *Sandbox) v1ByImpUID(impUID string) *Payment {
	for _, p := range s.payments {
		if p.ImpUID == impUID {
			return p
		}
	}
	return nil
}

// v1Find is GET /payments/find/{merchant_uid}.
func (s *Sandbox) v1Find(r *http.Request, _ map[string]any) (int, any) {
	p, ok := s.payments[r.PathValue("merchant_uid")]
	if !ok {
		return v1Err(http.StatusNotFound, -1, v1MsgNoPayment)
	}
	return v1OK(s.renderV1(p))
}

// v1Get is GET /payments/{imp_uid}.
func (s *Sandbox) v1Get(r *http.Request, _ map[string]any) (int, any) {
	p := s.v1ByImpUID(r.PathValue("imp_uid"))
	if p == nil {
		return v1Err(http.StatusNotFound, -1, v1MsgNoPayment)
	}
	return v1OK(s.renderV1(p))
}

// v1Int reads a V1 integer: a JSON integer or, from a form, its text.
func v1Int(v any) (int64, bool) {
	switch n := v.(type) {
	case json.Number:
		return integer(n)
	case string:
		i, err := strconv.ParseInt(n, 10, 64)
		return i, err == nil
	}
	return 0, false
}

// v1Prepare is POST /payments/prepare {merchant_uid, amount, currency?}: the
// same pre-registration V2's pre-register makes.
func (s *Sandbox) v1Prepare(_ *http.Request, body map[string]any) (int, any) {
	id, _ := body["merchant_uid"].(string)
	amount, ok := v1Int(body["amount"])
	if id == "" || !ok || amount < 0 {
		return v1Err(http.StatusBadRequest, -1, "merchant_uid and amount (an integer) are required")
	}
	currency, _ := body["currency"].(string)
	if currency == "" {
		currency = "KRW"
	}
	if p, ok := s.payments[id]; ok && p.Status != StatusReady && p.Status != StatusFailed {
		return v1Err(http.StatusOK, 1, "이미 결제가 완료된 merchant_uid입니다.")
	}
	s.preRegistered[id] = PreRegistration{TotalAmount: amount, Currency: currency}
	return v1OK(map[string]any{"merchant_uid": id, "amount": amount})
}

// v1Cancel is POST /payments/cancel. Refusals are HTTP 200 with code 1, as
// V1 answers them.
func (s *Sandbox) v1Cancel(_ *http.Request, body map[string]any) (int, any) {
	var p *Payment
	if impUID, _ := body["imp_uid"].(string); impUID != "" { // imp_uid wins
		p = s.v1ByImpUID(impUID)
	} else if id, _ := body["merchant_uid"].(string); id != "" {
		p = s.payments[id]
	} else {
		return v1Err(http.StatusOK, 1, "imp_uid 또는 merchant_uid 중 하나는 필수입니다.")
	}
	if p == nil {
		return v1Err(http.StatusOK, 1, v1MsgNoCancelPayment)
	}
	for _, field := range []string{"amount", "checksum", "tax_free"} {
		if n, ok := v1Int(body[field]); body[field] != nil && (!ok || n < 0) {
			return v1Err(http.StatusOK, 1, field+" must be a non-negative integer")
		}
	}
	switch p.Status {
	case StatusCancelled:
		return v1Err(http.StatusOK, 1, v1MsgAlreadyCancelled)
	case StatusPaid, StatusPartialCancelled:
	default:
		return v1Err(http.StatusOK, 1, "결제완료 상태가 아닌 결제건은 취소할 수 없습니다.")
	}
	left := p.Total - p.Cancelled
	if checksum, ok := v1Int(body["checksum"]); ok && checksum != left {
		return v1Err(http.StatusOK, 1, v1MsgChecksum)
	}
	amount, _ := v1Int(body["amount"])
	leftTaxFree := p.TaxFree - p.CancelledTaxFree
	taxFree, hasTaxFree := v1Int(body["tax_free"])
	if amount == 0 { // omitted or 0: the rest
		amount = left
		if !hasTaxFree {
			taxFree = leftTaxFree
		}
	}
	if amount > left {
		return v1Err(http.StatusOK, 1, fmt.Sprintf("취소요청금액(%d)이 취소가능잔액(%d)보다 큽니다.", amount, left))
	}
	if taxFree > leftTaxFree || taxFree > amount {
		return v1Err(http.StatusOK, 1, "tax_free가 취소가능 면세금액보다 큽니다.")
	}
	reason, _ := body["reason"].(string)
	c := s.applyCancel(p, amount, taxFree, vat(amount-taxFree), reason, "API")
	// V1 announces a cancel made through its API only when asked to (a form
	// sends the flag as text).
	if enable := body["enable_webhook"]; enable == true || enable == "true" {
		s.emitCancel(p, c)
	}
	return v1OK(s.renderV1(p))
}

// v1At is the time a V1 list filters a payment on: its current status's.
func v1At(p *Payment) time.Time {
	switch v1Status(p.Status) {
	case "paid":
		return p.PaidAt
	case "cancelled":
		return p.CancelledAt
	case "failed":
		return p.FailedAt
	}
	return p.RequestedAt
}

const maxV1PageSize = 1000

// v1List is GET /payments/status/{status}?page&limit&from&to&sorting.
func (s *Sandbox) v1List(r *http.Request, _ map[string]any) (int, any) {
	status := r.PathValue("status")
	if !slices.Contains([]string{"all", "ready", "paid", "cancelled", "failed"}, status) {
		return v1Err(http.StatusBadRequest, -1, "payment_status is all, ready, paid, cancelled or failed")
	}
	q := r.URL.Query()
	num := func(name string, def int64) (int64, bool) {
		if !q.Has(name) {
			return def, true
		}
		n, err := strconv.ParseInt(q.Get(name), 10, 64)
		return n, err == nil
	}
	now := s.now()
	page, ok1 := num("page", 1)
	limit, ok2 := num("limit", 20)
	to, ok3 := num("to", now.Unix())
	from, ok4 := num("from", to-90*24*3600)
	if !ok1 || !ok2 || !ok3 || !ok4 || page < 1 || page > 1<<40 || limit < 1 || limit > maxV1PageSize || from > to {
		return v1Err(http.StatusBadRequest, -1, "page ≥ 1, limit 1 to 1000, from ≤ to (Unix seconds)")
	}
	sorting := q.Get("sorting")
	if sorting == "" {
		sorting = "-started"
	}
	key := map[string]func(*Payment) time.Time{
		"started": func(p *Payment) time.Time { return p.RequestedAt },
		"paid":    func(p *Payment) time.Time { return p.PaidAt },
		"updated": func(p *Payment) time.Time { return p.StatusChangedAt },
	}[strings.TrimPrefix(sorting, "-")]
	if key == nil {
		return v1Err(http.StatusBadRequest, -1, "sorting is started, paid or updated, with an optional -")
	}
	var all []*Payment
	for _, p := range s.payments {
		t := v1At(p).Unix()
		if (status == "all" || v1Status(p.Status) == status) && t >= from && t <= to {
			all = append(all, p)
		}
	}
	slices.SortFunc(all, func(a, b *Payment) int {
		c := key(a).Compare(key(b))
		if c == 0 {
			c = a.seq - b.seq
		}
		if strings.HasPrefix(sorting, "-") {
			c = -c
		}
		return c
	})
	list := []v1Payment{}
	start := min(int64(len(all)), (page-1)*limit)
	end := min(int64(len(all)), page*limit)
	for _, p := range all[start:end] {
		list = append(list, s.renderV1(p))
	}
	next := int64(0)
	if end < int64(len(all)) {
		next = page + 1
	}
	return v1OK(struct {
		Total    int         `json:"total"`
		Previous int64       `json:"previous"`
		Next     int64       `json:"next"`
		List     []v1Payment `json:"list"`
	}{len(all), page - 1, next, list})
}
