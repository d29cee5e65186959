package sandbox_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/creditd/creditd/cmd/portone-sandbox/sandbox"
)

// browser posts as the browser SDK and the payment window do: no auth.
func browser(t *testing.T, sb *sandbox.Server, method, path, body string) (int, map[string]any, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, sb.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Origin", "https://shop.example")
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8") // what fetch sends for a string body
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: %d %q is not JSON", method, path, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode, out, resp.Header
}

func checkoutRequest(paymentID string, total int) string {
	b, _ := json.Marshal(map[string]any{"storeId": sandbox.DefaultStoreID, "channelKey": sandbox.DefaultChannelKey, "paymentId": paymentID,
		"orderName": "100 credits", "totalAmount": total, "currency": "CURRENCY_KRW", "payMethod": "CARD",
		"customData": map[string]any{"creditdOrder": paymentID}, "customer": map[string]any{"fullName": "홍길동"},
		"windowType": map[string]any{"pc": "IFRAME"}}) // unknown fields are ignored
	return string(b)
}

// startCheckout opens the payment window and returns the checkout's id.
func startCheckout(t *testing.T, sb *sandbox.Server, paymentID string, total int) string {
	t.Helper()
	code, body, h := browser(t, sb, "POST", "/checkout", checkoutRequest(paymentID, total))
	if code != 200 || h.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("checkout: %d %v %v", code, body, h)
	}
	id := body["checkoutId"].(string)
	if body["checkoutUrl"] != sb.URL+"/checkout/"+id || len(id) != 36 {
		t.Fatalf("checkout %v", body)
	}
	return id
}

func outcome(t *testing.T, sb *sandbox.Server, checkoutID, body string) (int, map[string]any) {
	t.Helper()
	code, out, _ := browser(t, sb, "POST", "/checkout/"+checkoutID+"/outcome", body)
	return code, out
}

func TestCheckoutPaidByCard(t *testing.T) {
	rc := newReceiver(t, always(http.StatusOK))
	sb := startSandbox(t, sandbox.Config{WebhookURL: rc.URL, WebhookSecrets: []string{testWebhookSecret}})
	call(t, sb, "POST", "/payments/ord-1/pre-register", map[string]any{"totalAmount": 10000, "currency": "KRW"}, nil)
	id := startCheckout(t, sb, "ord-1", 10000)
	if p := mustPayment(t, sb, "ord-1"); p.Status != "READY" || p.CustomData != `{"creditdOrder":"ord-1"}` || p.Customer.Name != "홍길동" || p.Currency != "KRW" {
		t.Fatalf("payment %+v", p)
	}
	code, d, _ := browser(t, sb, "GET", "/checkout/"+id+"/details", "")
	if code != 200 || d["paymentId"] != "ord-1" || d["totalAmount"] != 10000.0 || d["currency"] != "KRW" || d["payMethod"] != "CARD" ||
		d["preRegistrationEnforced"] != true || d["status"] != "READY" || d["preRegistered"].(map[string]any)["totalAmount"] != 10000.0 {
		t.Fatalf("details %d %v", code, d)
	}
	code, result := outcome(t, sb, id, `{"outcome":"card"}`)
	p := mustPayment(t, sb, "ord-1")
	if code != 200 || result["transactionType"] != "PAYMENT" || result["paymentId"] != "ord-1" || result["txId"] != p.TransactionID || result["code"] != nil {
		t.Fatalf("result %d %v", code, result)
	}
	if p.Status != "PAID" || p.Paid != 10000 {
		t.Fatalf("payment %+v", p)
	}
	waitFor(t, "Transaction.Paid", func() bool { return len(rc.deliveries()) == 1 })
	if ev := verify(t, []string{testWebhookSecret}, rc.deliveries()[0]); ev.Type != "Transaction.Paid" {
		t.Errorf("event %+v", ev)
	}
	if code, again := outcome(t, sb, id, `{"outcome":"card"}`); code != 409 || again["code"] != "PaymentAlreadyPaid" {
		t.Errorf("a second outcome: %d %v", code, again)
	}
	if code, body, _ := browser(t, sb, "POST", "/checkout", checkoutRequest("ord-1", 10000)); code != 400 || body["code"] != "PaymentAlreadyPaid" {
		t.Errorf("a checkout of a paid payment: %d %v", code, body)
	}
}

