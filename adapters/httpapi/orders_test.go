package httpapi_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/creditd/creditd/adapters/memory"
	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

const (
	testStoreID    = "store-test"
	testChannelKey = "channel-test"
)

// fakeGateway is the in-memory gateway with helpers that take orders as
// the API renders them.
type fakeGateway struct{ *memory.Gateway }

func newFakeGateway() *fakeGateway { return &fakeGateway{memory.NewGateway()} }

func (g *fakeGateway) failWith(err error) { g.FailWith(err) }

// pay is the buyer paying the order (a JSON body of the API) as it asks,
// changed by tamper when given.
func (g *fakeGateway) pay(order map[string]any, tamper ...func(*domain.Payment)) {
	id, err := domain.ParsePaymentID(order["paymentId"].(string))
	if err != nil {
		panic(err)
	}
	custom, err := json.Marshal(order["customData"])
	if err != nil {
		panic(err)
	}
	p := domain.Payment{ID: id, Status: domain.PaymentPaid, StoreID: order["storeId"].(string), OrderName: order["orderName"].(string),
		Currency: order["currency"].(string), Total: int64(order["totalAmount"].(float64)), CustomData: string(custom)}
	p.Paid = p.Total
	for _, f := range tamper {
		f(&p)
	}
	g.Set(p)
}

func (g *fakeGateway) cancel(paymentID string, amount int64) {
	id, _ := domain.ParsePaymentID(paymentID)
	p, _ := g.Payment(id)
	p.Cancelled += amount
	p.Status = domain.PaymentPartialCancelled
	if p.Cancelled >= p.Total {
		p.Status = domain.PaymentCancelled
	}
	g.Set(p)
}

// order creates an order of pack-100 (created first if need be) for alpha's
// account and returns its body.
func (h *harness) order(account string) map[string]any {
	h.t.Helper()
	if w := h.get("/v1/products/pack-100"); w.Code == http.StatusNotFound {
		h.must(h.post("/v1/products", pack100), http.StatusCreated)
	}
	return h.must(h.post("/v1/orders", fmt.Sprintf(`{"accountId":%q,"productId":"pack-100"}`, account)), http.StatusCreated)
}

func TestOrderIsWhatRequestPaymentTakes(t *testing.T) {
	h := newHarness(t)
	o := h.order("buyer-1")
	for field, want := range map[string]any{"accountId": "buyer-1", "productId": "pack-100", "status": "PENDING",
		"storeId": testStoreID, "channelKey": testChannelKey, "orderName": "100 credits", "totalAmount": float64(10000),
		"currency": "KRW", "credits": "100", "bonusCredits": "10", "creditValidityDays": float64(365), "refundedAmount": "0",
		"virtualAccount": nil, "rejection": nil, "paidAt": nil} {
		assert.Equal(t, want, o[field], field)
	}
	assert.Equal(t, map[string]any{"creditdOrder": o["paymentId"]}, o["customData"])

	id := o["paymentId"].(string)
	assert.Equal(t, o, h.must(h.get("/v1/orders/"+id), http.StatusOK))
	h.gateway.pay(o)
	paid := h.must(h.post("/v1/orders/"+id+"/complete", ""), http.StatusOK)
	assert.Equal(t, "PAID", paid["status"])
	assert.NotNil(t, paid["paidAt"])
	assert.Equal(t, "110", h.must(h.get("/v1/accounts/buyer-1"), http.StatusOK)["balance"])
	// Completing again, with or without a body or a content type, changes nothing.
	assert.Equal(t, paid, h.must(h.post("/v1/orders/"+id+"/complete", "", withoutHeader("Idempotency-Key"), withoutHeader("Content-Type")), http.StatusOK))
	assert.Equal(t, paid, h.must(h.post("/v1/orders/"+id+"/complete", "ignored", withHeader("Content-Type", "text/plain")), http.StatusOK))
	assert.Equal(t, "110", h.must(h.get("/v1/accounts/buyer-1"), http.StatusOK)["balance"])

	h.gateway.cancel(id, 5000)
	refunded := h.must(h.post("/v1/orders/"+id+"/complete", ""), http.StatusOK)
	assert.Equal(t, "PARTIALLY_REFUNDED", refunded["status"])
	assert.Equal(t, "5000", refunded["refundedAmount"])
	assert.Equal(t, "55", h.must(h.get("/v1/accounts/buyer-1"), http.StatusOK)["balance"])
}

