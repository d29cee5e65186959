package httpapi_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func isUUID(t *testing.T, v any) string {
	t.Helper()
	s, ok := v.(string)
	require.True(t, ok, "%v is not a string", v)
	_, err := uuid.Parse(s)
	require.NoError(t, err)
	return s
}

// lotOf returns the lot id of a transaction's only wallet posting.
func lotOf(t *testing.T, tx map[string]any) string {
	t.Helper()
	for _, p := range tx["postings"].([]any) {
		if p := p.(map[string]any); p["accountType"] == "wallet" {
			return isUUID(t, p["lotId"])
		}
	}
	t.Fatalf("no wallet posting in %v", tx)
	return ""
}

func TestGrantAndGetAccount(t *testing.T) {
	h := newHarness(t)

	w := h.post("/v1/accounts/user-1/grants",
		`{"amount":"100","source":"paid","expiresAt":"2026-04-01T00:00:00Z","priority":10,"reason":"purchase","metadata":{"order":"o-1"},"fundingReference":"invoice 7"}`)
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	assert.Equal(t, "application/json", w.Header().Get("Content-Type"))
	assert.Empty(t, w.Header().Get("Idempotent-Replayed"))
	tx := h.must(w, http.StatusCreated)
	id, lot := isUUID(t, tx["id"]), lotOf(t, tx)
	assert.JSONEq(t, fmt.Sprintf(`{
		"id": %q, "type": "GRANT", "accountId": "user-1", "amount": "100", "balanceAfter": "100",
		"createdAt": "2026-03-01T09:00:00Z", "reason": "purchase", "metadata": {"order": "o-1"},
		"funding": {"kind": "external", "reference": "invoice 7"},
		"postings": [
			{"account": "purchases", "accountType": "system", "amount": "-100"},
			{"account": "user-1", "accountType": "wallet", "lotId": %q, "lotSource": "paid",
			 "lotFunding": {"kind": "external", "reference": "invoice 7"}, "amount": "100"}
		]}`, id, lot), w.Body.String())

	bonus := lotOf(t, h.grant("user-1", "2.5"))

	w = h.get("/v1/accounts/user-1")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Equal(t, "application/json", w.Header().Get("Content-Type"))
	assert.JSONEq(t, fmt.Sprintf(`{
		"id": "user-1", "balance": "102.5", "held": "0", "available": "102.5", "debt": "0", "lowBalanceThreshold": null,
		"lots": [
			{"id": %q, "source": "paid", "remaining": "100", "expiresAt": "2026-04-01T00:00:00Z", "priority": 10,
			 "funding": {"kind": "external", "reference": "invoice 7"}},
			{"id": %q, "source": "bonus", "remaining": "2.5", "expiresAt": null, "priority": 50, "funding": null}
		]}`, lot, bonus), w.Body.String())

	// Once the paid lot has expired, it is gone from the balance at once.
	h.clock.Set(time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC))
	acct := h.must(h.get("/v1/accounts/user-1"), http.StatusOK)
	assert.Equal(t, "2.5", acct["balance"])
	assert.Len(t, acct["lots"], 1)
}