func TestCheckoutVirtualAccountThenDeposit(t *testing.T) {
	sb := startSandbox(t, sandbox.Config{})
	id := startCheckout(t, sb, "ord-va", 5000)
	code, result := outcome(t, sb, id, `{"outcome":"virtual-account"}`)
	if code != 200 || result["code"] != nil {
		t.Fatalf("%d %v", code, result)
	}
	p := mustPayment(t, sb, "ord-va")
	if p.Status != "VIRTUAL_ACCOUNT_ISSUED" || p.VirtualAccount == nil || p.VirtualAccount.AccountNumber == "" ||
		p.VirtualAccount.ExpiredAt.Sub(p.VirtualAccount.IssuedAt).Hours() != 72 {
		t.Fatalf("payment %+v", p)
	}
	if code, _ := control(t, sb, "POST", "/sandbox/payments/ord-va/deposit", ""); code != 200 {
		t.Fatal(code)
	}
	if p := mustPayment(t, sb, "ord-va"); p.Status != "PAID" {
		t.Fatalf("after the deposit: %s", p.Status)
	}
}

func TestCheckoutFailsThenARetryPays(t *testing.T) {
	sb := startSandbox(t, sandbox.Config{})
	id := startCheckout(t, sb, "ord-f", 5000)
	code, result := outcome(t, sb, id, `{"outcome":"fail"}`)
	if code != 200 || result["code"] != "FAILURE_TYPE_PG" || result["pgCode"] == nil || result["pgMessage"] == nil || result["message"] == nil {
		t.Fatalf("%d %v", code, result)
	}
	if p := mustPayment(t, sb, "ord-f"); p.Status != "FAILED" || p.Failure.PgCode == "" {
		t.Fatalf("payment %+v", p)
	}
	retry := startCheckout(t, sb, "ord-f", 5000)
	if p := mustPayment(t, sb, "ord-f"); p.Status != "READY" {
		t.Fatalf("the retry's payment is %s", p.Status)
	}
	if code, result := outcome(t, sb, retry, `{"outcome":"card"}`); code != 200 || result["code"] != nil {
		t.Fatalf("%d %v", code, result)
	}
	var history []string
	for _, h := range mustPayment(t, sb, "ord-f").History {
		history = append(history, h.Status)
	}
	if strings.Join(history, " ") != "READY FAILED READY PAID" {
		t.Errorf("history %v", history)
	}
}

func TestCheckoutOfADifferentAmount(t *testing.T) {
	sb := startSandbox(t, sandbox.Config{})
	call(t, sb, "POST", "/payments/ord-x/pre-register", map[string]any{"totalAmount": 10000, "currency": "KRW"}, nil)
	id := startCheckout(t, sb, "ord-x", 10000)
	code, result := outcome(t, sb, id, `{"outcome":"different-amount","amount":100}`)
	if code != 200 || result["code"] != "AmountNotEqualToPredefined" || result["txId"] == nil {
		t.Fatalf("enforced: %d %v", code, result)
	}
	if p := mustPayment(t, sb, "ord-x"); p.Status != "FAILED" || p.Total != 100 {
		t.Fatalf("enforced: payment %+v", p)
	}

	control(t, sb, "PUT", "/sandbox/pre-registration", `{"enforced":false}`)
	id = startCheckout(t, sb, "ord-x", 10000)
	code, result = outcome(t, sb, id, `{"outcome":"different-amount","amount":100}`)
	if code != 200 || result["code"] != nil {
		t.Fatalf("not enforced: %d %v", code, result)
	}
	if p := mustPayment(t, sb, "ord-x"); p.Status != "PAID" || p.Total != 100 || p.Paid != 100 {
		t.Fatalf("not enforced: payment %+v", p)
	}
	id = startCheckout(t, sb, "ord-y", 10000)
	if code, result := outcome(t, sb, id, `{"outcome":"different-amount"}`); code != 400 || result["code"] != "InvalidArgument" {
		t.Errorf("no amount: %d %v", code, result)
	}
}

