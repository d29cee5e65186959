// Package sandbox is PortOne's V2 API, in memory, served by Handler: the
// four endpoints creditd calls, with PortOne's JSON shapes and refusals,
// plus a signed-webhook sender.
//
//	sb, _ := sandbox.New(sandbox.Config{})
//	srv := httptest.NewServer(sb.Handler())
//	gw, _ := portone.New(portone.Config{BaseURL: srv.URL, APISecret: sb.APISecret, StoreID: sb.StoreID})
//	sb.Pay("ord-1", sandbox.PaidWith{Total: 10000, OrderName: "100 credits"})
//	status, err := fp.SendWebhook(ctx, appURL+"/webhooks/portone", whSecret, "Transaction.Paid", "ord-1", "")
//
// Served (Authorization: PortOne <APISecret>, else 401 UNAUTHORIZED; a
// storeId other than StoreID gets 403 FORBIDDEN):
//
//	GET  /payments/{id}               the payment, in the shape of its status
//	POST /payments/{id}/pre-register  records {totalAmount, currency}; 409 ALREADY_PAID once paid
//	POST /payments/{id}/cancel        README §6's 409s; appends a SUCCEEDED cancellation (trigger API)
//	GET  /payments-by-cursor          ?requestBody={from, until, cursor, size}, creation order, opaque cursors
//
// POSTs honour Idempotency-Key (an RFC 8941 string, quotes included): a
// repeat of a finished request gets the first answer again, a repeat while
// the first is still being answered gets 409 IDEMPOTENCY_OUTSTANDING_REQUEST.
//
// Payments change only when a test says so: Ready, Pay, IssueVirtualAccount,
// Deposit, Fail, CancelFromConsole, SetPayment (and SetRawPayment for a
// hand-written body). Nothing sends a webhook by itself: call SendWebhook.
// Faults: FailNext answers the next requests with an error status, Delay and
// DelayNext hold answers (the work is done first, as when PortOne's answer
// is lost on the way). Requests and CancelRequests show what was received.
//
// Every method is safe to call from any goroutine.
package sandbox

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Config configures a Sandbox; the zero value works.
type Config struct {
	APISecret string           // default "sandbox-api-secret"
	StoreID   string           // the secret's store; default "store-sandbox"
	Now       func() time.Time // payment and webhook times; default time.Now
}

// Payment is a payment as the fake holds it. Amounts are in minor units.
type Payment struct {
	ID            string
	Status        string // READY, PAY_PENDING, VIRTUAL_ACCOUNT_ISSUED, PAID, FAILED, PARTIAL_CANCELLED, CANCELLED
	TransactionID string // default: a fresh UUID
	StoreID       string // default: the server's StoreID
	OrderName     string
	Currency      string // default KRW
	CustomData    string
	Total         int64
	Paid          int64 // default Total once paid (PAID and the cancelled statuses)
	Cancelled     int64
	RequestedAt   time.Time // default now; payments-by-cursor filters on it
	PaidAt        time.Time
	FailedAt      time.Time
	CancelledAt   time.Time
	FailureReason string
	// VirtualAccount, if set, makes the method a PaymentMethodVirtualAccount
	// (else a card).
	VirtualAccount *VirtualAccount
	Cancellations  []Cancellation

	seq int // creation order, for cursors
}

// VirtualAccount is a PaymentMethodVirtualAccount.
type VirtualAccount struct {
	Bank          string // e.g. SHINHAN
	AccountNumber string
	RemitteeName  string
	ExpiredAt     time.Time
	IssuedAt      time.Time
}

// Cancellation is one PaymentCancellation.
type Cancellation struct {
	ID          string
	Status      string // SUCCEEDED (the fake makes no others)
	Amount      int64  // totalAmount
	Reason      string
	Trigger     string // API or CONSOLE
	RequestedAt time.Time
	CancelledAt time.Time
}

// PaidWith describes a payment for Ready, Pay and IssueVirtualAccount.
type PaidWith struct {
	Total      int64
	Currency   string // default KRW
	OrderName  string
	StoreID    string // default the server's
	CustomData string
}

