package httpapi_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/creditd/creditd/application"
)

func TestAuthentication(t *testing.T) {
	h := newHarness(t)
	h.grant("user-1", "10")
	revoked := h.issueKey("alpha")
	p, err := h.apiKeys.Authenticate(context.Background(), revoked)
	require.NoError(t, err)
	require.NoError(t, h.apiKeys.Revoke(context.Background(), p.Key))
	before := h.ledgerSnapshot([]string{"user-1"}, nil)

	for name, auth := range map[string]string{
		"missing":           "",
		"basic":             "Basic " + h.keyA,
		"no key":            "Bearer ",
		"no space":          "Bearer" + h.keyA,
		"unknown":           "Bearer cdk_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		"not a creditd key": "Bearer sk_live_123",
		"revoked":           "Bearer " + revoked,
	} {
		t.Run(name, func(t *testing.T) {
			set := withoutHeader("Authorization")
			if auth != "" {
				set = withHeader("Authorization", auth)
			}
			for _, w := range []*httpRecorder{
				h.get("/v1/accounts/user-1", set),
				h.post("/v1/accounts/user-1/spends", `{"amount":"1"}`, set),
			} {
				assertProblem(t, w, http.StatusUnauthorized, "unauthorized")
				assert.Equal(t, `Bearer realm="creditd"`, w.Header().Get("WWW-Authenticate"))
			}
		})
	}
	// The scheme is case-insensitive (RFC 9110).
	h.must(h.get("/v1/accounts/user-1", withHeader("Authorization", "bearer "+h.keyA)), http.StatusOK)
	assert.Equal(t, before, h.ledgerSnapshot([]string{"user-1"}, nil))
}

func TestScopes(t *testing.T) {
	h := newHarness(t)
	h.grant("user-1", "10")
	hold := h.placeHold("user-1", "1")
	before := h.ledgerSnapshot([]string{"user-1"}, []string{hold})

	ro := withKey(h.readOnlyA)
	for _, w := range []*httpRecorder{
		h.post("/v1/accounts/user-1/grants", `{"amount":"1","source":"bonus"}`, ro),
		h.post("/v1/accounts/user-1/spends", `{"amount":"1"}`, ro),
		h.post("/v1/accounts/user-1/holds", `{"amount":"1","expiresInSeconds":60}`, ro),
		h.post("/v1/holds/"+hold+"/capture", `{"amount":"1"}`, ro),
		h.post("/v1/holds/"+hold+"/release", `{}`, ro),
	} {
		assertProblem(t, w, http.StatusForbidden, "forbidden")
	}
	assert.Equal(t, before, h.ledgerSnapshot([]string{"user-1"}, []string{hold}))
	h.must(h.get("/v1/accounts/user-1", ro), http.StatusOK)
	h.must(h.get("/v1/holds/"+hold, ro), http.StatusOK)
	h.must(h.get("/v1/accounts/user-1/transactions", ro), http.StatusOK)

	wo := withKey(h.writeOnlyA)
	assertProblem(t, h.get("/v1/accounts/user-1", wo), http.StatusForbidden, "forbidden")
	h.must(h.post("/v1/accounts/user-1/spends", `{"amount":"1"}`, wo), http.StatusCreated)
}

// failingKeys is an API key store whose lookups fail or panic.
type failingKeys struct {
	application.APIKeyStore
	panics bool
}

func (f failingKeys) FindActive(context.Context, []byte) (application.StoredAPIKey, error) {
	if f.panics {
		panic("key store exploded")
	}
	return application.StoredAPIKey{}, errors.New("connection reset by peer 10.1.2.3")
}

func TestInfrastructureFailuresAreGeneric500s(t *testing.T) {
	for _, panics := range []bool{false, true} {
		h := newHarness(t, withKeyStore(func(s application.APIKeyStore) application.APIKeyStore {
			return failingKeys{APIKeyStore: s, panics: panics}
		}))
		w := h.get("/v1/accounts/user-1", withHeader("X-Request-ID", "req-500"))
		p := assertProblem(t, w, http.StatusInternalServerError, "internal")
		assert.NotContains(t, p["detail"], "10.1.2.3")
		assert.NotContains(t, p["detail"], "exploded")
		assert.Equal(t, "req-500", w.Header().Get("X-Request-ID"))

		// The cause is logged with the request id.
		var found bool
		for _, l := range h.logLines() {
			if l["level"] == "ERROR" && l["request_id"] == "req-500" {
				found = true
			}
		}
		assert.True(t, found, "no error log with the request id: %s", h.logs.String())
		want := "10.1.2.3"
		if panics {
			want = "key store exploded"
		}
		assert.Contains(t, h.logs.String(), want)
		// The access log still records the 500.
		assert.Contains(t, h.logs.String(), `"status":500`)
	}
}
