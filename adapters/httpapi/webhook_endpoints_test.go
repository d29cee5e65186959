package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/creditd/creditd/adapters/webhooksender"
	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// seedDelivery appends an event of tenant alpha to the outbox, fans it out
// and attempts it once (the receiver answers 500); it returns its id.
func (h *harness) seedDelivery(endpoint string) string {
	h.t.Helper()
	tenant := h.tenantOf(h.keyA)
	account, _ := domain.ParseAccountID("user-1")
	id := uuid.Must(uuid.NewV7())
	e := application.Event{ID: id, Type: domain.EventTransactionCreated, Tenant: tenant, Account: account, OccurredAt: h.clock.Now(),
		Data: application.TransactionData{TransactionID: "t-1", AccountID: "user-1", Type: "GRANT", Amount: "1", BalanceAfter: "1",
			CreatedAt: h.clock.Now()}}
	require.NoError(h.t, h.store.UnitOfWork().WithinTx(context.Background(), application.WalletScope(tenant, account),
		func(ctx context.Context, r application.Repos) error { return r.Events.Append(ctx, e) }))
	d := application.NewDeliveries(h.webhooks, senderFunc(func(application.WebhookMessage) application.SendResult {
		return application.SendResult{StatusCode: 500}
	}), h.clock, application.DeliveriesConfig{})
	_, err := d.FanOut(context.Background(), 10)
	require.NoError(h.t, err)
	_, err = d.DeliverDue(context.Background(), 10)
	require.NoError(h.t, err)
	_ = endpoint
	return id.String()
}

type senderFunc func(application.WebhookMessage) application.SendResult

func (f senderFunc) Send(_ context.Context, m application.WebhookMessage) application.SendResult {
	return f(m)
}

func (h *harness) tenantOf(key string) domain.TenantID {
	h.t.Helper()
	p, err := h.apiKeys.Authenticate(context.Background(), key)
	require.NoError(h.t, err)
	return p.Tenant
}

// TestWebhookEndpointsLifecycle: create shows the secret once, list and get
// never do; the delivery log shows an attempt; redeliver makes it pending
// again; delete hides the endpoint and its log; another tenant sees nothing.
func TestWebhookEndpointsLifecycle(t *testing.T) {
	h := newHarness(t)
	created := h.must(h.post("/v1/webhook-endpoints", `{"url":"https://hooks.example.com/a","events":["order.paid","order.paid","transaction.created"]}`,
		withoutHeader("Idempotency-Key")), http.StatusCreated)
	id, secret := created["id"].(string), created["secret"].(string)
	assert.True(t, domain.ValidWebhookSecret(secret), secret)
	assert.Equal(t, []any{"order.paid", "transaction.created"}, created["events"])
	all := h.must(h.post("/v1/webhook-endpoints", `{"url":"https://hooks.example.com/all"}`), http.StatusCreated)
	assert.Equal(t, []any{}, all["events"])

	list := h.get("/v1/webhook-endpoints")
	require.Equal(t, http.StatusOK, list.Code)
	assert.NotContains(t, list.Body.String(), "whsec_")
	assert.Len(t, h.must(list, http.StatusOK)["items"], 2)
	got := h.must(h.get("/v1/webhook-endpoints/"+id), http.StatusOK)
	assert.Nil(t, got["secret"])
	assert.Equal(t, "https://hooks.example.com/a", got["url"])
	assertProblem(t, h.get("/v1/webhook-endpoints/"+id, withKey(h.keyB)), http.StatusNotFound, "not-found")

	event := h.seedDelivery(id)
	page := h.must(h.get("/v1/webhook-endpoints/"+id+"/deliveries"), http.StatusOK)
	items := page["items"].([]any)
	require.Len(t, items, 1)
	d := items[0].(map[string]any)
	assert.Equal(t, event, d["id"])
	assert.Equal(t, "pending", d["status"])
	assert.EqualValues(t, 1, d["attempts"])
	assert.EqualValues(t, 500, d["lastStatus"])
	assert.Equal(t, "t-1", d["data"].(map[string]any)["transactionId"])
	assert.Nil(t, page["nextCursor"])
	// Pending: redeliver leaves it as it is.
	assert.Equal(t, "pending", h.must(h.post("/v1/webhook-endpoints/"+id+"/deliveries/"+event+"/redeliver", ""), http.StatusAccepted)["status"])
	assertProblem(t, h.post("/v1/webhook-endpoints/"+id+"/deliveries/"+event+"/redeliver", "", withKey(h.keyB)), http.StatusNotFound, "not-found")

	// Cursors page newest first and are bound to the endpoint and filter.
	h.seedDelivery(id)
	first := h.must(h.get("/v1/webhook-endpoints/"+id+"/deliveries?limit=1"), http.StatusOK)
	cursor := first["nextCursor"].(string)
	second := h.must(h.get("/v1/webhook-endpoints/"+id+"/deliveries?limit=1&cursor="+cursor), http.StatusOK)
	assert.Equal(t, event, second["items"].([]any)[0].(map[string]any)["id"])
	assert.Nil(t, second["nextCursor"])
	assertProblem(t, h.get("/v1/webhook-endpoints/"+all["id"].(string)+"/deliveries?cursor="+cursor), http.StatusBadRequest, "invalid-cursor")
	assertProblem(t, h.get("/v1/webhook-endpoints/"+id+"/deliveries?status=pending&cursor="+cursor), http.StatusBadRequest, "invalid-cursor")

	w := h.do(http.MethodDelete, "/v1/webhook-endpoints/"+id, "")
	require.Equal(t, http.StatusNoContent, w.Code, w.Body.String())
	assertProblem(t, h.get("/v1/webhook-endpoints/"+id), http.StatusNotFound, "not-found")
	assertProblem(t, h.get("/v1/webhook-endpoints/"+id+"/deliveries"), http.StatusNotFound, "not-found")
	assertProblem(t, h.do(http.MethodDelete, "/v1/webhook-endpoints/"+id, ""), http.StatusNotFound, "not-found")
	assert.Len(t, h.must(h.get("/v1/webhook-endpoints"), http.StatusOK)["items"], 1)
}