func TestCreateOrderRefusesBadInput(t *testing.T) {
	h := newHarness(t)
	h.must(h.post("/v1/products", pack100), http.StatusCreated)
	for _, tt := range []struct {
		name, body string
		fields     []string
	}{
		{"no accountId", `{"productId":"pack-100"}`, []string{"accountId"}},
		{"empty accountId", `{"accountId":"","productId":"pack-100"}`, []string{"accountId"}},
		{"no productId", `{"accountId":"buyer-1"}`, []string{"productId"}},
		{"neither", `{}`, []string{"accountId", "productId"}},
		{"long accountId", `{"accountId":"` + strings.Repeat("a", 129) + `","productId":"pack-100"}`, []string{"accountId"}},
		{"NUL in accountId", `{"accountId":"buyer\u0000","productId":"pack-100"}`, []string{"accountId"}},
		{"control character in productId", `{"accountId":"buyer-1","productId":"pack\u0001"}`, []string{"productId"}},
		{"invalid productId", `{"accountId":"buyer-1","productId":"pack 100"}`, []string{"productId"}},
		{"long productId", `{"accountId":"buyer-1","productId":"` + strings.Repeat("p", 65) + `"}`, []string{"productId"}},
		{"number for accountId", `{"accountId":42,"productId":"pack-100"}`, []string{"accountId"}},
		{"number for productId", `{"accountId":"buyer-1","productId":100}`, []string{"productId"}},
		{"null for productId", `{"accountId":"buyer-1","productId":null}`, []string{"productId"}},
		{"unknown field", `{"accountId":"buyer-1","productId":"pack-100","amount":"1"}`, []string{"amount"}},
		{"field in another case", `{"AccountId":"buyer-1","productId":"pack-100"}`, []string{"AccountId"}},
		{"duplicate key", `{"accountId":"buyer-1","productId":"pack-100","accountId":"buyer-2"}`, []string{"accountId"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := assertProblem(t, h.post("/v1/orders", tt.body), http.StatusBadRequest, "validation-failed")
			assert.ElementsMatch(t, tt.fields, problemFields(p), "body: %v", p)
		})
	}
	assertProblem(t, h.post("/v1/orders", `[]`), http.StatusBadRequest, "malformed-request")
	assertProblem(t, h.post("/v1/orders", `{"accountId":"buyer-1"`), http.StatusBadRequest, "malformed-request")
	assertProblem(t, h.post("/v1/orders", ``), http.StatusBadRequest, "malformed-request")
	assertProblem(t, h.post("/v1/orders", `{"accountId":"buyer-1","productId":"pack-100"}`, withoutHeader("Idempotency-Key")),
		http.StatusBadRequest, "idempotency-key-missing")
	assertProblem(t, h.post("/v1/orders", `{"accountId":"buyer-1","productId":"pack-100"}`, withHeader("Content-Type", "text/plain")),
		http.StatusUnsupportedMediaType, "unsupported-media-type")
	assertProblem(t, h.post("/v1/orders", `{"accountId":"buyer-1","productId":"nope"}`), http.StatusUnprocessableEntity, "product-unavailable")

	w := h.must(h.get("/v1/orders"), http.StatusOK)
	assert.Empty(t, w["items"], "a refused order was stored")
}

func problemFields(p map[string]any) []string {
	var out []string
	errs, _ := p["errors"].([]any)
	for _, e := range errs {
		out = append(out, e.(map[string]any)["field"].(string))
	}
	return out
}

func TestCreateOrderReplaysAndRefusesReusedKeys(t *testing.T) {
	h := newHarness(t)
	h.must(h.post("/v1/products", pack100), http.StatusCreated)
	first := h.post("/v1/orders", `{"accountId":"buyer-1","productId":"pack-100"}`, withIdem("k1"))
	replay := h.post("/v1/orders", `{ "productId":"pack-100", "accountId":"buyer-1" }`, withIdem("k1"))
	require.Equal(t, http.StatusCreated, replay.Code)
	assert.Equal(t, first.Body.String(), replay.Body.String())
	assert.Equal(t, "true", replay.Header().Get("Idempotent-Replayed"))
	assertProblem(t, h.post("/v1/orders", `{"accountId":"buyer-2","productId":"pack-100"}`, withIdem("k1")),
		http.StatusUnprocessableEntity, "idempotency-key-reused")
	// A product-unavailable answer is remembered too.
	assertProblem(t, h.post("/v1/orders", `{"accountId":"buyer-1","productId":"pack-x"}`, withIdem("k2")), http.StatusUnprocessableEntity, "product-unavailable")
	again := h.post("/v1/orders", `{"accountId":"buyer-1","productId":"pack-x"}`, withIdem("k2"))
	assertProblem(t, again, http.StatusUnprocessableEntity, "product-unavailable")
	assert.Equal(t, "true", again.Header().Get("Idempotent-Replayed"))
	assert.Len(t, h.must(h.get("/v1/orders"), http.StatusOK)["items"], 1)
}

