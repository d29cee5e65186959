package shop_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/creditd/creditd/cmd/demo-shop/shop"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const apiKey = "cdk_test_secret_key_0123456789"

// call is one request creditd received.
type call struct {
	Method, URI, Auth, IdempotencyKey, ContentType string
	Body                                           map[string]any
}

// fakeCreditd records every request and answers from routes ("METHOD
// /path" as the shop escapes it, without the query), or 404.
type fakeCreditd struct {
	mu     sync.Mutex
	calls  []call
	routes map[string]func(w http.ResponseWriter)
}

func (f *fakeCreditd) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := call{Method: r.Method, URI: r.RequestURI, Auth: r.Header.Get("Authorization"),
		IdempotencyKey: r.Header.Get("Idempotency-Key"), ContentType: r.Header.Get("Content-Type")}
	if raw, _ := io.ReadAll(r.Body); len(raw) > 0 {
		if err := json.Unmarshal(raw, &c.Body); err != nil {
			panic(err)
		}
	}
	f.mu.Lock()
	f.calls = append(f.calls, c)
	answer := f.routes[r.Method+" "+r.URL.EscapedPath()]
	f.mu.Unlock()
	if answer == nil {
		problem(w, 404, "not-found", "no such thing")
		return
	}
	answer(w)
}

func (f *fakeCreditd) Calls() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]call(nil), f.calls...)
}

func reply(status int, body string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

func problem(w http.ResponseWriter, status int, slug, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, `{"type":"https://creditd.dev/problems/%s","title":"x","status":%d,"detail":%q,"instance":"/"}`, slug, status, detail)
}

func problemReply(status int, slug, detail string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) { problem(w, status, slug, detail) }
}

func orderJSON(paymentID, account, status string) string {
	return fmt.Sprintf(`{"paymentId":%q,"accountId":%q,"productId":"pack-100","status":%q,"storeId":"store-1",
		"channelKey":"channel-1","orderName":"100 credits","totalAmount":10000,"currency":"KRW",
		"customData":{"order":%q},"credits":"100","bonusCredits":"30","creditValidityDays":null,
		"refundedAmount":"0","virtualAccount":null,"rejection":null,"paidAt":null,
		"createdAt":"2030-01-02T15:04:05Z","updatedAt":"2030-01-02T15:04:05Z"}`, paymentID, account, status, paymentID)
}

const (
	aliceOrder = "ord-0195f2a1-7c3e-7a10-8b2d-5e4f6a7b8c9d"
	bobOrder   = "ord-0195f2a1-7c3e-7a10-8b2d-000000000b0b"
)

