package sandbox_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/creditd/creditd/cmd/portone-sandbox/sandbox"
)

func payParams(merchantUID string, amount any) map[string]any {
	return map[string]any{"pg": "html5_inicis", "pay_method": "card", "merchant_uid": merchantUID, "name": "100 credits",
		"amount": amount, "currency": "KRW", "buyer_name": "홍길동", "buyer_email": "buyer@example.com", "buyer_tel": "010-1234-5678",
		"custom_data": map[string]any{"creditdOrder": merchantUID}, "m_redirect_url": "https://shop.example/done"} // the library's: ignored
}

// v1checkout posts as iamport.js does and returns the answer.
func v1checkout(t *testing.T, sb *sandbox.Server, impCode string, params any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"impCode": impCode, "params": params})
	code, out, _ := browser(t, sb, "POST", "/v1/checkout", string(b))
	return code, out
}

// startV1Checkout opens a V1 payment window and returns its checkout id and imp_uid.
func startV1Checkout(t *testing.T, sb *sandbox.Server, params map[string]any) (string, string) {
	t.Helper()
	code, out := v1checkout(t, sb, sb.V1IMPCode, params)
	if code != 200 {
		t.Fatalf("V1 checkout: %d %v", code, out)
	}
	id, _ := out["checkoutId"].(string)
	if out["checkoutUrl"] != sb.URL+"/checkout/"+id || !strings.HasPrefix(out["impUid"].(string), "imp_") {
		t.Fatalf("V1 checkout %v", out)
	}
	return id, out["impUid"].(string)
}

func TestV1CheckoutPaidByCard(t *testing.T) {
	rc := newReceiver(t, always(http.StatusOK))
	sb := startSandbox(t, sandbox.Config{V1WebhookURL: rc.URL})
	okV1(t)(v1call(t, sb, "POST", "/payments/prepare", map[string]any{"merchant_uid": "ord-1", "amount": 10000}, v1token(t, sb)))
	id, impUID := startV1Checkout(t, sb, payParams("ord-1", 10000))
	p := mustPayment(t, sb, "ord-1")
	if p.Status != "READY" || p.Version != "V1" || p.ImpUID != impUID || p.Total != 10000 || p.OrderName != "100 credits" ||
		p.CustomData != `{"creditdOrder":"ord-1"}` || p.Customer.Name != "홍길동" || p.Customer.PhoneNumber != "010-1234-5678" {
		t.Fatalf("payment %+v", p)
	}
	code, d, _ := browser(t, sb, "GET", "/checkout/"+id+"/details", "")
	if code != 200 || d["api"] != "V1" || d["impUid"] != impUID || d["paymentId"] != "ord-1" || d["payMethod"] != "card" || d["totalAmount"] != 10000.0 {
		t.Fatalf("details %d %v", code, d)
	}
	code, rsp := outcome(t, sb, id, `{"outcome":"card"}`)
	if code != 200 || rsp["success"] != true || rsp["imp_uid"] != impUID || rsp["merchant_uid"] != "ord-1" || rsp["paid_amount"] != 10000.0 ||
		rsp["status"] != "paid" || rsp["pay_method"] != "card" || rsp["currency"] != "KRW" || rsp["name"] != "100 credits" ||
		rsp["custom_data"] != `{"creditdOrder":"ord-1"}` || rsp["paid_at"] == nil || rsp["error_code"] != nil {
		t.Fatalf("rsp %d %v", code, rsp)
	}
	waitFor(t, "the V1 webhook", func() bool { return len(rc.deliveries()) == 1 })
	if n := v1notices(t, rc); n[0] != (sandbox.V1Notice{ImpUID: impUID, MerchantUID: "ord-1", Status: "paid"}) {
		t.Errorf("webhook %+v", n)
	}
	// V1's API shows the payment the window made.
	got := okV1(t)(v1call(t, sb, "GET", "/payments/"+impUID, nil, v1token(t, sb)))
	if got["status"] != "paid" || got["amount"] != json.Number("10000") {
		t.Errorf("V1's API: %v", got)
	}
	if code, out := outcome(t, sb, id, `{"outcome":"card"}`); code != 409 {
		t.Errorf("a second outcome: %d %v", code, out)
	}
	if code, out := v1checkout(t, sb, sb.V1IMPCode, payParams("ord-1", 10000)); code != 400 || out["code"] != "PaymentAlreadyPaid" {
		t.Errorf("paying a paid merchant_uid again: %d %v", code, out)
	}
}