func TestOrdersWhenThePaymentGatewayFails(t *testing.T) {
	h := newHarness(t)
	o := h.order("buyer-1")
	id := o["paymentId"].(string)
	h.gateway.pay(o)

	h.gateway.failWith(fmt.Errorf("read payment: %w", application.ErrUnavailable))
	w := h.post("/v1/orders/"+id+"/complete", "")
	assertProblem(t, w, http.StatusServiceUnavailable, "unavailable")
	assert.NotEmpty(t, w.Header().Get("Retry-After"))
	assertProblem(t, h.post("/v1/orders", `{"accountId":"buyer-1","productId":"pack-100"}`), http.StatusServiceUnavailable, "unavailable")

	h.gateway.failWith(&application.GatewayError{Status: http.StatusUnauthorized, Type: "UNAUTHORIZED", Message: "bad secret"})
	p := assertProblem(t, h.post("/v1/orders/"+id+"/complete", ""), http.StatusBadGateway, "payment-gateway-error")
	assert.NotContains(t, p["detail"], "bad secret", "PortOne's words are for the operator's logs")
	assertProblem(t, h.post("/v1/orders", `{"accountId":"buyer-1","productId":"pack-100"}`, withIdem("k")), http.StatusBadGateway, "payment-gateway-error")

	// Nothing was stored by the failed creates, and the key runs afresh once PortOne is back.
	h.gateway.failWith(nil)
	assert.Len(t, h.must(h.get("/v1/orders"), http.StatusOK)["items"], 1)
	h.must(h.post("/v1/orders", `{"accountId":"buyer-1","productId":"pack-100"}`, withIdem("k")), http.StatusCreated)
	assert.Equal(t, "PAID", h.must(h.post("/v1/orders/"+id+"/complete", ""), http.StatusOK)["status"])
}

func TestListOrdersRefusesBadQueryParameters(t *testing.T) {
	h := newHarness(t)
	goodCursor := base64.RawURLEncoding.EncodeToString([]byte("2026-03-01T09:00:00Z|ord-1"))
	for _, tt := range []struct{ query, field string }{
		{"accountId=", "accountId"},
		{"accountId=" + url.QueryEscape("a\x00b"), "accountId"},
		{"accountId=" + strings.Repeat("a", 129), "accountId"},
		{"status=paid", "status"},
		{"status=", "status"},
		{"updatedSince=yesterday", "updatedSince"},
		{"updatedSince=2026-03-01", "updatedSince"},
		{"limit=0", "limit"},
		{"limit=201", "limit"},
		{"limit=ten", "limit"},
		{"cursor=%21%21", "cursor"},
		{"cursor=" + base64.RawURLEncoding.EncodeToString([]byte("not a cursor")), "cursor"},
		{"cursor=" + base64.RawURLEncoding.EncodeToString([]byte("2026-03-01T09:00:00Z|ord 1")), "cursor"},
		{"cursor=" + goodCursor + "%3D", "cursor"}, // padding, which cursors never have
	} {
		t.Run(tt.query, func(t *testing.T) {
			p := assertProblem(t, h.get("/v1/orders?"+tt.query), http.StatusBadRequest, "validation-failed")
			assert.Equal(t, []string{tt.field}, problemFields(p))
		})
	}
	// Every bad parameter is named at once.
	p := assertProblem(t, h.get("/v1/orders?accountId=&status=x&updatedSince=x&limit=x&cursor=x"), http.StatusBadRequest, "validation-failed")
	assert.ElementsMatch(t, []string{"accountId", "status", "updatedSince", "limit", "cursor"}, problemFields(p))
	h.must(h.get("/v1/orders?cursor="+goodCursor), http.StatusOK)
}

