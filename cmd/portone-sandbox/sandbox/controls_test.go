package sandbox_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/creditd/creditd/cmd/portone-sandbox/sandbox"
)

// control calls one of the /sandbox/ controls (no auth) and decodes its answer.
func control(t *testing.T, sb *sandbox.Server, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, sb.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&out); err != nil {
		t.Fatalf("%s %s: %d %q is not a JSON object", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode, out
}

func webhookIDs(rc *receiver) []string {
	var ids []string
	for _, d := range rc.deliveries() {
		ids = append(ids, d.header.Get("webhook-id"))
	}
	return ids
}

func paymentIDsOf(t *testing.T, rc *receiver) []string {
	t.Helper()
	var ids []string
	for _, d := range rc.deliveries() {
		var body struct {
			Data struct {
				PaymentID string `json:"paymentId"`
			} `json:"data"`
		}
		if err := json.Unmarshal([]byte(d.body), &body); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, body.Data.PaymentID)
	}
	return ids
}

func TestWebhookFaultsDropDuplicateHoldAndReorder(t *testing.T) {
	rc := newReceiver(t, always(http.StatusOK))
	sb := startSandbox(t, sandbox.Config{WebhookURL: rc.URL, WebhookSecrets: []string{testWebhookSecret}})
	w := sandbox.PaidWith{Total: 1000}

	if code, body := control(t, sb, "PUT", "/sandbox/faults", `{"webhooks":{"drop":1}}`); code != 200 {
		t.Fatalf("%d %v", code, body)
	}
	sb.Pay("dropped", w)
	sb.Pay("sent", w)
	waitFor(t, "the second event", func() bool { return len(rc.deliveries()) == 1 })
	if ids := paymentIDsOf(t, rc); ids[0] != "sent" {
		t.Fatalf("delivered %v", ids)
	}
	_, list := control(t, sb, "GET", "/sandbox/payments", "")
	if dropped := list["droppedWebhooks"].([]any); len(dropped) != 1 || dropped[0].(map[string]any)["paymentId"] != "dropped" {
		t.Errorf("dropped %v", list["droppedWebhooks"])
	}

	control(t, sb, "PUT", "/sandbox/faults", `{"webhooks":{"duplicate":2}}`)
	sb.Pay("twice", w)
	waitFor(t, "three sends of one event", func() bool { return len(rc.deliveries()) == 4 })
	if ids := webhookIDs(rc); ids[1] != ids[2] || ids[2] != ids[3] {
		t.Errorf("webhook-ids %v: duplicates share one", ids)
	}

	control(t, sb, "PUT", "/sandbox/faults", `{"webhooks":{"duplicate":0,"hold":true}}`)
	for _, id := range []string{"first", "second", "third"} {
		sb.Pay(id, w)
	}
	time.Sleep(50 * time.Millisecond)
	if n := len(rc.deliveries()); n != 4 {
		t.Fatalf("%d deliveries while held", n)
	}
	code, released := control(t, sb, "POST", "/sandbox/webhooks/release", `{"order":"reverse"}`)
	if code != 200 || released["released"] != json.Number("3") {
		t.Fatalf("release: %d %v", code, released)
	}
	waitFor(t, "the released events", func() bool { return len(rc.deliveries()) == 7 })
	if ids := paymentIDsOf(t, rc)[4:]; strings.Join(ids, " ") != "third second first" {
		t.Errorf("released in the order %v, want reversed", ids)
	}
	// Still holding until healed; healing releases what is held, in order.
	sb.Pay("fourth", w)
	sb.Pay("fifth", w)
	if code, _ := control(t, sb, "DELETE", "/sandbox/faults", ""); code != 200 {
		t.Fatal(code)
	}
	waitFor(t, "healed", func() bool { return len(rc.deliveries()) == 9 })
	if ids := paymentIDsOf(t, rc)[7:]; strings.Join(ids, " ") != "fourth fifth" {
		t.Errorf("after healing %v", ids)
	}
	if code, body := control(t, sb, "PUT", "/sandbox/faults", `{"webhooks":{"drop":-1}}`); code != 400 || body["type"] != "INVALID_REQUEST" {
		t.Errorf("a negative drop: %d %v", code, body)
	}
}

