package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/creditd/creditd/adapters/httpapi"
	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// loadDocument parses and validates the document the service serves.
func loadDocument(t *testing.T, h *harness) *openapi3.T {
	t.Helper()
	w := h.get("/openapi.yaml", withoutHeader("Authorization"))
	require.Equal(t, http.StatusOK, w.Code)
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(w.Body.Bytes())
	require.NoError(t, err)
	require.NoError(t, doc.Validate(loader.Context))
	return doc
}

var ginParam = regexp.MustCompile(`:([A-Za-z]+)`)

func TestOpenAPIDescribesEveryRouteAndNoOther(t *testing.T) {
	h := newHarness(t)
	doc := loadDocument(t, h)

	var documented, served []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, method+" "+path)
		}
	}
	for _, r := range h.router.Routes() {
		served = append(served, r.Method+" "+ginParam.ReplaceAllString(r.Path, "{$1}"))
	}
	slices.Sort(documented)
	slices.Sort(served)
	assert.Equal(t, served, documented)
	// Not a count to bump with every route: a floor that an empty router
	// and an empty document, equal as they are, fail.
	assert.Greater(t, len(served), 20)
}

func TestOpenAPIListsEveryProblemType(t *testing.T) {
	doc := loadDocument(t, newHarness(t))
	var documented []string
	for _, v := range doc.Components.Schemas["ProblemType"].Value.Enum {
		documented = append(documented, strings.TrimPrefix(v.(string), "https://creditd.dev/problems/"))
	}
	slugs := httpapi.ProblemSlugs()
	slices.Sort(documented)
	slices.Sort(slugs)
	assert.Equal(t, slugs, documented)
}