// Request is one API request as received.
type Request struct {
	Method string
	Path   string // escaped, as sent
	Query  url.Values
	// Body is the JSON body (for payments-by-cursor, its requestBody query),
	// numbers as json.Number; nil when there is none or it is not JSON.
	Body           map[string]any
	IdempotencyKey string // the header as sent, quotes included
	Status         int    // what the fake answered
}

// Sandbox is a local PortOne: serve Handler over HTTP.
type Sandbox struct {
	APISecret string
	StoreID   string

	handler http.Handler
	now     func() time.Time
	client *http.Client
	closed    chan struct{}
	closeOnce sync.Once

	mu            sync.Mutex
	seq           int
	payments      map[string]*Payment
	raw           map[string][]byte
	preRegistered map[string]preRegistration
	idem          map[string]*idemEntry
	failures      []failure
	delay         time.Duration
	delayNext     []time.Duration
	requests      []Request
	webhookTimes  map[string]time.Time // a webhook id's event time, kept for resends
}

type preRegistration struct {
	total    int64
	currency string
}

type idemEntry struct {
	done   bool
	status int
	body   []byte
}

type failure struct {
	status int
	body   []byte
}

// New makes a Sandbox with no payments.
func New(cfg Config) (*Sandbox, error) {
	if cfg.APISecret == "" {
		cfg.APISecret = "sandbox-api-secret"
	}
	if cfg.StoreID == "" {
		cfg.StoreID = "store-sandbox"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Sandbox{
		APISecret:     cfg.APISecret,
		StoreID:       cfg.StoreID,
		now:           func() time.Time { return cfg.Now().UTC() },
		client:        &http.Client{Timeout: 30 * time.Second}, // PortOne's own webhook timeout
		closed:        make(chan struct{}),
		payments:      map[string]*Payment{},
		raw:           map[string][]byte{},
		preRegistered: map[string]preRegistration{},
		idem:          map[string]*idemEntry{},
		webhookTimes:  map[string]time.Time{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /payments/{id}", s.api(s.getPayment))
	mux.HandleFunc("POST /payments/{id}/pre-register", s.api(s.preRegister))
	mux.HandleFunc("POST /payments/{id}/cancel", s.api(s.cancel))
	mux.HandleFunc("GET /payments-by-cursor", s.api(s.list))
	mux.HandleFunc("/", s.api(func(*http.Request, map[string]any) (int, any) {
		return apiError(http.StatusNotFound, "NOT_FOUND", "no such endpoint")
	}))
	s.handler = mux
	return s, nil
}

// Handler serves the sandbox's endpoints.
func (s *Sandbox) Handler() http.Handler { return s.handler }

// Close releases held answers, so a server's Close does not wait for them.
func (s *Sandbox) Close() {
	s.closeOnce.Do(func() { close(s.closed) })
}

// --- test controls ---------------------------------------------------------

// SetPayment stores p (a copy), replacing any payment with its id.
func (s *Sandbox) SetPayment(p Payment) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.put(p)
}

func (s *Sandbox) put(p Payment) Payment {
	if p.TransactionID == "" {
		p.TransactionID = uuid.NewString()
	}
	if p.StoreID == "" {
		p.StoreID = s.StoreID
	}
	if p.Currency == "" {
		p.Currency = "KRW"
	}
	if p.RequestedAt.IsZero() {
		p.RequestedAt = s.now()
	}
	if p.Paid == 0 && (p.Status == "PAID" || p.Status == "PARTIAL_CANCELLED" || p.Status == "CANCELLED") {
		p.Paid = p.Total
	}
	if old, ok := s.payments[p.ID]; ok {
		p.seq = old.seq
	} else {
		s.seq++
		p.seq = s.seq
	}
	p.Cancellations = slices.Clone(p.Cancellations)
	delete(s.raw, p.ID)
	s.payments[p.ID] = &p
	return p
}

// SetRawPayment makes GET /payments/{id} answer body exactly (200), to test
// a client with shapes the fake does not make. Such a payment is not listed.
func (s *Sandbox) SetRawPayment(id string, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.raw[id] = slices.Clone(body)
}

// Payment returns a copy of a payment as the fake holds it now.
func (s *Sandbox) Payment(id string) (Payment, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.payments[id]
	if !ok {
		return Payment{}, false
	}
	c := *p
	c.Cancellations = slices.Clone(p.Cancellations)
	return c, true
}

// PreRegistered returns what was pre-registered for a payment id.
func (s *Sandbox) PreRegistered(id string) (total int64, currency string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.preRegistered[id]
	return r.total, r.currency, ok
}

// Ready creates a READY payment: the buyer opened the payment window.
func (s *Sandbox) Ready(id string, w PaidWith) Payment {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.put(w.payment(id, "READY"))
}

// Pay creates (or replaces) a PAID payment, paid by card now. When the id
// was pre-registered with another amount or currency, the payment is FAILED
// instead, as PortOne refuses it.
func (s *Sandbox) Pay(id string, w PaidWith) Payment {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := w.payment(id, "PAID")
	if r, ok := s.preRegistered[id]; ok && (r.total != p.Total || r.currency != p.Currency) {
		p.Status, p.FailedAt = "FAILED", s.now()
		p.FailureReason = fmt.Sprintf("fakeportone: %d %s differs from the pre-registered %d %s", p.Total, p.Currency, r.total, r.currency)
		return s.put(p)
	}
	p.PaidAt = s.now()
	return s.put(p)
}

// IssueVirtualAccount creates a VIRTUAL_ACCOUNT_ISSUED payment: a SHINHAN
// account due in three days, waiting for Deposit.
func (s *Sandbox) IssueVirtualAccount(id string, w PaidWith) Payment {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	p := w.payment(id, "VIRTUAL_ACCOUNT_ISSUED")
	p.VirtualAccount = &VirtualAccount{
		Bank: "SHINHAN", AccountNumber: fmt.Sprintf("5621%010d", s.seq+1), RemitteeName: "creditd",
		ExpiredAt: now.Add(72 * time.Hour), IssuedAt: now,
	}
	return s.put(p)
}

// Deposit pays a VIRTUAL_ACCOUNT_ISSUED payment: it becomes PAID.
func (s *Sandbox) Deposit(id string) (Payment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.payments[id]
	if !ok || p.Status != "VIRTUAL_ACCOUNT_ISSUED" {
		return Payment{}, fmt.Errorf("sandbox: Deposit(%q): no virtual account waits for a deposit", id)
	}
	p.Status, p.Paid, p.PaidAt = "PAID", p.Total, s.now()
	return *p, nil
}

// Fail makes a payment FAILED for reason, creating it (with the
// pre-registered amount, if any) when the fake does not have it.
func (s *Sandbox) Fail(id, reason string) Payment {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.payments[id]
	if !ok {
		r := s.preRegistered[id]
		q := s.put(PaidWith{Total: r.total, Currency: r.currency}.payment(id, "READY"))
		p = s.payments[q.ID]
	}
	p.Status, p.Paid, p.FailedAt, p.FailureReason = "FAILED", 0, s.now(), reason
	return *p
}

// CancelFromConsole cancels amount of a paid payment as a person in
// PortOne's console would (trigger CONSOLE); 0 cancels what is left.
func (s *Sandbox) CancelFromConsole(id string, amount int64) (Cancellation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.payments[id]
	if !ok || (p.Status != "PAID" && p.Status != "PARTIAL_CANCELLED") {
		return Cancellation{}, fmt.Errorf("sandbox: CancelFromConsole(%q): no paid payment", id)
	}
	left := p.Total - p.Cancelled
	if amount == 0 {
		amount = left
	}
	if amount <= 0 || amount > left {
		return Cancellation{}, fmt.Errorf("sandbox: CancelFromConsole(%q, %d): %d is cancellable", id, amount, left)
	}
	return s.applyCancel(p, amount, "콘솔에서 취소", "CONSOLE"), nil
}

// FailNext answers the next n API requests with status and a JSON error
// (type INTERNAL_SERVER_ERROR for 5xx) before looking at them.
func (s *Sandbox) FailNext(n, status int) {
	typ := "INTERNAL_SERVER_ERROR"
	switch {
	case status == http.StatusUnauthorized:
		typ = "UNAUTHORIZED"
	case status == http.StatusForbidden:
		typ = "FORBIDDEN"
	case status < 500:
		typ = "INVALID_REQUEST"
	}
	body, _ := json.Marshal(errorBody{Type: typ, Message: "fakeportone: injected failure"})
	s.failNext(n, status, body)
}

// FailNextRaw answers the next n API requests with status and body as is
// (say, a proxy's HTML page).
func (s *Sandbox) FailNextRaw(n, status int, body string) { s.failNext(n, status, []byte(body)) }

func (s *Sandbox) failNext(n, status int, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures = append(s.failures, failure{status, body})
	}
}

// Heal drops the failures and delays still queued: PortOne has recovered.
func (s *Sandbox) Heal() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures, s.delayNext, s.delay = nil, nil, 0
}