func TestListOrdersPagesWithCursorsAndFilters(t *testing.T) {
	h := newHarness(t)
	var created []string
	for i := range 5 {
		created = append(created, h.order(fmt.Sprintf("buyer-%d", i%2))["paymentId"].(string))
		h.clock.Advance(1)
	}
	// The third order is paid later, so it moves to the end of the list.
	o := h.must(h.get("/v1/orders/"+created[2]), http.StatusOK)
	h.gateway.pay(o)
	h.clock.Advance(1)
	h.must(h.post("/v1/orders/"+created[2]+"/complete", ""), http.StatusOK)
	want := []string{created[0], created[1], created[3], created[4], created[2]}

	var got []string
	path := "/v1/orders?limit=2"
	for pages := 0; ; pages++ {
		require.Less(t, pages, 5, "the cursor does not end")
		page := h.must(h.get(path), http.StatusOK)
		for _, it := range page["items"].([]any) {
			got = append(got, it.(map[string]any)["paymentId"].(string))
		}
		next, ok := page["nextCursor"].(string)
		if !ok {
			break
		}
		path = "/v1/orders?limit=2&cursor=" + url.QueryEscape(next)
		// A tampered cursor is refused, not taken as another position.
		for _, tampered := range []string{next[:len(next)/2] + "!" + next[len(next)/2+1:], "A" + next[1:], next + "A"} {
			p := assertProblem(t, h.get("/v1/orders?cursor="+url.QueryEscape(tampered)), http.StatusBadRequest, "validation-failed")
			assert.Equal(t, []string{"cursor"}, problemFields(p))
		}
	}
	assert.Equal(t, want, got)

	paymentIDs := func(query string) []string {
		var out []string
		for _, it := range h.must(h.get("/v1/orders?"+query), http.StatusOK)["items"].([]any) {
			out = append(out, it.(map[string]any)["paymentId"].(string))
		}
		return out
	}
	assert.Equal(t, []string{created[0], created[4], created[2]}, paymentIDs("accountId=buyer-0"))
	assert.Equal(t, []string{created[2]}, paymentIDs("status=PAID"))
	assert.Equal(t, []string{created[0], created[1], created[3], created[4]}, paymentIDs("status=PENDING"))
	assert.Equal(t, []string{created[4], created[2]}, paymentIDs("updatedSince="+url.QueryEscape(start.Add(4).Format("2006-01-02T15:04:05.999999999Z07:00"))))
	assert.Empty(t, paymentIDs("accountId=buyer-0&status=REFUNDED"))
	assert.Empty(t, h.must(h.get("/v1/orders", withKey(h.keyB)), http.StatusOK)["items"], "another tenant's orders")
}

func TestOrderRoutesNeedOrderScopes(t *testing.T) {
	h := newHarness(t)
	o := h.order("buyer-1")
	id := o["paymentId"].(string)
	creditsOnly := h.issueKey("alpha", domain.ScopeRead, domain.ScopeWrite)
	catalogOnly := h.issueKey("alpha", domain.ScopeCatalogWrite)
	readOnly := h.issueKey("alpha", domain.ScopeOrdersRead)
	writeOnly := h.issueKey("alpha", domain.ScopeOrdersWrite)
	create := `{"accountId":"buyer-1","productId":"pack-100"}`
	for _, key := range []string{creditsOnly, catalogOnly} {
		assertProblem(t, h.post("/v1/orders", create, withKey(key)), http.StatusForbidden, "forbidden")
		assertProblem(t, h.get("/v1/orders", withKey(key)), http.StatusForbidden, "forbidden")
		assertProblem(t, h.get("/v1/orders/"+id, withKey(key)), http.StatusForbidden, "forbidden")
		assertProblem(t, h.post("/v1/orders/"+id+"/complete", "", withKey(key)), http.StatusForbidden, "forbidden")
	}
	assertProblem(t, h.post("/v1/orders", create, withKey(readOnly)), http.StatusForbidden, "forbidden")
	assertProblem(t, h.post("/v1/orders/"+id+"/complete", "", withKey(readOnly)), http.StatusForbidden, "forbidden")
	h.must(h.get("/v1/orders", withKey(readOnly)), http.StatusOK)
	h.must(h.get("/v1/orders/"+id, withKey(readOnly)), http.StatusOK)
	assertProblem(t, h.get("/v1/orders", withKey(writeOnly)), http.StatusForbidden, "forbidden")
	assertProblem(t, h.get("/v1/orders/"+id, withKey(writeOnly)), http.StatusForbidden, "forbidden")
	h.must(h.post("/v1/orders", create, withKey(writeOnly)), http.StatusCreated)
	h.must(h.post("/v1/orders/"+id+"/complete", "", withKey(writeOnly)), http.StatusOK)
	for _, r := range []struct{ method, path string }{{"POST", "/v1/orders"}, {"GET", "/v1/orders"}, {"GET", "/v1/orders/" + id},
		{"POST", "/v1/orders/" + id + "/complete"}} {
		assertProblem(t, h.do(r.method, r.path, create, withoutHeader("Authorization")), http.StatusUnauthorized, "unauthorized")
	}
}