func TestCheckoutRefusesBadRequests(t *testing.T) {
	sb := startSandbox(t, sandbox.Config{})
	good := map[string]any{}
	_ = json.Unmarshal([]byte(checkoutRequest("ord-1", 1000)), &good)
	for name, change := range map[string]func(m map[string]any){
		"another store":     func(m map[string]any) { m["storeId"] = "store-other" },
		"another channel":   func(m map[string]any) { m["channelKey"] = "channel-other" },
		"no paymentId":      func(m map[string]any) { delete(m, "paymentId") },
		"no orderName":      func(m map[string]any) { delete(m, "orderName") },
		"a fraction":        func(m map[string]any) { m["totalAmount"] = 10.5 },
		"zero":              func(m map[string]any) { m["totalAmount"] = 0 },
		"an amount text":    func(m map[string]any) { m["totalAmount"] = "1000" },
		"no currency":       func(m map[string]any) { delete(m, "currency") },
		"a bad currency":    func(m map[string]any) { m["currency"] = "won" },
		"no payMethod":      func(m map[string]any) { delete(m, "payMethod") },
		"a customData list": func(m map[string]any) { m["customData"] = []any{1} },
	} {
		m := map[string]any{}
		for k, v := range good {
			m[k] = v
		}
		change(m)
		b, _ := json.Marshal(m)
		code, body, _ := browser(t, sb, "POST", "/checkout", string(b))
		if name == "a customData list" { // stored as JSON text, as PortOne does with an object
			if code != 200 {
				t.Errorf("%s: %d %v", name, code, body)
			}
			continue
		}
		if code != 400 || body["code"] != "InvalidArgument" || body["message"] == "" {
			t.Errorf("%s: %d %v", name, code, body)
		}
	}
	if code, body, _ := browser(t, sb, "POST", "/checkout", "not json"); code != 400 || body["code"] != "InvalidArgument" {
		t.Errorf("not JSON: %d %v", code, body)
	}
	if code, body, _ := browser(t, sb, "GET", "/checkout/00000000-0000-0000-0000-000000000000/details", ""); code != 404 || body["code"] != "CheckoutNotFound" {
		t.Errorf("unknown checkout: %d %v", code, body)
	}
}

func TestBrowserAssetsAndPreflight(t *testing.T) {
	sb := startSandbox(t, sandbox.Config{})
	for path, contentType := range map[string]string{
		"/v2/browser-sdk.js": "application/javascript", "/checkout/abc": "text/html", "/sandbox/": "text/html", "/static/style.css": "text/css",
	} {
		resp, err := http.Get(sb.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), contentType) || len(b) == 0 {
			t.Errorf("%s: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if path == "/v2/browser-sdk.js" && resp.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("the SDK without CORS")
		}
	}
	for _, path := range []string{"/checkout", "/checkout/abc/outcome", "/checkout/abc/details"} {
		req, _ := http.NewRequest("OPTIONS", sb.URL+path, nil)
		req.Header.Set("Origin", "https://shop.example")
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "content-type")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 || resp.Header.Get("Access-Control-Allow-Origin") != "*" ||
			!strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "POST") || !strings.Contains(strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers")), "content-type") {
			t.Errorf("preflight %s: %d %v", path, resp.StatusCode, resp.Header)
		}
	}
}