// Delay holds every answer d after doing the work; 0 stops it.
func (s *Sandbox) Delay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// DelayNext holds the answers to the next n API requests d (instead of
// Delay's) after doing the work.
func (s *Sandbox) DelayNext(n int, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.delayNext = append(s.delayNext, d)
	}
}

// Requests returns every API request received so far, oldest first.
func (s *Sandbox) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// CancelRequests returns the cancel requests among Requests.
func (s *Sandbox) CancelRequests() []Request {
	var out []Request
	for _, r := range s.Requests() {
		if r.Method == http.MethodPost && strings.HasSuffix(r.Path, "/cancel") {
			out = append(out, r)
		}
	}
	return out
}

func (w PaidWith) payment(id, status string) Payment {
	if w.Currency == "" {
		w.Currency = "KRW"
	}
	return Payment{ID: id, Status: status, Total: w.Total, Currency: w.Currency, OrderName: w.OrderName, StoreID: w.StoreID, CustomData: w.CustomData}
}

// --- HTTP -----------------------------------------------------------------

type errorBody struct {
	Type    string `json:"type"`
	Message string `json:"message,omitempty"`
}

func apiError(status int, typ, msg string) (int, any) {
	return status, errorBody{Type: typ, Message: msg}
}

// api wraps an endpoint with what every request goes through: the log,
// injected failures, auth, idempotency keys and delays. h runs under s.mu.
func (s *Sandbox) api(h func(r *http.Request, body map[string]any) (int, any)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if r.Method == http.MethodGet && r.URL.Query().Has("requestBody") {
			raw = []byte(r.URL.Query().Get("requestBody"))
		}
		var body map[string]any
		if len(raw) > 0 {
			d := json.NewDecoder(bytes.NewReader(raw))
			d.UseNumber()
			if d.Decode(&body) != nil {
				body = nil
			}
		}
		rec := Request{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.Query(), Body: body, IdempotencyKey: r.Header.Get("Idempotency-Key")}

		s.mu.Lock()
		i := len(s.requests)
		s.requests = append(s.requests, rec)
		status, out, key, replay := s.serveLocked(r, rec, raw, h)
		var hold time.Duration
		if len(s.delayNext) > 0 {
			hold, s.delayNext = s.delayNext[0], s.delayNext[1:]
		} else {
			hold = s.delay
		}
		s.mu.Unlock()

		if hold > 0 {
			select {
			case <-time.After(hold):
			case <-s.closed:
			}
		}
		s.mu.Lock()
		if key != "" && !replay {
			s.idem[key] = &idemEntry{done: true, status: status, body: out}
		}
		s.requests[i].Status = status
		s.mu.Unlock()

		w.Header().Set("Content-Type", "application/json")
		if len(out) > 0 && out[0] == '<' {
			w.Header().Set("Content-Type", "text/html")
		}
		w.WriteHeader(status)
		_, _ = w.Write(out)
	}
}

