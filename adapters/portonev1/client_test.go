package portonev1

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

const (
	testKey    = "imp-key-test"
	testSecret = "imp-secret-never-print-me"
	testCode   = "imp12345678"
)

// fake is PortOne's V1 API as far as these tests need it: getToken, and
// whatever api answers for every other path once the token is accepted.
type fake struct {
	t          *testing.T
	srv        *httptest.Server
	tokenCalls atomic.Int32
	tokenDelay time.Duration
	tokenLife  int64 // seconds; default 1800

	mu       sync.Mutex
	issued   []string         // tokens handed out, in order
	rejected map[string]bool  // tokens answered with 401
	reqs     []*http.Request  // API requests (not getToken)
	bodies   []map[string]any // their JSON bodies, numbers as json.Number
	api      func(r *http.Request, body map[string]any) (int, any)
}

func newFake(t *testing.T, api func(r *http.Request, body map[string]any) (int, any)) *fake {
	f := &fake{t: t, api: api, rejected: map[string]bool{}, tokenLife: 1800}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fake) serve(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	if r.Body != nil {
		dec := json.NewDecoder(r.Body)
		dec.UseNumber()
		_ = dec.Decode(&body)
	}
	if r.URL.Path == "/users/getToken" {
		n := f.tokenCalls.Add(1)
		time.Sleep(f.tokenDelay)
		if body["imp_key"] != testKey || body["imp_secret"] != testSecret {
			writeJSON(w, 401, map[string]any{"code": -1, "message": "Unauthorized", "response": nil})
			return
		}
		tok := fmt.Sprintf("tok%d", n)
		f.mu.Lock()
		f.issued = append(f.issued, tok)
		f.mu.Unlock()
		now := time.Now().Unix()
		writeJSON(w, 200, ok(map[string]any{"access_token": tok, "now": now, "expired_at": now + f.tokenLife}))
		return
	}
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	f.mu.Lock()
	f.reqs = append(f.reqs, r)
	f.bodies = append(f.bodies, body)
	known := false
	for _, t := range f.issued {
		known = known || t == tok
	}
	bad := !known || f.rejected[tok]
	f.mu.Unlock()
	if bad {
		writeJSON(w, 401, map[string]any{"code": -1, "message": "Unauthorized", "response": nil})
		return
	}
	status, v := f.api(r, body)
	writeJSON(w, status, v)
}

func (f *fake) reject(tok string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rejected[tok] = true
}

func (f *fake) requests() ([]*http.Request, []map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*http.Request(nil), f.reqs...), append([]map[string]any(nil), f.bodies...)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func ok(resp any) map[string]any { return map[string]any{"code": 0, "message": nil, "response": resp} }