func TestSpend(t *testing.T) {
	h := newHarness(t)
	lot := lotOf(t, h.grant("user-1", "100"))

	w := h.post("/v1/accounts/user-1/spends", `{"amount":"30.5","reason":"dubbing","metadata":{"job":"j-9"}}`)
	tx := h.must(w, http.StatusCreated)
	assert.JSONEq(t, fmt.Sprintf(`{
		"id": %q, "type": "SPEND", "accountId": "user-1", "amount": "30.5", "balanceAfter": "69.5",
		"createdAt": "2026-03-01T09:00:00Z", "reason": "dubbing", "metadata": {"job": "j-9"}, "funding": null,
		"postings": [
			{"account": "user-1", "accountType": "wallet", "lotId": %q, "lotSource": "bonus", "amount": "-30.5"},
			{"account": "consumption", "accountType": "system", "amount": "30.5"}
		]}`, isUUID(t, tx["id"]), lot), w.Body.String())

	// Without reason or metadata the transaction still has both, empty.
	tx = h.must(h.post("/v1/accounts/user-1/spends", `{"amount":"0.000001"}`), http.StatusCreated)
	assert.Equal(t, "", tx["reason"])
	assert.Equal(t, map[string]any{}, tx["metadata"])
	assert.Equal(t, "69.499999", tx["balanceAfter"])

	p := assertProblem(t, h.post("/v1/accounts/user-1/spends", `{"amount":"70"}`), http.StatusConflict, "insufficient-credits")
	assert.Equal(t, "70", p["requested"])
	assert.Equal(t, "69.499999", p["available"])
	assert.Equal(t, "/v1/accounts/user-1/spends", p["instance"])
}

func TestHoldLifecycle(t *testing.T) {
	h := newHarness(t)
	lot := lotOf(t, h.grant("user-1", "100"))

	w := h.post("/v1/accounts/user-1/holds", `{"amount":"40","expiresInSeconds":3600,"reason":"render"}`)
	hold := h.must(w, http.StatusCreated)
	holdID := isUUID(t, hold["id"])
	assert.JSONEq(t, fmt.Sprintf(`{"id": %q, "accountId": "user-1", "amount": "40", "captured": "0", "remaining": "40",
		"released": "0", "status": "ACTIVE", "expiresAt": "2026-03-01T10:00:00Z", "createdAt": "2026-03-01T09:00:00Z",
		"reason": "render", "metadata": {}, "captures": []}`, holdID), w.Body.String())

	acct := h.must(h.get("/v1/accounts/user-1"), http.StatusOK)
	assert.Equal(t, []any{"100", "40", "60"}, []any{acct["balance"], acct["held"], acct["available"]})
	assertProblem(t, h.post("/v1/accounts/user-1/spends", `{"amount":"61"}`), http.StatusConflict, "insufficient-credits")

	w = h.post("/v1/holds/"+holdID+"/capture", `{"amount":"15"}`)
	capture := h.must(w, http.StatusOK)
	txID := isUUID(t, capture["transaction"].(map[string]any)["id"])
	assert.JSONEq(t, fmt.Sprintf(`{
		"hold": {"id": %q, "accountId": "user-1", "amount": "40", "captured": "15", "remaining": "25", "released": "0",
			"status": "PARTIALLY_CAPTURED", "expiresAt": "2026-03-01T10:00:00Z", "createdAt": "2026-03-01T09:00:00Z",
			"reason": "render", "metadata": {},
			"captures": [{"transactionId": %q, "amount": "15", "reason": "render", "metadata": {}, "capturedAt": "2026-03-01T09:00:00Z"}]},
		"transaction": {"id": %q, "type": "CAPTURE", "accountId": "user-1", "amount": "15", "balanceAfter": "85",
			"createdAt": "2026-03-01T09:00:00Z", "reason": "render", "metadata": {}, "funding": null,
			"postings": [
				{"account": "user-1", "accountType": "wallet", "lotId": %q, "lotSource": "bonus", "amount": "-15"},
				{"account": "consumption", "accountType": "system", "amount": "15"}
			]}}`, holdID, txID, txID, lot), w.Body.String())

	assertProblem(t, h.post("/v1/holds/"+holdID+"/capture", `{"amount":"25.000001"}`), http.StatusConflict, "capture-exceeds-hold")
	capture = h.must(h.post("/v1/holds/"+holdID+"/capture", `{"amount":"25"}`), http.StatusOK)
	assert.Equal(t, "CAPTURED", capture["hold"].(map[string]any)["status"])
	assert.Equal(t, "0", capture["hold"].(map[string]any)["remaining"])
	assertProblem(t, h.post("/v1/holds/"+holdID+"/capture", `{"amount":"1"}`), http.StatusConflict, "hold-not-capturable")
	assertProblem(t, h.post("/v1/holds/"+holdID+"/release", `{}`), http.StatusConflict, "hold-not-releasable")

	// Release frees the rest.
	second := h.placeHold("user-1", "10")
	w = h.post("/v1/holds/"+second+"/release", `{}`)
	assert.JSONEq(t, fmt.Sprintf(`{"id": %q, "accountId": "user-1", "amount": "10", "captured": "0", "remaining": "0",
		"released": "10", "status": "RELEASED", "expiresAt": "2026-03-01T10:00:00Z", "createdAt": "2026-03-01T09:00:00Z",
		"reason": "", "metadata": {}, "captures": []}`, second), w.Body.String())
	require.Equal(t, http.StatusOK, w.Code)
	w = h.get("/v1/holds/" + second)
	require.Equal(t, http.StatusOK, w.Code)
	assert.Contains(t, w.Body.String(), `"status":"RELEASED"`)
	acct = h.must(h.get("/v1/accounts/user-1"), http.StatusOK)
	assert.Equal(t, []any{"60", "0", "60"}, []any{acct["balance"], acct["held"], acct["available"]})

	// A hold past its expiry reads EXPIRED before any sweep, and can no longer be captured.
	third := h.placeHold("user-1", "5")
	w = h.get("/v1/holds/" + third)
	assert.JSONEq(t, fmt.Sprintf(`{"id": %q, "accountId": "user-1", "amount": "5", "captured": "0", "remaining": "5",
		"released": "0", "status": "ACTIVE", "expiresAt": "2026-03-01T10:00:00Z", "createdAt": "2026-03-01T09:00:00Z",
		"reason": "", "metadata": {}, "captures": []}`, third), w.Body.String())
	h.clock.Advance(time.Hour)
	hold = h.must(h.get("/v1/holds/"+third), http.StatusOK)
	assert.Equal(t, "EXPIRED", hold["status"])
	assert.Equal(t, "5", hold["released"])
	assertProblem(t, h.post("/v1/holds/"+third+"/capture", `{"amount":"1"}`), http.StatusConflict, "hold-not-capturable")
	assertProblem(t, h.post("/v1/holds/"+third+"/release", `{}`), http.StatusConflict, "hold-not-releasable")
}