// newShop runs the shop in-process against a fake creditd with the usual answers.
func newShop(t *testing.T) (*httptest.Server, *fakeCreditd) {
	t.Helper()
	fake := &fakeCreditd{routes: map[string]func(http.ResponseWriter){
		"GET /v1/products": reply(200, `{"items":[{"id":"pack-100","name":"100 credits","price":"10000","currency":"KRW",
			"credits":"100","bonusCredits":"30","creditValidityDays":365,"active":true,
			"createdAt":"2030-01-02T15:04:05Z","updatedAt":"2030-01-02T15:04:05Z"}]}`),
		"GET /v1/accounts/demo-alice": reply(200, `{"id":"demo-alice","balance":"130","held":"0","available":"130","debt":"0","lots":[]}`),
		"GET /v1/accounts/demo-alice/transactions": reply(200, `{"items":[{"id":"7b0e0a36-0000-4000-8000-000000000001","type":"GRANT",
			"accountId":"demo-alice","amount":"130","balanceAfter":"130","createdAt":"2030-01-02T15:04:05Z","reason":"order",
			"metadata":{},"funding":null,"postings":[]}],"nextCursor":null}`),
		"POST /v1/orders":                                reply(201, orderJSON(aliceOrder, "demo-alice", "PENDING")),
		"GET /v1/orders":                                 reply(200, `{"items":[`+orderJSON(aliceOrder, "demo-alice", "PAID")+`],"nextCursor":null}`),
		"GET /v1/orders/" + aliceOrder:                   reply(200, orderJSON(aliceOrder, "demo-alice", "PENDING")),
		"GET /v1/orders/" + bobOrder:                     reply(200, orderJSON(bobOrder, "demo-bob", "PAID")),
		"POST /v1/orders/" + aliceOrder + "/complete":    reply(200, orderJSON(aliceOrder, "demo-alice", "PAID")),
		"GET /v1/orders/" + aliceOrder + "/refund-quote": reply(200, `{"paymentId":"`+aliceOrder+`","currency":"KRW","refundableAmount":"10000","refundableCredits":"130","refundedAmount":"0","refundInProgress":false}`),
		"POST /v1/orders/" + aliceOrder + "/refunds":     reply(201, orderJSON(aliceOrder, "demo-alice", "REFUNDED")),
		"POST /v1/accounts/demo-alice/spends": reply(201, `{"id":"7b0e0a36-0000-4000-8000-000000000002","type":"SPEND","accountId":"demo-alice",
			"amount":"1","balanceAfter":"129","createdAt":"2030-01-02T15:04:05Z","reason":"Dub one minute of video","metadata":{},"funding":null,"postings":[]}`),
	}}
	creditd := httptest.NewServer(fake)
	t.Cleanup(creditd.Close)
	s, err := shop.New(shop.Config{CreditdURL: creditd.URL, APIKey: apiKey,
		PortOneSDKURL: "https://cdn.portone.io/v2/browser-sdk.js", Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return srv, fake
}

type response struct {
	Status int
	Header http.Header
	Body   string
}

// send makes a browser request to the shop as user (no cookie when "").
func send(t *testing.T, srv *httptest.Server, method, path, user, body string) response {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if user != "" {
		req.AddCookie(&http.Cookie{Name: "demo_user", Value: user})
	}
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return response{resp.StatusCode, resp.Header, string(raw)}
}

func TestEachRouteCallsCreditd(t *testing.T) {
	type want struct{ method, uri, body string } // body: creditd's JSON body, "" for none
	tests := []struct {
		name, method, path, user, body string
		status                         int
		calls                          []want
	}{
		{"products", "GET", "/api/products", "", "", 200, []want{{"GET", "/v1/products?active=true", ""}}},
		{"me, alice by default", "GET", "/api/me", "", "", 200, []want{
			{"GET", "/v1/accounts/demo-alice", ""}, {"GET", "/v1/accounts/demo-alice/transactions?limit=20", ""}}},
		{"me, a new user has no account yet", "GET", "/api/me", "carol", "", 200, []want{{"GET", "/v1/accounts/demo-carol", ""}}},
		{"create an order", "POST", "/api/orders", "alice", `{"productId":"pack-100"}`, 201, []want{
			{"POST", "/v1/orders", `{"accountId":"demo-alice","productId":"pack-100"}`}}},
		{"create an order as bob", "POST", "/api/orders", "bob", `{"productId":"pack-100"}`, 201, []want{
			{"POST", "/v1/orders", `{"accountId":"demo-bob","productId":"pack-100"}`}}},
		{"create an order through V1", "POST", "/api/orders", "alice", `{"productId":"pack-100","gateway":"v1"}`, 201, []want{
			{"POST", "/v1/orders", `{"accountId":"demo-alice","productId":"pack-100","gateway":"v1"}`}}},
		{"create an order through V2", "POST", "/api/orders", "alice", `{"productId":"pack-100","gateway":"v2"}`, 201, []want{
			{"POST", "/v1/orders", `{"accountId":"demo-alice","productId":"pack-100","gateway":"v2"}`}}},
		{"list orders", "GET", "/api/orders", "alice", "", 200, []want{{"GET", "/v1/orders?accountId=demo-alice&limit=200", ""}}},
		{"get an order", "GET", "/api/orders/" + aliceOrder, "alice", "", 200, []want{{"GET", "/v1/orders/" + aliceOrder, ""}}},
		{"complete", "POST", "/api/orders/" + aliceOrder + "/complete", "alice", "", 200, []want{
			{"GET", "/v1/orders/" + aliceOrder, ""}, {"POST", "/v1/orders/" + aliceOrder + "/complete", ""}}},
		{"complete with V1's imp_uid", "POST", "/api/orders/" + aliceOrder + "/complete", "alice", `{"impUid":"imp_000000000001"}`, 200, []want{
			{"GET", "/v1/orders/" + aliceOrder, ""}, {"POST", "/v1/orders/" + aliceOrder + "/complete", `{"impUid":"imp_000000000001"}`}}},
		{"complete with an empty object", "POST", "/api/orders/" + aliceOrder + "/complete", "alice", `{}`, 200, []want{
			{"GET", "/v1/orders/" + aliceOrder, ""}, {"POST", "/v1/orders/" + aliceOrder + "/complete", ""}}},
		{"refund quote", "GET", "/api/orders/" + aliceOrder + "/refund-quote", "alice", "", 200, []want{
			{"GET", "/v1/orders/" + aliceOrder, ""}, {"GET", "/v1/orders/" + aliceOrder + "/refund-quote", ""}}},
		{"refund what the quote said", "POST", "/api/orders/" + aliceOrder + "/refunds", "alice", `{"reason":"changed my mind","amount":"10000"}`, 201, []want{
			{"GET", "/v1/orders/" + aliceOrder, ""}, {"POST", "/v1/orders/" + aliceOrder + "/refunds", `{"reason":"changed my mind","amount":"10000"}`}}},
		{"refund all", "POST", "/api/orders/" + aliceOrder + "/refunds", "alice", `{"reason":"changed my mind"}`, 201, []want{
			{"GET", "/v1/orders/" + aliceOrder, ""}, {"POST", "/v1/orders/" + aliceOrder + "/refunds", `{"reason":"changed my mind"}`}}},
		{"spend one by default", "POST", "/api/spend", "alice", `{"reason":"Dub one minute of video"}`, 201, []want{
			{"POST", "/v1/accounts/demo-alice/spends", `{"amount":"1","reason":"Dub one minute of video"}`}}},
		{"spend three", "POST", "/api/spend", "", `{"amount":3,"reason":"Dub three minutes"}`, 201, []want{
			{"POST", "/v1/accounts/demo-alice/spends", `{"amount":"3","reason":"Dub three minutes"}`}}},
		// Orders are the shop's buyers' own: bob's order is not alice's to see,
		// complete or refund, and creditd is asked nothing more.
		{"another buyer's order", "GET", "/api/orders/" + bobOrder, "alice", "", 404, []want{{"GET", "/v1/orders/" + bobOrder, ""}}},
		{"complete another buyer's order", "POST", "/api/orders/" + bobOrder + "/complete", "alice", "", 404, []want{{"GET", "/v1/orders/" + bobOrder, ""}}},
		{"refund another buyer's order", "POST", "/api/orders/" + bobOrder + "/refunds", "alice", `{"reason":"mine now"}`, 404, []want{{"GET", "/v1/orders/" + bobOrder, ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, fake := newShop(t)
			resp := send(t, srv, tt.method, tt.path, tt.user, tt.body)
			require.Equal(t, tt.status, resp.Status, resp.Body)
			assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
			calls := fake.Calls()
			require.Len(t, calls, len(tt.calls))
			for i, c := range calls {
				assert.Equal(t, tt.calls[i].method, c.Method)
				assert.Equal(t, tt.calls[i].uri, c.URI)
				assert.Equal(t, "Bearer "+apiKey, c.Auth)
				if c.Method == "POST" {
					assert.NotEmpty(t, c.IdempotencyKey, "every POST carries an Idempotency-Key")
				}
				if tt.calls[i].body == "" {
					assert.Nil(t, c.Body)
				} else {
					got, _ := json.Marshal(c.Body)
					assert.JSONEq(t, tt.calls[i].body, string(got))
					assert.Equal(t, "application/json", c.ContentType)
				}
			}
		})
	}
}

func TestIdempotencyKeysAreFreshPerAction(t *testing.T) {
	srv, fake := newShop(t)
	for range 2 {
		require.Equal(t, 201, send(t, srv, "POST", "/api/spend", "alice", `{"reason":"x"}`).Status)
	}
	calls := fake.Calls()
	require.Len(t, calls, 2)
	assert.NotEqual(t, calls[0].IdempotencyKey, calls[1].IdempotencyKey, "two clicks are two spends")
}

func TestResponsesForThePage(t *testing.T) {
	srv, _ := newShop(t)

	var me struct {
		User         string
		AccountID    string
		Account      struct{ Available string }
		Transactions []struct{ Type, Amount string }
	}
	require.NoError(t, json.Unmarshal([]byte(send(t, srv, "GET", "/api/me", "", "").Body), &me))
	assert.Equal(t, "alice", me.User)
	assert.Equal(t, "demo-alice", me.AccountID)
	assert.Equal(t, "130", me.Account.Available)
	require.Len(t, me.Transactions, 1)
	assert.Equal(t, "GRANT", me.Transactions[0].Type)

	resp := send(t, srv, "GET", "/api/me", "carol", "")
	assert.JSONEq(t, `{"user":"carol","accountId":"demo-carol","account":{"balance":"0","held":"0","available":"0","debt":"0"},"transactions":[]}`, resp.Body)

	// The order carries what requestPayment takes, customData unchanged.
	var o map[string]any
	require.NoError(t, json.Unmarshal([]byte(send(t, srv, "POST", "/api/orders", "alice", `{"productId":"pack-100"}`).Body), &o))
	for _, field := range []string{"paymentId", "storeId", "channelKey", "orderName", "totalAmount", "currency", "customData", "status", "credits", "bonusCredits"} {
		assert.Contains(t, o, field)
	}
	assert.Equal(t, map[string]any{"order": aliceOrder}, o["customData"])
	assert.InDelta(t, 10000, o["totalAmount"], 0)

	resp = send(t, srv, "POST", "/api/user", "", `{"user":"bob"}`)
	require.Equal(t, 200, resp.Status)
	assert.Contains(t, resp.Header.Get("Set-Cookie"), "demo_user=bob")
	assert.Contains(t, resp.Header.Get("Set-Cookie"), "HttpOnly")
}

func TestAPIKeyNeverReachesTheBrowser(t *testing.T) {
	srv, fake := newShop(t)
	fake.routes["GET /v1/accounts/demo-dave"] = problemReply(401, "unauthorized", "the key "+apiKey+" is revoked")
	for _, r := range []struct{ method, path, user, body string }{
		{"GET", "/", "", ""}, {"GET", "/shop.js", "", ""}, {"GET", "/shop.css", "", ""},
		{"GET", "/api/me", "", ""}, {"GET", "/api/me", "dave", ""}, {"GET", "/api/products", "", ""},
		{"POST", "/api/orders", "", `{"productId":"pack-100"}`}, {"GET", "/api/orders", "", ""},
		{"POST", "/api/orders/" + aliceOrder + "/complete", "", ""}, {"POST", "/api/spend", "", `{"reason":"x"}`},
		{"GET", "/api/orders/" + aliceOrder + "/refund-quote", "", ""}, {"GET", "/api/nothing", "", ""},
	} {
		resp := send(t, srv, r.method, r.path, r.user, r.body)
		assert.NotContains(t, resp.Body, apiKey, r.path)
		assert.NotContains(t, resp.Body, "cdk_", r.path)
		for name, values := range resp.Header {
			assert.NotContains(t, strings.Join(values, " "), apiKey, name)
		}
	}
	// A bad key is the shop's problem, not the buyer's: 502, nothing of creditd's detail.
	resp := send(t, srv, "GET", "/api/me", "dave", "")
	assert.Equal(t, 502, resp.Status)
	assert.NotContains(t, resp.Body, "revoked")
	// Printed in a log line or an error, the key is redacted.
	assert.Equal(t, "[redacted]", fmt.Sprint(shop.APIKey(apiKey)))
	assert.NotContains(t, fmt.Sprintf("%v %+v %#v", shop.Config{APIKey: apiKey}, shop.Config{APIKey: apiKey}, shop.Config{APIKey: apiKey}), apiKey)
}

func TestBadInputCallsNothing(t *testing.T) {
	long := `{"reason":"` + strings.Repeat("a", 5000) + `"}`
	tests := []struct {
		name, method, path, user, body, contentType string
		status                                      int
	}{
		{"user name with capitals", "GET", "/api/me", "Alice", "", "", 400},
		{"user name too long", "GET", "/api/orders", strings.Repeat("a", 33), "", "", 400},
		{"user name with a dot", "POST", "/api/orders", "al.ice", `{"productId":"pack-100"}`, "", 400},
		{"switch to a bad name", "POST", "/api/user", "", `{"user":"Eve!"}`, "", 400},
		{"switch to no name", "POST", "/api/user", "", `{"user":""}`, "", 400},
		{"unknown member", "POST", "/api/orders", "", `{"productId":"pack-100","accountId":"demo-bob"}`, "", 400},
		{"bad product id", "POST", "/api/orders", "", `{"productId":"pack 100/../x"}`, "", 400},
		{"a made-up gateway", "POST", "/api/orders", "", `{"productId":"pack-100","gateway":"v3"}`, "", 400},
		{"a gateway in capitals", "POST", "/api/orders", "", `{"productId":"pack-100","gateway":"V1"}`, "", 400},
		{"a gateway not a string", "POST", "/api/orders", "", `{"productId":"pack-100","gateway":1}`, "", 400},
		{"an impUid not V1's", "POST", "/api/orders/" + aliceOrder + "/complete", "", `{"impUid":"imp_../x"}`, "", 400},
		{"a huge impUid", "POST", "/api/orders/" + aliceOrder + "/complete", "", `{"impUid":"imp_` + strings.Repeat("1", 100) + `"}`, "", 400},
		{"an impUid and more", "POST", "/api/orders/" + aliceOrder + "/complete", "", `{"impUid":"imp_1","amount":1}`, "", 400},
		{"complete with a form", "POST", "/api/orders/" + aliceOrder + "/complete", "", `impUid=imp_1`, "application/x-www-form-urlencoded", 415},
		{"no product id", "POST", "/api/orders", "", `{}`, "", 400},
		{"two JSON values", "POST", "/api/orders", "", `{"productId":"a"}{"productId":"b"}`, "", 400},
		{"not JSON", "POST", "/api/orders", "", `productId=pack-100`, "", 400},
		{"form content type", "POST", "/api/orders", "", `{"productId":"pack-100"}`, "application/x-www-form-urlencoded", 415},
		{"oversized body", "POST", "/api/spend", "", long, "", 413},
		{"spend zero", "POST", "/api/spend", "", `{"amount":0,"reason":"x"}`, "", 400},
		{"spend a fraction", "POST", "/api/spend", "", `{"amount":1.5,"reason":"x"}`, "", 400},
		{"spend as a string", "POST", "/api/spend", "", `{"amount":"1","reason":"x"}`, "", 400},
		{"spend too much at once", "POST", "/api/spend", "", `{"amount":1001,"reason":"x"}`, "", 400},
		{"spend without a reason", "POST", "/api/spend", "", `{"amount":1}`, "", 400},
		{"spend with a NUL in the reason", "POST", "/api/spend", "", `{"reason":"a\u0000b"}`, "", 400},
		{"refund without a reason", "POST", "/api/orders/" + aliceOrder + "/refunds", "", `{}`, "", 400},
		{"refund a bad amount", "POST", "/api/orders/" + aliceOrder + "/refunds", "", `{"reason":"x","amount":"-5"}`, "", 400},
		{"order id with an escaped slash", "GET", "/api/orders/a%2Fb", "", "", "", 400},
		{"order id dot-dot", "GET", "/api/orders/%2E%2E", "", "", "", 400},
		{"order id with a space", "GET", "/api/orders/a%20b/refund-quote", "", "", "", 400},
		{"order id too long", "GET", "/api/orders/" + strings.Repeat("a", 65), "", "", "", 400},
		{"no such API route", "GET", "/api/accounts", "", "", "", 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, fake := newShop(t)
			req, err := http.NewRequest(tt.method, srv.URL+tt.path, strings.NewReader(tt.body))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/json")
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			if tt.user != "" {
				req.AddCookie(&http.Cookie{Name: "demo_user", Value: tt.user})
			}
			resp, err := srv.Client().Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			var e struct{ Error, Detail string }
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&e), "errors are JSON")
			assert.Equal(t, tt.status, resp.StatusCode, e)
			assert.NotEmpty(t, e.Error)
			assert.Empty(t, fake.Calls(), "creditd must not be called")
		})
	}
}