// serveLocked answers a request. key is the idempotency key the answer is
// to be kept under; replay says the answer is a kept one.
func (s *Sandbox) serveLocked(r *http.Request, rec Request, raw []byte, h func(*http.Request, map[string]any) (int, any)) (status int, out []byte, key string, replay bool) {
	if len(s.failures) > 0 {
		f := s.failures[0]
		s.failures = s.failures[1:]
		return f.status, f.body, "", false
	}
	encode := func(status int, v any) (int, []byte) {
		b, err := json.Marshal(v)
		if err != nil { // the sandbox's own types always encode
			panic(err)
		}
		return status, b
	}
	if r.Header.Get("Authorization") != "PortOne "+s.APISecret {
		status, out = encode(apiError(http.StatusUnauthorized, "UNAUTHORIZED", "올바르지 않은 인증 정보입니다."))
		return status, out, "", false
	}
	if rec.IdempotencyKey != "" && r.Method != http.MethodGet {
		k, err := strconv.Unquote(rec.IdempotencyKey)
		if err != nil || !strings.HasPrefix(rec.IdempotencyKey, `"`) || len(k) < 16 || len(k) > 256 {
			status, out = encode(apiError(http.StatusBadRequest, "INVALID_REQUEST", "Idempotency-Key must be a quoted string of 16 to 256 characters"))
			return status, out, "", false
		}
		if e, ok := s.idem[k]; ok {
			if !e.done {
				status, out = encode(apiError(http.StatusConflict, "IDEMPOTENCY_OUTSTANDING_REQUEST", "the request with this key is still being processed"))
				return status, out, "", true
			}
			return e.status, e.body, k, true
		}
		s.idem[k] = &idemEntry{}
		key = k
	}
	if rec.Body == nil && len(raw) > 0 {
		status, out = encode(apiError(http.StatusBadRequest, "INVALID_REQUEST", "the body is not a JSON object"))
		return status, out, key, false
	}
	if st, ok := rec.Body["storeId"]; ok && st != s.StoreID {
		status, out = encode(apiError(http.StatusForbidden, "FORBIDDEN", "no access to that store"))
		return status, out, key, false
	}
	if st := rec.Query.Get("storeId"); st != "" && st != s.StoreID {
		status, out = encode(apiError(http.StatusForbidden, "FORBIDDEN", "no access to that store"))
		return status, out, key, false
	}
	status, out = encode(h(r, rec.Body))
	return status, out, key, false
}