func TestListTransactionsPages(t *testing.T) {
	h := newHarness(t)
	var want []string // newest first
	for i := 1; i <= 5; i++ {
		tx := h.grant("user-1", fmt.Sprint(i))
		want = append([]string{tx["id"].(string)}, want...)
	}
	tx := h.must(h.post("/v1/accounts/user-1/spends", `{"amount":"1"}`), http.StatusCreated)
	want = append([]string{tx["id"].(string)}, want...)

	page := h.must(h.get("/v1/accounts/user-1/transactions"), http.StatusOK)
	assert.Nil(t, page["nextCursor"])
	require.Len(t, page["items"], 6)
	first := page["items"].([]any)[0].(map[string]any)
	assert.Equal(t, "SPEND", first["type"])
	assert.Equal(t, "14", first["balanceAfter"])

	var got []string
	path := "/v1/accounts/user-1/transactions?limit=4"
	for pages := 0; ; pages++ {
		require.Less(t, pages, 3, "too many pages")
		page := h.must(h.get(path), http.StatusOK)
		for _, it := range page["items"].([]any) {
			got = append(got, it.(map[string]any)["id"].(string))
		}
		if page["nextCursor"] == nil {
			break
		}
		path = "/v1/accounts/user-1/transactions?limit=4&cursor=" + page["nextCursor"].(string)
	}
	assert.Equal(t, want, got)

	// The last page's cursor, from a page that ended one short of the oldest.
	page = h.must(h.get("/v1/accounts/user-1/transactions?limit=5"), http.StatusOK)
	last := h.must(h.get("/v1/accounts/user-1/transactions?cursor="+page["nextCursor"].(string)), http.StatusOK)
	require.Len(t, last["items"], 1)
	assert.Equal(t, want[5], last["items"].([]any)[0].(map[string]any)["id"])
	assert.Nil(t, last["nextCursor"])
}