func TestCrossOriginPostsAreRefused(t *testing.T) {
	srv, fake := newShop(t)
	req, err := http.NewRequest("POST", srv.URL+"/api/spend", strings.NewReader(`{"reason":"x"}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 403, resp.StatusCode)
	assert.Empty(t, fake.Calls())
}

func TestCreditdErrors(t *testing.T) {
	tests := []struct {
		name       string
		route      string
		answer     func(http.ResponseWriter)
		method     string
		path, body string
		status     int
		code       string
		retryAfter string
	}{
		{"503 passes Retry-After through", "GET /v1/products", func(w http.ResponseWriter) {
			w.Header().Set("Retry-After", "7")
			problem(w, 503, "unavailable", "database down")
		}, "GET", "/api/products", "", 503, "unavailable", "7"},
		{"503 on an order", "POST /v1/orders", func(w http.ResponseWriter) {
			w.Header().Set("Retry-After", "3")
			problem(w, 503, "unavailable", "PortOne down")
		}, "POST", "/api/orders", `{"productId":"pack-100"}`, 503, "unavailable", "3"},
		{"insufficient credits", "POST /v1/accounts/demo-alice/spends", func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(409)
			_, _ = io.WriteString(w, `{"type":"https://creditd.dev/problems/insufficient-credits","title":"x","status":409,"detail":"d","instance":"/","requested":"1","available":"0"}`)
		}, "POST", "/api/spend", `{"reason":"x"}`, 409, "insufficient-credits", ""},
		{"archived pack", "POST /v1/orders", problemReply(422, "product-unavailable", "the product is archived"),
			"POST", "/api/orders", `{"productId":"pack-old"}`, 422, "product-unavailable", ""},
		{"refund exceeds refundable", "POST /v1/orders/" + aliceOrder + "/refunds", problemReply(422, "refund-exceeds-refundable", "too much"),
			"POST", "/api/orders/" + aliceOrder + "/refunds", `{"reason":"x","amount":"20000"}`, 422, "refund-exceeds-refundable", ""},
		{"creditd fails", "GET /v1/orders", problemReply(500, "internal", "boom"), "GET", "/api/orders", "", 502, "bad-gateway", ""},
		{"forbidden key", "POST /v1/orders", problemReply(403, "forbidden", "scope"), "POST", "/api/orders", `{"productId":"pack-100"}`, 502, "bad-gateway", ""},
		{"not JSON at all", "GET /v1/products", reply(502, "<html>proxy error</html>"), "GET", "/api/products", "", 502, "bad-gateway", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, fake := newShop(t)
			fake.routes[tt.route] = tt.answer
			resp := send(t, srv, tt.method, tt.path, "", tt.body)
			assert.Equal(t, tt.status, resp.Status)
			var e struct{ Error, Detail string }
			require.NoError(t, json.Unmarshal([]byte(resp.Body), &e))
			assert.Equal(t, tt.code, e.Error)
			assert.NotEmpty(t, e.Detail)
			assert.Equal(t, tt.retryAfter, resp.Header.Get("Retry-After"))
		})
	}
}

func TestCreditdDown(t *testing.T) {
	creditd := httptest.NewServer(http.NotFoundHandler())
	creditd.Close() // nothing listens there any more
	s, err := shop.New(shop.Config{CreditdURL: creditd.URL, APIKey: apiKey,
		PortOneSDKURL: "https://cdn.portone.io/v2/browser-sdk.js", Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	for _, path := range []string{"/api/me", "/api/products", "/api/orders"} {
		resp := send(t, srv, "GET", path, "", "")
		assert.Equal(t, 503, resp.Status, path)
		assert.NotEmpty(t, resp.Header.Get("Retry-After"), path)
		assert.Contains(t, resp.Body, `"error":"unavailable"`, path)
	}
	resp := send(t, srv, "POST", "/api/spend", "", `{"reason":"x"}`)
	assert.Equal(t, 503, resp.Status)
}

func TestPage(t *testing.T) {
	srv, fake := newShop(t)
	resp := send(t, srv, "GET", "/", "", "")
	require.Equal(t, 200, resp.Status)
	assert.Contains(t, resp.Body, `<script src="https://cdn.portone.io/v2/browser-sdk.js"></script>`)
	assert.Contains(t, resp.Body, `<script src="https://cdn.iamport.kr/v1/iamport.js"></script>`, "V1's library by default")
	assert.Contains(t, resp.Body, `<option value="v2" selected>`, "V2 is the default gateway")
	assert.NotContains(t, resp.Body, `<option value="v1" selected>`)
	for _, hook := range []string{`id="user"`, `id="user-switch"`, `id="pay-method"`, `value="CARD"`, `value="VIRTUAL_ACCOUNT"`, `id="gateway"`,
		`id="balance"`, `id="orders"`, `id="message"`, `id="spend"`, `id="history"`} {
		assert.Contains(t, resp.Body, hook)
	}
	js := send(t, srv, "GET", "/shop.js", "", "")
	require.Equal(t, 200, js.Status)
	assert.NotContains(t, js.Body, "innerHTML", "data goes in as text")
	assert.Equal(t, 200, send(t, srv, "GET", "/shop.css", "", "").Status)
	assert.Equal(t, 404, send(t, srv, "GET", "/index.html", "", "").Status)
	assert.Empty(t, fake.Calls(), "the page itself calls nothing")

	v1, err := shop.New(shop.Config{CreditdURL: "http://127.0.0.1:1", APIKey: apiKey, Gateway: "v1", PortOneSDKURL: "https://cdn.portone.io/v2/browser-sdk.js",
		PortOneV1SDKURL: "http://127.0.0.1:8090/v1/iamport.js", Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	v1srv := httptest.NewServer(v1.Handler())
	t.Cleanup(v1srv.Close)
	resp = send(t, v1srv, "GET", "/", "", "")
	assert.Contains(t, resp.Body, `<option value="v1" selected>`, "the configured gateway comes first")
	assert.Contains(t, resp.Body, `<script src="http://127.0.0.1:8090/v1/iamport.js"></script>`)
}

// A V1 order reaches the page with what IMP.request_pay takes, and none of
// V2's requestPayment fields it does not have.
func TestV1OrderForThePage(t *testing.T) {
	srv, fake := newShop(t)
	fake.routes["POST /v1/orders"] = reply(201, `{"paymentId":"`+aliceOrder+`","accountId":"demo-alice","productId":"pack-100",
		"status":"PENDING","gateway":"v1","merchantUid":"`+aliceOrder+`","name":"100 credits","amount":10000,"currency":"KRW",
		"impCode":"imp00000000","pg":"html5_inicis","customData":{"order":"`+aliceOrder+`"},"credits":"100","bonusCredits":"30",
		"refundedAmount":"0","virtualAccount":null,"rejection":null,"paidAt":null,"createdAt":"2030-01-02T15:04:05Z","updatedAt":"2030-01-02T15:04:05Z"}`)
	resp := send(t, srv, "POST", "/api/orders", "alice", `{"productId":"pack-100","gateway":"v1"}`)
	require.Equal(t, 201, resp.Status, resp.Body)
	var o map[string]any
	require.NoError(t, json.Unmarshal([]byte(resp.Body), &o))
	assert.Equal(t, "v1", o["gateway"])
	assert.Equal(t, aliceOrder, o["merchantUid"])
	assert.Equal(t, "100 credits", o["name"])
	assert.InDelta(t, 10000, o["amount"], 0)
	assert.Equal(t, "imp00000000", o["impCode"])
	assert.Equal(t, "html5_inicis", o["pg"])
	assert.Equal(t, map[string]any{"order": aliceOrder}, o["customData"])
	for _, v2Only := range []string{"storeId", "channelKey", "orderName", "totalAmount"} {
		assert.NotContains(t, o, v2Only)
	}
}

func TestLoadConfig(t *testing.T) {
	cfg, err := shop.LoadConfig(map[string]string{"CREDITD_API_KEY": apiKey})
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:8081", cfg.Addr)
	assert.Equal(t, "http://127.0.0.1:8080", cfg.CreditdURL)
	assert.Equal(t, "https://cdn.portone.io/v2/browser-sdk.js", cfg.PortOneSDKURL)
	assert.Equal(t, "https://cdn.iamport.kr/v1/iamport.js", cfg.PortOneV1SDKURL)
	assert.Equal(t, "v2", cfg.Gateway)
	assert.Equal(t, shop.APIKey(apiKey), cfg.APIKey)

	cfg, err = shop.LoadConfig(map[string]string{"CREDITD_API_KEY": apiKey, "DEMO_SHOP_GATEWAY": "v1",
		"PORTONE_V1_BROWSER_SDK_URL": "http://127.0.0.1:8090/v1/iamport.js"})
	require.NoError(t, err)
	assert.Equal(t, "v1", cfg.Gateway)
	assert.Equal(t, "http://127.0.0.1:8090/v1/iamport.js", cfg.PortOneV1SDKURL)
	_, err = shop.LoadConfig(map[string]string{"CREDITD_API_KEY": apiKey, "DEMO_SHOP_GATEWAY": "v3"})
	require.ErrorContains(t, err, "DEMO_SHOP_GATEWAY")
	_, err = shop.LoadConfig(map[string]string{"CREDITD_API_KEY": apiKey, "PORTONE_V1_BROWSER_SDK_URL": "javascript:alert(1)"})
	require.ErrorContains(t, err, "PORTONE_V1_BROWSER_SDK_URL")

	_, err = shop.LoadConfig(map[string]string{})
	require.ErrorContains(t, err, "CREDITD_API_KEY")

	_, err = shop.LoadConfig(map[string]string{"CREDITD_API_KEY": apiKey, "CREDITD_URL": "127.0.0.1:8080"})
	require.ErrorContains(t, err, "CREDITD_URL")
	assert.NotContains(t, err.Error(), apiKey)
}