func TestV1CheckoutVirtualAccountFailureAndDifferentAmount(t *testing.T) {
	rc := newReceiver(t, always(http.StatusOK))
	sb := startSandbox(t, sandbox.Config{V1WebhookURL: rc.URL})
	id, impUID := startV1Checkout(t, sb, payParams("va", 5000))
	code, rsp := outcome(t, sb, id, `{"outcome":"virtual-account"}`)
	if code != 200 || rsp["success"] != true || rsp["imp_uid"] != impUID || rsp["status"] != "ready" || rsp["pay_method"] != "vbank" ||
		rsp["vbank_num"] == nil || rsp["vbank_name"] != "신한은행" || rsp["vbank_holder"] == nil || rsp["vbank_date"] == nil {
		t.Fatalf("vbank rsp %d %v", code, rsp)
	}

	id, impUID = startV1Checkout(t, sb, payParams("declined", 5000))
	code, rsp = outcome(t, sb, id, `{"outcome":"fail"}`)
	if code != 200 || rsp["success"] != false || rsp["imp_uid"] != impUID || rsp["merchant_uid"] != "declined" ||
		rsp["error_code"] == nil || rsp["error_msg"] == nil || rsp["paid_amount"] != nil {
		t.Fatalf("fail rsp %d %v", code, rsp)
	}

	tok := v1token(t, sb)
	okV1(t)(v1call(t, sb, "POST", "/payments/prepare", map[string]any{"merchant_uid": "tampered", "amount": 5000}, tok))
	id, _ = startV1Checkout(t, sb, payParams("tampered", 5000))
	code, rsp = outcome(t, sb, id, `{"outcome":"different-amount","amount":100}`)
	if code != 200 || rsp["success"] != false || rsp["error_code"] != "AmountNotEqualToPredefined" || !strings.Contains(rsp["error_msg"].(string), "사전 등록") {
		t.Fatalf("tampered, pre-registered: %d %v", code, rsp)
	}
	if p := mustPayment(t, sb, "tampered"); p.Status != "FAILED" {
		t.Fatalf("tampered payment %+v", p)
	}
	sb.EnforcePreRegistration(false)
	id, _ = startV1Checkout(t, sb, payParams("tampered", 5000)) // a failed attempt may be paid again
	code, rsp = outcome(t, sb, id, `{"outcome":"different-amount","amount":100}`)
	if code != 200 || rsp["success"] != true || rsp["paid_amount"] != 100.0 {
		t.Fatalf("tampered, not enforced: %d %v", code, rsp)
	}

	// Only the vbank issued and the tampered payment paid are announced.
	waitFor(t, "two webhooks", func() bool { return len(rc.deliveries()) == 2 })
	time.Sleep(50 * time.Millisecond)
	if n := v1notices(t, rc); len(n) != 2 || !containsNotice(n, sandbox.V1Notice{ImpUID: mustPayment(t, sb, "va").ImpUID, MerchantUID: "va", Status: "ready"}) {
		t.Errorf("webhooks %+v", n)
	}
}

func TestV1CheckoutNoticeURL(t *testing.T) {
	console := newReceiver(t, always(http.StatusOK))
	notice := newReceiver(t, always(http.StatusOK))
	sb := startSandbox(t, sandbox.Config{V1WebhookURL: console.URL})
	params := payParams("ord-1", 1000)
	params["notice_url"] = notice.URL + "/hook?x=1"
	id, _ := startV1Checkout(t, sb, params)
	outcome(t, sb, id, `{"outcome":"card"}`)
	waitFor(t, "the notice", func() bool { return len(notice.deliveries()) == 1 })
	if len(console.deliveries()) != 0 || mustPayment(t, sb, "ord-1").NoticeURL != notice.URL+"/hook?x=1" {
		t.Errorf("the console URL got %d", len(console.deliveries()))
	}
}