// TestResponsesMatchOpenAPI replays a session touching every route and most
// outcomes, and validates each response (and each accepted request) against
// the document: statuses, content types, headers and bodies.
func TestResponsesMatchOpenAPI(t *testing.T) {
	faults := &dbFaults{}
	h := newHarness(t, withFaults(faults))
	doc := loadDocument(t, h)
	router, err := legacy.NewRouter(doc)
	require.NoError(t, err)

	validated := map[string]bool{} // "METHOD path status"
	h.onExchange = func(r *http.Request, body string, w *httptest.ResponseRecorder) {
		t.Helper()
		route, params, err := router.FindRoute(r)
		if err != nil { // a 404 or 405 for a route the document rightly does not have
			var rerr *routers.RouteError
			require.ErrorAs(t, err, &rerr)
			return
		}
		ctx := context.Background()
		r.Body = io.NopCloser(strings.NewReader(body))
		reqInput := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
		if w.Code < 400 {
			assert.NoError(t, openapi3filter.ValidateRequest(ctx, reqInput), "%s %s", r.Method, r.URL)
		}
		respInput := &openapi3filter.ResponseValidationInput{RequestValidationInput: reqInput, Status: w.Code,
			Header: w.Header(), Options: &openapi3filter.Options{IncludeResponseStatus: true}}
		respInput.SetBodyBytes(bytes.Clone(w.Body.Bytes()))
		assert.NoError(t, openapi3filter.ValidateResponse(ctx, respInput), "%s %s -> %d %s", r.Method, r.URL, w.Code, w.Body.String())
		validated[r.Method+" "+route.Path+" "+http.StatusText(w.Code)] = true
	}

	h.get("/healthz", withoutHeader("Authorization"))
	h.get("/readyz", withoutHeader("Authorization"))
	h.get("/metrics", withoutHeader("Authorization"))
	h.get("/openapi.yaml", withoutHeader("Authorization"))
	webhook := paidBody("pay-1")
	h.post("/webhooks/portone", webhook, h.signed("wh-1", webhook))
	h.post("/webhooks/portone", webhook, h.signed("wh-1", webhook+" "))
	h.post("/webhooks/portone", webhook+strings.Repeat(" ", 70<<10), h.signed("wh-2", webhook))

	h.post("/v1/accounts/user-1/grants", `{"amount":"100","source":"paid","expiresAt":"2030-01-01T00:00:00Z","priority":0,"reason":"r","metadata":{"a":"b"}}`)
	h.post("/v1/accounts/user-1/grants", `{"amount":"1","source":"bonus"}`)
	h.get("/v1/accounts/user-1")
	h.post("/v1/accounts/user-1/spends", `{"amount":"0.5","reason":"x"}`)
	h.post("/v1/accounts/user-1/spends", `{"amount":"1000"}`)
	hold := h.placeHold("user-1", "10")
	h.get("/v1/holds/" + hold)
	h.post("/v1/holds/"+hold+"/capture", `{"amount":"4"}`)
	h.post("/v1/holds/"+hold+"/capture", `{"amount":"40"}`)
	h.post("/v1/holds/"+hold+"/extend", `{"expiresInSeconds":7200}`)
	h.post("/v1/holds/"+hold+"/extend", `{"expiresInSeconds":0}`)
	h.post("/v1/holds/"+hold+"/capture", `{"amount":"1","reason":"step 2","metadata":{"k":"v"}}`)
	h.get("/v1/holds/" + hold)
	h.post("/v1/holds/"+hold+"/release", "", withoutHeader("Content-Type"))
	h.post("/v1/holds/"+hold+"/release", `{}`)
	h.post("/v1/holds/"+hold+"/extend", `{"expiresInSeconds":60}`) // hold-not-open
	h.get("/v1/holds/" + hold)
	rest := h.placeHold("user-1", "2")
	h.post("/v1/holds/"+rest+"/capture", `{}`)
	h.get("/v1/accounts/user-1/transactions?limit=2")
	h.get("/v1/accounts/user-1/transactions")
	// An account a clawback left in debt: a negative balance, a debt posting without a lot.
	h.post("/v1/accounts/user-2/grants", `{"amount":"10","source":"paid","fundingReference":"inv-1"}`)
	h.post("/v1/accounts/user-2/spends", `{"amount":"4"}`)
	h.clawback("user-2", "inv-1", "10")
	h.get("/v1/accounts/user-2")
	h.get("/v1/accounts/user-2/transactions")

	// Lookups.
	h.get("/v1/accounts?limit=1")
	h.get("/v1/accounts")
	h.get("/v1/accounts?cursor=nope")
	h.get("/v1/accounts", withoutHeader("Authorization"))
	h.get("/v1/accounts/user-1/holds?status=open&limit=1")
	h.get("/v1/accounts/user-1/holds?status=CAPTURED,RELEASED&status=EXPIRED")
	h.get("/v1/accounts/user-1/holds?status=gone")
	h.get("/v1/accounts/nobody/holds")
	h.get("/v1/accounts/user-1/expiring?within=P3650D")
	h.get("/v1/accounts/user-1/expiring")
	h.get("/v1/accounts/user-1/expiring?within=P1Y")
	h.get("/v1/accounts/nobody/expiring")
	h.get("/v1/accounts/user-1/transactions?type=GRANT,SPEND&type=CAPTURE&from=2026-01-01T00:00:00Z&to=2031-01-01T00:00:00Z&limit=1")
	h.get("/v1/accounts/user-1/transactions?from=2031-01-01T00:00:00Z&to=2026-01-01T00:00:00Z")
	lookupTx := h.must(h.get("/v1/accounts/user-1/transactions?limit=1"), http.StatusOK)["items"].([]any)[0].(map[string]any)["id"].(string)
	h.get("/v1/transactions/" + lookupTx)
	h.get("/v1/transactions/"+lookupTx, withKey(h.keyB))
	h.get("/v1/transactions/nope")
	h.get("/v1/lots?expiringBefore=2031-01-01T00:00:00Z&limit=1")
	h.get("/v1/lots?expiringBefore=2031-01-01T00:00:00Z")
	h.get("/v1/lots")
	h.get("/v1/lots?expiringBefore=2031-01-01T00:00:00Z", withKey(h.writeOnlyA))
	h.get("/v1/accounts/nobody")
	h.get("/v1/accounts/user-1", withoutHeader("Authorization"))
	h.post("/v1/accounts/user-1/spends", `{"amount":"1"}`, withKey(h.readOnlyA))
	h.post("/v1/accounts/user-1/spends", `{"amount":1}`)
	h.post("/v1/accounts/user-1/spends", `{"amount":"1"}`, withoutHeader("Idempotency-Key"))
	h.post("/v1/accounts/user-1/spends", `{"amount":"1"}`, withHeader("Content-Type", "text/plain"))
	h.post("/v1/accounts/user-1/spends", `{"reason":"`+strings.Repeat("r", 70<<10)+`"}`)
	h.post("/v1/accounts/user-1/spends", `{"amount":"2"}`, withIdem("dup"))
	h.post("/v1/accounts/user-1/spends", `{"amount":"3"}`, withIdem("dup"))
	h.get("/v1/accounts/user-1/transactions?limit=0")
	// The catalog.
	h.post("/v1/products", `{"id":"pack-100","name":"100 credits","price":"10000","currency":"KRW","credits":"100","bonusCredits":"10","creditValidityDays":365}`,
		withoutHeader("Idempotency-Key"))
	h.post("/v1/products", `{"id":"pack-usd","name":"Starter","price":"600","currency":"USD","credits":"0.5"}`)
	h.post("/v1/products", `{"id":"pack-100","name":"again","price":"1","currency":"KRW","credits":"1"}`)
	h.post("/v1/products", `{"id":"pack-x","name":"x","price":"1.5","currency":"KRW","credits":"1"}`)
	h.post("/v1/products", `{"id":"pack-x","name":"x","price":"1","currency":"KRW","credits":"1"}`, withKey(h.readOnlyA))
	h.post("/v1/products", `{}`, withHeader("Content-Type", "text/plain"))
	h.post("/v1/products", `{"name":"`+strings.Repeat("n", 70<<10)+`"}`)
	h.post("/v1/products", "", withStalledBody)
	h.get("/v1/products")
	h.get("/v1/products?active=true")
	h.get("/v1/products?active=maybe")
	h.get("/v1/products/pack-100")
	h.get("/v1/products/nope")
	h.get("/v1/products/" + strings.Repeat("p", 65))
	h.do("PATCH", "/v1/products/pack-100", `{"name":"renamed","price":"9000","currency":"KRW","credits":"120","bonusCredits":"0","creditValidityDays":null,"active":false}`)
	h.do("PATCH", "/v1/products/pack-100", `{}`)
	h.do("PATCH", "/v1/products/pack-100", `{"price":"1"}`)
	h.do("PATCH", "/v1/products/nope", `{"active":true}`)
	h.do("PATCH", "/v1/products/pack-100", `{"active":true}`, withKey(h.readOnlyA))
	h.do("PATCH", "/v1/products/pack-100", `{}`, withHeader("Content-Type", "text/plain"))
	h.do("PATCH", "/v1/products/pack-100", `{"name":"`+strings.Repeat("n", 70<<10)+`"}`)
	h.do("PATCH", "/v1/products/pack-100", "", withStalledBody)
	h.get("/v1/products", withoutHeader("Authorization"))
	h.seedReconciliation()
	h.get("/v1/reconciliation/reports?limit=1")
	h.get("/v1/reconciliation/reports")
	h.get("/v1/reconciliation/reports?cursor=nope")
	h.get("/v1/reconciliation/reports", withKey(h.readOnlyA))
	// Orders: pack-100 is archived by now, pack-usd is on sale.
	h.post("/v1/orders", `{"accountId":"buyer-1","productId":"pack-usd"}`, withIdem("order-1"))
	h.post("/v1/orders", `{"accountId":"buyer-1","productId":"pack-usd"}`, withIdem("order-1"))
	h.post("/v1/orders", `{"accountId":"buyer-2","productId":"pack-usd"}`, withIdem("order-1"))
	h.post("/v1/orders", `{"accountId":"buyer-1","productId":"pack-100"}`)
	h.post("/v1/orders", `{"accountId":1,"productId":"pack-usd"}`)
	h.post("/v1/orders", `{"accountId":"buyer-1","productId":"pack-usd"}`, withoutHeader("Idempotency-Key"))
	h.post("/v1/orders", `{"accountId":"buyer-1","productId":"pack-usd"}`, withoutHeader("Authorization"))
	h.post("/v1/orders", `{"accountId":"buyer-1","productId":"pack-usd"}`, withKey(h.writeOnlyA))
	h.post("/v1/orders", `{"accountId":"buyer-1","productId":"pack-usd"}`, withHeader("Content-Type", "text/plain"))
	h.post("/v1/orders", `{"accountId":"`+strings.Repeat("a", 70<<10)+`"}`)
	h.post("/v1/orders", "", withStalledBody)
	var orders []map[string]any
	for _, account := range []string{"buyer-1", "buyer-2", "buyer-3", "buyer-4"} {
		orders = append(orders, h.must(h.post("/v1/orders", `{"accountId":"`+account+`","productId":"pack-usd"}`), http.StatusCreated))
	}
	paid, deposit, tampered, failed := orders[0]["paymentId"].(string), orders[1]["paymentId"].(string), orders[2]["paymentId"].(string), orders[3]["paymentId"].(string)
	h.post("/v1/orders/"+paid+"/complete", "") // not paid yet: PENDING
	h.gateway.pay(orders[0])
	h.post("/v1/orders/"+paid+"/complete", "")
	due := start.Add(72 * time.Hour)
	h.gateway.pay(orders[1], func(p *domain.Payment) {
		p.Status, p.Paid = domain.PaymentVirtualAccountIssued, 0
		p.VirtualAccount = &domain.VirtualAccount{Bank: "KOOKMIN", AccountNumber: "123-456", Holder: "creditd", DueAt: &due}
	})
	h.post("/v1/orders/"+deposit+"/complete", "")
	h.gateway.pay(orders[2], func(p *domain.Payment) { p.Total, p.Paid = 1, 1 })
	h.post("/v1/orders/"+tampered+"/complete", "")
	h.gateway.pay(orders[3], func(p *domain.Payment) { p.Status, p.Paid = domain.PaymentFailed, 0 })
	h.post("/v1/orders/"+failed+"/complete", "")
	h.gateway.cancel(paid, 100)
	h.post("/v1/orders/"+paid+"/complete", "")
	h.get("/v1/orders/" + paid)
	h.get("/v1/orders/" + deposit)
	h.get("/v1/orders/ord-nope")
	h.get("/v1/orders/" + strings.Repeat("p", 65))
	h.get("/v1/orders/"+paid, withoutHeader("Authorization"))
	h.get("/v1/orders/"+paid, withKey(h.readOnlyA))
	h.get("/v1/orders")
	h.get("/v1/orders?limit=2")
	h.get("/v1/orders?accountId=buyer-1&status=PARTIALLY_REFUNDED&updatedSince=2026-01-01T00:00:00Z&limit=200")
	h.get("/v1/orders?limit=0&status=paid")
	h.get("/v1/orders", withoutHeader("Authorization"))
	h.get("/v1/orders", withKey(h.readOnlyA))
	// V1 orders: in whole units only, so not of pack-usd.
	h.post("/v1/orders", `{"accountId":"buyer-1","productId":"pack-usd","gateway":"v1"}`)
	h.post("/v1/products", `{"id":"pack-krw","name":"1000 won","price":"1000","currency":"KRW","credits":"1"}`)
	h.post("/v1/orders", `{"accountId":"buyer-1","productId":"pack-krw","gateway":"v3"}`)
	v1 := h.must(h.post("/v1/orders", `{"accountId":"buyer-5","productId":"pack-krw","gateway":"v1"}`), http.StatusCreated)
	h.post("/v1/orders/"+v1["paymentId"].(string)+"/complete", `{"impUid":"imp_nobody"}`)
	h.post("/v1/orders/"+v1["paymentId"].(string)+"/complete", `{"impUid":"imp/1"}`)
	h.v1.payV1(v1, "imp_1")
	h.post("/v1/orders/"+v1["paymentId"].(string)+"/complete", `{"impUid":"imp_1"}`)
	h.post("/v1/orders/"+paid+"/complete", `{"impUid":"imp_1"}`)
	h.v1Post(v1JSON("imp_1", v1["paymentId"].(string), "paid"), "application/json")
	h.v1Post(v1Form("imp_1", v1["paymentId"].(string), "paid"), formType)
	h.v1Post(v1JSON("imp_1", "ord-nobody", "paid"), "application/json")
	h.v1Post(`{"imp_uid":1}`, "application/json")
	h.v1Post(v1JSON("imp_1", "ord-nobody", "paid"), "text/plain")
	h.v1Post(v1JSON("imp_1", "ord-nobody", strings.Repeat("p", 9<<10)), "application/json")
	h.post("/v1/orders/ord-nope/complete", "")
	h.post("/v1/orders/"+strings.Repeat("p", 65)+"/complete", "")
	h.post("/v1/orders/"+paid+"/complete", "", withoutHeader("Authorization"))
	h.post("/v1/orders/"+paid+"/complete", "", withKey(h.writeOnlyA))
	// Refunds.
	h.get("/v1/orders/" + paid + "/refund-quote")
	h.get("/v1/orders/ord-nope/refund-quote")
	h.get("/v1/orders/" + strings.Repeat("p", 65) + "/refund-quote")
	h.get("/v1/orders/"+paid+"/refund-quote", withoutHeader("Authorization"))
	h.get("/v1/orders/"+paid+"/refund-quote", withKey(h.writeOnlyA))
	h.post("/v1/orders/"+paid+"/refunds", `{"amount":"50","reason":"customer asked"}`)
	h.post("/v1/orders/"+paid+"/refunds", `{"amount":"999999","reason":"too much"}`)
	h.post("/v1/orders/"+tampered+"/refunds", `{"reason":"rejected"}`)
	h.post("/v1/orders/ord-nope/refunds", `{"reason":"nope"}`)
	h.post("/v1/orders/"+paid+"/refunds", `{"amount":50,"reason":"x"}`)
	h.post("/v1/orders/"+paid+"/refunds", `{"reason":"x"}`, withoutHeader("Idempotency-Key"))
	h.post("/v1/orders/"+paid+"/refunds", `{"reason":"x"}`, withoutHeader("Authorization"))
	h.post("/v1/orders/"+paid+"/refunds", `{"reason":"x"}`, withKey(h.readOnlyA))
	h.post("/v1/orders/"+paid+"/refunds", `{"reason":"x"}`, withHeader("Content-Type", "text/plain"))
	h.post("/v1/orders/"+paid+"/refunds", `{"reason":"`+strings.Repeat("r", 70<<10)+`"}`)
	h.post("/v1/orders/"+paid+"/refunds", "", withStalledBody)
	// The finance summary, over the orders above.
	h.get("/v1/reports/summary?from=2026-01-01T00:00:00Z&to=2027-01-01T00:00:00Z")
	h.get("/v1/reports/summary?from=2026-01-01T00:00:00Z&to=2026-01-01T00:00:00Z")
	h.get("/v1/reports/summary?from=2026-01-01T00:00:00Z&to=2027-01-01T00:00:00Z", withKey(h.writeOnlyA))
	h.get("/v1/reports/summary?from=2026-01-01T00:00:00Z&to=2027-01-01T00:00:00Z", withoutHeader("Authorization"))
	// Webhook endpoints and their deliveries.
	endpoint := h.must(h.post("/v1/webhook-endpoints", `{"url":"https://hooks.example.com/creditd","events":["order.paid","transaction.created"]}`,
		withoutHeader("Idempotency-Key")), http.StatusCreated)["id"].(string)
	h.post("/v1/webhook-endpoints", `{"url":"https://hooks.example.com/all"}`)
	h.post("/v1/webhook-endpoints", `{"url":"http://hooks.example.com/x"}`)
	h.post("/v1/webhook-endpoints", `{"url":"https://hooks.example.com/x","events":["order.shipped"]}`)
	h.post("/v1/webhook-endpoints", `{"url":"https://hooks.example.com/x"}`, withKey(h.readOnlyA))
	h.post("/v1/webhook-endpoints", `{"url":"https://hooks.example.com/x"}`, withHeader("Content-Type", "text/plain"))
	h.post("/v1/webhook-endpoints", `{"url":"`+strings.Repeat("u", 70<<10)+`"}`)
	h.post("/v1/webhook-endpoints", "", withStalledBody)
	h.get("/v1/webhook-endpoints")
	h.get("/v1/webhook-endpoints", withKey(h.writeOnlyA))
	h.get("/v1/webhook-endpoints/" + endpoint)
	h.get("/v1/webhook-endpoints/nope")
	h.get("/v1/webhook-endpoints/" + uuid.NewString())
	eventID := h.seedDelivery(endpoint)
	h.get("/v1/webhook-endpoints/" + endpoint + "/deliveries?limit=1")
	h.get("/v1/webhook-endpoints/" + endpoint + "/deliveries?status=failed")
	h.get("/v1/webhook-endpoints/" + endpoint + "/deliveries?status=gone")
	h.get("/v1/webhook-endpoints/" + endpoint + "/deliveries?cursor=nope")
	h.post("/v1/webhook-endpoints/"+endpoint+"/deliveries/"+eventID+"/redeliver", "")
	h.post("/v1/webhook-endpoints/"+endpoint+"/deliveries/"+uuid.NewString()+"/redeliver", "")
	h.post("/v1/webhook-endpoints/"+endpoint+"/deliveries/nope/redeliver", "")
	h.get("/v1/webhook-endpoints/" + endpoint + "/deliveries")
	h.do(http.MethodDelete, "/v1/webhook-endpoints/"+endpoint, "")
	h.do(http.MethodDelete, "/v1/webhook-endpoints/"+endpoint, "")
	h.do(http.MethodDelete, "/v1/webhook-endpoints/nope", "", withKey(h.readOnlyA))

	// PortOne unreachable, then refusing creditd's secret.
	h.gateway.failWith(fmt.Errorf("read payment: %w", application.ErrUnavailable))
	h.post("/v1/orders", `{"accountId":"buyer-1","productId":"pack-usd"}`)
	h.post("/v1/orders/"+deposit+"/complete", "")
	h.post("/v1/orders/"+paid+"/refunds", `{"amount":"10","reason":"while PortOne is down"}`)
	h.gateway.failWith(&application.GatewayError{Status: http.StatusUnauthorized, Type: "UNAUTHORIZED", Message: "invalid secret"})
	h.post("/v1/orders", `{"accountId":"buyer-1","productId":"pack-usd"}`)
	h.post("/v1/orders/"+deposit+"/complete", "")
	h.gateway.failWith(nil)
	h.post("/v1/orders/"+paid+"/refunds", `{"amount":"10","reason":"another, while one is pending"}`)

	// Reversals.
	h.grant("user-3", "10")
	spend := h.must(h.post("/v1/accounts/user-3/spends", `{"amount":"6"}`), http.StatusCreated)["id"].(string)
	reversals := "/v1/transactions/" + spend + "/reversals"
	reversal := h.must(h.post(reversals, `{"amount":"2","reason":"partly wrong"}`), http.StatusCreated)["id"].(string)
	h.post(reversals, `{"reason":"the rest"}`)
	h.post(reversals, `{"amount":"1","reason":"too much"}`)
	h.post("/v1/transactions/"+reversal+"/reversals", `{"reason":"a reversal"}`)
	h.get("/v1/accounts/user-3/transactions")
	h.post("/v1/transactions/nope/reversals", `{"reason":"x"}`)
	h.post("/v1/transactions/01000000-0000-0000-0000-000000000000/reversals", `{"reason":"x"}`)
	h.post(reversals, `{"reason":"x"}`, withoutHeader("Idempotency-Key"))
	h.post(reversals, `{"reason":"x"}`, withoutHeader("Authorization"))
	h.post(reversals, `{"reason":"x"}`, withKey(h.readOnlyA))
	h.post(reversals, `{"reason":"x"}`, withHeader("Content-Type", "text/plain"))
	h.post(reversals, `{"reason":"`+strings.Repeat("r", 70<<10)+`"}`)
	h.post(reversals, "", withStalledBody)

	// Bodies that stall past the server's read timeout.
	stalled := h.placeHold("user-1", "1")
	for _, path := range []string{"/v1/accounts/user-1/grants", "/v1/accounts/user-1/spends", "/v1/accounts/user-1/holds",
		"/v1/holds/" + stalled + "/capture", "/v1/holds/" + stalled + "/release"} {
		h.post(path, "", withStalledBody)
	}

	// With the database down, every /v1 operation answers 503.
	hold = h.placeHold("user-1", "1")
	h.ready.Store(&errConnRefused)
	faults.down.Store(true)
	h.get("/readyz", withoutHeader("Authorization"))
	h.get("/v1/accounts/user-1")
	h.get("/v1/accounts/user-1/transactions")
	h.get("/v1/holds/" + hold)
	h.get("/v1/reconciliation/reports")
	h.get("/v1/accounts")
	h.get("/v1/accounts/user-1/holds")
	h.get("/v1/accounts/user-1/expiring")
	h.get("/v1/transactions/" + lookupTx)
	h.get("/v1/lots?expiringBefore=2031-01-01T00:00:00Z")
	h.post("/v1/accounts/user-1/grants", `{"amount":"1","source":"bonus"}`)
	h.post("/v1/accounts/user-1/spends", `{"amount":"1"}`)
	h.post("/v1/accounts/user-1/holds", `{"amount":"1","expiresInSeconds":60}`)
	h.post("/v1/holds/"+hold+"/capture", `{"amount":"1"}`)
	h.post("/v1/holds/"+hold+"/release", `{}`)
	h.post(reversals, `{"reason":"x"}`)
	h.get("/v1/products")
	h.get("/v1/products/pack-100")
	h.post("/v1/products", `{"id":"pack-y","name":"y","price":"1","currency":"KRW","credits":"1"}`)
	h.do("PATCH", "/v1/products/pack-100", `{"active":true}`)
	h.post("/v1/orders", `{"accountId":"buyer-1","productId":"pack-usd"}`)
	h.get("/v1/orders")
	h.get("/v1/orders/" + paid)
	h.post("/v1/orders/"+paid+"/complete", "")
	faults.down.Store(false)

	for _, want := range []string{
		"GET /v1/accounts/{accountId} OK",
		"GET /v1/reports/summary OK",
		"GET /v1/reports/summary Bad Request",
		"GET /v1/reports/summary Forbidden",
		"GET /v1/reports/summary Unauthorized",
		"GET /v1/accounts/{accountId} Not Found",
		"GET /v1/accounts/{accountId} Unauthorized",
		"POST /v1/accounts/{accountId}/grants Created",
		"POST /v1/accounts/{accountId}/spends Created",
		"POST /v1/accounts/{accountId}/spends Conflict",
		"POST /v1/accounts/{accountId}/spends Forbidden",
		"POST /v1/accounts/{accountId}/spends Bad Request",
		"POST /v1/accounts/{accountId}/spends Unsupported Media Type",
		"POST /v1/accounts/{accountId}/spends Request Entity Too Large",
		"POST /v1/accounts/{accountId}/grants Request Timeout",
		"POST /v1/accounts/{accountId}/spends Request Timeout",
		"POST /v1/accounts/{accountId}/holds Request Timeout",
		"POST /v1/holds/{holdId}/capture Request Timeout",
		"POST /v1/holds/{holdId}/release Request Timeout",
		"POST /v1/accounts/{accountId}/spends Unprocessable Entity",
		"POST /v1/accounts/{accountId}/holds Created",
		"GET /v1/holds/{holdId} OK",
		"POST /v1/holds/{holdId}/capture OK",
		"POST /v1/holds/{holdId}/capture Conflict",
		"POST /v1/holds/{holdId}/release OK",
		"POST /v1/holds/{holdId}/release Conflict",
		"GET /v1/accounts/{accountId}/transactions OK",
		"GET /v1/accounts/{accountId}/transactions Bad Request",
		"GET /v1/accounts OK", "GET /v1/accounts Bad Request", "GET /v1/accounts Unauthorized", "GET /v1/accounts Service Unavailable",
		"GET /v1/accounts/{accountId}/holds OK", "GET /v1/accounts/{accountId}/holds Bad Request",
		"GET /v1/accounts/{accountId}/holds Not Found", "GET /v1/accounts/{accountId}/holds Service Unavailable",
		"GET /v1/accounts/{accountId}/expiring OK", "GET /v1/accounts/{accountId}/expiring Bad Request",
		"GET /v1/accounts/{accountId}/expiring Not Found", "GET /v1/accounts/{accountId}/expiring Service Unavailable",
		"GET /v1/transactions/{transactionId} OK", "GET /v1/transactions/{transactionId} Not Found",
		"GET /v1/transactions/{transactionId} Bad Request", "GET /v1/transactions/{transactionId} Service Unavailable",
		"GET /v1/lots OK", "GET /v1/lots Bad Request", "GET /v1/lots Forbidden", "GET /v1/lots Service Unavailable",
		"GET /v1/reconciliation/reports OK",
		"GET /v1/reconciliation/reports Bad Request",
		"GET /v1/reconciliation/reports Forbidden",
		"GET /v1/reconciliation/reports Service Unavailable",
		"GET /healthz OK", "GET /readyz OK", "GET /metrics OK", "GET /openapi.yaml OK",
		"POST /webhooks/portone OK", "POST /webhooks/portone Bad Request", "POST /webhooks/portone Request Entity Too Large",
		"GET /readyz Service Unavailable",
		"GET /v1/accounts/{accountId} Service Unavailable",
		"GET /v1/accounts/{accountId}/transactions Service Unavailable",
		"GET /v1/holds/{holdId} Service Unavailable",
		"POST /v1/accounts/{accountId}/grants Service Unavailable",
		"POST /v1/accounts/{accountId}/spends Service Unavailable",
		"POST /v1/accounts/{accountId}/holds Service Unavailable",
		"POST /v1/holds/{holdId}/capture Service Unavailable",
		"POST /v1/holds/{holdId}/release Service Unavailable",
		"GET /v1/products OK",
		"GET /v1/products Bad Request",
		"GET /v1/products Unauthorized",
		"GET /v1/products Service Unavailable",
		"POST /v1/products Created",
		"POST /v1/products Conflict",
		"POST /v1/products Bad Request",
		"POST /v1/products Forbidden",
		"POST /v1/products Unsupported Media Type",
		"POST /v1/products Request Entity Too Large",
		"POST /v1/products Request Timeout",
		"POST /v1/products Service Unavailable",
		"GET /v1/products/{productId} OK",
		"GET /v1/products/{productId} Not Found",
		"GET /v1/products/{productId} Bad Request",
		"GET /v1/products/{productId} Service Unavailable",
		"PATCH /v1/products/{productId} OK",
		"PATCH /v1/products/{productId} Bad Request",
		"PATCH /v1/products/{productId} Not Found",
		"PATCH /v1/products/{productId} Forbidden",
		"PATCH /v1/products/{productId} Unsupported Media Type",
		"PATCH /v1/products/{productId} Request Entity Too Large",
		"PATCH /v1/products/{productId} Request Timeout",
		"PATCH /v1/products/{productId} Service Unavailable",
		"POST /v1/orders Created",
		"POST /v1/orders Bad Request",
		"POST /v1/orders Unauthorized",
		"POST /v1/orders Forbidden",
		"POST /v1/orders Request Timeout",
		"POST /v1/orders Request Entity Too Large",
		"POST /v1/orders Unsupported Media Type",
		"POST /v1/orders Unprocessable Entity",
		"POST /v1/orders Bad Gateway",
		"POST /v1/orders Service Unavailable",
		"GET /v1/orders OK",
		"GET /v1/orders Bad Request",
		"GET /v1/orders Unauthorized",
		"GET /v1/orders Forbidden",
		"GET /v1/orders Service Unavailable",
		"GET /v1/orders/{paymentId} OK",
		"GET /v1/orders/{paymentId} Bad Request",
		"GET /v1/orders/{paymentId} Unauthorized",
		"GET /v1/orders/{paymentId} Forbidden",
		"GET /v1/orders/{paymentId} Not Found",
		"GET /v1/orders/{paymentId} Service Unavailable",
		"POST /v1/orders/{paymentId}/complete OK",
		"POST /v1/orders/{paymentId}/complete Bad Request",
		"POST /v1/orders/{paymentId}/complete Unauthorized",
		"POST /v1/orders/{paymentId}/complete Forbidden",
		"POST /v1/orders/{paymentId}/complete Not Found",
		"POST /v1/orders/{paymentId}/complete Bad Gateway",
		"POST /v1/orders/{paymentId}/complete Service Unavailable",
		"GET /v1/orders/{paymentId}/refund-quote OK",
		"GET /v1/orders/{paymentId}/refund-quote Bad Request",
		"GET /v1/orders/{paymentId}/refund-quote Unauthorized",
		"GET /v1/orders/{paymentId}/refund-quote Forbidden",
		"GET /v1/orders/{paymentId}/refund-quote Not Found",
		"POST /v1/orders/{paymentId}/refunds Created",
		"POST /v1/orders/{paymentId}/refunds Bad Request",
		"POST /v1/orders/{paymentId}/refunds Unauthorized",
		"POST /v1/orders/{paymentId}/refunds Forbidden",
		"POST /v1/orders/{paymentId}/refunds Not Found",
		"POST /v1/orders/{paymentId}/refunds Conflict",
		"POST /v1/orders/{paymentId}/refunds Unprocessable Entity",
		"POST /v1/orders/{paymentId}/refunds Unsupported Media Type",
		"POST /v1/orders/{paymentId}/refunds Request Entity Too Large",
		"POST /v1/orders/{paymentId}/refunds Request Timeout",
		"POST /v1/orders/{paymentId}/refunds Service Unavailable",
		"POST /v1/transactions/{transactionId}/reversals Created",
		"POST /v1/transactions/{transactionId}/reversals Bad Request",
		"POST /v1/transactions/{transactionId}/reversals Unauthorized",
		"POST /v1/transactions/{transactionId}/reversals Forbidden",
		"POST /v1/transactions/{transactionId}/reversals Not Found",
		"POST /v1/transactions/{transactionId}/reversals Conflict",
		"POST /v1/transactions/{transactionId}/reversals Unprocessable Entity",
		"POST /v1/transactions/{transactionId}/reversals Unsupported Media Type",
		"POST /v1/transactions/{transactionId}/reversals Request Entity Too Large",
		"POST /v1/transactions/{transactionId}/reversals Request Timeout",
		"POST /v1/transactions/{transactionId}/reversals Service Unavailable",
		"POST /v1/webhook-endpoints Created",
		"POST /v1/webhook-endpoints Bad Request",
		"POST /v1/webhook-endpoints Forbidden",
		"POST /v1/webhook-endpoints Unsupported Media Type",
		"POST /v1/webhook-endpoints Request Entity Too Large",
		"POST /v1/webhook-endpoints Request Timeout",
		"GET /v1/webhook-endpoints OK",
		"GET /v1/webhook-endpoints Forbidden",
		"GET /v1/webhook-endpoints/{endpointId} OK",
		"GET /v1/webhook-endpoints/{endpointId} Bad Request",
		"GET /v1/webhook-endpoints/{endpointId} Not Found",
		"GET /v1/webhook-endpoints/{endpointId}/deliveries OK",
		"GET /v1/webhook-endpoints/{endpointId}/deliveries Bad Request",
		"POST /v1/webhook-endpoints/{endpointId}/deliveries/{deliveryId}/redeliver Accepted",
		"POST /v1/webhook-endpoints/{endpointId}/deliveries/{deliveryId}/redeliver Bad Request",
		"POST /v1/webhook-endpoints/{endpointId}/deliveries/{deliveryId}/redeliver Not Found",
		"DELETE /v1/webhook-endpoints/{endpointId} No Content",
		"DELETE /v1/webhook-endpoints/{endpointId} Not Found",
		"DELETE /v1/webhook-endpoints/{endpointId} Forbidden",
	} {
		assert.True(t, validated[want], "not validated: %s", want)
	}
}

