package sandbox_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/creditd/creditd/cmd/portone-sandbox/sandbox"
)

// loadContract reads the project's own schema of PortOne's objects and
// checks that it is a valid OpenAPI document.
func loadContract(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromFile("testdata/portone-payment.schema.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the contract is not a valid OpenAPI document: %v", err)
	}
	return doc
}

// conforms validates a JSON body against the named schema of the contract.
func conforms(doc *openapi3.T, schema string, body []byte) error {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return err
	}
	return doc.Components.Schemas[schema].Value.VisitJSON(v, openapi3.MultiErrors())
}

func requireConforms(t *testing.T, doc *openapi3.T, schema, what string, body []byte) {
	t.Helper()
	if err := conforms(doc, schema, body); err != nil {
		t.Errorf("%s does not conform to %s: %v\n%s", what, schema, err, body)
	}
}

// rawCall is one API request, answered as bytes.
func rawCall(t *testing.T, sb *sandbox.Server, method, path, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, sb.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "PortOne "+sb.APISecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// README §1.4.5's PAID example and §2.2's webhook: the contract accepts
// what PortOne documents.
const (
	documentedPaid = `{"status":"PAID","id":"order-20240425-0001","transactionId":"0191a7e2-5d2b-7c40-9a1e-6b0f1c2d3e4f",
	"merchantId":"merchant-4c1b2f2e-0000-0000-0000-000000000000","storeId":"store-ae356798-3d20-4969-b739-14c6b0e1a667",
	"method":{"type":"PaymentMethodCard","card":{"brand":"LOCAL","type":"CREDIT","ownerType":"PERSONAL","bin":"53275000","name":"예시카드","number":"53275000****123*"},
	"approvalNumber":"30012345","installment":{"month":0,"isInterestFree":false},"pointUsed":false},
	"channel":{"type":"TEST","id":"channel-id-1","key":"channel-key-1","name":"토스페이먼츠 테스트","pgProvider":"TOSSPAYMENTS","pgMerchantId":"tosstest"},
	"version":"V2","requestedAt":"2024-04-25T10:00:00Z","updatedAt":"2024-04-25T10:00:05Z","statusChangedAt":"2024-04-25T10:00:05Z",
	"orderName":"신발","amount":{"total":10000,"taxFree":0,"vat":909,"supply":9091,"discount":0,"paid":10000,"cancelled":0,"cancelledTaxFree":0},
	"currency":"KRW","customer":{"id":"user-1","name":"홍길동","email":"buyer@example.com","phoneNumber":"01012345678"},
	"origin":{"platformType":"PC","ipAddress":"203.0.113.7","userAgent":"Mozilla/5.0","url":"https://shop.example/checkout"},
	"customData":"{\"item\":\"shoes\"}","paidAt":"2024-04-25T10:00:05Z","pgTxId":"tviva20240425100005abcd","receiptUrl":"https://receipt.example/1","disputes":[]}`
	documentedWebhook = `{"type":"Transaction.Cancelled","timestamp":"2024-04-25T10:00:00.000Z","data":{"paymentId":"example-payment-id",
	"storeId":"store-ae356798-3d20-4969-b739-14c6b0e1a667","transactionId":"55451513-9763-4a7a-bb43-78a4c65be843",
	"cancellationId":"0cdd91e9-4e7c-44a3-a72e-1a6511826c2b"}}`
)

func TestContractAcceptsPortOnesExamplesAndRefusesBrokenOnes(t *testing.T) {
	doc := loadContract(t)
	requireConforms(t, doc, "Payment", "README's PAID example", []byte(documentedPaid))
	requireConforms(t, doc, "Webhook", "README's webhook example", []byte(documentedWebhook))
	// The contract can fail: each of these breaks one rule of PortOne's.
	for name, broken := range map[string]string{
		"PAID without paidAt":      strings.Replace(documentedPaid, `"paidAt":"2024-04-25T10:00:05Z",`, "", 1),
		"a misspelt field":         strings.Replace(documentedPaid, `"pgTxId"`, `"pgTxID"`, 1),
		"PENDING, the filter name": strings.Replace(documentedPaid, `"status":"PAID"`, `"status":"PENDING"`, 1),
		"an amount as a string":    strings.Replace(documentedPaid, `"total":10000`, `"total":"10000"`, 1),
		"amount without cancelled": strings.Replace(documentedPaid, `"cancelled":0,`, "", 1),
		"a local time":             strings.Replace(documentedPaid, `"paidAt":"2024-04-25T10:00:05Z"`, `"paidAt":"2024-04-25 10:00:05"`, 1),
	} {
		if conforms(doc, "Payment", []byte(broken)) == nil {
			t.Errorf("%s conforms", name)
		}
	}
	if conforms(doc, "Webhook", []byte(strings.Replace(documentedWebhook, `"storeId"`, `"store"`, 1))) == nil {
		t.Error("a webhook without storeId conforms")
	}
}

// Every kind of answer the sandbox gives conforms to the contract.
func TestSandboxConformsToTheContract(t *testing.T) {
	doc := loadContract(t)
	var mu sync.Mutex
	var webhookBodies [][]byte
	refused := false
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		webhookBodies = append(webhookBodies, b)
		if strings.Contains(string(b), "p-retried") && !refused {
			refused = true
			w.WriteHeader(http.StatusServiceUnavailable) // a failed attempt is listed too
		}
	}))
	defer receiver.Close()
	sb := startSandbox(t, sandbox.Config{WebhookURL: receiver.URL, WebhookSecrets: []string{testWebhookSecret}, WebhookRetryScale: 0.0001})

	w := sandbox.PaidWith{Total: 10000, TaxFree: 1000, OrderName: "100 credits", CustomData: `{"order":1}`,
		Customer: sandbox.Customer{ID: "u-1", Name: "홍길동", Email: "buyer@example.com"}}
	sb.Ready("p-ready", w)
	sb.PayPending("p-pending", w)
	sb.IssueVirtualAccount("p-va", w)
	sb.Pay("p-paid", w)
	sb.Pay("p-retried", w)
	sb.Fail("p-failed", "declined")
	sb.Pay("p-partial", w)
	if code, b := rawCall(t, sb, "POST", "/payments/p-partial/cancel", `{"reason":"r","amount":3000,"taxFreeAmount":500}`); code != 200 {
		t.Fatalf("cancel: %d %s", code, b)
	} else {
		requireConforms(t, doc, "CancelPaymentResponse", "a cancel's answer", b)
	}
	sb.Pay("p-cancelled", w)
	if _, err := sb.CancelFromConsole("p-cancelled", 0); err != nil {
		t.Fatal(err)
	}
	sb.IssueVirtualAccount("p-deposited", w)
	if _, err := sb.Deposit("p-deposited"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "webhook attempts on every payment", func() bool {
		p, _ := sb.Payment("p-retried")
		return len(p.Webhooks) >= 2 && len(mustPayment(t, sb, "p-deposited").Webhooks) >= 2
	})

	for _, id := range []string{"p-ready", "p-pending", "p-va", "p-paid", "p-retried", "p-failed", "p-partial", "p-cancelled", "p-deposited"} {
		code, b := rawCall(t, sb, "GET", "/payments/"+id, "")
		if code != 200 {
			t.Fatalf("%s: %d %s", id, code, b)
		}
		requireConforms(t, doc, "Payment", id, b)
	}
	code, b := rawCall(t, sb, "GET", "/payments-by-cursor?requestBody="+url.QueryEscape(`{"size":100}`), "")
	if code != 200 {
		t.Fatalf("by cursor: %d %s", code, b)
	}
	requireConforms(t, doc, "GetPaymentsByCursorResponse", "payments-by-cursor", b)
	code, b = rawCall(t, sb, "GET", "/payments?requestBody="+url.QueryEscape(`{"page":{"number":0,"size":5},"filter":{"status":["PAID","PENDING"]}}`), "")
	if code != 200 {
		t.Fatalf("payments: %d %s", code, b)
	}
	requireConforms(t, doc, "GetPaymentsResponse", "GET /payments", b)

	sb.Pay("p-taxed", sandbox.PaidWith{Total: 1000, TaxFree: 100})
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/payments/nope", ""},
		{"GET", "/payments/p-paid?storeId=someone-else", ""},
		{"POST", "/payments/p-paid/cancel", `{"amount":1}`},
		{"POST", "/payments/p-ready/cancel", `{"reason":"r"}`},
		{"POST", "/payments/p-cancelled/cancel", `{"reason":"r"}`},
		{"POST", "/payments/p-paid/cancel", `{"reason":"r","currentCancellableAmount":1}`},
		{"POST", "/payments/p-paid/cancel", `{"reason":"r","amount":999999}`},
		{"POST", "/payments/p-paid/cancel", `{"reason":"r","amount":100,"taxFreeAmount":200}`},
		{"POST", "/payments/p-taxed/cancel", `{"reason":"r","amount":200,"taxFreeAmount":150}`},
		{"POST", "/payments/p-taxed/cancel", `{"reason":"r","amount":950,"taxFreeAmount":0}`},
		{"POST", "/payments/p-paid/pre-register", `{"totalAmount":1,"currency":"KRW"}`},
	} {
		code, b := rawCall(t, sb, c.method, c.path, c.body)
		if code < 400 {
			t.Errorf("%s %s %s: %d, want an error", c.method, c.path, c.body, code)
		}
		requireConforms(t, doc, "Error", c.method+" "+c.path+" "+c.body, b)
	}
	req, _ := http.NewRequest("GET", sb.URL+"/payments/p-paid", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	requireConforms(t, doc, "Error", "no Authorization", b)

	mu.Lock()
	defer mu.Unlock()
	if len(webhookBodies) < 8 {
		t.Fatalf("%d webhook deliveries", len(webhookBodies))
	}
	for _, b := range webhookBodies {
		requireConforms(t, doc, "Webhook", "a webhook", b)
	}
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func mustPayment(t *testing.T, sb *sandbox.Server, id string) sandbox.Payment {
	t.Helper()
	p, ok := sb.Payment(id)
	if !ok {
		t.Fatalf("no payment %s", id)
	}
	return p
}