func TestV1CheckoutRefusesBadRequests(t *testing.T) {
	sb := startSandbox(t, sandbox.Config{})
	if code, out := v1checkout(t, sb, "imp12345678", payParams("ord-1", 1000)); code != 400 || out["code"] != "UnknownImpCode" ||
		!strings.Contains(out["message"].(string), `IMP.init("imp12345678")`) || !strings.Contains(out["message"].(string), sb.V1IMPCode) {
		t.Errorf("another store's imp code: %d %v", code, out)
	}
	if code, out := v1checkout(t, sb, strings.Repeat("i", 100_000), payParams("ord-1", 1000)); code != 400 || len(out["message"].(string)) > 200 {
		t.Errorf("a huge imp code: %d, message of %d bytes", code, len(out["message"].(string)))
	}
	for name, change := range map[string]func(m map[string]any){
		"no merchant_uid":        func(m map[string]any) { delete(m, "merchant_uid") },
		"a huge merchant_uid":    func(m map[string]any) { m["merchant_uid"] = strings.Repeat("x", 257) },
		"a NUL in merchant_uid":  func(m map[string]any) { m["merchant_uid"] = "ord\x00-1" },
		"a newline in it":        func(m map[string]any) { m["merchant_uid"] = "ord\n-1" },
		"a merchant_uid number":  func(m map[string]any) { m["merchant_uid"] = 12 },
		"no amount":              func(m map[string]any) { delete(m, "amount") },
		"an amount text":         func(m map[string]any) { m["amount"] = "1000" },
		"a fraction":             func(m map[string]any) { m["amount"] = 10.5 },
		"zero":                   func(m map[string]any) { m["amount"] = 0 },
		"a negative amount":      func(m map[string]any) { m["amount"] = -1000 },
		"a huge amount":          func(m map[string]any) { m["amount"] = 1e30 },
		"a bad currency":         func(m map[string]any) { m["currency"] = "won" },
		"no pay_method":          func(m map[string]any) { delete(m, "pay_method") },
		"a made-up pay_method":   func(m map[string]any) { m["pay_method"] = "<script>" },
		"a notice_url of ftp":    func(m map[string]any) { m["notice_url"] = "ftp://shop.example/hook" },
		"a javascript: URL":      func(m map[string]any) { m["notice_url"] = "javascript:alert(1)" },
		"a relative notice_url":  func(m map[string]any) { m["notice_url"] = "/hook" },
		"a huge notice_url":      func(m map[string]any) { m["notice_url"] = "https://shop.example/" + strings.Repeat("a", 3000) },
		"a notice_url list":      func(m map[string]any) { m["notice_url"] = []string{"https://shop.example/hook"} },
		"a control in buyer_tel": func(m map[string]any) { m["buyer_tel"] = "010\r\n1234" },
	} {
		m := payParams("ord-1", 1000)
		change(m)
		code, out := v1checkout(t, sb, sb.V1IMPCode, m)
		if code != 400 || out["code"] != "InvalidArgument" || out["message"] == "" {
			t.Errorf("%s: %d %v", name, code, out)
		}
	}
	for name, body := range map[string]string{
		"not JSON": "not json", "no params": `{"impCode":"imp00000000"}`, "params a list": `{"impCode":"imp00000000","params":[1]}`,
	} {
		if code, out, _ := browser(t, sb, "POST", "/v1/checkout", body); code != 400 || out["code"] != "InvalidArgument" {
			t.Errorf("%s: %d %v", name, code, out)
		}
	}
	if n := len(sb.Payments()); n != 0 {
		t.Errorf("refused requests made %d payments", n)
	}
	// What is optional: currency (KRW), pg, buyer_*, name, custom_data.
	code, out := v1checkout(t, sb, sb.V1IMPCode, map[string]any{"pay_method": "vbank", "merchant_uid": "ord-min", "amount": 1000})
	if p := mustPayment(t, sb, "ord-min"); code != 200 || p.Currency != "KRW" || p.Version != "V1" {
		t.Errorf("a minimal request: %d %v, payment %+v", code, out, p)
	}
}

func TestV1LibraryServed(t *testing.T) {
	sb := startSandbox(t, sandbox.Config{})
	for path, defines := range map[string]string{"/v1/iamport.js": "window.IMP = IMP", "/v2/browser-sdk.js": "window.PortOne = PortOne"} {
		resp, err := http.Get(sb.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		js := string(b)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/javascript") ||
			resp.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("%s: %d %v", path, resp.StatusCode, resp.Header)
		}
		// One function around the shared window and the library, so that only the library's global leaks.
		if !strings.HasPrefix(js, "(function () {\n\"use strict\";\n") || !strings.HasSuffix(js, "})();\n") ||
			!strings.Contains(js, "function openPaymentWindow(") || !strings.Contains(js, defines) {
			t.Errorf("%s is not the window and the library in one function:\n%.300s", path, js)
		}
	}
	req, _ := http.NewRequest("OPTIONS", sb.URL+"/v1/checkout", nil)
	req.Header.Set("Origin", "https://shop.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 || resp.Header.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Content-Type") {
		t.Errorf("preflight of /v1/checkout: %d %v", resp.StatusCode, resp.Header)
	}
}