func TestAnotherTenantsOrderIsNotFound(t *testing.T) {
	h := newHarness(t)
	o := h.order("buyer-1")
	id := o["paymentId"].(string)
	h.gateway.pay(o)
	assertProblem(t, h.get("/v1/orders/"+id, withKey(h.keyB)), http.StatusNotFound, "not-found")
	assertProblem(t, h.post("/v1/orders/"+id+"/complete", "", withKey(h.keyB)), http.StatusNotFound, "not-found")
	// Beta's complete did not pay alpha's order.
	assert.Equal(t, "PENDING", h.must(h.get("/v1/orders/"+id), http.StatusOK)["status"])
	assertProblem(t, h.get("/v1/orders/ord-nope"), http.StatusNotFound, "not-found")
	assertProblem(t, h.post("/v1/orders/ord-nope/complete", ""), http.StatusNotFound, "not-found")
}

func TestPaymentIDsInPaths(t *testing.T) {
	h := newHarness(t)
	id := h.order("buyer-1")["paymentId"].(string)
	// Percent-encoded characters of a payment id are the characters.
	escaped := strings.ReplaceAll(strings.Replace(id, "o", "%6F", 1), "-", "%2D")
	assert.Equal(t, id, h.must(h.get("/v1/orders/"+escaped), http.StatusOK)["paymentId"])
	assert.Equal(t, id, h.must(h.post("/v1/orders/"+escaped+"/complete", ""), http.StatusOK)["paymentId"])
	for _, bad := range []string{"ord%2F1", "ord%201", "ord+1", "ord%001", strings.Repeat("p", 65), "%C3%A9"} {
		t.Run(bad, func(t *testing.T) {
			p := assertProblem(t, h.get("/v1/orders/"+bad), http.StatusBadRequest, "validation-failed")
			assert.Equal(t, []string{"paymentId"}, problemFields(p))
			assertProblem(t, h.post("/v1/orders/"+bad+"/complete", ""), http.StatusBadRequest, "validation-failed")
		})
	}
}

func TestRefundRefusesBadInput(t *testing.T) {
	h := newHarness(t)
	o := h.order("buyer-1")
	id := o["paymentId"].(string)
	h.gateway.pay(o)
	h.must(h.post("/v1/orders/"+id+"/complete", ""), http.StatusOK)
	path := "/v1/orders/" + id + "/refunds"
	for _, tt := range []struct {
		name, body string
		fields     []string
	}{
		{"no reason", `{"amount":"100"}`, []string{"reason"}},
		{"NUL in reason", `{"reason":"r\u0000"}`, []string{"reason"}},
		{"long reason", `{"reason":"` + strings.Repeat("r", 501) + `"}`, []string{"reason"}},
		{"number for amount", `{"amount":100,"reason":"r"}`, []string{"amount"}},
		{"zero amount", `{"amount":"0","reason":"r"}`, []string{"amount"}},
		{"negative amount", `{"amount":"-1","reason":"r"}`, []string{"amount"}},
		{"fraction", `{"amount":"1.5","reason":"r"}`, []string{"amount"}},
		{"exponent", `{"amount":"1e3","reason":"r"}`, []string{"amount"}},
		{"leading zero", `{"amount":"0100","reason":"r"}`, []string{"amount"}},
		{"unknown field", `{"reason":"r","credits":"1"}`, []string{"credits"}},
		{"duplicate key", `{"amount":"1","reason":"r","amount":"100"}`, []string{"amount"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := assertProblem(t, h.post(path, tt.body), http.StatusBadRequest, "validation-failed")
			assert.ElementsMatch(t, tt.fields, problemFields(p), "body: %v", p)
		})
	}
	assertProblem(t, h.post(path, `{"reason":"r"}`, withoutHeader("Idempotency-Key")), http.StatusBadRequest, "idempotency-key-missing")
	assertProblem(t, h.post("/v1/orders/ord%00x/refunds", `{"reason":"r"}`), http.StatusBadRequest, "validation-failed")
	assertProblem(t, h.do("PUT", path, `{"reason":"r"}`), http.StatusMethodNotAllowed, "method-not-allowed")
	assert.Empty(t, h.gateway.Cancels(), "a refused refund reached the gateway")
	q := h.must(h.get("/v1/orders/"+id+"/refund-quote"), http.StatusOK)
	assert.Equal(t, false, q["refundInProgress"])
	assert.Equal(t, "0", h.must(h.get("/v1/accounts/buyer-1"), http.StatusOK)["held"], "a refused refund reserved credits")
}