func notFound() (int, any) {
	return apiError(http.StatusNotFound, "PAYMENT_NOT_FOUND", "결제 건이 존재하지 않습니다.")
}

func (s *Sandbox) getPayment(r *http.Request, _ map[string]any) (int, any) {
	id := r.PathValue("id")
	if raw, ok := s.raw[id]; ok {
		return http.StatusOK, json.RawMessage(raw)
	}
	p, ok := s.payments[id]
	if !ok {
		return notFound()
	}
	return http.StatusOK, s.render(p)
}

func (s *Sandbox) preRegister(r *http.Request, body map[string]any) (int, any) {
	id := r.PathValue("id")
	total, ok := integer(body["totalAmount"])
	currency, _ := body["currency"].(string)
	if !ok || total < 0 || currency == "" {
		return apiError(http.StatusBadRequest, "INVALID_REQUEST", "totalAmount (an integer) and currency are required")
	}
	if p, ok := s.payments[id]; ok && p.Status != "READY" && p.Status != "FAILED" {
		return apiError(http.StatusConflict, "ALREADY_PAID", "결제가 이미 완료되었습니다.")
	}
	s.preRegistered[id] = preRegistration{total, currency}
	return http.StatusOK, struct{}{}
}

func (s *Sandbox) cancel(r *http.Request, body map[string]any) (int, any) {
	p, ok := s.payments[r.PathValue("id")]
	if !ok {
		return notFound()
	}
	reason, _ := body["reason"].(string)
	if reason == "" {
		return apiError(http.StatusBadRequest, "INVALID_REQUEST", "reason is required")
	}
	amount, hasAmount := integer(body["amount"])
	current, hasCurrent := integer(body["currentCancellableAmount"])
	if (body["amount"] != nil && !hasAmount) || (body["currentCancellableAmount"] != nil && !hasCurrent) || (hasAmount && amount <= 0) {
		return apiError(http.StatusBadRequest, "INVALID_REQUEST", "amounts must be positive integers")
	}
	switch p.Status {
	case "CANCELLED":
		return apiError(http.StatusConflict, "PAYMENT_ALREADY_CANCELLED", "결제가 이미 취소되었습니다.")
	case "PAID", "PARTIAL_CANCELLED":
	default:
		return apiError(http.StatusConflict, "PAYMENT_NOT_PAID", "결제가 완료되지 않았습니다.")
	}
	left := p.Total - p.Cancelled
	if hasCurrent && current != left {
		return apiError(http.StatusConflict, "CANCELLABLE_AMOUNT_CONSISTENCY_BROKEN", "취소 가능 잔액 검증에 실패하였습니다.")
	}
	if !hasAmount {
		amount = left
	}
	if amount > left {
		return apiError(http.StatusConflict, "CANCEL_AMOUNT_EXCEEDS_CANCELLABLE_AMOUNT", "결제 취소 금액이 취소 가능 금액을 초과합니다.")
	}
	c := s.applyCancel(p, amount, reason, "API")
	return http.StatusOK, struct {
		Cancellation wireCancellation `json:"cancellation"`
	}{renderCancellation(c)}
}