// TestWebhookEndpointsRefuseBadInput: every bad create is a problem and
// registers nothing.
func TestWebhookEndpointsRefuseBadInput(t *testing.T) {
	h := newHarness(t)
	for i := range domain.MaxWebhookEndpoints - 1 {
		h.must(h.post("/v1/webhook-endpoints", fmt.Sprintf(`{"url":"https://hooks.example.com/%d"}`, i)), http.StatusCreated)
	}
	state := func() string { return h.get("/v1/webhook-endpoints").Body.String() }
	long := `{"url":"https://hooks.example.com/` + strings.Repeat("a", 2048) + `"}`
	h.requireRefused(t, []refusedPost{
		{name: "unknown event type", path: "/v1/webhook-endpoints", body: `{"url":"https://h.example.com","events":["order.paid","order.shipped"]}`,
			status: 400, slug: "validation-failed", field: "events[1]"},
		{name: "no url", path: "/v1/webhook-endpoints", body: `{"events":["order.paid"]}`, status: 400, slug: "validation-failed", field: "url"},
		{name: "http", path: "/v1/webhook-endpoints", body: `{"url":"http://h.example.com"}`, status: 400, slug: "validation-failed", field: "url"},
		{name: "relative", path: "/v1/webhook-endpoints", body: `{"url":"/hooks"}`, status: 400, slug: "validation-failed", field: "url"},
		{name: "user info", path: "/v1/webhook-endpoints", body: `{"url":"https://u:p@h.example.com"}`, status: 400, slug: "validation-failed", field: "url"},
		{name: "fragment", path: "/v1/webhook-endpoints", body: `{"url":"https://h.example.com/#x"}`, status: 400, slug: "validation-failed", field: "url"},
		{name: "too long", path: "/v1/webhook-endpoints", body: long, status: 400, slug: "validation-failed", field: "url"},
		{name: "loopback", path: "/v1/webhook-endpoints", body: `{"url":"https://127.0.0.1/h"}`, status: 400, slug: "validation-failed", field: "url"},
		{name: "metadata", path: "/v1/webhook-endpoints", body: `{"url":"https://169.254.169.254/h"}`, status: 400, slug: "validation-failed", field: "url"},
		{name: "localhost", path: "/v1/webhook-endpoints", body: `{"url":"https://localhost/h"}`, status: 400, slug: "validation-failed", field: "url"},
		{name: "duplicate key", path: "/v1/webhook-endpoints", body: `{"url":"https://a.example.com","url":"https://b.example.com"}`,
			status: 400, slug: "validation-failed", field: "url"},
		{name: "unknown member", path: "/v1/webhook-endpoints", body: `{"url":"https://a.example.com","secret":"whsec_x"}`,
			status: 400, slug: "validation-failed", field: "secret"},
		{name: "events not a list", path: "/v1/webhook-endpoints", body: `{"url":"https://a.example.com","events":"order.paid"}`,
			status: 400, slug: "validation-failed", field: "events"},
		{name: "not an object", path: "/v1/webhook-endpoints", body: `["https://a.example.com"]`, status: 400, slug: "malformed-request"},
		{name: "wrong scope", path: "/v1/webhook-endpoints", body: `{"url":"https://a.example.com"}`, opts: []reqOption{withKey(h.readOnlyA)},
			status: 403, slug: "forbidden"},
		{name: "not json", path: "/v1/webhook-endpoints", body: `{"url":"https://a.example.com"}`, opts: []reqOption{withHeader("Content-Type", "text/plain")},
			status: 415, slug: "unsupported-media-type"},
	}, state)
	h.must(h.post("/v1/webhook-endpoints", `{"url":"https://hooks.example.com/last"}`), http.StatusCreated)
	h.requireRefused(t, []refusedPost{
		{name: "limit", path: "/v1/webhook-endpoints", body: `{"url":"https://hooks.example.com/21"}`, status: 409, slug: "webhook-endpoint-limit"},
	}, state)
	// Another tenant has its own 20.
	h.must(h.post("/v1/webhook-endpoints", `{"url":"https://hooks.example.com/b"}`, withKey(h.keyB)), http.StatusCreated)
}