// TestEventPayloadsMatchOpenAPI: every event payload the application writes,
// as a receiver gets it, is what the document's Event schema describes.
func TestEventPayloadsMatchOpenAPI(t *testing.T) {
	doc := loadDocument(t, newHarness(t))
	schema := doc.Components.Schemas["Event"].Value
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	id, hold, lot := "0191e4a0-0000-7000-8000-000000000001", "0191e4a0-0000-7000-8000-000000000002", "0191e4a0-0000-7000-8000-000000000003"
	payloads := map[domain.EventType]any{
		domain.EventTransactionCreated: application.TransactionData{TransactionID: id, AccountID: "alice", Type: "CAPTURE", Amount: "5",
			BalanceAfter: "95", HoldID: &hold, CreatedAt: at},
		domain.EventOrderAwaitingDeposit: application.OrderData{PaymentID: "order-1", AccountID: "alice", ProductID: "pack", Status: "AWAITING_DEPOSIT", Gateway: "v1",
			TotalAmount: 10000, Currency: "KRW", Credits: "110", VirtualAccount: &application.VirtualAccountData{Bank: "SHINHAN", AccountNumber: "1", Holder: "shop", DueAt: &at}},
		domain.EventOrderRejected: application.OrderData{PaymentID: "order-1", AccountID: "alice", ProductID: "pack", Status: "REJECTED", Gateway: "v2",
			TotalAmount: 10000, Currency: "KRW", Credits: "110", Rejection: "amount"},
		domain.EventHoldExpired:     application.HoldData{HoldID: hold, AccountID: "alice", Status: "EXPIRED", Amount: "10", Captured: "4", Released: "6", ExpiresAt: at},
		domain.EventLotsExpiring:    application.LotsData{AccountID: "alice", Lots: []application.ExpiringLot{{LotID: lot, Source: "paid", Remaining: "3", ExpiresAt: at}}},
		domain.EventBalanceLow:      application.BalanceData{AccountID: "alice", Balance: "9", Held: "0", Available: "9", Threshold: "10", TransactionID: &id},
		domain.EventBalanceDepleted: application.BalanceData{AccountID: "alice", Balance: "-2", Held: "0", Available: "-2"},
	}
	for typ, data := range payloads {
		body, err := json.Marshal(map[string]any{"id": id, "type": typ.String(), "timestamp": at, "data": data})
		require.NoError(t, err)
		var v any
		require.NoError(t, json.Unmarshal(body, &v))
		assert.NoError(t, schema.VisitJSON(v), "%s: %s", typ, body)
	}
	bad, _ := json.Marshal(map[string]any{"id": id, "type": "transaction.created", "timestamp": at, "data": map[string]any{"transactionId": id}})
	var v any
	require.NoError(t, json.Unmarshal(bad, &v))
	assert.Error(t, schema.VisitJSON(v), "a payload missing its members passed")
}
