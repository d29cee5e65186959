package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAccountIDsArePathUnescaped: a path decodes %XX only; "+" is a literal
// (RFC 3986), so "user+1@x.com" and "user 1@x.com" are two accounts.
func TestAccountIDsArePathUnescaped(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct {
		segment string // as sent in the path
		account string // the account it names
	}{
		{"user+1@x.com", "user+1@x.com"},
		{"user%2B1@x.com", "user+1@x.com"},
		{"user%2b1@x.com", "user+1@x.com"},
		{"user%201@x.com", "user 1@x.com"},
		{"team%2F42", "team/42"},
		{"100%25", "100%"},
		{"100%2525", "100%25"},
		{"café", "café"},
		{"caf%C3%A9", "café"},
		{"%ED%95%9C%EA%B8%80", "한글"},
		{"a;b=c", "a;b=c"},
	} {
		t.Run(tc.segment, func(t *testing.T) {
			tx := h.must(h.post("/v1/accounts/"+tc.segment+"/grants", `{"amount":"1","source":"bonus"}`), http.StatusCreated)
			assert.Equal(t, tc.account, tx["accountId"])
			acct := h.must(h.get("/v1/accounts/"+tc.segment), http.StatusOK)
			assert.Equal(t, tc.account, acct["id"])
			page := h.must(h.get("/v1/accounts/"+tc.segment+"/transactions"), http.StatusOK)
			for _, item := range page["items"].([]any) {
				assert.Equal(t, tc.account, item.(map[string]any)["accountId"])
			}
		})
	}
	// Each spelling above landed on the account it names, and only there.
	for account, balance := range map[string]string{
		"user%2B1@x.com": "3", "user%201@x.com": "1", "team%2F42": "1", "100%25": "1", "100%2525": "1",
		"caf%C3%A9": "2", "%ED%95%9C%EA%B8%80": "1", "a;b=c": "1",
	} {
		assert.Equal(t, balance, h.must(h.get("/v1/accounts/"+account), http.StatusOK)["balance"], account)
	}
	// "user+1" never named "user 1"'s wallet, nor the other way round.
	assertProblem(t, h.get("/v1/accounts/user+2@x.com"), http.StatusNotFound, "not-found")
	h.grant("user%202@x.com", "5")
	assertProblem(t, h.get("/v1/accounts/user+2@x.com"), http.StatusNotFound, "not-found")
}

func TestBadPathParametersAreRefused(t *testing.T) {
	h := newHarness(t)
	h.grant("user-1", "10")
	hold := h.placeHold("user-1", "1")
	before := h.ledgerSnapshot([]string{"user-1"}, []string{hold})
	for _, tc := range []struct{ path, field string }{
		{"/v1/accounts/%00", "accountId"},
		{"/v1/accounts/a%00b", "accountId"},
		{"/v1/accounts/a%0Ab", "accountId"},
		{"/v1/accounts/a%7Fb", "accountId"},
		{"/v1/accounts/a%C2%85b", "accountId"}, // NEL, a C1 control character
		{"/v1/accounts/%FF", "accountId"},      // not UTF-8
		{"/v1/accounts/%C3", "accountId"},      // a truncated UTF-8 sequence
		{"/v1/accounts/" + strings.Repeat("%C3%A9", 129), "accountId"},
		{"/v1/holds/" + strings.ReplaceAll(hold, "-", "+"), "holdId"},
		{"/v1/holds/" + strings.ReplaceAll(hold, "-", ""), "holdId"},
		{"/v1/holds/urn:uuid:" + hold, "holdId"},
		{"/v1/holds/%7B" + hold + "%7D", "holdId"},
		{"/v1/holds/" + hold + "%00", "holdId"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			p := assertProblem(t, h.get(tc.path), http.StatusBadRequest, "validation-failed")
			require.NotEmpty(t, p["errors"])
			assert.Equal(t, tc.field, p["errors"].([]any)[0].(map[string]any)["field"])
		})
	}
	// A percent-encoded canonical hold id is that hold.
	h.must(h.get("/v1/holds/"+strings.ReplaceAll(hold, "-", "%2D")), http.StatusOK)
	assert.Equal(t, before, h.ledgerSnapshot([]string{"user-1"}, []string{hold}))
}

// TestIdempotencyFingerprintUsesUnescapedParameters: two spellings of one
// account are one request; "+" and "%20" are two.
func TestIdempotencyFingerprintUsesUnescapedParameters(t *testing.T) {
	h := newHarness(t)
	h.grant("user+1@x.com", "10")
	h.grant("user%201@x.com", "10")
	first := h.must(h.post("/v1/accounts/user+1@x.com/spends", `{"amount":"1"}`, withIdem("s-1")), http.StatusCreated)
	w := h.post("/v1/accounts/user%2B1@x.com/spends", `{"amount":"1"}`, withIdem("s-1"))
	again := h.must(w, http.StatusCreated)
	assert.Equal(t, "true", w.Header().Get("Idempotent-Replayed"))
	assert.Equal(t, first["id"], again["id"])
	assertProblem(t, h.post("/v1/accounts/user%201@x.com/spends", `{"amount":"1"}`, withIdem("s-1")),
		http.StatusUnprocessableEntity, "idempotency-key-reused")
	assert.Equal(t, "9", h.must(h.get("/v1/accounts/user+1@x.com"), http.StatusOK)["balance"])
	assert.Equal(t, "10", h.must(h.get("/v1/accounts/user%201@x.com"), http.StatusOK)["balance"])
}
