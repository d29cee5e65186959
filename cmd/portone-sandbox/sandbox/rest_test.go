package sandbox_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/creditd/creditd/cmd/portone-sandbox/sandbox"
)

func TestPaymentsPage(t *testing.T) {
	now := time.Date(2027, 1, 1, 12, 0, 0, 0, time.UTC)
	sb := startSandbox(t, sandbox.Config{Now: func() time.Time { return now }})
	for i, id := range []string{"a", "b", "c", "d", "e"} {
		sb.SetPayment(sandbox.Payment{ID: id, Status: []string{"PAID", "READY", "PAY_PENDING", "PAID", "CANCELLED"}[i], Total: 1,
			RequestedAt: now.Add(time.Duration(i-10) * time.Minute)})
	}
	sb.SetPayment(sandbox.Payment{ID: "old", Status: "PAID", Total: 1, RequestedAt: now.Add(-100 * 24 * time.Hour)})
	page := func(body string) (int, map[string]any) {
		return call(t, sb, "GET", "/payments?requestBody="+url.QueryEscape(body), nil, nil)
	}
	ids := func(p map[string]any) string {
		var out []string
		for _, it := range p["items"].([]any) {
			out = append(out, it.(map[string]any)["id"].(string))
		}
		return strings.Join(out, " ")
	}
	code, p := page(`{"page":{"number":0,"size":2}}`)
	if code != 200 || ids(p) != "e d" || p["page"].(map[string]any)["totalCount"] != json.Number("5") {
		t.Fatalf("first page, newest first: %d %v", code, p)
	}
	if _, p = page(`{"page":{"number":2,"size":2}}`); ids(p) != "a" {
		t.Errorf("last page %v", ids(p))
	}
	if _, p = page(`{"filter":{"status":["PENDING","READY"],"sortOrder":"ASC"}}`); ids(p) != "b c" {
		t.Errorf("PENDING and READY: %v", ids(p))
	}
	if _, p = page(`{"filter":{"from":"2026-01-01T00:00:00Z","until":"2027-01-01T11:52:00Z","sortOrder":"ASC"}}`); ids(p) != "old a b" {
		t.Errorf("a window: %v", ids(p))
	}
	// A real GET body works too.
	if code, p := call(t, sb, "GET", "/payments", map[string]any{"page": map[string]any{"size": 1}}, nil); code != 200 || ids(p) != "e" {
		t.Errorf("with a body: %d %v", code, p)
	}
	for _, bad := range []string{`{"page":{"number":600,"size":100}}`, `{"page":{"size":0}}`, `{"filter":{"status":["PAY_PENDING"]}}`,
		`{"filter":{"from":"yesterday"}}`, `{"filter":{"sortOrder":"UP"}}`} {
		code, body := page(bad)
		errType(t, code, body, 400, "INVALID_REQUEST")
	}
	code, body := page(`{"filter":{"storeId":"store-other"}}`)
	errType(t, code, body, 403, "FORBIDDEN")
}

func TestEscapedPaymentIDs(t *testing.T) {
	sb := startSandbox(t, sandbox.Config{})
	for _, id := range []string{"a/b", "주문 #1", "x%y", "q?r=s"} {
		sb.Pay(id, sandbox.PaidWith{Total: 1000})
		code, p := call(t, sb, "GET", "/payments/"+url.PathEscape(id), nil, nil)
		if code != 200 || p["id"] != id {
			t.Errorf("%q: %d %v", id, code, p["id"])
		}
		if code, body := call(t, sb, "POST", "/payments/"+url.PathEscape(id)+"/cancel", map[string]any{"reason": "r", "amount": 100}, nil); code != 200 {
			t.Errorf("cancel %q: %d %v", id, code, body)
		}
		if p, _ := sb.Payment(id); p.Cancelled != 100 {
			t.Errorf("%q: cancelled %d", id, p.Cancelled)
		}
	}
	if code, _ := call(t, sb, "GET", "/payments/a%2Fb", nil, nil); code != 200 {
		t.Errorf("%%2F: %d", code)
	}
	if r := sb.Requests()[0]; r.Path != "/payments/a%2Fb" {
		t.Errorf("logged path %s", r.Path)
	}
}

// The JS SDK posts JSON with no Content-Type; fetch makes it text/plain.
func TestJSONWhateverTheContentType(t *testing.T) {
	sb := startSandbox(t, sandbox.Config{})
	sb.Pay("p", sandbox.PaidWith{Total: 1000})
	for i, contentType := range []string{"", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "application/json"} {
		req, _ := http.NewRequest("POST", sb.URL+"/payments/p/cancel", bytes.NewBufferString(`{"reason":"r","amount":100}`))
		req.Header.Set("Authorization", "PortOne "+sb.APISecret)
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		} else {
			req.Header["Content-Type"] = nil
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("Content-Type %q: %d", contentType, resp.StatusCode)
		}
		if p, _ := sb.Payment("p"); p.Cancelled != int64(100*(i+1)) {
			t.Errorf("Content-Type %q: cancelled %d", contentType, p.Cancelled)
		}
	}
}