func (f *fake) client(t *testing.T) *Client {
	t.Helper()
	c, err := New(Config{BaseURL: f.srv.URL, IMPKey: testKey, IMPSecret: testSecret, IMPCode: testCode, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	c.retryWait = time.Millisecond
	return c
}

// payment is a V1 payment; amounts are json.Number so tests choose their literal text.
func payment(uid, status string, amount, cancelled string, extra map[string]any) map[string]any {
	p := map[string]any{
		"imp_uid": "imp_" + uid, "merchant_uid": uid, "status": status, "name": "100 credits",
		"amount": json.Number(amount), "cancel_amount": json.Number(cancelled), "currency": "KRW",
		"custom_data": `{"k":1}`, "paid_at": 0, "sandbox": true,
	}
	for k, v := range extra {
		p[k] = v
	}
	return p
}

// serving answers every API request with one payment.
func serving(p map[string]any) func(*http.Request, map[string]any) (int, any) {
	return func(*http.Request, map[string]any) (int, any) { return 200, ok(p) }
}

func pid(t *testing.T, s string) domain.PaymentID {
	t.Helper()
	id, err := domain.ParsePaymentID(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestGetPaymentReadsByMerchantUID(t *testing.T) {
	f := newFake(t, serving(payment("ord-1", "paid", "10000", "0", map[string]any{"paid_at": 1764547200})))
	p, err := f.client(t).GetPayment(context.Background(), pid(t, "ord-1"))
	if err != nil {
		t.Fatal(err)
	}
	paidAt := time.Unix(1764547200, 0)
	if p.ID.String() != "ord-1" || p.TransactionID != "imp_ord-1" || p.Status != domain.PaymentPaid || p.StoreID != testCode ||
		p.OrderName != "100 credits" || p.Currency != "KRW" || p.Total != 10000 || p.Paid != 10000 || p.Cancelled != 0 ||
		p.CustomData != `{"k":1}` || p.PaidAt == nil || !p.PaidAt.Equal(paidAt) || p.VirtualAccount != nil {
		t.Errorf("GetPayment = %+v", p)
	}
	reqs, _ := f.requests()
	if len(reqs) != 1 || reqs[0].Method != "GET" || reqs[0].URL.Path != "/payments/find/ord-1" || reqs[0].URL.Query().Get("sorting") != "-paid" || reqs[0].Header.Get("Authorization") != "Bearer tok1" {
		t.Errorf("requests = %v", reqs)
	}
}

func TestGetPaymentRefusesAnotherMerchantUID(t *testing.T) {
	f := newFake(t, serving(payment("ord-2", "paid", "10000", "0", nil)))
	if _, err := f.client(t).GetPayment(context.Background(), pid(t, "ord-1")); err == nil || !strings.Contains(err.Error(), "ord-2") {
		t.Fatalf("err = %v, want a refusal naming ord-2", err)
	}
}

func TestGetPaymentByTransactionReadsByImpUID(t *testing.T) {
	f := newFake(t, serving(payment("ord-1", "paid", "10000", "0", nil)))
	p, err := f.client(t).GetPaymentByTransaction(context.Background(), "imp_ord-1")
	if err != nil || p.ID.String() != "ord-1" || p.TransactionID != "imp_ord-1" {
		t.Fatalf("GetPaymentByTransaction = %+v, %v", p, err)
	}
	reqs, _ := f.requests()
	if reqs[0].URL.Path != "/payments/imp_ord-1" {
		t.Errorf("path %s", reqs[0].URL.Path)
	}
	// An answer about another attempt is refused; an unknown one is not found.
	if _, err := f.client(t).GetPaymentByTransaction(context.Background(), "imp_other"); err == nil || !strings.Contains(err.Error(), "imp_ord-1") {
		t.Fatalf("err = %v, want a refusal naming imp_ord-1", err)
	}
	missing := newFake(t, func(*http.Request, map[string]any) (int, any) {
		return 404, map[string]any{"code": -1, "message": "존재하지 않는 결제정보입니다.", "response": nil}
	})
	if _, err := missing.client(t).GetPaymentByTransaction(context.Background(), "imp_1"); !errors.Is(err, application.ErrPaymentNotFound) {
		t.Fatalf("err = %v, want ErrPaymentNotFound", err)
	}
}

func TestStatusMapping(t *testing.T) {
	vbank := map[string]any{"vbank_code": "088", "vbank_name": "신한은행", "vbank_num": "56211105948400", "vbank_holder": "creditd", "vbank_date": 1764633600}
	due := time.Unix(1764633600, 0)
	for _, tc := range []struct {
		name, status, cancelled string
		extra                   map[string]any
		check                   func(domain.Payment) bool
	}{
		{"ready", "ready", "0", nil, func(p domain.Payment) bool {
			return p.Status == domain.PaymentReady && p.VirtualAccount == nil && p.Paid == 0
		}},
		{"ready with a virtual account", "ready", "0", vbank, func(p domain.Payment) bool {
			va := p.VirtualAccount
			return p.Status == domain.PaymentVirtualAccountIssued && p.Paid == 0 && va != nil && va.Bank == "088" &&
				va.AccountNumber == "56211105948400" && va.Holder == "creditd" && va.DueAt != nil && va.DueAt.Equal(due)
		}},
		{"virtual account with a bank name only", "ready", "0", map[string]any{"vbank_name": "신한은행", "vbank_num": "1"}, func(p domain.Payment) bool {
			return p.Status == domain.PaymentVirtualAccountIssued && p.VirtualAccount.Bank == "신한은행" && p.VirtualAccount.DueAt == nil
		}},
		{"paid", "paid", "0", nil, func(p domain.Payment) bool {
			return p.Status == domain.PaymentPaid && p.Paid == 10000 && p.Cancelled == 0
		}},
		{"paid, partly cancelled", "paid", "3000", map[string]any{"cancel_history": []any{
			map[string]any{"pg_tid": "t", "amount": json.Number("3000"), "cancelled_at": 1764550000, "reason": "r", "cancellation_id": "c-1"}}},
			func(p domain.Payment) bool {
				return p.Status == domain.PaymentPartialCancelled && p.Paid == 10000 && p.Cancelled == 3000 &&
					len(p.Cancellations) == 1 && p.Cancellations[0].ID == "c-1" && p.Cancellations[0].Amount == 3000 &&
					p.Cancellations[0].Status == domain.CancellationSucceeded && p.Cancellations[0].CancelledAt != nil
			}},
		{"cancelled", "cancelled", "10000", map[string]any{"paid_at": 1764547200}, func(p domain.Payment) bool {
			return p.Status == domain.PaymentCancelled && p.Cancelled == 10000 && p.Paid == 10000
		}},
		{"failed", "failed", "0", map[string]any{"fail_reason": "한도초과"}, func(p domain.Payment) bool {
			return p.Status == domain.PaymentFailed && p.Paid == 0 && p.FailureReason == "한도초과"
		}},
		{"unknown, kept as read", "pending", "0", nil, func(p domain.Payment) bool {
			return p.Status == "pending" && p.Paid == 0
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, serving(payment("ord-1", tc.status, "10000", tc.cancelled, tc.extra)))
			p, err := f.client(t).GetPayment(context.Background(), pid(t, "ord-1"))
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(p) {
				t.Errorf("GetPayment = %+v (virtual account %+v)", p, p.VirtualAccount)
			}
		})
	}
}

func TestAmounts(t *testing.T) {
	for _, tc := range []struct {
		amount, cancelled string
		want              int64 // -1: refused
	}{
		{"10000", "0", 10000},
		{"10000.0", "0", 10000}, // integral, however written
		{"1e4", "0", 10000},
		{"9223372036854775807", "0", 9223372036854775807},
		{"1000.5", "0", -1},
		{"0.1", "0", -1},
		{"10000", "0.5", -1},
		{"9223372036854775808", "0", -1},
		{"1e30", "0", -1},
		{"-100", "0", -1},
	} {
		t.Run(tc.amount+"/"+tc.cancelled, func(t *testing.T) {
			f := newFake(t, serving(payment("ord-1", "paid", tc.amount, tc.cancelled, nil)))
			p, err := f.client(t).GetPayment(context.Background(), pid(t, "ord-1"))
			switch {
			case tc.want < 0 && err == nil:
				t.Fatalf("GetPayment took amount %s, cancelled %s as %d, %d", tc.amount, tc.cancelled, p.Total, p.Cancelled)
			case tc.want >= 0 && err != nil:
				t.Fatal(err)
			case tc.want >= 0 && p.Total != tc.want:
				t.Fatalf("Total = %d, want %d", p.Total, tc.want)
			}
		})
	}
}

func TestTokenCachedUntilShortlyBeforeExpiry(t *testing.T) {
	f := newFake(t, serving(payment("ord-1", "paid", "10000", "0", nil)))
	c := f.client(t)
	now := time.Now()
	c.now = func() time.Time { return now }
	ctx := context.Background()
	for range 3 {
		if _, err := c.GetPayment(ctx, pid(t, "ord-1")); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.tokenCalls.Load(); n != 1 {
		t.Fatalf("getToken called %d times for 3 calls, want 1", n)
	}
	now = now.Add(1800*time.Second - tokenMargin - time.Second) // still fresh enough
	if _, err := c.GetPayment(ctx, pid(t, "ord-1")); err != nil || f.tokenCalls.Load() != 1 {
		t.Fatalf("err %v, getToken called %d times; want the cached token", err, f.tokenCalls.Load())
	}
	now = now.Add(2 * time.Second) // within a minute of expiry
	if _, err := c.GetPayment(ctx, pid(t, "ord-1")); err != nil || f.tokenCalls.Load() != 2 {
		t.Fatalf("err %v, getToken called %d times; want a new token", err, f.tokenCalls.Load())
	}
	reqs, _ := f.requests()
	if got := reqs[len(reqs)-1].Header.Get("Authorization"); got != "Bearer tok2" {
		t.Errorf("last request's Authorization = %q", got)
	}
}

func TestTokenRefreshedOnceOn401(t *testing.T) {
	f := newFake(t, serving(payment("ord-1", "paid", "10000", "0", nil)))
	c := f.client(t)
	ctx := context.Background()
	if _, err := c.GetPayment(ctx, pid(t, "ord-1")); err != nil {
		t.Fatal(err)
	}
	f.reject("tok1") // PortOne forgot it before its time
	if _, err := c.GetPayment(ctx, pid(t, "ord-1")); err != nil {
		t.Fatalf("after a 401: %v", err)
	}
	reqs, _ := f.requests()
	if n := f.tokenCalls.Load(); n != 2 || len(reqs) != 3 || reqs[2].Header.Get("Authorization") != "Bearer tok2" {
		t.Fatalf("getToken %d times, %d requests; want 2 and 3, the last with tok2", n, len(reqs))
	}
	if _, err := c.GetPayment(ctx, pid(t, "ord-1")); err != nil || f.tokenCalls.Load() != 2 {
		t.Fatalf("err %v, getToken %d times: the new token is not kept", err, f.tokenCalls.Load())
	}
}

func TestSecond401Fails(t *testing.T) {
	f := newFake(t, nil)
	f.api = func(r *http.Request, _ map[string]any) (int, any) {
		// Every token is refused on use.
		f.reject(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
		return 401, map[string]any{"code": -1, "message": "Unauthorized", "response": nil}
	}
	_, err := f.client(t).GetPayment(context.Background(), pid(t, "ord-1"))
	var g *application.GatewayError
	if !errors.As(err, &g) || g.Status != 401 || !errors.Is(err, application.ErrGatewayRefused) {
		t.Fatalf("err = %v, want a 401 GatewayError", err)
	}
	if reqs, _ := f.requests(); f.tokenCalls.Load() != 2 || len(reqs) != 2 {
		t.Fatalf("getToken %d times, %d requests; want 2 and 2 (one refresh, one retry)", f.tokenCalls.Load(), len(reqs))
	}
}

func TestConcurrentCallsShareOneTokenFetch(t *testing.T) {
	f := newFake(t, serving(payment("ord-1", "paid", "10000", "0", nil)))
	f.tokenDelay = 50 * time.Millisecond
	c := f.client(t)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			_, err := c.GetPayment(context.Background(), pid(t, "ord-1"))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := f.tokenCalls.Load(); n != 1 {
		t.Fatalf("getToken called %d times by 20 concurrent calls, want 1", n)
	}
}

func TestWaitingForATokenEndsWithTheContext(t *testing.T) {
	f := newFake(t, serving(payment("ord-1", "paid", "10000", "0", nil)))
	f.tokenDelay = time.Second
	c := f.client(t)
	done := make(chan error, 1)
	go func() {
		_, err := c.GetPayment(context.Background(), pid(t, "ord-1"))
		done <- err
	}()
	for f.tokenCalls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.GetPayment(ctx, pid(t, "ord-1"))
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, application.ErrUnavailable) || time.Since(start) > 500*time.Millisecond {
		t.Errorf("after %v: err = %v; want the context's end, promptly", time.Since(start), err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestBadCredentialsAreARefusal(t *testing.T) {
	f := newFake(t, serving(payment("ord-1", "paid", "10000", "0", nil)))
	c, err := New(Config{BaseURL: f.srv.URL, IMPKey: testKey, IMPSecret: "wrong-secret"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetPayment(context.Background(), pid(t, "ord-1"))
	var g *application.GatewayError
	if !errors.As(err, &g) || g.Status != 401 || errors.Is(err, application.ErrUnavailable) {
		t.Fatalf("err = %v, want a 401 GatewayError", err)
	}
	if strings.Contains(err.Error(), "wrong-secret") {
		t.Errorf("the secret is in the error: %v", err)
	}
}

func TestErrors(t *testing.T) {
	notFound := func(*http.Request, map[string]any) (int, any) {
		return 404, map[string]any{"code": -1, "message": "존재하지 않는 결제정보입니다.", "response": nil}
	}
	serverError := func(*http.Request, map[string]any) (int, any) { return 500, "<html>oops</html>" }
	codeOn200 := func(*http.Request, map[string]any) (int, any) {
		return 200, map[string]any{"code": 1, "message": "무언가 잘못되었습니다", "response": nil}
	}
	for _, tc := range []struct {
		name  string
		api   func(*http.Request, map[string]any) (int, any)
		is    error
		isNot error
	}{
		{"404 is not found", notFound, application.ErrPaymentNotFound, application.ErrUnavailable},
		{"500 is unavailable", serverError, application.ErrUnavailable, application.ErrGatewayRefused},
		{"code 1 on 200 is a refusal", codeOn200, application.ErrGatewayRefused, application.ErrPaymentNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, tc.api)
			_, err := f.client(t).GetPayment(context.Background(), pid(t, "ord-1"))
			if !errors.Is(err, tc.is) || errors.Is(err, tc.isNot) {
				t.Fatalf("err = %v; want %v and not %v", err, tc.is, tc.isNot)
			}
			var g *application.GatewayError
			if !errors.As(err, &g) {
				t.Fatalf("err = %v, want a GatewayError", err)
			}
		})
	}
}

func TestNoAnswerIsUnavailable(t *testing.T) {
	t.Run("timeout", func(t *testing.T) {
		block := make(chan struct{})
		f := newFake(t, func(*http.Request, map[string]any) (int, any) {
			<-block
			return 200, ok(nil)
		})
		t.Cleanup(func() { close(block) }) // runs before the server closes
		c, err := New(Config{BaseURL: f.srv.URL, IMPKey: testKey, IMPSecret: testSecret, Timeout: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.GetPayment(context.Background(), pid(t, "ord-1"))
		if !errors.Is(err, application.ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
	})
	t.Run("connection refused", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		c, err := New(Config{BaseURL: url, IMPKey: testKey, IMPSecret: testSecret})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.GetPayment(context.Background(), pid(t, "ord-1"))
		if !errors.Is(err, application.ErrUnavailable) || strings.Contains(err.Error(), testSecret) {
			t.Fatalf("err = %v, want ErrUnavailable without the secret", err)
		}
	})
}

func TestSecretNeverPrinted(t *testing.T) {
	cfg := Config{IMPKey: testKey, IMPSecret: testSecret, IMPCode: testCode}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "cfg", cfg, "secret", cfg.IMPSecret)
	js, err := json.Marshal(struct{ Secret Secret }{cfg.IMPSecret})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		fmt.Sprint(cfg), fmt.Sprintf("%v %+v %#v %s %q %x", cfg, cfg, cfg, cfg.IMPSecret, cfg.IMPSecret, cfg.IMPSecret),
		fmt.Sprintf("%+v", &cfg), logged.String(), string(js),
	} {
		if strings.Contains(s, testSecret) || strings.Contains(s, fmt.Sprintf("%x", testSecret)) {
			t.Errorf("the secret is printed: %s", s)
		}
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s := fmt.Sprintf("%v %+v %#v", c, c, c); strings.Contains(s, testSecret) {
		t.Errorf("the client prints the secret: %s", s)
	}
}

func TestPreRegister(t *testing.T) {
	f := newFake(t, func(*http.Request, map[string]any) (int, any) {
		return 200, ok(map[string]any{"merchant_uid": "ord-1", "amount": 10000})
	})
	m, err := domain.NewMoney(10000, domain.KRW)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.client(t).PreRegister(context.Background(), pid(t, "ord-1"), m); err != nil {
		t.Fatal(err)
	}
	reqs, bodies := f.requests()
	if len(reqs) != 1 || reqs[0].Method != "POST" || reqs[0].URL.Path != "/payments/prepare" ||
		bodies[0]["merchant_uid"] != "ord-1" || bodies[0]["amount"] != json.Number("10000") || bodies[0]["currency"] != "KRW" {
		t.Fatalf("request %v %v", reqs, bodies)
	}
}

// cancelling answers a cancel as V1 does on success: with the payment after it.
func cancelling(total int64, cancelledBefore int64) func(*http.Request, map[string]any) (int, any) {
	return func(_ *http.Request, b map[string]any) (int, any) {
		amount := total - cancelledBefore
		if a, ok := b["amount"].(json.Number); ok {
			n, _ := a.Int64()
			amount = n
		}
		after := cancelledBefore + amount
		status := "paid"
		if after == total {
			status = "cancelled"
		}
		return 200, ok(payment("ord-1", status, fmt.Sprint(total), fmt.Sprint(after), map[string]any{
			"paid_at":        1764547200,
			"cancel_history": []any{map[string]any{"pg_tid": "t", "amount": amount, "cancelled_at": 1764550000, "reason": b["reason"], "cancellation_id": "c-9"}},
		}))
	}
}

func TestCancel(t *testing.T) {
	t.Run("partial", func(t *testing.T) {
		f := newFake(t, cancelling(10000, 0))
		amount := int64(3000)
		pc, err := f.client(t).Cancel(context.Background(), application.CancelRequest{Payment: pid(t, "ord-1"), Amount: &amount, CancellableBefore: 10000, Reason: "refund"})
		if err != nil {
			t.Fatal(err)
		}
		if pc.ID != "c-9" || pc.Status != domain.CancellationSucceeded || pc.Amount != 3000 || pc.Reason != "refund" || pc.CancelledAt == nil {
			t.Errorf("Cancel = %+v", pc)
		}
		reqs, bodies := f.requests()
		b := bodies[0]
		if reqs[0].URL.Path != "/payments/cancel" || b["merchant_uid"] != "ord-1" || b["amount"] != json.Number("3000") ||
			b["checksum"] != json.Number("10000") || b["reason"] != "refund" {
			t.Errorf("request body %v", b)
		}
	})
	t.Run("the attempt that paid", func(t *testing.T) {
		f := newFake(t, cancelling(10000, 0))
		amount := int64(3000)
		_, err := f.client(t).Cancel(context.Background(), application.CancelRequest{Payment: pid(t, "ord-1"), Transaction: "imp_ord-1",
			Amount: &amount, CancellableBefore: 10000, Reason: "refund"})
		if err != nil {
			t.Fatal(err)
		}
		if _, bodies := f.requests(); bodies[0]["imp_uid"] != "imp_ord-1" || bodies[0]["merchant_uid"] != nil {
			t.Errorf("request body %v: want imp_uid only", bodies[0])
		}
	})
	t.Run("all that is left", func(t *testing.T) {
		f := newFake(t, cancelling(10000, 3000))
		pc, err := f.client(t).Cancel(context.Background(), application.CancelRequest{Payment: pid(t, "ord-1"), CancellableBefore: 7000, Reason: "refund"})
		if err != nil {
			t.Fatal(err)
		}
		if pc.Amount != 7000 {
			t.Errorf("Cancel = %+v", pc)
		}
		if _, bodies := f.requests(); bodies[0]["amount"] != nil || bodies[0]["checksum"] != json.Number("7000") {
			t.Errorf("request body %v: want no amount, checksum 7000", bodies[0])
		}
	})
}

func TestFailedCancelIsNotARefund(t *testing.T) {
	amount := int64(3000)
	req := application.CancelRequest{Amount: &amount, CancellableBefore: 10000, Reason: "refund"}
	for _, tc := range []struct {
		name, message, typ string
	}{
		{"already cancelled", "이미 전액취소된 주문입니다.", application.GatewayErrAlreadyCancelled},
		{"unknown payment", "취소할 결제건이 존재하지 않습니다.", "V1_CODE_1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, func(*http.Request, map[string]any) (int, any) {
				return 200, map[string]any{"code": 1, "message": tc.message, "response": nil}
			})
			req.Payment = pid(t, "ord-1")
			pc, err := f.client(t).Cancel(context.Background(), req)
			var g *application.GatewayError
			if !errors.As(err, &g) || g.Status != 200 || g.Type != tc.typ || g.Message != tc.message || !errors.Is(err, application.ErrGatewayRefused) {
				t.Fatalf("Cancel = %+v, %v; want a refusal of type %s", pc, err, tc.typ)
			}
		})
	}
	t.Run("code 0 but nothing cancelled", func(t *testing.T) {
		f := newFake(t, serving(payment("ord-1", "paid", "10000", "0", nil)))
		req.Payment = pid(t, "ord-1")
		if pc, err := f.client(t).Cancel(context.Background(), req); err == nil {
			t.Fatalf("Cancel = %+v, want an error: the payment shows no cancel", pc)
		}
	})
}

func TestListPaymentsPages(t *testing.T) {
	pages := map[string]map[string]any{
		"1": {"total": 3, "previous": 0, "next": 2, "list": []any{payment("ord-1", "paid", "1000", "0", nil), payment("not a creditd id!", "paid", "1000", "0", nil)}},
		"2": {"total": 3, "previous": 1, "next": 0, "list": []any{payment("ord-2", "cancelled", "2000", "2000", nil)}},
	}
	f := newFake(t, func(r *http.Request, _ map[string]any) (int, any) {
		return 200, ok(pages[r.URL.Query().Get("page")])
	})
	c := f.client(t)
	from, until := time.Unix(1764547200, 0), time.Unix(1764633600, 0)
	q := application.PaymentListQuery{From: from, Until: until, Size: 2}
	var got []string
	for i := 0; ; i++ {
		page, err := c.ListPayments(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range page.Items {
			got = append(got, p.ID.String()+"/"+string(p.Status))
		}
		if page.Next == "" {
			break
		}
		if i > 2 {
			t.Fatal("no end to the pages")
		}
		q.Cursor = page.Next
	}
	if want := "ord-1/PAID ord-2/CANCELLED"; strings.Join(got, " ") != want {
		t.Errorf("items %v, want %s", got, want)
	}
	reqs, _ := f.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	for i, r := range reqs {
		qv := r.URL.Query()
		if r.URL.Path != "/payments/status/all" || qv.Get("page") != fmt.Sprint(i+1) || qv.Get("limit") != "2" ||
			qv.Get("from") != "1764547200" || qv.Get("to") != "1764633599" || qv.Get("sorting") != "started" {
			t.Errorf("request %d: %s", i, r.URL)
		}
	}
	if _, err := c.ListPayments(context.Background(), application.PaymentListQuery{Cursor: "x"}); err == nil {
		t.Error("a cursor that is no page number was taken")
	}
}

// TestServerErrorsAreRetriedWhenSafe: a read that gets 500s is sent again,
// up to three times in all; a cancel is sent once, whatever happens.
func TestServerErrorsAreRetriedWhenSafe(t *testing.T) {
	failingFirst := func(n int, then func(*http.Request, map[string]any) (int, any)) func(*http.Request, map[string]any) (int, any) {
		var calls atomic.Int32
		return func(r *http.Request, b map[string]any) (int, any) {
			if calls.Add(1) <= int32(n) {
				return 500, map[string]any{"code": -1, "message": "busy", "response": nil}
			}
			return then(r, b)
		}
	}
	paid := serving(payment("ord-1", "paid", "10000", "0", map[string]any{"paid_at": 1764547200}))

	f := newFake(t, failingFirst(2, paid))
	if _, err := f.client(t).GetPayment(context.Background(), pid(t, "ord-1")); err != nil {
		t.Fatalf("a read after two 500s: %v", err)
	}
	if reqs, _ := f.requests(); len(reqs) != 3 {
		t.Fatalf("%d requests, want 3", len(reqs))
	}

	f = newFake(t, failingFirst(3, paid))
	if _, err := f.client(t).GetPayment(context.Background(), pid(t, "ord-1")); !errors.Is(err, application.ErrUnavailable) {
		t.Fatalf("a read after three 500s: %v, want ErrUnavailable", err)
	}
	if reqs, _ := f.requests(); len(reqs) != 3 {
		t.Fatalf("%d requests, want 3 (no more)", len(reqs))
	}

	f = newFake(t, failingFirst(1, cancelling(10000, 0)))
	_, err := f.client(t).Cancel(context.Background(), application.CancelRequest{Payment: pid(t, "ord-1"), CancellableBefore: 10000, Reason: "r"})
	if !errors.Is(err, application.ErrUnavailable) {
		t.Fatalf("a cancel answered 500: %v, want ErrUnavailable", err)
	}
	if reqs, _ := f.requests(); len(reqs) != 1 {
		t.Fatalf("the cancel was sent %d times, want once", len(reqs))
	}
}

// TestObserverHearsEveryAttempt: each HTTP attempt is reported with its
// operation and outcome, from closed sets (they become metric labels).
func TestObserverHearsEveryAttempt(t *testing.T) {
	f := newFake(t, func(r *http.Request, _ map[string]any) (int, any) {
		if strings.HasSuffix(r.URL.Path, "/cancel") {
			return 200, map[string]any{"code": 1, "message": "이미 전액취소된 주문입니다.", "response": nil}
		}
		return 200, ok(payment("ord-1", "paid", "10000", "0", nil))
	})
	var mu sync.Mutex
	var heard []string
	c, err := New(Config{BaseURL: f.srv.URL, IMPKey: testKey, IMPSecret: testSecret, IMPCode: testCode,
		Observer: func(op, outcome string, _ time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			heard = append(heard, op+":"+outcome)
		}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetPayment(context.Background(), pid(t, "ord-1")); err != nil {
		t.Fatal(err)
	}
	_, _ = c.Cancel(context.Background(), application.CancelRequest{Payment: pid(t, "ord-1"), CancellableBefore: 10000})
	if got := strings.Join(heard, " "); got != "getToken:ok GetPayment:ok Cancel:refused" {
		t.Fatalf("heard %s", got)
	}
	for _, h := range heard {
		op, outcome, _ := strings.Cut(h, ":")
		if !slices.Contains(Operations(), op) || !slices.Contains(Outcomes(), outcome) {
			t.Errorf("%s is outside the closed sets", h)
		}
	}
}
