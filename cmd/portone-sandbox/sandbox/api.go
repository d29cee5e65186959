package sandbox

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Request is one API request as received.
type Request struct {
	Method string
	Path   string // escaped, as sent
	Query  url.Values
	// Body is the JSON body (for the GET lists, their requestBody query),
	// numbers as json.Number; nil when there is none or it is not JSON.
	Body           map[string]any
	IdempotencyKey string // the header as sent, quotes included
	Status         int    // what the sandbox answered
}

// maxBodyBytes bounds what one request may make the sandbox read.
const maxBodyBytes = 1 << 20

func (s *Sandbox) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /payments/{id}", s.api(s.getPayment))
	mux.HandleFunc("POST /payments/{id}/pre-register", s.api(s.preRegister))
	mux.HandleFunc("POST /payments/{id}/cancel", s.api(s.cancel))
	mux.HandleFunc("GET /payments-by-cursor", s.api(s.listByCursor))
	mux.HandleFunc("GET /payments", s.api(s.listPage))
	s.checkoutRoutes(mux)
	s.controlRoutes(mux)
	s.v1Routes(mux)
	mux.HandleFunc("/", s.api(func(*http.Request, map[string]any) (int, any) {
		return apiError(http.StatusNotFound, "NOT_FOUND", "the sandbox does not serve this endpoint")
	}))
	return mux
}

// Requests returns the API requests received (the newest maxRequestLog),
// oldest first.
func (s *Sandbox) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		out[i] = *r
	}
	return out
}

// CancelRequests returns the cancel requests among Requests, V2's and V1's.
func (s *Sandbox) CancelRequests() []Request {
	var out []Request
	for _, r := range s.Requests() {
		if r.Method == http.MethodPost && strings.HasSuffix(r.Path, "/cancel") {
			out = append(out, r)
		}
	}
	return out
}

type errorBody struct {
	Type    string `json:"type"`
	Message string `json:"message,omitempty"`
}

func apiError(status int, typ, msg string) (int, any) {
	return status, errorBody{Type: typ, Message: msg}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil { // the sandbox's own types always encode
		panic(err)
	}
	return b
}

// api wraps an endpoint with what every request goes through: the log,
// injected failures, auth, idempotency keys and delays. h runs under s.mu.
func (s *Sandbox) api(h func(r *http.Request, body map[string]any) (int, any)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes))
		if r.Method == http.MethodGet && r.URL.Query().Has("requestBody") {
			raw = []byte(r.URL.Query().Get("requestBody"))
		}
		body := decodeObject(raw)
		logged := &Request{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.Query(), Body: body, IdempotencyKey: r.Header.Get("Idempotency-Key")}

		s.mu.Lock()
		s.requests = appendBounded(s.requests, logged, maxRequestLog)
		status, out, key, replay := s.serveLocked(r, *logged, raw, h)
		hold := s.takeDelayLocked()
		s.mu.Unlock()
		s.sleep(hold)
		s.mu.Lock()
		if key != "" && !replay {
			s.idem[key] = &idemEntry{done: true, status: status, body: out, at: s.now()}
		}
		logged.Status = status
		s.mu.Unlock()

		writeAnswer(w, status, out)
	}
}

// writeAnswer writes an API answer: JSON, or the HTML page a fault put in its place.
func writeAnswer(w http.ResponseWriter, status int, out []byte) {
	w.Header().Set("Content-Type", "application/json")
	if len(out) > 0 && out[0] == '<' {
		w.Header().Set("Content-Type", "text/html")
	}
	w.WriteHeader(status)
	_, _ = w.Write(out)
}