func (s *Sandbox) applyCancel(p *Payment, amount int64, reason, trigger string) Cancellation {
	now := s.now()
	c := Cancellation{ID: uuid.NewString(), Status: "SUCCEEDED", Amount: amount, Reason: reason, Trigger: trigger, RequestedAt: now, CancelledAt: now}
	p.Cancellations = append(p.Cancellations, c)
	p.Cancelled += amount
	p.CancelledAt = now
	p.Status = "PARTIAL_CANCELLED"
	if p.Cancelled == p.Total {
		p.Status = "CANCELLED"
	}
	return c
}

const maxPageSize = 1000

func (s *Sandbox) list(_ *http.Request, body map[string]any) (int, any) {
	from, until := time.Time{}, s.now()
	var err error
	if v, ok := body["from"].(string); ok {
		if from, err = time.Parse(time.RFC3339Nano, v); err != nil {
			return apiError(http.StatusBadRequest, "INVALID_REQUEST", "from is not a date-time")
		}
	}
	if v, ok := body["until"].(string); ok {
		if until, err = time.Parse(time.RFC3339Nano, v); err != nil {
			return apiError(http.StatusBadRequest, "INVALID_REQUEST", "until is not a date-time")
		}
	}
	if _, ok := body["from"]; !ok {
		from = until.Add(-90 * 24 * time.Hour)
	}
	size := int64(10)
	if v, ok := body["size"]; ok {
		if size, ok = integer(v); !ok || size < 1 || size > maxPageSize {
			return apiError(http.StatusBadRequest, "INVALID_REQUEST", "size must be 1 to 1000")
		}
	}
	after := 0
	if v, ok := body["cursor"].(string); ok {
		if after, ok = decodeCursor(v); !ok {
			return apiError(http.StatusBadRequest, "INVALID_REQUEST", "bad cursor")
		}
	}
	var all []*Payment
	for _, p := range s.payments {
		if p.seq > after && p.StoreID == s.StoreID && !p.RequestedAt.Before(from) && p.RequestedAt.Before(until) {
			all = append(all, p)
		}
	}
	slices.SortFunc(all, func(a, b *Payment) int { return a.seq - b.seq })
	type item struct {
		Payment wirePayment `json:"payment"`
		Cursor  string      `json:"cursor"`
	}
	items := []item{}
	for _, p := range all[:min(len(all), int(size))] {
		items = append(items, item{s.render(p), encodeCursor(p.seq)})
	}
	return http.StatusOK, struct {
		Items []item `json:"items"`
	}{items}
}

func encodeCursor(seq int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("fakeportone:" + strconv.Itoa(seq)))
}

func decodeCursor(c string) (int, bool) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || !strings.HasPrefix(string(b), "fakeportone:") {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimPrefix(string(b), "fakeportone:"))
	return n, err == nil
}

// integer reads a JSON integer (a json.Number without fraction or exponent).
func integer(v any) (int64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	i, err := strconv.ParseInt(string(n), 10, 64)
	return i, err == nil
}
