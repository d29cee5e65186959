package httpapi_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/creditd/creditd/domain"
)

const (
	testIMPCode = "imp-test"
	testPG      = "html5_inicis"
)

// v1Order creates a V1 order of pack-100 and returns its body.
func (h *harness) v1Order(account string) map[string]any {
	h.t.Helper()
	if w := h.get("/v1/products/pack-100"); w.Code == http.StatusNotFound {
		h.must(h.post("/v1/products", pack100), http.StatusCreated)
	}
	return h.must(h.post("/v1/orders", fmt.Sprintf(`{"accountId":%q,"productId":"pack-100","gateway":"v1"}`, account)), http.StatusCreated)
}

// payV1 is the buyer paying a V1 order (as the API renders it) in attempt impUID.
func (g *fakeGateway) payV1(order map[string]any, impUID string) {
	id, err := domain.ParsePaymentID(order["merchantUid"].(string))
	if err != nil {
		panic(err)
	}
	amount := int64(order["amount"].(float64))
	g.Set(domain.Payment{ID: id, TransactionID: impUID, Status: domain.PaymentPaid, StoreID: testIMPCode, OrderName: order["name"].(string),
		Currency: order["currency"].(string), Total: amount, Paid: amount})
}

func TestV1OrderIsWhatRequestPayTakes(t *testing.T) {
	h := newHarness(t)
	o := h.v1Order("buyer-1")
	id := o["paymentId"].(string)
	for field, want := range map[string]any{"gateway": "v1", "impCode": testIMPCode, "pg": testPG, "merchantUid": id,
		"name": "100 credits", "amount": float64(10000), "currency": "KRW", "status": "PENDING", "transactionId": nil} {
		assert.Equal(t, want, o[field], field)
	}
	for _, v2Only := range []string{"storeId", "channelKey"} {
		assert.NotContains(t, o, v2Only)
	}
	assert.Equal(t, o, h.must(h.get("/v1/orders/"+id), http.StatusOK))

	other := h.v1Order("buyer-2")
	h.v1.payV1(other, "imp_other")
	// An imp_uid of another order's payment, or of none, is refused and grants nothing.
	for _, hint := range []string{"imp_other", "imp_nobody"} {
		assertProblem(t, h.post("/v1/orders/"+id+"/complete", fmt.Sprintf(`{"impUid":%q}`, hint)), http.StatusUnprocessableEntity, "payment-mismatch")
	}
	// An impUid that is not a short token is refused before PortOne is asked.
	for _, body := range []string{`{"impUid":"imp/../1"}`, `{"impUid":"` + string(make([]byte, 65)) + `"}`, `{"impUid":1}`,
		`{"impUid":"a","impUid":"b"}`, `{"impUID":"imp_1"}`} {
		w := h.post("/v1/orders/"+id+"/complete", body)
		assert.Equal(t, http.StatusBadRequest, w.Code, body)
	}
	assert.Equal(t, http.StatusNotFound, h.get("/v1/accounts/buyer-1").Code, "nothing was granted")

	h.v1.payV1(o, "imp_mine")
	paid := h.must(h.post("/v1/orders/"+id+"/complete", `{"impUid":"imp_mine"}`), http.StatusOK)
	assert.Equal(t, "PAID", paid["status"])
	assert.Equal(t, "imp_mine", paid["transactionId"])
	// Without a hint, the payment is found by merchant_uid.
	assert.Equal(t, "PAID", h.must(h.post("/v1/orders/"+other["paymentId"].(string)+"/complete", ""), http.StatusOK)["status"])
	assert.Equal(t, "110", h.must(h.get("/v1/accounts/buyer-1"), http.StatusOK)["balance"])
	assert.Equal(t, "110", h.must(h.get("/v1/accounts/buyer-2"), http.StatusOK)["balance"])
}

func TestOrderGatewayIsCheckedAndAV2OrderTakesNoImpUID(t *testing.T) {
	h := newHarness(t)
	h.must(h.post("/v1/products", pack100), http.StatusCreated)
	for _, gw := range []string{`"v3"`, `"V1"`, `""`, `1`, `null`} {
		w := h.post("/v1/orders", `{"accountId":"b","productId":"pack-100","gateway":`+gw+`}`)
		if gw == `""` || gw == `null` { // left out: the default
			assert.Equal(t, http.StatusCreated, w.Code, gw)
			continue
		}
		assert.Equal(t, http.StatusBadRequest, w.Code, gw)
	}
	o := h.order("buyer-1")
	assert.Equal(t, "v2", o["gateway"])
	h.gateway.pay(o)
	assertProblem(t, h.post("/v1/orders/"+o["paymentId"].(string)+"/complete", `{"impUid":"imp_1"}`), http.StatusBadRequest, "validation-failed")
	assert.Equal(t, http.StatusNotFound, h.get("/v1/accounts/buyer-1").Code, "nothing was granted")
}

// TestCompleteBodyUnderAttack: the optional body of complete, as an
// attacker sends it, is refused and changes nothing.
func TestCompleteBodyUnderAttack(t *testing.T) {
	h := newHarness(t)
	o := h.v1Order("buyer-1")
	id := o["paymentId"].(string)
	h.v1.payV1(o, "imp_1")
	path := "/v1/orders/" + id + "/complete"
	assertProblem(t, h.post(path, "", withStalledBody), http.StatusRequestTimeout, "request-timeout")
	for body, problem := range map[string]string{
		`{"impUid":"imp\u0000"}`: "validation-failed", `{"impUid":"imp%2F1"}`: "validation-failed",
		"{\"impUid\":\"imp\xff\"}": "malformed-request", `{"impUid":""}{}`: "malformed-request", `[]`: "malformed-request", `null`: "malformed-request",
	} {
		assertProblem(t, h.post(path, body), http.StatusBadRequest, problem)
	}
	assertProblem(t, h.post(path, `{"impUid":"imp_1"}`, withoutHeader("Authorization")), http.StatusUnauthorized, "unauthorized")
	for _, m := range []string{http.MethodPut, "PROPFIND"} {
		assertProblem(t, h.do(m, path, `{"impUid":"imp_1"}`), http.StatusMethodNotAllowed, "method-not-allowed")
	}
	assertProblem(t, h.post("/v1/orders/ord%00x/complete", `{"impUid":"imp_1"}`), http.StatusBadRequest, "validation-failed")
	r := h.must(h.get("/v1/orders/"+id), http.StatusOK)
	assert.Equal(t, "PENDING", r["status"], "an attack completed the order")
}
