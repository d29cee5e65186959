package httpapi_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReplayIsByteIdenticalAndRunsOnce(t *testing.T) {
	h := newHarness(t)
	h.grant("user-1", "100")
	holdForCapture := h.placeHold("user-1", "10")
	holdForRelease := h.placeHold("user-1", "10")

	cases := []struct {
		name, path, body string
		status           int
	}{
		{"grant", "/v1/accounts/user-1/grants", `{"amount":"5","source":"paid"}`, http.StatusCreated},
		{"spend", "/v1/accounts/user-1/spends", `{"amount":"3"}`, http.StatusCreated},
		{"hold", "/v1/accounts/user-1/holds", `{"amount":"2","expiresInSeconds":60}`, http.StatusCreated},
		{"capture", "/v1/holds/" + holdForCapture + "/capture", `{"amount":"4"}`, http.StatusOK},
		{"release", "/v1/holds/" + holdForRelease + "/release", `{}`, http.StatusOK},
		{"rejection", "/v1/accounts/user-1/spends", `{"amount":"1000"}`, http.StatusConflict},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			key := withIdem("replay-" + tc.name)
			first := h.post(tc.path, tc.body, key)
			require.Equal(t, tc.status, first.Code, first.Body.String())
			assert.Empty(t, first.Header().Get("Idempotent-Replayed"))
			after := h.ledgerSnapshot([]string{"user-1"}, []string{holdForCapture, holdForRelease})

			// Different white space and key order are the same request.
			retryBody := " \n" + strings.ReplaceAll(tc.body, ":", " : ") + "\n"
			for _, body := range []string{tc.body, retryBody} {
				again := h.post(tc.path, body, key)
				assert.Equal(t, first.Code, again.Code)
				assert.Equal(t, first.Body.String(), again.Body.String())
				assert.Equal(t, first.Header().Get("Content-Type"), again.Header().Get("Content-Type"))
				assert.Equal(t, "true", again.Header().Get("Idempotent-Replayed"))
			}
			assert.Equal(t, after, h.ledgerSnapshot([]string{"user-1"}, []string{holdForCapture, holdForRelease}),
				"a replay changes nothing")
		})
	}
}

func TestRejectionIsRemembered(t *testing.T) {
	h := newHarness(t)
	h.grant("user-1", "1")
	key := withIdem("spend-big")
	first := h.post("/v1/accounts/user-1/spends", `{"amount":"5"}`, key)
	assertProblem(t, first, http.StatusConflict, "insufficient-credits")

	h.grant("user-1", "10")
	again := h.post("/v1/accounts/user-1/spends", `{"amount":"5"}`, key)
	assert.Equal(t, first.Body.String(), again.Body.String(), "a retry cannot turn a rejection into a success")
	assert.Equal(t, "application/problem+json", again.Header().Get("Content-Type"))
	acct := h.must(h.get("/v1/accounts/user-1"), http.StatusOK)
	assert.Equal(t, "11", acct["balance"])
}

func TestKeyReusedForAnotherRequest(t *testing.T) {
	h := newHarness(t)
	h.grant("user-1", "100")
	h.grant("user-2", "100")
	key := withIdem("one-key")
	h.must(h.post("/v1/accounts/user-1/spends", `{"amount":"1"}`, key), http.StatusCreated)
	before := h.ledgerSnapshot([]string{"user-1", "user-2"}, nil)

	for name, w := range map[string]*httpRecorder{
		"other body":    h.post("/v1/accounts/user-1/spends", `{"amount":"2"}`, key),
		"extra field":   h.post("/v1/accounts/user-1/spends", `{"amount":"1","reason":"x"}`, key),
		"other account": h.post("/v1/accounts/user-2/spends", `{"amount":"1"}`, key),
		"other route":   h.post("/v1/accounts/user-1/grants", `{"amount":"1","source":"bonus"}`, key),
	} {
		t.Run(name, func(t *testing.T) {
			assertProblem(t, w, http.StatusUnprocessableEntity, "idempotency-key-reused")
		})
	}
	assert.Equal(t, before, h.ledgerSnapshot([]string{"user-1", "user-2"}, nil))
}

func TestKeysAreScopedToTheTenant(t *testing.T) {
	h := newHarness(t)
	key := withIdem("same-key")
	h.must(h.post("/v1/accounts/user-1/grants", `{"amount":"1","source":"bonus"}`, key), http.StatusCreated)
	w := h.post("/v1/accounts/user-1/grants", `{"amount":"1","source":"bonus"}`, key, withKey(h.keyB))
	require.Equal(t, http.StatusCreated, w.Code)
	assert.Empty(t, w.Header().Get("Idempotent-Replayed"))
	acct := h.must(h.get("/v1/accounts/user-1", withKey(h.keyB)), http.StatusOK)
	assert.Equal(t, "1", acct["balance"])
}

func TestConcurrentRequestsWithOneKeyRunOnce(t *testing.T) {
	h := newHarness(t)
	h.grant("user-1", "100")

	const n = 20
	var wg sync.WaitGroup
	responses := make([]*httpRecorder, n)
	for i := range n {
		wg.Go(func() {
			responses[i] = h.post("/v1/accounts/user-1/spends", `{"amount":"7"}`, withIdem("concurrent"))
		})
	}
	wg.Wait()

	fresh := 0
	for _, w := range responses {
		require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
		assert.Equal(t, responses[0].Body.String(), w.Body.String())
		if w.Header().Get("Idempotent-Replayed") == "" {
			fresh++
		}
	}
	assert.Equal(t, 1, fresh, "exactly one response is the execution itself")

	acct := h.must(h.get("/v1/accounts/user-1"), http.StatusOK)
	assert.Equal(t, "93", acct["balance"])
	page := h.must(h.get("/v1/accounts/user-1/transactions"), http.StatusOK)
	assert.Len(t, page["items"], 2, "one grant and one spend")
}

func TestIdempotencyKeyHeader(t *testing.T) {
	h := newHarness(t)
	h.grant("user-1", "10")
	before := h.ledgerSnapshot([]string{"user-1"}, nil)

	assertProblem(t, h.post("/v1/accounts/user-1/spends", `{"amount":"1"}`, withoutHeader("Idempotency-Key")),
		http.StatusBadRequest, "idempotency-key-missing")
	for _, bad := range []string{strings.Repeat("k", 256), "naïve", "tab\there"} {
		p := assertProblem(t, h.post("/v1/accounts/user-1/spends", `{"amount":"1"}`, withIdem(bad)),
			http.StatusBadRequest, "validation-failed")
		assert.Equal(t, "Idempotency-Key", p["errors"].([]any)[0].(map[string]any)["field"])
	}
	assert.Equal(t, before, h.ledgerSnapshot([]string{"user-1"}, nil))

	// The longest key and one with spaces are fine.
	h.must(h.post("/v1/accounts/user-1/spends", `{"amount":"1"}`, withIdem(strings.Repeat("k", 255))), http.StatusCreated)
	h.must(h.post("/v1/accounts/user-1/spends", `{"amount":"1"}`, withIdem("order 42 / try 1")), http.StatusCreated)
}