// TestWebhookEndpointScopes: events:read reads, events:write writes, and
// the ledger's scopes do neither.
func TestWebhookEndpointScopes(t *testing.T) {
	h := newHarness(t)
	reader := h.issueKey("alpha", domain.ScopeEventsRead)
	writer := h.issueKey("alpha", domain.ScopeEventsWrite)
	id := h.must(h.post("/v1/webhook-endpoints", `{"url":"https://hooks.example.com/a"}`, withKey(writer)), http.StatusCreated)["id"].(string)
	assertProblem(t, h.post("/v1/webhook-endpoints", `{"url":"https://hooks.example.com/a"}`, withKey(reader)), http.StatusForbidden, "forbidden")
	assertProblem(t, h.get("/v1/webhook-endpoints", withKey(writer)), http.StatusForbidden, "forbidden")
	assertProblem(t, h.get("/v1/webhook-endpoints/"+id+"/deliveries", withKey(writer)), http.StatusForbidden, "forbidden")
	for _, key := range []string{h.readOnlyA, h.writeOnlyA} {
		assertProblem(t, h.get("/v1/webhook-endpoints", withKey(key)), http.StatusForbidden, "forbidden")
		assertProblem(t, h.do(http.MethodDelete, "/v1/webhook-endpoints/"+id, "", withKey(key)), http.StatusForbidden, "forbidden")
	}
	assertProblem(t, h.do(http.MethodDelete, "/v1/webhook-endpoints/"+id, "", withKey(reader)), http.StatusForbidden, "forbidden")
	h.must(h.get("/v1/webhook-endpoints/"+id, withKey(reader)), http.StatusOK)
	require.Equal(t, http.StatusNoContent, h.do(http.MethodDelete, "/v1/webhook-endpoints/"+id, "", withKey(writer)).Code)
}