func TestCancelTaxFreeRules(t *testing.T) {
	sb := startSandbox(t, sandbox.Config{})
	sb.Pay("p", sandbox.PaidWith{Total: 10000, TaxFree: 2000})
	for _, tt := range []struct {
		name     string
		body     map[string]any
		status   int
		wantType string
	}{
		{"tax-free above the amount", map[string]any{"reason": "r", "amount": 1000, "taxFreeAmount": 1500}, 409, "SUM_OF_PARTS_EXCEEDS_CANCEL_AMOUNT"},
		{"parts above the amount", map[string]any{"reason": "r", "amount": 1000, "taxFreeAmount": 500, "vatAmount": 600}, 409, "SUM_OF_PARTS_EXCEEDS_CANCEL_AMOUNT"},
		{"more tax-free than is left", map[string]any{"reason": "r", "amount": 3000, "taxFreeAmount": 2500}, 409, "CANCEL_TAX_FREE_AMOUNT_EXCEEDS_CANCELLABLE_TAX_FREE_AMOUNT"},
		{"more taxable than is left", map[string]any{"reason": "r", "amount": 9000, "taxFreeAmount": 0}, 409, "CANCEL_TAX_AMOUNT_EXCEEDS_CANCELLABLE_TAX_AMOUNT"},
		{"a negative amount", map[string]any{"reason": "r", "amount": -1}, 400, "INVALID_REQUEST"},
		{"skipWebhook not a boolean", map[string]any{"reason": "r", "skipWebhook": "yes"}, 400, "INVALID_REQUEST"},
		{"part tax-free", map[string]any{"reason": "r", "amount": 3000, "taxFreeAmount": 1000}, 200, ""},
	} {
		code, body := call(t, sb, "POST", "/payments/p/cancel", tt.body, nil)
		if code != tt.status || (tt.wantType != "" && body["type"] != tt.wantType) {
			t.Errorf("%s: %d %v, want %d %s", tt.name, code, body, tt.status, tt.wantType)
		}
		if tt.status == 200 {
			c := body["cancellation"].(map[string]any)
			if c["taxFreeAmount"] != json.Number("1000") || c["vatAmount"] != json.Number("181") || c["totalAmount"] != json.Number("3000") {
				t.Errorf("cancellation %v", c)
			}
		}
	}
	// Cancelling the rest takes the rest of the tax-free part with it.
	if code, body := call(t, sb, "POST", "/payments/p/cancel", map[string]any{"reason": "r"}, nil); code != 200 {
		t.Fatalf("%d %v", code, body)
	}
	_, p := call(t, sb, "GET", "/payments/p", nil, nil)
	amount := p["amount"].(map[string]any)
	if p["status"] != "CANCELLED" || amount["cancelled"] != json.Number("10000") || amount["cancelledTaxFree"] != json.Number("2000") ||
		amount["taxFree"] != json.Number("2000") || amount["vat"] != json.Number("727") {
		t.Errorf("payment %v", p)
	}
}

func TestStateSurvivesSaveAndLoad(t *testing.T) {
	sb := startSandbox(t, sandbox.Config{})
	sb.Pay("a", sandbox.PaidWith{Total: 1000, OrderName: "o"})
	if _, err := sb.CancelFromConsole("a", 100); err != nil {
		t.Fatal(err)
	}
	sb.IssueVirtualAccount("b", sandbox.PaidWith{Total: 500})
	call(t, sb, "POST", "/payments/c/pre-register", map[string]any{"totalAmount": 7, "currency": "KRW"}, nil)
	sb.EnforcePreRegistration(false)
	var saved bytes.Buffer
	if err := sb.SaveState(&saved); err != nil {
		t.Fatal(err)
	}
	again := startSandbox(t, sandbox.Config{})
	if err := again.LoadState(bytes.NewReader(saved.Bytes())); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a", "b"} {
		_, before := call(t, sb, "GET", "/payments/"+id, nil, nil)
		_, after := call(t, again, "GET", "/payments/"+id, nil, nil)
		b1, _ := json.Marshal(before)
		b2, _ := json.Marshal(after)
		if !bytes.Equal(b1, b2) {
			t.Errorf("%s before\n%s\nafter\n%s", id, b1, b2)
		}
	}
	if total, _, ok := again.PreRegistered("c"); !ok || total != 7 {
		t.Errorf("pre-registration lost")
	}
	// The order of creation survives: a new payment lists after the loaded ones.
	again.Pay("d", sandbox.PaidWith{Total: 1})
	if list := again.Payments(); len(list) != 3 || !strings.Contains(string(list[0].Payment), `"id":"d"`) {
		t.Errorf("listing after a load: %d", len(list))
	}
	if p := again.Pay("c", sandbox.PaidWith{Total: 1}); p.Status != "PAID" {
		t.Errorf("enforcement was off when saved: %s", p.Status)
	}
	if err := again.LoadState(strings.NewReader(`{"version":99}`)); err == nil {
		t.Error("a state of another version loaded")
	}
}