func TestAPIFaultsFailAndDelay(t *testing.T) {
	sb := startSandbox(t, sandbox.Config{})
	sb.Pay("p", sandbox.PaidWith{Total: 1})
	control(t, sb, "PUT", "/sandbox/faults", `{"api":{"failNext":2,"status":503}}`)
	for range 2 {
		code, body := call(t, sb, "GET", "/payments/p", nil, nil)
		errType(t, code, body, 503, "INTERNAL_SERVER_ERROR")
	}
	if code, _ := call(t, sb, "GET", "/payments/p", nil, nil); code != 200 {
		t.Errorf("after the failures: %d", code)
	}
	control(t, sb, "PUT", "/sandbox/faults", `{"api":{"latency":"200ms"}}`)
	start := time.Now()
	call(t, sb, "GET", "/payments/p", nil, nil)
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("answered in %s with 200ms latency", d)
	}
	control(t, sb, "DELETE", "/sandbox/faults", "")
	start = time.Now()
	call(t, sb, "GET", "/payments/p", nil, nil)
	if d := time.Since(start); d >= 200*time.Millisecond {
		t.Errorf("answered in %s once healed", d)
	}
	control(t, sb, "PUT", "/sandbox/faults", `{"api":{"failNext":1}}`)
	code, _ := call(t, sb, "GET", "/payments/p", nil, nil)
	if code != 500 {
		t.Errorf("default injected status %d, want 500", code)
	}
	if code, _ := control(t, sb, "PUT", "/sandbox/faults", `{"api":{"latency":"soon"}}`); code != 400 {
		t.Errorf("a bad latency: %d", code)
	}
}