// TestWebhookSecretFromTheAPIVerifies: the secret the create response shows
// verifies what the sender signs for that endpoint, with the Standard
// Webhooks library.
func TestWebhookSecretFromTheAPIVerifies(t *testing.T) {
	h := newHarness(t)
	secret := h.must(h.post("/v1/webhook-endpoints", `{"url":"https://hooks.example.com/a"}`), http.StatusCreated)["secret"].(string)
	claimed, err := h.webhooks.Claim(context.Background(), h.clock.Now(), time.Minute, 1)
	require.NoError(t, err)
	require.Empty(t, claimed)
	msg := application.WebhookMessage{Secret: secret, ID: uuid.NewString(), Timestamp: time.Now(), Body: []byte(`{"id":"x"}`)}
	headers, err := webhooksender.Sign(msg)
	require.NoError(t, err)
	wh, err := standardwebhooks.NewWebhook(secret)
	require.NoError(t, err)
	require.NoError(t, wh.Verify(msg.Body, headers))
	var body map[string]any
	require.NoError(t, json.Unmarshal(msg.Body, &body))
}

// TestDeliveryBodiesMatchOpenAPI: the body the delivery worker POSTs, built
// from a stored payload, is what the document's Event schema describes.
func TestDeliveryBodiesMatchOpenAPI(t *testing.T) {
	doc := loadDocument(t, newHarness(t))
	schema := doc.Components.Schemas["Event"].Value
	at := time.Date(2026, 12, 1, 9, 0, 0, 123456000, time.UTC)
	data, err := json.Marshal(application.TransactionData{TransactionID: "0191e4a0-0000-7000-8000-000000000001", AccountID: "alice",
		Type: "GRANT", Amount: "5", BalanceAfter: "5", CreatedAt: at})
	require.NoError(t, err)
	body := application.DeliveryBody(application.Delivery{EventID: uuid.Must(uuid.NewV7()), Type: "transaction.created", Data: data, OccurredAt: at})
	var v any
	require.NoError(t, json.Unmarshal(body, &v))
	assert.NoError(t, schema.VisitJSON(v), "%s", body)
}

// TestWebhookEndpointRoutesUnderAttack: no key, made-up methods, a stalled
// body, odd encodings of the ids and NUL in a URL are refused, and nothing
// is registered, deleted or redelivered.
func TestWebhookEndpointRoutesUnderAttack(t *testing.T) {
	h := newHarness(t)
	id := h.must(h.post("/v1/webhook-endpoints", `{"url":"https://hooks.example.com/a"}`), http.StatusCreated)["id"].(string)
	state := func() string {
		return h.get("/v1/webhook-endpoints").Body.String() + h.get("/v1/webhook-endpoints/"+id+"/deliveries").Body.String()
	}
	before := state()

	noKey := withoutHeader("Authorization")
	assertProblem(t, h.post("/v1/webhook-endpoints", `{"url":"https://hooks.example.com/b"}`, noKey), http.StatusUnauthorized, "unauthorized")
	assertProblem(t, h.get("/v1/webhook-endpoints", noKey), http.StatusUnauthorized, "unauthorized")
	assertProblem(t, h.do(http.MethodDelete, "/v1/webhook-endpoints/"+id, "", noKey), http.StatusUnauthorized, "unauthorized")
	assertProblem(t, h.post("/v1/webhook-endpoints/"+id+"/deliveries/"+id+"/redeliver", "", noKey), http.StatusUnauthorized, "unauthorized")
	for _, method := range []string{"BREW", http.MethodPut, http.MethodPatch} {
		assertProblem(t, h.do(method, "/v1/webhook-endpoints/"+id, `{}`), http.StatusMethodNotAllowed, "method-not-allowed")
	}
	assertProblem(t, h.post("/v1/webhook-endpoints", "", withStalledBody), http.StatusRequestTimeout, "request-timeout")
	assertProblem(t, h.post("/v1/webhook-endpoints", `{"url":"https://hooks.example.com/\u0000"}`), http.StatusBadRequest, "validation-failed")
	for _, bad := range []string{id + "%00", "%" + id[:2] + id[2:], url.PathEscape(id) + "%2F", "%C3%A9"} {
		w := h.do(http.MethodDelete, "/v1/webhook-endpoints/"+bad, "")
		assert.Contains(t, []int{http.StatusBadRequest, http.StatusNotFound}, w.Code, "%s: %s", bad, w.Body.String())
		w = h.post("/v1/webhook-endpoints/"+id+"/deliveries/"+bad+"/redeliver", "")
		assert.Contains(t, []int{http.StatusBadRequest, http.StatusNotFound}, w.Code, "%s: %s", bad, w.Body.String())
	}
	assert.Equal(t, before, state(), "a refused request changed the endpoints")
}
