package portone_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creditd/creditd/adapters/portone"
	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/cmd/portone-sandbox/sandbox"
	"github.com/creditd/creditd/domain"
)

func startSandbox(t testing.TB, cfg sandbox.Config) *sandbox.Server {
	t.Helper()
	sb, err := sandbox.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Close)
	return sb
}

const testSecret = "sk-portone-never-print-me"

func newClient(t *testing.T, sb *sandbox.Server, tweak func(*portone.Config)) *portone.Client {
	t.Helper()
	cfg := portone.Config{BaseURL: sb.URL, APISecret: sb.APISecret, StoreID: sb.StoreID, Timeout: 2 * time.Second}
	if tweak != nil {
		tweak(&cfg)
	}
	c, err := portone.New(cfg, portone.WithRetryWait(time.Millisecond, 5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func startFake(t *testing.T) *sandbox.Server {
	return startSandbox(t, sandbox.Config{APISecret: testSecret, StoreID: "store-test"})
}

func pid(t *testing.T, s string) domain.PaymentID {
	t.Helper()
	id, err := domain.ParsePaymentID(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func krw(t *testing.T, n int64) domain.Money {
	t.Helper()
	m, err := domain.NewMoney(n, domain.KRW)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestGetPaymentPaid(t *testing.T) {
	sb := startFake(t)
	want := sb.Pay("ord-1", sandbox.PaidWith{Total: 10000, OrderName: "100 credits", CustomData: `{"k":1}`})
	p, err := newClient(t, sb, nil).GetPayment(context.Background(), pid(t, "ord-1"))
	if err != nil {
		t.Fatal(err)
	}
	if p.ID.String() != "ord-1" || p.Status != domain.PaymentPaid || p.TransactionID != want.TransactionID || p.StoreID != "store-test" ||
		p.OrderName != "100 credits" || p.Currency != "KRW" || p.Total != 10000 || p.Paid != 10000 || p.Cancelled != 0 ||
		p.CustomData != `{"k":1}` || p.PaidAt == nil || !p.PaidAt.Equal(want.PaidAt) || p.VirtualAccount != nil || p.FailureReason != "" {
		t.Errorf("GetPayment = %+v", p)
	}
	r := sb.Requests()
	if len(r) != 1 || r[0].Method != "GET" || r[0].Path != "/payments/ord-1" || r[0].Query.Get("storeId") != "store-test" {
		t.Errorf("requests %+v", r)
	}
}

func TestGetPaymentVirtualAccountThenDeposit(t *testing.T) {
	sb := startFake(t)
	issued := sb.IssueVirtualAccount("ord.va_1", sandbox.PaidWith{Total: 33000, OrderName: "va"})
	c := newClient(t, sb, nil)
	p, err := c.GetPayment(context.Background(), pid(t, "ord.va_1"))
	if err != nil {
		t.Fatal(err)
	}
	va := p.VirtualAccount
	if p.Status != domain.PaymentVirtualAccountIssued || va == nil || va.Bank != "SHINHAN" || va.AccountNumber != issued.VirtualAccount.AccountNumber ||
		va.Holder != "creditd" || va.DueAt == nil || !va.DueAt.Equal(issued.VirtualAccount.ExpiredAt) || p.Paid != 0 || p.PaidAt != nil {
		t.Fatalf("GetPayment = %+v (account %+v)", p, va)
	}
	sb.Deposit("ord.va_1")
	if p, err = c.GetPayment(context.Background(), pid(t, "ord.va_1")); err != nil || p.Status != domain.PaymentPaid || p.Paid != 33000 || p.PaidAt == nil {
		t.Errorf("after the deposit: %+v, %v", p, err)
	}
}

func TestGetPaymentFailed(t *testing.T) {
	sb := startFake(t)
	sb.Ready("ord-f", sandbox.PaidWith{Total: 5000})
	sb.Fail("ord-f", "card declined")
	p, err := newClient(t, sb, nil).GetPayment(context.Background(), pid(t, "ord-f"))
	if err != nil || p.Status != domain.PaymentFailed || p.FailureReason != "card declined" || p.Total != 5000 {
		t.Errorf("GetPayment = %+v, %v", p, err)
	}
}

func TestGetPaymentNotFound(t *testing.T) {
	sb := startFake(t)
	_, err := newClient(t, sb, nil).GetPayment(context.Background(), pid(t, "nope"))
	var g *application.GatewayError
	if !errors.Is(err, application.ErrPaymentNotFound) || !errors.As(err, &g) || g.Status != 404 || g.Type != "PAYMENT_NOT_FOUND" || errors.Is(err, application.ErrUnavailable) {
		t.Errorf("err = %v", err)
	}
	if n := len(sb.Requests()); n != 1 {
		t.Errorf("a 404 was sent %d times", n)
	}
}

// PortOne adds statuses, method types and fields without notice.
func TestGetPaymentToleratesTheUnknown(t *testing.T) {
	sb := startFake(t)
	sb.SetRawPayment("ord-new", []byte(`{
		"status": "PAY_LATER_PENDING", "id": "ord-new", "transactionId": "tx-9", "merchantId": "m", "storeId": "store-test",
		"method": {"type": "PaymentMethodQuantumCoin", "bank": {"nested": true}, "accountNumber": 7},
		"channel": {"type": "LIVE", "pgProvider": "NEWPG", "pgMerchantId": "x", "brandNew": [1, 2]},
		"version": "V3", "requestedAt": "2026-01-01T00:00:00Z", "updatedAt": "2026-01-01T00:00:00Z", "statusChangedAt": "2026-01-01T00:00:00Z",
		"orderName": "o", "currency": "XTS",
		"amount": {"total": 1200, "taxFree": 0, "discount": 0, "paid": 0, "cancelled": 0, "cancelledTaxFree": 0, "loyalty": 5},
		"customer": {"gender": "NONBINARY"}, "origin": {"platformType": "TV", "ipAddress": "::1"},
		"cancellations": [{"status": "ON_HOLD", "id": "c1", "totalAmount": 100, "taxFreeAmount": 0, "vatAmount": 9, "reason": "r",
			"requestedAt": "2026-01-01T00:00:00Z", "trigger": "ROBOT", "surprise": {}}],
		"escrow": {"status": "TELEPORTED"}, "somethingElse": null
	}`))
	p, err := newClient(t, sb, nil).GetPayment(context.Background(), pid(t, "ord-new"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != "PAY_LATER_PENDING" || p.Total != 1200 || p.Currency != "XTS" || p.VirtualAccount != nil ||
		len(p.Cancellations) != 1 || p.Cancellations[0].Status != "ON_HOLD" || p.Cancellations[0].Trigger != "ROBOT" {
		t.Errorf("GetPayment = %+v", p)
	}
}

func TestGetPaymentRefusesNonIntegerAmounts(t *testing.T) {
	for _, amount := range []string{"1000.5", "1e3", `"1000"`} {
		sb := startFake(t)
		sb.SetRawPayment("ord-x", []byte(`{"status":"PAID","id":"ord-x","transactionId":"t","storeId":"s","orderName":"o","currency":"KRW",
			"amount":{"total":`+amount+`,"paid":`+amount+`,"cancelled":0},"paidAt":"2026-01-01T00:00:00Z"}`))
		p, err := newClient(t, sb, nil).GetPayment(context.Background(), pid(t, "ord-x"))
		if err == nil {
			t.Errorf("amount %s decoded as %+v", amount, p)
		}
		if n := len(sb.Requests()); n != 1 {
			t.Errorf("amount %s: a bad body was fetched %d times", amount, n)
		}
	}
}

func TestPreRegister(t *testing.T) {
	sb := startFake(t)
	c := newClient(t, sb, nil)
	if err := c.PreRegister(context.Background(), pid(t, "ord-p"), krw(t, 12000)); err != nil {
		t.Fatal(err)
	}
	if total, cur, ok := sb.PreRegistered("ord-p"); !ok || total != 12000 || cur != "KRW" {
		t.Errorf("pre-registered %d %s %v", total, cur, ok)
	}
	r := sb.Requests()[0]
	if r.Method != "POST" || r.Path != "/payments/ord-p/pre-register" || r.Body["totalAmount"] != json.Number("12000") ||
		r.Body["currency"] != "KRW" || r.Body["storeId"] != "store-test" || len(r.Body) != 3 {
		t.Errorf("request %+v", r)
	}
	// The gateway itself refuses a payment of another amount.
	if p := sb.Pay("ord-p", sandbox.PaidWith{Total: 100}); p.Status != "FAILED" {
		t.Errorf("paid %d after pre-registering 12000: %s", p.Total, p.Status)
	}
	sb.Pay("ord-p", sandbox.PaidWith{Total: 12000})
	err := c.PreRegister(context.Background(), pid(t, "ord-p"), krw(t, 12000))
	if !application.IsGatewayError(err, "ALREADY_PAID") {
		t.Errorf("pre-register after payment: %v", err)
	}
}

func TestCancel(t *testing.T) {
	sb := startFake(t)
	sb.Pay("ord-c", sandbox.PaidWith{Total: 10000})
	c := newClient(t, sb, nil)
	part := int64(3000)
	got, err := c.Cancel(context.Background(), application.CancelRequest{
		Payment: pid(t, "ord-c"), Amount: &part, CancellableBefore: 10000, Reason: "refund 30 credits", IdempotencyKey: "refund-ord-c-0000001",
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.ID == "" || got.Status != domain.CancellationSucceeded || got.Amount != 3000 || got.Reason != "refund 30 credits" ||
		got.Trigger != "API" || got.RequestedAt.IsZero() || got.CancelledAt == nil {
		t.Errorf("Cancel = %+v", got)
	}
	r := sb.CancelRequests()[0]
	if r.IdempotencyKey != `"refund-ord-c-0000001"` || r.Body["amount"] != json.Number("3000") ||
		r.Body["currentCancellableAmount"] != json.Number("10000") || r.Body["reason"] != "refund 30 credits" || r.Body["storeId"] != "store-test" {
		t.Errorf("request %+v", r)
	}
	// The rest, with no amount: all that is left.
	if _, err := c.Cancel(context.Background(), application.CancelRequest{
		Payment: pid(t, "ord-c"), CancellableBefore: 7000, Reason: "the rest", IdempotencyKey: "refund-ord-c-0000002",
	}); err != nil {
		t.Fatal(err)
	}
	if _, ok := sb.CancelRequests()[1].Body["amount"]; ok {
		t.Error("a full cancel sent an amount")
	}
	p, err := c.GetPayment(context.Background(), pid(t, "ord-c"))
	if err != nil || p.Status != domain.PaymentCancelled || p.Cancelled != 10000 || len(p.Cancellations) != 2 || p.Cancellations[0].ID != got.ID {
		t.Errorf("after two cancels: %+v, %v", p, err)
	}
}

func TestCancelRefusals(t *testing.T) {
	ten := int64(10000)
	tests := []struct {
		name  string
		setup func(sb *sandbox.Server)
		req   application.CancelRequest
		want  string
	}{
		{"not paid", func(sb *sandbox.Server) { sb.Ready("o", sandbox.PaidWith{Total: 10000}) },
			application.CancelRequest{CancellableBefore: 10000}, application.GatewayErrNotPaid},
		{"already cancelled", func(sb *sandbox.Server) {
			sb.Pay("o", sandbox.PaidWith{Total: 10000})
			sb.CancelFromConsole("o", 0)
		}, application.CancelRequest{CancellableBefore: 0}, application.GatewayErrAlreadyCancelled},
		{"someone cancelled meanwhile", func(sb *sandbox.Server) {
			sb.Pay("o", sandbox.PaidWith{Total: 10000})
			sb.CancelFromConsole("o", 1000)
		}, application.CancelRequest{CancellableBefore: 10000}, application.GatewayErrCancellableAmountMismatch},
		{"more than is left", func(sb *sandbox.Server) {
			sb.Pay("o", sandbox.PaidWith{Total: 10000})
			sb.CancelFromConsole("o", 1000)
		}, application.CancelRequest{CancellableBefore: 9000, Amount: &ten}, "CANCEL_AMOUNT_EXCEEDS_CANCELLABLE_AMOUNT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sb := startFake(t)
			tt.setup(sb)
			tt.req.Payment, tt.req.Reason, tt.req.IdempotencyKey = pid(t, "o"), "r", "key-"+strings.ReplaceAll(tt.name, " ", "-")+"-0123456789"
			_, err := newClient(t, sb, nil).Cancel(context.Background(), tt.req)
			var g *application.GatewayError
			if !errors.As(err, &g) || g.Status != 409 || g.Type != tt.want || errors.Is(err, application.ErrUnavailable) {
				t.Errorf("err = %v, want 409 %s", err, tt.want)
			}
			if n := len(sb.CancelRequests()); n != 1 {
				t.Errorf("a 409 was sent %d times", n)
			}
		})
	}
}

func TestRetriesServerErrorsThenSucceeds(t *testing.T) {
	sb := startFake(t)
	sb.Pay("ord-r", sandbox.PaidWith{Total: 500})
	c := newClient(t, sb, nil)
	sb.FailNext(2, http.StatusServiceUnavailable)
	if _, err := c.GetPayment(context.Background(), pid(t, "ord-r")); err != nil {
		t.Fatalf("GetPayment after two 503s: %v", err)
	}
	sb.FailNext(3, http.StatusInternalServerError)
	if err := c.PreRegister(context.Background(), pid(t, "ord-r2"), krw(t, 1)); err != nil {
		t.Fatalf("PreRegister after three 500s: %v", err)
	}
	sb.FailNext(1, http.StatusBadGateway)
	if _, err := c.Cancel(context.Background(), application.CancelRequest{Payment: pid(t, "ord-r"), CancellableBefore: 500, Reason: "r", IdempotencyKey: "retry-cancel-000001"}); err != nil {
		t.Fatalf("Cancel after a 502: %v", err)
	}
	if n := len(sb.Requests()); n != 3+4+2 {
		t.Errorf("%d requests, want 9", n)
	}
	if p, _ := sb.Payment("ord-r"); p.Cancelled != 500 || len(p.Cancellations) != 1 {
		t.Errorf("payment after the cancel: %+v", p)
	}
}

func TestGivesUpOnServerErrors(t *testing.T) {
	sb := startFake(t)
	sb.FailNext(100, http.StatusBadGateway)
	_, err := newClient(t, sb, nil).GetPayment(context.Background(), pid(t, "ord-1"))
	var g *application.GatewayError
	if !errors.As(err, &g) || g.Status != 502 || !errors.Is(err, application.ErrUnavailable) {
		t.Errorf("err = %v", err)
	}
	if n := len(sb.Requests()); n != 4 {
		t.Errorf("%d attempts, want 1 + 3 retries", n)
	}
}

// Without an idempotency key a lost answer may hide a cancel that happened:
// it is not repeated.
func TestCancelWithoutKeyIsNotRetried(t *testing.T) {
	sb := startFake(t)
	sb.Pay("ord-k", sandbox.PaidWith{Total: 500})
	sb.FailNext(1, http.StatusServiceUnavailable)
	_, err := newClient(t, sb, nil).Cancel(context.Background(), application.CancelRequest{Payment: pid(t, "ord-k"), CancellableBefore: 500, Reason: "r"})
	if !errors.Is(err, application.ErrUnavailable) {
		t.Errorf("err = %v", err)
	}
	if r := sb.CancelRequests(); len(r) != 1 || r[0].IdempotencyKey != "" {
		t.Errorf("cancel requests %+v", r)
	}
}

func TestTimeoutIsUnavailable(t *testing.T) {
	sb := startFake(t)
	sb.Pay("ord-t", sandbox.PaidWith{Total: 500})
	sb.Delay(time.Second)
	var outcomes []string
	c := newClient(t, sb, func(c *portone.Config) {
		c.Timeout, c.Retries = 50*time.Millisecond, 1
		c.Observer = func(op portone.Operation, outcome string, took time.Duration) {
			outcomes = append(outcomes, string(op)+":"+outcome)
		}
	})
	_, err := c.GetPayment(context.Background(), pid(t, "ord-t"))
	var g *application.GatewayError
	if !errors.Is(err, application.ErrUnavailable) || errors.As(err, &g) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v", err)
	}
	if !slices.Equal(outcomes, []string{"get_payment:timeout", "get_payment:timeout"}) {
		t.Errorf("observed %v", outcomes)
	}
}

// The first attempt is cancelled at PortOne but its answer is lost; the
// retry, with the same key, is told the first outcome instead of
// cancelling again.
func TestRetriedCancelCancelsOnce(t *testing.T) {
	sb := startFake(t)
	sb.Pay("ord-d", sandbox.PaidWith{Total: 10000})
	sb.DelayNext(1, 400*time.Millisecond)
	// Retries outlast the held answer: until it is sent, a retry is told
	// IDEMPOTENCY_OUTSTANDING_REQUEST and waits.
	c, err := portone.New(portone.Config{BaseURL: sb.URL, APISecret: sb.APISecret, Timeout: 100 * time.Millisecond, Retries: 20},
		portone.WithRetryWait(50*time.Millisecond, 100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	amount := int64(4000)
	got, err := c.Cancel(context.Background(), application.CancelRequest{
		Payment: pid(t, "ord-d"), Amount: &amount, CancellableBefore: 10000, Reason: "r", IdempotencyKey: "double-cancel-0000001",
	})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := sb.Payment("ord-d")
	if p.Cancelled != 4000 || len(p.Cancellations) != 1 || p.Cancellations[0].ID != got.ID || p.Status != "PARTIAL_CANCELLED" {
		t.Errorf("payment %+v, cancel answered %+v", p, got)
	}
	reqs := sb.CancelRequests()
	if len(reqs) < 2 {
		t.Fatalf("%d cancel requests; the first should have timed out", len(reqs))
	}
	for _, r := range reqs {
		if r.IdempotencyKey != `"double-cancel-0000001"` {
			t.Errorf("Idempotency-Key %s", r.IdempotencyKey)
		}
	}
}

func TestNonJSONErrorBody(t *testing.T) {
	sb := startFake(t)
	sb.FailNextRaw(1, http.StatusBadGateway, "<html><body><h1>502 Bad Gateway</h1>\n</body></html>")
	_, err := newClient(t, sb, func(c *portone.Config) { c.Retries = -1 }).GetPayment(context.Background(), pid(t, "ord-h"))
	var g *application.GatewayError
	if !errors.As(err, &g) || g.Status != 502 || g.Type != "" || !strings.Contains(g.Message, "502 Bad Gateway") || !errors.Is(err, application.ErrUnavailable) {
		t.Errorf("err = %#v", err)
	}
}

func TestSecretNeverInErrors(t *testing.T) {
	sb := startFake(t)
	var errs []error
	// A wrong secret: 401.
	bad := newClient(t, sb, func(c *portone.Config) { c.APISecret = "sk-wrong-" + testSecret })
	_, err := bad.GetPayment(context.Background(), pid(t, "ord-1"))
	if !application.IsGatewayError(err, "UNAUTHORIZED") {
		t.Errorf("wrong secret: %v", err)
	}
	errs = append(errs, err)
	// A timeout.
	sb.Delay(time.Second)
	_, err = newClient(t, sb, func(c *portone.Config) { c.Timeout, c.Retries = 20*time.Millisecond, -1 }).GetPayment(context.Background(), pid(t, "ord-1"))
	errs = append(errs, err)
	// Nobody listening.
	dead := newClient(t, sb, func(c *portone.Config) { c.BaseURL, c.Retries = "http://127.0.0.1:1", -1 })
	_, err = dead.Cancel(context.Background(), application.CancelRequest{Payment: pid(t, "ord-1"), Reason: "r", IdempotencyKey: "some-key-000000001"})
	if !errors.Is(err, application.ErrUnavailable) {
		t.Errorf("connection refused: %v", err)
	}
	errs = append(errs, err)
	for _, err := range errs {
		if err == nil || strings.Contains(err.Error(), testSecret) || strings.Contains(err.Error(), "sk-") {
			t.Errorf("error %q", err)
		}
	}
}

func TestListPayments(t *testing.T) {
	sb := startFake(t)
	start := time.Now().Add(-time.Minute)
	var want []string
	for _, id := range []string{"a1", "a2", "a3", "a4", "a5"} {
		sb.Pay(id, sandbox.PaidWith{Total: 100})
		want = append(want, id)
		if id == "a2" {
			// Another system's payment on the same store: left out.
			sb.Pay("외부 결제 #1", sandbox.PaidWith{Total: 1})
		}
	}
	c := newClient(t, sb, nil)
	q := application.PaymentListQuery{From: start, Until: time.Now().Add(time.Minute), Size: 2}
	var got []string
	pages := 0
	for {
		page, err := c.ListPayments(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, p := range page.Items {
			got = append(got, p.ID.String())
		}
		if page.Next == "" {
			break
		}
		q.Cursor = page.Next
		if pages > 10 {
			t.Fatal("no end")
		}
	}
	// Six payments in pages of two: the third page is full, so a fourth,
	// empty one is asked for (PortOne says nothing of "more").
	if !slices.Equal(got, want) || pages != 4 {
		t.Errorf("listed %v in %d pages, want %v in 4", got, pages, want)
	}
	r := sb.Requests()[0]
	if r.Path != "/payments-by-cursor" || r.Body["size"] != json.Number("2") || r.Body["storeId"] != "store-test" || r.Body["from"] == nil || r.Body["until"] == nil {
		t.Errorf("request %+v", r)
	}
	if _, ok := r.Body["cursor"]; ok {
		t.Error("the first page sent a cursor")
	}
	// Outside the window: nothing.
	page, err := c.ListPayments(context.Background(), application.PaymentListQuery{From: start.Add(-time.Hour), Until: start})
	if err != nil || len(page.Items) != 0 || page.Next != "" {
		t.Errorf("empty window: %+v, %v", page, err)
	}
}

func TestObserverOutcomesAreBounded(t *testing.T) {
	sb := startFake(t)
	var mu sync.Mutex
	seen := map[string]bool{}
	c := newClient(t, sb, func(c *portone.Config) {
		c.Retries = -1
		c.Observer = func(op portone.Operation, outcome string, _ time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			seen[string(op)+":"+outcome] = true
		}
	})
	sb.FailNextRaw(1, 418, `{"type":"TEAPOT_OVERFLOW","message":"new in 2027"}`)
	_, err := c.GetPayment(context.Background(), pid(t, "x"))
	if !application.IsGatewayError(err, "TEAPOT_OVERFLOW") {
		t.Errorf("err = %v; the type is kept in the error", err)
	}
	_, _ = c.GetPayment(context.Background(), pid(t, "x"))
	_ = c.PreRegister(context.Background(), pid(t, "x"), krw(t, 1))
	_, _ = c.ListPayments(context.Background(), application.PaymentListQuery{Until: time.Now()})
	want := map[string]bool{"get_payment:other": true, "get_payment:PAYMENT_NOT_FOUND": true, "pre_register:ok": true, "list_payments:ok": true}
	if len(seen) != len(want) {
		t.Errorf("observed %v, want %v", seen, want)
	}
	for k := range want {
		if !seen[k] {
			t.Errorf("observed %v, want %v", seen, want)
		}
	}
	for k := range seen {
		op, outcome, _ := strings.Cut(k, ":")
		if !slices.Contains(portone.Outcomes(), outcome) || !slices.Contains(portone.Operations(), portone.Operation(op)) {
			t.Errorf("%s is outside Operations()/Outcomes()", k)
		}
	}
}

func TestCallerContextStopsRetries(t *testing.T) {
	sb := startFake(t)
	sb.FailNext(1000, http.StatusServiceUnavailable)
	c, err := portone.New(portone.Config{BaseURL: sb.URL, APISecret: sb.APISecret, Retries: 1000}, portone.WithRetryWait(50*time.Millisecond, 50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = c.GetPayment(ctx, pid(t, "ord-1"))
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, application.ErrUnavailable) {
		t.Errorf("err = %v", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("took %v after the context ended", took)
	}
}

func TestNewChecksConfig(t *testing.T) {
	for _, cfg := range []portone.Config{{}, {APISecret: "s", BaseURL: "ftp://x"}, {APISecret: "s", BaseURL: "api.portone.io"}} {
		if _, err := portone.New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

func TestIdempotencyKeyIsAnRFC8941String(t *testing.T) {
	sb := startFake(t)
	sb.Pay("ord-q", sandbox.PaidWith{Total: 500})
	c := newClient(t, sb, nil)
	req := application.CancelRequest{Payment: pid(t, "ord-q"), CancellableBefore: 500, Reason: "r", IdempotencyKey: `odd"key\with-escapes`}
	if _, err := c.Cancel(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if got := sb.CancelRequests()[0].IdempotencyKey; got != `"odd\"key\\with-escapes"` {
		t.Errorf("Idempotency-Key: %s", got)
	}
	for _, key := range []string{"short", "ключ-не-ascii-0000000", strings.Repeat("k", 257)} {
		req.IdempotencyKey = key
		if _, err := c.Cancel(context.Background(), req); err == nil {
			t.Errorf("key %q accepted", key)
		}
	}
	if n := len(sb.CancelRequests()); n != 1 {
		t.Errorf("%d requests; a bad key must not be sent", n)
	}
}