func TestPaymentControls(t *testing.T) {
	rc := newReceiver(t, always(http.StatusOK))
	sb := startSandbox(t, sandbox.Config{WebhookURL: rc.URL, WebhookSecrets: []string{testWebhookSecret}})
	sb.IssueVirtualAccount("va/1", sandbox.PaidWith{Total: 3000})
	code, p := control(t, sb, "POST", "/sandbox/payments/va%2F1/deposit", "")
	if code != 200 || p["status"] != "PAID" {
		t.Fatalf("deposit: %d %v", code, p)
	}
	if code, body := control(t, sb, "POST", "/sandbox/payments/va%2F1/deposit", ""); code != 409 {
		t.Errorf("a second deposit: %d %v", code, body)
	}
	code, c := control(t, sb, "POST", "/sandbox/payments/va%2F1/console-cancel", `{"amount":1000,"reason":"고객 변심"}`)
	cancellation, _ := c["cancellation"].(map[string]any)
	if code != 200 || cancellation["trigger"] != "CONSOLE" || cancellation["reason"] != "고객 변심" || cancellation["totalAmount"] != json.Number("1000") {
		t.Fatalf("console cancel: %d %v", code, c)
	}
	if code, body := control(t, sb, "POST", "/sandbox/payments/va%2F1/console-cancel", `{"amount":-5}`); code != 400 {
		t.Errorf("a negative console cancel: %d %v", code, body)
	}
	if code, body := control(t, sb, "POST", "/sandbox/payments/nope/console-cancel", ""); code != 409 {
		t.Errorf("a console cancel of nothing: %d %v", code, body)
	}
	waitFor(t, "three events", func() bool { return len(rc.deliveries()) == 3 })
	if code, _ := control(t, sb, "POST", "/sandbox/payments/va%2F1/webhooks/resend", ""); code != 200 {
		t.Fatalf("resend: %d", code)
	}
	waitFor(t, "the resend, recorded", func() bool { return len(mustPayment(t, sb, "va/1").Webhooks) == 4 })
	// The resend is the last event (the cancellation) again, under its webhook-id.
	cancelID := ""
	for _, d := range rc.deliveries() {
		if strings.Contains(d.body, "Transaction.PartialCancelled") {
			if cancelID != "" && d.header.Get("webhook-id") != cancelID {
				t.Errorf("the resend has webhook-id %s, the event %s", d.header.Get("webhook-id"), cancelID)
			}
			cancelID = d.header.Get("webhook-id")
		}
	}
	manual := 0
	for _, a := range mustPayment(t, sb, "va/1").Webhooks {
		if a.Trigger == "MANUAL" && a.ID == cancelID {
			manual++
		}
	}
	if manual != 1 {
		t.Errorf("resend recorded %d times", manual)
	}

	sb.Pay("later", sandbox.PaidWith{Total: 1})
	_, list := control(t, sb, "GET", "/sandbox/payments", "")
	payments := list["payments"].([]any)
	first := payments[0].(map[string]any)
	if len(payments) != 2 || first["payment"].(map[string]any)["id"] != "later" {
		t.Fatalf("not newest first: %v", payments)
	}
	second := payments[1].(map[string]any)
	var history []string
	for _, h := range second["history"].([]any) {
		history = append(history, h.(map[string]any)["status"].(string))
	}
	if strings.Join(history, " ") != "VIRTUAL_ACCOUNT_ISSUED PAID PARTIAL_CANCELLED" {
		t.Errorf("history %v", history)
	}
	_, rendered := call(t, sb, "GET", "/payments/va%2F1", nil, nil)
	listed, _ := json.Marshal(second["payment"])
	direct, _ := json.Marshal(rendered)
	if !bytes.Equal(listed, direct) {
		t.Errorf("the control lists\n%s\nthe API renders\n%s", listed, direct)
	}

	if code, _ := control(t, sb, "PUT", "/sandbox/pre-registration", `{"enforced":false}`); code != 200 {
		t.Fatal(code)
	}
	call(t, sb, "POST", "/payments/pre/pre-register", map[string]any{"totalAmount": 100, "currency": "KRW"}, nil)
	if p := sb.Pay("pre", sandbox.PaidWith{Total: 1}); p.Status != "PAID" {
		t.Errorf("with enforcement off: %s", p.Status)
	}
	if code, _ := control(t, sb, "PUT", "/sandbox/pre-registration", `{}`); code != 400 {
		t.Errorf("no enforced: %d", code)
	}

	if code, _ := control(t, sb, "POST", "/sandbox/reset", ""); code != 200 {
		t.Fatal(code)
	}
	if _, list := control(t, sb, "GET", "/sandbox/payments", ""); len(list["payments"].([]any)) != 0 {
		t.Errorf("after a reset: %v", list)
	}
	if len(sb.Requests()) != 0 {
		t.Errorf("requests kept across a reset")
	}
}

func TestControlsReportTheirState(t *testing.T) {
	sb := startSandbox(t, sandbox.Config{})
	if _, body := control(t, sb, "GET", "/sandbox/pre-registration", ""); body["enforced"] != true {
		t.Errorf("pre-registration at start: %v, want enforced", body)
	}
	control(t, sb, "PUT", "/sandbox/pre-registration", `{"enforced":false}`)
	if _, body := control(t, sb, "GET", "/sandbox/pre-registration", ""); body["enforced"] != false {
		t.Errorf("pre-registration after turning it off: %v", body)
	}

	control(t, sb, "PUT", "/sandbox/faults", `{"api":{"failNext":3,"latency":"1ms"},"webhooks":{"drop":2,"duplicate":1,"hold":true}}`)
	_, body := control(t, sb, "GET", "/sandbox/faults", "")
	api, webhooks := body["api"].(map[string]any), body["webhooks"].(map[string]any)
	if api["failNext"] != json.Number("3") || api["latency"] != "1ms" || webhooks["drop"] != json.Number("2") ||
		webhooks["duplicate"] != json.Number("1") || webhooks["hold"] != true {
		t.Errorf("faults in force: %v", body)
	}
	control(t, sb, "DELETE", "/sandbox/faults", "")
	_, body = control(t, sb, "GET", "/sandbox/faults", "")
	api, webhooks = body["api"].(map[string]any), body["webhooks"].(map[string]any)
	if api["failNext"] != json.Number("0") || api["latency"] != "0s" || webhooks["drop"] != json.Number("0") || webhooks["hold"] != false {
		t.Errorf("faults after healing: %v", body)
	}
}