// decodeObject reads a JSON object with numbers as json.Number; nil when
// raw is empty or not an object.
func decodeObject(raw []byte) map[string]any {
	if len(raw) == 0 {
		return nil
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var body map[string]any
	if d.Decode(&body) != nil {
		return nil
	}
	return body
}

// serveLocked answers a request. key is the idempotency key the answer is
// to be kept under; replay says the answer is a kept one.
func (s *Sandbox) serveLocked(r *http.Request, rec Request, raw []byte, h func(*http.Request, map[string]any) (int, any)) (status int, out []byte, key string, replay bool) {
	if len(s.failures) > 0 {
		f := s.failures[0]
		s.failures = s.failures[1:]
		return f.status, f.body, "", false
	}
	encode := func(status int, v any) (int, []byte) { return status, mustJSON(v) }
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
		s.forgetOldKeysLocked()
		s.idem[k] = &idemEntry{at: s.now()}
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

// forgetOldKeysLocked drops keys past PortOne's retention and, when still
// at the cap, the oldest finished ones.
func (s *Sandbox) forgetOldKeysLocked() {
	if len(s.idem) < maxIdempotencyKeys {
		return
	}
	cutoff := s.now().Add(-idempotencyLifetime)
	oldestKey, oldest := "", time.Time{}
	for k, e := range s.idem {
		if e.done && e.at.Before(cutoff) {
			delete(s.idem, k)
		} else if e.done && (oldestKey == "" || e.at.Before(oldest)) {
			oldestKey, oldest = k, e.at
		}
	}
	if len(s.idem) >= maxIdempotencyKeys && oldestKey != "" {
		delete(s.idem, oldestKey)
	}
}

func notFound() (int, any) {
	return apiError(http.StatusNotFound, "PAYMENT_NOT_FOUND", "결제 건이 존재하지 않습니다.")
}

func invalid(msg string) (int, any) { return apiError(http.StatusBadRequest, "INVALID_REQUEST", msg) }

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
	taxFree, taxFreeOK := integer(body["taxFreeAmount"])
	if !ok || total < 0 || currency == "" || (body["taxFreeAmount"] != nil && (!taxFreeOK || taxFree < 0 || taxFree > total)) {
		return invalid("totalAmount (an integer), currency and an optional taxFreeAmount up to totalAmount are required")
	}
	if p, ok := s.payments[id]; ok && p.Status != StatusReady && p.Status != StatusFailed {
		return apiError(http.StatusConflict, "ALREADY_PAID", "결제가 이미 완료되었습니다.")
	}
	s.preRegistered[id] = PreRegistration{TotalAmount: total, TaxFreeAmount: taxFree, Currency: normalizeCurrency(currency)}
	return http.StatusOK, struct{}{}
}

// cancel is POST /payments/{id}/cancel, with PortOne's checks in its order:
// the request, the payment's status, the caller's view of the balance, then
// the amounts.
func (s *Sandbox) cancel(r *http.Request, body map[string]any) (int, any) {
	p, ok := s.payments[r.PathValue("id")]
	if !ok {
		return notFound()
	}
	reason, _ := body["reason"].(string)
	if reason == "" {
		return invalid("reason is required")
	}
	amount, hasAmount := integer(body["amount"])
	current, hasCurrent := integer(body["currentCancellableAmount"])
	taxFree, hasTaxFree := integer(body["taxFreeAmount"])
	vatAmount, hasVat := integer(body["vatAmount"])
	for _, field := range []string{"amount", "currentCancellableAmount", "taxFreeAmount", "vatAmount"} {
		if n, ok := integer(body[field]); body[field] != nil && (!ok || n < 0) {
			return invalid(field + " must be a non-negative integer")
		}
	}
	if hasAmount && amount == 0 {
		return invalid("amount must be positive")
	}
	if v, ok := body["skipWebhook"]; ok {
		if _, isBool := v.(bool); !isBool {
			return invalid("skipWebhook must be a boolean")
		}
	}
	switch p.Status {
	case StatusCancelled:
		return apiError(http.StatusConflict, "PAYMENT_ALREADY_CANCELLED", "결제가 이미 취소되었습니다.")
	case StatusPaid, StatusPartialCancelled:
	default:
		return apiError(http.StatusConflict, "PAYMENT_NOT_PAID", "결제가 완료되지 않았습니다.")
	}
	left := p.Total - p.Cancelled
	leftTaxFree := p.TaxFree - p.CancelledTaxFree
	if hasCurrent && current != left {
		return apiError(http.StatusConflict, "CANCELLABLE_AMOUNT_CONSISTENCY_BROKEN", "취소 가능 잔액 검증에 실패하였습니다.")
	}
	if !hasAmount {
		amount = left
		if !hasTaxFree {
			taxFree = leftTaxFree // cancelling the rest cancels its tax-free part too
		}
	}
	if amount > left {
		return apiError(http.StatusConflict, "CANCEL_AMOUNT_EXCEEDS_CANCELLABLE_AMOUNT", "결제 취소 금액이 취소 가능 금액을 초과합니다.")
	}
	if !hasVat {
		vatAmount = vat(max(amount-taxFree, 0))
	}
	if taxFree+vatAmount > amount {
		return apiError(http.StatusConflict, "SUM_OF_PARTS_EXCEEDS_CANCEL_AMOUNT", "면세 금액 등 하위 항목들의 합이 취소 금액을 초과합니다.")
	}
	if taxFree > leftTaxFree {
		return apiError(http.StatusConflict, "CANCEL_TAX_FREE_AMOUNT_EXCEEDS_CANCELLABLE_TAX_FREE_AMOUNT", "취소 면세 금액이 취소 가능한 면세 금액을 초과합니다.")
	}
	if amount-taxFree > left-leftTaxFree {
		return apiError(http.StatusConflict, "CANCEL_TAX_AMOUNT_EXCEEDS_CANCELLABLE_TAX_AMOUNT", "취소 과세 금액이 취소 가능한 과세 금액을 초과합니다.")
	}
	c := s.applyCancel(p, amount, taxFree, vatAmount, reason, "API")
	if skip, _ := body["skipWebhook"].(bool); !skip {
		s.emitCancel(p, c)
	}
	return http.StatusOK, struct {
		Cancellation wireCancellation `json:"cancellation"`
	}{renderCancellation(c)}
}

const maxCursorPageSize = 1000

func parseTime(body map[string]any, field string) (time.Time, bool, error) {
	v, ok := body[field].(string)
	if !ok {
		return time.Time{}, false, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	return t, true, err
}

func (s *Sandbox) listByCursor(_ *http.Request, body map[string]any) (int, any) {
	until, hasUntil, err := parseTime(body, "until")
	if err != nil {
		return invalid("until is not a date-time")
	}
	if !hasUntil {
		until = s.now()
	}
	from, hasFrom, err := parseTime(body, "from")
	if err != nil {
		return invalid("from is not a date-time")
	}
	if !hasFrom {
		from = until.Add(-90 * 24 * time.Hour)
	}
	size := int64(10)
	if v, ok := body["size"]; ok {
		if size, ok = integer(v); !ok || size < 1 || size > maxCursorPageSize {
			return invalid("size must be 1 to 1000")
		}
	}
	after := 0
	if v, ok := body["cursor"].(string); ok {
		if after, ok = decodeCursor(v); !ok {
			return invalid("bad cursor")
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

// maxPageWindow is PortOne's bound on (number+1)*size.
const maxPageWindow = 60_000

// listPage is GET /payments: a page of the filtered payments.
func (s *Sandbox) listPage(_ *http.Request, body map[string]any) (int, any) {
	page, _ := body["page"].(map[string]any)
	filter, _ := body["filter"].(map[string]any)
	if (body["page"] != nil && page == nil) || (body["filter"] != nil && filter == nil) {
		return invalid("page and filter are objects")
	}
	number, size := int64(0), int64(10)
	if v, ok := page["number"]; ok {
		if number, ok = integer(v); !ok || number < 0 {
			return invalid("page.number must be a non-negative integer")
		}
	}
	if v, ok := page["size"]; ok {
		if size, ok = integer(v); !ok || size < 1 {
			return invalid("page.size must be a positive integer")
		}
	}
	if (number+1)*size > maxPageWindow {
		return invalid("(page.number+1) * page.size must not exceed 60000")
	}
	if st, ok := filter["storeId"]; ok && st != s.StoreID {
		return apiError(http.StatusForbidden, "FORBIDDEN", "no access to that store")
	}
	until, hasUntil, err := parseTime(filter, "until")
	if err != nil {
		return invalid("filter.until is not a date-time")
	}
	if !hasUntil {
		until = s.now()
	}
	from, hasFrom, err := parseTime(filter, "from")
	if err != nil {
		return invalid("filter.from is not a date-time")
	}
	if !hasFrom {
		from = until.Add(-90 * 24 * time.Hour)
	}
	byStatusChange := false
	switch filter["timestampType"] {
	case nil, "CREATED_AT":
	case "STATUS_CHANGED_AT":
		byStatusChange = true
	default:
		return invalid("filter.timestampType is CREATED_AT or STATUS_CHANGED_AT")
	}
	ascending := false
	switch filter["sortOrder"] {
	case nil, "DESC":
	case "ASC":
		ascending = true
	default:
		return invalid("filter.sortOrder is ASC or DESC")
	}
	var statuses []string
	if v, ok := filter["status"]; ok {
		list, ok := v.([]any)
		if !ok {
			return invalid("filter.status is a list")
		}
		for _, st := range list {
			name, _ := st.(string)
			if name == StatusPayPending || (name != "PENDING" && !slices.Contains(allStatuses, name)) {
				return invalid("filter.status names statuses of the filter's enum (PENDING, not PAY_PENDING)")
			}
			if name == "PENDING" {
				name = StatusPayPending
			}
			statuses = append(statuses, name)
		}
	}
	at := func(p *Payment) time.Time {
		if byStatusChange {
			return p.StatusChangedAt
		}
		return p.RequestedAt
	}
	var all []*Payment
	for _, p := range s.payments {
		t := at(p)
		if p.StoreID == s.StoreID && !t.Before(from) && t.Before(until) && (statuses == nil || slices.Contains(statuses, p.Status)) {
			all = append(all, p)
		}
	}
	slices.SortFunc(all, func(a, b *Payment) int {
		c := at(a).Compare(at(b))
		if c == 0 {
			c = a.seq - b.seq
		}
		if !ascending {
			c = -c
		}
		return c
	})
	items := []wirePayment{}
	for _, p := range all[min(len(all), int(number*size)):min(len(all), int((number+1)*size))] {
		items = append(items, s.render(p))
	}
	type pageInfo struct {
		Number     int64 `json:"number"`
		Size       int64 `json:"size"`
		TotalCount int   `json:"totalCount"`
	}
	return http.StatusOK, struct {
		Items []wirePayment `json:"items"`
		Page  pageInfo      `json:"page"`
	}{items, pageInfo{number, size, len(all)}}
}

var allStatuses = []string{StatusReady, StatusPayPending, StatusVirtualAccountIssued, StatusPaid, StatusFailed, StatusPartialCancelled, StatusCancelled}

func encodeCursor(seq int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("sandbox:" + strconv.Itoa(seq)))
}

func decodeCursor(c string) (int, bool) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || !strings.HasPrefix(string(b), "sandbox:") {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimPrefix(string(b), "sandbox:"))
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

// normalizeCurrency accepts the browser SDK's "CURRENCY_KRW" for "KRW".
func normalizeCurrency(c string) string { return strings.TrimPrefix(c, "CURRENCY_") }

// takeDelayLocked is how long the answer to the request being served waits:
// the next queued delay, else the standing latency (both faults).
func (s *Sandbox) takeDelayLocked() time.Duration {
	if len(s.delayNext) > 0 {
		var hold time.Duration
		hold, s.delayNext = s.delayNext[0], s.delayNext[1:]
		return hold
	}
	return s.delay
}

// sleep waits d, or until the sandbox closes.
func (s *Sandbox) sleep(d time.Duration) {
	if d <= 0 {
		return
	}
	select {
	case <-time.After(d):
	case <-s.closed:
	}
}
