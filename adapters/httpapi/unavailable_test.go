package httpapi_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/creditd/creditd/adapters/httpapi"
)

func withRequestTimeout(d time.Duration) harnessOption {
	return func(deps *httpapi.Deps, _ *harness) { deps.Config.RequestTimeout = d }
}

// assertUnavailable checks a 503 that tells the client when to retry, and
// that it says nothing of the cause.
func assertUnavailable(t *testing.T, w *httptest.ResponseRecorder, what string) {
	t.Helper()
	if !assert.Equal(t, http.StatusServiceUnavailable, w.Code, "%s: %s", what, w.Body.String()) {
		return
	}
	p := assertProblem(t, w, http.StatusServiceUnavailable, "unavailable")
	seconds, err := strconv.Atoi(w.Header().Get("Retry-After"))
	assert.NoError(t, err, "%s: Retry-After %q is not seconds", what, w.Header().Get("Retry-After"))
	assert.Positive(t, seconds, what)
	assert.NotContains(t, p["detail"], "10.1.2.3", what)
}

// TestDatabaseDownIs503: with the database unreachable, reads, writes and
// authentication answer 503 unavailable with Retry-After, not 500; once it
// is back, the same Idempotency-Key executes, once.
func TestDatabaseDownIs503(t *testing.T) {
	f := &dbFaults{}
	h := newHarness(t, withFaults(f))
	h.grant("user-1", "100")
	hold := h.placeHold("user-1", "10")
	capturable := h.placeHold("user-1", "10")
	fresh := h.issueKey("alpha") // not yet seen, so authenticating it needs the database
	before := h.ledgerSnapshot([]string{"user-1"}, []string{hold, capturable})

	f.down.Store(true)
	writes := map[string][2]string{ // Idempotency-Key -> path, body
		"grant-1":   {"/v1/accounts/user-1/grants", `{"amount":"5","source":"bonus"}`},
		"spend-1":   {"/v1/accounts/user-1/spends", `{"amount":"7"}`},
		"hold-1":    {"/v1/accounts/user-1/holds", `{"amount":"3","expiresInSeconds":60}`},
		"capture-1": {"/v1/holds/" + capturable + "/capture", `{"amount":"4"}`},
		"release-1": {"/v1/holds/" + hold + "/release", ``},
		"grant-new": {"/v1/accounts/user-2/grants", `{"amount":"1","source":"bonus"}`},
	}
	for key, w := range writes {
		for range 2 { // a retry while it is down is a 503 again, not a stored receipt
			assertUnavailable(t, h.post(w[0], w[1], withIdem(key)), key)
		}
	}
	for _, path := range []string{"/v1/accounts/user-1", "/v1/accounts/user-1/transactions", "/v1/holds/" + hold} {
		assertUnavailable(t, h.get(path), path)
	}
	assertUnavailable(t, h.get("/v1/accounts/user-1", withKey(fresh)), "authentication")
	assertUnavailable(t, h.post("/v1/accounts/user-1/spends", `{"amount":"1"}`, withKey(fresh)), "authentication of a write")
	// The cause is logged for operators.
	assert.Contains(t, h.logs.String(), "connection refused")

	f.down.Store(false)
	assert.Equal(t, before, h.ledgerSnapshot([]string{"user-1"}, []string{hold, capturable}), "a 503 changed the ledger")
	for key, w := range writes {
		r := h.post(w[0], w[1], withIdem(key))
		assert.Less(t, r.Code, 300, "%s after the database came back: %s", key, r.Body.String())
		assert.Empty(t, r.Header().Get("Idempotent-Replayed"), "%s was stored while the database was down", key)
		r = h.post(w[0], w[1], withIdem(key))
		assert.Equal(t, "true", r.Header().Get("Idempotent-Replayed"), key)
	}
	acct := h.must(h.get("/v1/accounts/user-1"), http.StatusOK)
	// 100 + 5 - 7 - 4 captured; held: 3 new + 6 left of the capture.
	assert.Equal(t, "94", acct["balance"])
	assert.Equal(t, "9", acct["held"])
	h.must(h.get("/v1/accounts/user-1", withKey(fresh)), http.StatusOK)
}

// TestFrozenDatabaseIs503WithinTheRequestDeadline: a database that accepts
// work and never answers holds no request past the router's deadline, even
// where the layers below ignore the request's context.
func TestFrozenDatabaseIs503WithinTheRequestDeadline(t *testing.T) {
	f := &dbFaults{}
	const deadline = 200 * time.Millisecond
	h := newHarness(t, withFaults(f), withRequestTimeout(deadline))
	h.grant("user-1", "100")
	hold := h.placeHold("user-1", "10")
	fresh := h.issueKey("alpha")

	f.freeze()
	var wg sync.WaitGroup
	for i, req := range []struct{ method, path, body, key string }{
		{"GET", "/v1/accounts/user-1", "", h.keyA},
		{"GET", "/v1/accounts/user-1/transactions", "", h.keyA},
		{"GET", "/v1/holds/" + hold, "", h.keyA},
		{"POST", "/v1/accounts/user-1/spends", `{"amount":"1"}`, h.keyA},
		{"POST", "/v1/holds/" + hold + "/capture", `{"amount":"1"}`, h.keyA},
		{"GET", "/v1/accounts/user-1", "", fresh},
	} {
		wg.Go(func() {
			began := time.Now()
			w := h.do(req.method, req.path, req.body, withKey(req.key), withIdem(fmt.Sprintf("frozen-%d", i)))
			took := time.Since(began)
			assertUnavailable(t, w, req.path)
			assert.GreaterOrEqual(t, took, deadline-10*time.Millisecond, req.path)
			assert.Less(t, took, deadline+time.Second, req.path)
		})
	}
	wg.Wait()
	f.thaw()

	// The calls left behind see their request's context ended once the
	// database answers, and the store drops them (as the group commit drops
	// work whose caller has gone before its batch starts). The spend, retried
	// with its key, then runs, once.
	w := h.post("/v1/accounts/user-1/spends", `{"amount":"1"}`, withIdem("frozen-3"))
	h.must(w, http.StatusCreated)
	assert.Empty(t, w.Header().Get("Idempotent-Replayed"))
	w = h.post("/v1/accounts/user-1/spends", `{"amount":"1"}`, withIdem("frozen-3"))
	h.must(w, http.StatusCreated)
	assert.Equal(t, "true", w.Header().Get("Idempotent-Replayed"))
	acct := h.must(h.get("/v1/accounts/user-1"), http.StatusOK)
	assert.Equal(t, "99", acct["balance"])
	assert.Equal(t, "10", acct["held"])
}

// TestA503IsNeverStored: when the database fails a write and answers again
// at once, the 503 is not recorded as the key's outcome (as a business
// rejection would be), so the retry runs the write.
func TestA503IsNeverStored(t *testing.T) {
	f := &dbFaults{}
	h := newHarness(t, withFaults(f))
	h.grant("user-1", "10")
	f.failNext.Store(1)
	assertUnavailable(t, h.post("/v1/accounts/user-1/spends", `{"amount":"3"}`, withIdem("blip")), "the write")
	w := h.post("/v1/accounts/user-1/spends", `{"amount":"3"}`, withIdem("blip"))
	h.must(w, http.StatusCreated)
	assert.Empty(t, w.Header().Get("Idempotent-Replayed"))
	assert.Equal(t, "7", h.must(h.get("/v1/accounts/user-1"), http.StatusOK)["balance"])
}