func TestAccountIDsAreEscapedPathSegments(t *testing.T) {
	h := newHarness(t)
	const escaped = "team%2F42%20%C3%BC%25x"
	tx := h.grant(escaped, "7")
	assert.Equal(t, "team/42 ü%x", tx["accountId"])

	acct := h.must(h.get("/v1/accounts/"+escaped), http.StatusOK)
	assert.Equal(t, "team/42 ü%x", acct["id"])
	// Escaping differently names the same account.
	acct = h.must(h.get("/v1/accounts/team%2f42%20%c3%bc%25%78"), http.StatusOK)
	assert.Equal(t, "7", acct["balance"])
	// "team/42 ü%x" is not "team".
	assertProblem(t, h.get("/v1/accounts/team"), http.StatusNotFound, "not-found")
	// A real slash is a different route.
	assertProblem(t, h.get("/v1/accounts/team/42"), http.StatusNotFound, "not-found")
}

func TestUnknownAccountOrHoldIsNotFound(t *testing.T) {
	h := newHarness(t)
	for _, w := range []*httpRecorder{
		h.get("/v1/accounts/nobody"),
		h.get("/v1/accounts/nobody/transactions"),
		h.post("/v1/accounts/nobody/spends", `{"amount":"1"}`),
		h.post("/v1/accounts/nobody/holds", `{"amount":"1","expiresInSeconds":60}`),
		h.get("/v1/holds/" + uuid.NewString()),
		h.post("/v1/holds/"+uuid.NewString()+"/capture", `{"amount":"1"}`),
		h.post("/v1/holds/"+uuid.NewString()+"/release", `{}`),
	} {
		assertProblem(t, w, http.StatusNotFound, "not-found")
	}
}

func TestTenantsAreIsolated(t *testing.T) {
	h := newHarness(t)
	h.grant("shared-user", "50")
	hold := h.placeHold("shared-user", "10")
	before := h.ledgerSnapshot([]string{"shared-user"}, []string{hold})

	b := withKey(h.keyB)
	for name, w := range map[string]*httpRecorder{
		"get account":  h.get("/v1/accounts/shared-user", b),
		"history":      h.get("/v1/accounts/shared-user/transactions", b),
		"spend":        h.post("/v1/accounts/shared-user/spends", `{"amount":"1"}`, b),
		"place hold":   h.post("/v1/accounts/shared-user/holds", `{"amount":"1","expiresInSeconds":60}`, b),
		"get hold":     h.get("/v1/holds/"+hold, b),
		"capture hold": h.post("/v1/holds/"+hold+"/capture", `{"amount":"1"}`, b),
		"release hold": h.post("/v1/holds/"+hold+"/release", `{}`, b),
	} {
		t.Run(name, func(t *testing.T) {
			p := assertProblem(t, w, http.StatusNotFound, "not-found")
			assert.Equal(t, "No such account, hold, product, order, webhook endpoint or delivery for your tenant.", p["detail"], "the same 404 as for what does not exist")
		})
	}
	assert.Equal(t, before, h.ledgerSnapshot([]string{"shared-user"}, []string{hold}))

	// Tenant beta's own "shared-user" is a separate wallet.
	h.must(h.post("/v1/accounts/shared-user/grants", `{"amount":"3","source":"bonus"}`, b), http.StatusCreated)
	acct := h.must(h.get("/v1/accounts/shared-user", b), http.StatusOK)
	assert.Equal(t, "3", acct["balance"])
	acct = h.must(h.get("/v1/accounts/shared-user"), http.StatusOK)
	assert.Equal(t, "50", acct["balance"])
}

