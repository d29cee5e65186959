package sandbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creditd/creditd/cmd/portone-sandbox/sandbox"
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

// call sends one API request the way a PortOne client would.
func call(t *testing.T, sb *sandbox.Server, method, path string, body any, header map[string]string) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, sb.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "PortOne "+sb.APISecret)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&out); err != nil {
		t.Fatalf("%s %s: %d %q is not a JSON object", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode, out
}

func errType(t *testing.T, status int, body map[string]any, wantStatus int, wantType string) {
	t.Helper()
	if status != wantStatus || body["type"] != wantType {
		t.Errorf("answered %d %v, want %d %s", status, body, wantStatus, wantType)
	}
}

// Every status carries the fields PortOne's schema requires of it.
func TestPaymentShapes(t *testing.T) {
	common := []string{"status", "id", "transactionId", "merchantId", "storeId", "version", "requestedAt", "updatedAt",
		"statusChangedAt", "orderName", "amount", "currency", "customer", "origin"}
	extra := map[string][]string{
		"READY":                  {},
		"PAY_PENDING":            {"channel"},
		"VIRTUAL_ACCOUNT_ISSUED": {"channel", "method"},
		"PAID":                   {"channel", "paidAt", "disputes", "method"},
		"FAILED":                 {"failedAt", "failure"},
		"PARTIAL_CANCELLED":      {"channel", "cancellations", "cancelledAt"},
		"CANCELLED":              {"channel", "cancellations", "cancelledAt"},
	}
	sb := startSandbox(t, sandbox.Config{})
	sb.Ready("p-ready", sandbox.PaidWith{Total: 1000})
	sb.SetPayment(sandbox.Payment{ID: "p-pending", Status: "PAY_PENDING", Total: 1000})
	sb.IssueVirtualAccount("p-va", sandbox.PaidWith{Total: 1000})
	sb.Pay("p-paid", sandbox.PaidWith{Total: 1000})
	sb.Ready("p-failed", sandbox.PaidWith{Total: 1000})
	sb.Fail("p-failed", "declined")
	sb.Pay("p-partial", sandbox.PaidWith{Total: 1000})
	sb.CancelFromConsole("p-partial", 400)
	sb.Pay("p-cancelled", sandbox.PaidWith{Total: 1000})
	sb.CancelFromConsole("p-cancelled", 0)
	for id, status := range map[string]string{"p-ready": "READY", "p-pending": "PAY_PENDING", "p-va": "VIRTUAL_ACCOUNT_ISSUED", "p-paid": "PAID",
		"p-failed": "FAILED", "p-partial": "PARTIAL_CANCELLED", "p-cancelled": "CANCELLED"} {
		code, p := call(t, sb, "GET", "/payments/"+id, nil, nil)
		if code != 200 || p["status"] != status {
			t.Errorf("%s: %d %v", id, code, p["status"])
			continue
		}
		for _, f := range append(slices.Clone(common), extra[status]...) {
			if _, ok := p[f]; !ok {
				t.Errorf("%s (%s) has no %s", id, status, f)
			}
		}
		amount := p["amount"].(map[string]any)
		for _, f := range []string{"total", "taxFree", "discount", "paid", "cancelled", "cancelledTaxFree"} {
			if _, ok := amount[f]; !ok {
				t.Errorf("%s: amount has no %s", id, f)
			}
		}
	}
	_, p := call(t, sb, "GET", "/payments/p-partial", nil, nil)
	c := p["cancellations"].([]any)[0].(map[string]any)
	if p["amount"].(map[string]any)["cancelled"] != json.Number("400") || c["status"] != "SUCCEEDED" || c["trigger"] != "CONSOLE" || c["totalAmount"] != json.Number("400") {
		t.Errorf("partial cancel: %v", p)
	}
	_, p = call(t, sb, "GET", "/payments/p-va", nil, nil)
	if m := p["method"].(map[string]any); m["type"] != "PaymentMethodVirtualAccount" || m["accountNumber"] == "" || m["bank"] != "SHINHAN" {
		t.Errorf("virtual account method: %v", m)
	}
}

func TestAuthAndStore(t *testing.T) {
	sb := startSandbox(t, sandbox.Config{StoreID: "store-1"})
	sb.Pay("p", sandbox.PaidWith{Total: 1})
	code, body := call(t, sb, "GET", "/payments/p", nil, map[string]string{"Authorization": "PortOne wrong"})
	errType(t, code, body, 401, "UNAUTHORIZED")
	code, body = call(t, sb, "GET", "/payments/p", nil, map[string]string{"Authorization": "Bearer " + sb.APISecret})
	errType(t, code, body, 401, "UNAUTHORIZED")
	code, body = call(t, sb, "GET", "/payments/p?storeId=store-2", nil, nil)
	errType(t, code, body, 403, "FORBIDDEN")
	if code, _ = call(t, sb, "GET", "/payments/p?storeId=store-1", nil, nil); code != 200 {
		t.Errorf("own store: %d", code)
	}
	code, body = call(t, sb, "GET", "/payments/nope", nil, nil)
	errType(t, code, body, 404, "PAYMENT_NOT_FOUND")
}

func TestCancelRules(t *testing.T) {
	sb := startSandbox(t, sandbox.Config{})
	sb.Ready("ready", sandbox.PaidWith{Total: 1000})
	sb.Pay("paid", sandbox.PaidWith{Total: 1000})
	tests := []struct {
		name     string
		id       string
		body     map[string]any
		status   int
		wantType string
	}{
		{"unknown payment", "nope", map[string]any{"reason": "r"}, 404, "PAYMENT_NOT_FOUND"},
		{"no reason", "paid", map[string]any{"amount": 1}, 400, "INVALID_REQUEST"},
		{"a fraction", "paid", map[string]any{"reason": "r", "amount": 1.5}, 400, "INVALID_REQUEST"},
		{"not paid", "ready", map[string]any{"reason": "r"}, 409, "PAYMENT_NOT_PAID"},
		{"stale balance", "paid", map[string]any{"reason": "r", "currentCancellableAmount": 999}, 409, "CANCELLABLE_AMOUNT_CONSISTENCY_BROKEN"},
		{"too much", "paid", map[string]any{"reason": "r", "amount": 1001}, 409, "CANCEL_AMOUNT_EXCEEDS_CANCELLABLE_AMOUNT"},
		{"partial", "paid", map[string]any{"reason": "r", "amount": 300, "currentCancellableAmount": 1000}, 200, ""},
		{"the rest", "paid", map[string]any{"reason": "r", "currentCancellableAmount": 700}, 200, ""},
		{"again", "paid", map[string]any{"reason": "r"}, 409, "PAYMENT_ALREADY_CANCELLED"},
	}
	for _, tt := range tests {
		code, body := call(t, sb, "POST", "/payments/"+tt.id+"/cancel", tt.body, nil)
		if tt.status == 200 {
			c, _ := body["cancellation"].(map[string]any)
			if code != 200 || c["status"] != "SUCCEEDED" || c["trigger"] != "API" || c["id"] == "" {
				t.Errorf("%s: %d %v", tt.name, code, body)
			}
			continue
		}
		if code != tt.status || body["type"] != tt.wantType {
			t.Errorf("%s: %d %v, want %d %s", tt.name, code, body, tt.status, tt.wantType)
		}
	}
	if p, _ := sb.Payment("paid"); p.Status != "CANCELLED" || p.Cancelled != 1000 || len(p.Cancellations) != 2 {
		t.Errorf("payment %+v", p)
	}
}

func TestIdempotencyKey(t *testing.T) {
	sb := startSandbox(t, sandbox.Config{})
	sb.Pay("p", sandbox.PaidWith{Total: 1000})
	key := map[string]string{"Idempotency-Key": `"cancel-p-0000000001"`}
	code, first := call(t, sb, "POST", "/payments/p/cancel", map[string]any{"reason": "r", "amount": 100}, key)
	if code != 200 {
		t.Fatalf("%d %v", code, first)
	}
	code, again := call(t, sb, "POST", "/payments/p/cancel", map[string]any{"reason": "r", "amount": 100}, key)
	if code != 200 || again["cancellation"].(map[string]any)["id"] != first["cancellation"].(map[string]any)["id"] {
		t.Errorf("replay: %d %v, first %v", code, again, first)
	}
	if p, _ := sb.Payment("p"); p.Cancelled != 100 {
		t.Errorf("cancelled %d after a replay", p.Cancelled)
	}
	code, body := call(t, sb, "POST", "/payments/p/cancel", map[string]any{"reason": "r"}, map[string]string{"Idempotency-Key": "cancel-p-unquoted-01"})
	errType(t, code, body, 400, "INVALID_REQUEST")

	// While the first answer is held, a repeat is told to wait.
	sb.DelayNext(1, 300*time.Millisecond)
	slow := map[string]string{"Idempotency-Key": `"cancel-p-0000000002"`}
	var wg sync.WaitGroup
	wg.Go(func() { call(t, sb, "POST", "/payments/p/cancel", map[string]any{"reason": "r", "amount": 100}, slow) })
	time.Sleep(100 * time.Millisecond)
	code, body = call(t, sb, "POST", "/payments/p/cancel", map[string]any{"reason": "r", "amount": 100}, slow)
	errType(t, code, body, 409, "IDEMPOTENCY_OUTSTANDING_REQUEST")
	wg.Wait()
	if p, _ := sb.Payment("p"); p.Cancelled != 200 {
		t.Errorf("cancelled %d, want 200", p.Cancelled)
	}
	if n := len(sb.CancelRequests()); n != 5 {
		t.Errorf("%d cancel requests logged, want 5", n)
	}
}

func TestPreRegister(t *testing.T) {
	sb := startSandbox(t, sandbox.Config{})
	code, _ := call(t, sb, "POST", "/payments/p/pre-register", map[string]any{"totalAmount": 5000, "currency": "KRW"}, nil)
	if total, cur, ok := sb.PreRegistered("p"); code != 200 || !ok || total != 5000 || cur != "KRW" {
		t.Errorf("%d: %d %s %v", code, total, cur, ok)
	}
	code, body := call(t, sb, "POST", "/payments/p/pre-register", map[string]any{"totalAmount": 50.5, "currency": "KRW"}, nil)
	errType(t, code, body, 400, "INVALID_REQUEST")
	if p := sb.Pay("p", sandbox.PaidWith{Total: 5000}); p.Status != "PAID" {
		t.Errorf("paid the pre-registered amount: %+v", p)
	}
	code, body = call(t, sb, "POST", "/payments/p/pre-register", map[string]any{"totalAmount": 5000, "currency": "KRW"}, nil)
	errType(t, code, body, 409, "ALREADY_PAID")
}

func TestPaymentsByCursor(t *testing.T) {
	sb := startSandbox(t, sandbox.Config{})
	for _, id := range []string{"a", "b", "c"} {
		sb.Pay(id, sandbox.PaidWith{Total: 1})
	}
	list := func(body map[string]any) (int, map[string]any) {
		b, _ := json.Marshal(body)
		return call(t, sb, "GET", "/payments-by-cursor?requestBody="+url.QueryEscape(string(b)), nil, nil)
	}
	code, page := list(map[string]any{"size": 2})
	items, _ := page["items"].([]any)
	if code != 200 || len(items) != 2 {
		t.Fatalf("%d %v", code, page)
	}
	cursor := items[1].(map[string]any)["cursor"].(string)
	_, page = list(map[string]any{"size": 2, "cursor": cursor})
	items = page["items"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["payment"].(map[string]any)["id"] != "c" {
		t.Errorf("second page %v", page)
	}
	code, body := list(map[string]any{"size": 1001})
	errType(t, code, body, 400, "INVALID_REQUEST")
	code, body = list(map[string]any{"cursor": "not-a-cursor"})
	errType(t, code, body, 400, "INVALID_REQUEST")
	_, page = list(map[string]any{"until": time.Now().Add(-time.Hour).Format(time.RFC3339)})
	if items := page["items"].([]any); len(items) != 0 {
		t.Errorf("payments before they were made: %v", items)
	}
}

func TestFailNextAndRequests(t *testing.T) {
	sb := startSandbox(t, sandbox.Config{})
	sb.Pay("p", sandbox.PaidWith{Total: 1})
	sb.FailNext(1, 503)
	code, body := call(t, sb, "GET", "/payments/p", nil, nil)
	errType(t, code, body, 503, "INTERNAL_SERVER_ERROR")
	if code, _ = call(t, sb, "GET", "/payments/p", nil, nil); code != 200 {
		t.Errorf("after the failure: %d", code)
	}
	r := sb.Requests()
	if len(r) != 2 || r[0].Status != 503 || r[1].Status != 200 || r[0].Path != "/payments/p" || r[0].Method != "GET" {
		t.Errorf("requests %+v", r)
	}
}

// The README's vector from PortOne's SDK tests.
func TestSignedWebhookMatchesPortOne(t *testing.T) {
	body := `{"type":"Transaction.Paid","timestamp":"2024-04-25T10:00:00.000Z","data":{"paymentId":"example-payment-id","storeId":"store-ae356798-3d20-4969-b739-14c6b0e1a667","transactionId":"55451513-9763-4a7a-bb43-78a4c65be843"}}`
	for _, secret := range []string{"pzQGE83cSIRKM4/WH5QY+g==", "whsec_pzQGE83cSIRKM4/WH5QY+g=="} {
		h := sandbox.SignedWebhook(secret, "dummy-webhook-id", time.Unix(1714039200, 0), []byte(body))
		if h.Get("webhook-signature") != "v1,qmNcYHU8w9hP22fshTiuuIP9XZrhl6h0hjCr1zh7DRs=" || h.Get("webhook-id") != "dummy-webhook-id" || h.Get("webhook-timestamp") != "1714039200" {
			t.Errorf("headers %v", h)
		}
	}
}

func TestSendWebhook(t *testing.T) {
	now := time.Date(2027, 3, 1, 9, 30, 0, 0, time.UTC)
	sb := startSandbox(t, sandbox.Config{StoreID: "store-9", Now: func() time.Time { return now }})
	paid := sb.Pay("ord-1", sandbox.PaidWith{Total: 1})
	type delivery struct {
		header http.Header
		body   string
	}
	var mu sync.Mutex
	var got []delivery
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, delivery{r.Header, string(b)})
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	defer app.Close()
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	status, err := sb.SendWebhook(context.Background(), app.URL, secret, "Transaction.Cancelled", "ord-1", "cancel-1")
	if err != nil || status != http.StatusAccepted {
		t.Fatalf("SendWebhook: %d %v", status, err)
	}
	sentAt := now
	for range 2 {
		if _, err := sb.SendWebhookWithID(context.Background(), app.URL, secret, "msg_same", "Transaction.Paid", "ord-1", ""); err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Minute) // a later attempt of the same event
	}
	want := `{"type":"Transaction.Cancelled","timestamp":"2027-03-01T09:30:00.000Z","data":{"paymentId":"ord-1","storeId":"store-9","transactionId":"` + paid.TransactionID + `","cancellationId":"cancel-1"}}`
	if got[0].body != want {
		t.Errorf("body\n%s\nwant\n%s", got[0].body, want)
	}
	h := got[0].header
	if !strings.HasPrefix(h.Get("webhook-id"), "msg_") || h.Get("webhook-timestamp") != strconv.FormatInt(sentAt.Unix(), 10) || h.Get("Content-Type") != "application/json" {
		t.Errorf("headers %v", h)
	}
	if sig := sandbox.SignedWebhook(secret, h.Get("webhook-id"), sentAt, []byte(got[0].body)).Get("webhook-signature"); h.Get("webhook-signature") != sig {
		t.Errorf("signature %s, want %s", h.Get("webhook-signature"), sig)
	}
	// A resend: same id and body, a new attempt timestamp.
	if got[1].body != got[2].body || got[1].header.Get("webhook-id") != "msg_same" || got[2].header.Get("webhook-id") != "msg_same" ||
		got[1].header.Get("webhook-timestamp") == got[2].header.Get("webhook-timestamp") || strings.Contains(got[1].body, "cancellationId") {
		t.Errorf("resends:\n%v\n%v", got[1], got[2])
	}
}