func TestOperationalEndpoints(t *testing.T) {
	h := newHarness(t)

	w := h.get("/healthz", withoutHeader("Authorization"))
	assert.Equal(t, http.StatusOK, w.Code)

	w = h.get("/readyz", withoutHeader("Authorization"))
	assert.Equal(t, http.StatusOK, w.Code)
	notReady := errors.New("dial tcp 10.0.0.5:5432: connection refused")
	h.ready.Store(&notReady)
	w = h.get("/readyz", withoutHeader("Authorization"))
	p := assertProblem(t, w, http.StatusServiceUnavailable, "not-ready")
	assert.NotContains(t, p["detail"], "10.0.0.5", "the cause is logged, not shown")
	assert.Contains(t, h.logs.String(), "10.0.0.5")

	w = h.get("/openapi.yaml", withoutHeader("Authorization"))
	assert.Equal(t, http.StatusOK, w.Code)
	assert.True(t, strings.HasPrefix(w.Body.String(), "openapi: 3.1"))

	h.grant("user-1", "1")
	w = h.get("/metrics", withoutHeader("Authorization"))
	require.Equal(t, http.StatusOK, w.Code)
	assert.Contains(t, w.Body.String(),
		`creditd_http_requests_total{method="POST",route="/v1/accounts/:accountId/grants",status="201"} 1`)
	assert.Contains(t, w.Body.String(),
		`creditd_http_request_duration_seconds_count{method="GET",route="/readyz",status="503"} 1`)
}

func TestUnknownRouteAndMethod(t *testing.T) {
	h := newHarness(t)
	assertProblem(t, h.get("/v2/nothing"), http.StatusNotFound, "not-found")
	assertProblem(t, h.get("/v1/accounts/user-1/"), http.StatusNotFound, "not-found")

	w := h.do(http.MethodDelete, "/v1/accounts/user-1", "")
	assertProblem(t, w, http.StatusMethodNotAllowed, "method-not-allowed")
	assert.Equal(t, "GET", w.Header().Get("Allow"))
	w = h.get("/v1/accounts/user-1/grants")
	assertProblem(t, w, http.StatusMethodNotAllowed, "method-not-allowed")
	assert.Equal(t, "POST", w.Header().Get("Allow"))

	w = h.get("/metrics", withoutHeader("Authorization"))
	assert.Contains(t, w.Body.String(), `route="unmatched"`, "unmatched paths share one label")
}

func TestRequestIDsAndAccessLog(t *testing.T) {
	h := newHarness(t)
	w := h.get("/healthz", withHeader("X-Request-ID", "req-123"))
	assert.Equal(t, "req-123", w.Header().Get("X-Request-ID"))

	w = h.get("/healthz")
	generated := w.Header().Get("X-Request-ID")
	assert.NotEmpty(t, generated)

	w = h.get("/healthz", withHeader("X-Request-ID", strings.Repeat("x", 500)))
	assert.NotEqual(t, strings.Repeat("x", 500), w.Header().Get("X-Request-ID"), "overlong ids are replaced")
	assert.NotEmpty(t, w.Header().Get("X-Request-ID"))

	h.grant("user-1", "5")
	logs := h.logs.String()
	for _, secret := range []string{h.keyA, h.keyB, h.readOnlyA} {
		assert.NotContains(t, logs, secret)
	}
	assert.NotContains(t, logs, "Bearer")

	var grantLine map[string]any
	for _, l := range h.logLines() {
		if l["route"] == "/v1/accounts/:accountId/grants" {
			grantLine = l
		}
	}
	require.NotNil(t, grantLine, logs)
	assert.Equal(t, "POST", grantLine["method"])
	assert.EqualValues(t, 201, grantLine["status"])
	assert.NotEmpty(t, grantLine["request_id"])
	assert.NotEmpty(t, grantLine["tenant"])
	assert.Contains(t, grantLine, "duration_ms")
}
