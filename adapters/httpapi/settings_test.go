package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/creditd/creditd/domain"
)

func TestEventSettingsDefaultAndReplace(t *testing.T) {
	h := newHarness(t)
	got := h.must(h.get("/v1/event-settings"), http.StatusOK)
	assert.Equal(t, map[string]any{"lowBalanceThreshold": nil, "lotsExpiringNotice": "P7D"}, got)

	got = h.must(h.put("/v1/event-settings", `{"lowBalanceThreshold":"25.5","lotsExpiringNotice":"P1DT6H"}`), http.StatusOK)
	assert.Equal(t, map[string]any{"lowBalanceThreshold": "25.5", "lotsExpiringNotice": "P1DT6H"}, got)
	assert.Equal(t, got, h.must(h.get("/v1/event-settings"), http.StatusOK))
	// Another tenant's settings are its own.
	assert.Equal(t, "P7D", h.must(h.get("/v1/event-settings", withKey(h.keyB)), http.StatusOK)["lotsExpiringNotice"])

	// PUT replaces: what is left out goes back to its default.
	got = h.must(h.put("/v1/event-settings", `{}`), http.StatusOK)
	assert.Equal(t, map[string]any{"lowBalanceThreshold": nil, "lotsExpiringNotice": "P7D"}, got)
}

func TestEventSettingsRefuseBadInputAndChangeNothing(t *testing.T) {
	h := newHarness(t)
	h.must(h.put("/v1/event-settings", `{"lowBalanceThreshold":"10","lotsExpiringNotice":"P3D"}`), http.StatusOK)
	before := h.get("/v1/event-settings").Body.String()
	cases := []struct {
		name, body string
		status     int
		slug       string
	}{
		{"negative threshold", `{"lowBalanceThreshold":"-1"}`, 400, "validation-failed"},
		{"zero threshold", `{"lowBalanceThreshold":"0"}`, 400, "validation-failed"},
		{"number threshold", `{"lowBalanceThreshold":10}`, 400, "validation-failed"},
		{"too many decimals", `{"lowBalanceThreshold":"1.0000001"}`, 400, "validation-failed"},
		{"notice under an hour", `{"lotsExpiringNotice":"PT59M"}`, 400, "validation-failed"},
		{"notice over a year", `{"lotsExpiringNotice":"P367D"}`, 400, "validation-failed"},
		{"notice in months", `{"lotsExpiringNotice":"P1M"}`, 400, "validation-failed"},
		{"unknown member", `{"threshold":"10"}`, 400, "validation-failed"},
		{"duplicate member", `{"lowBalanceThreshold":"1","lowBalanceThreshold":"2"}`, 400, "validation-failed"},
		{"NUL in text", `{"lotsExpiringNotice":"P1D\u0000"}`, 400, "validation-failed"},
		{"not an object", `[]`, 400, "malformed-request"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assertProblem(t, h.put("/v1/event-settings", tc.body), tc.status, tc.slug)
			assert.Equal(t, before, h.get("/v1/event-settings").Body.String(), "the settings changed")
		})
	}
}

func TestEventSettingsNeedTheEventsScopes(t *testing.T) {
	h := newHarness(t)
	credits := h.issueKey("alpha", domain.ScopeRead, domain.ScopeWrite)
	reader := h.issueKey("alpha", domain.ScopeEventsRead)
	assertProblem(t, h.get("/v1/event-settings", withKey(credits)), http.StatusForbidden, "forbidden")
	assertProblem(t, h.put("/v1/event-settings", `{}`, withKey(credits)), http.StatusForbidden, "forbidden")
	assertProblem(t, h.put("/v1/event-settings", `{}`, withKey(reader)), http.StatusForbidden, "forbidden")
	h.must(h.get("/v1/event-settings", withKey(reader)), http.StatusOK)
	// An account's own threshold is a credits:write matter.
	assertProblem(t, h.put("/v1/accounts/alice/settings", `{"lowBalanceThreshold":"5"}`, withKey(reader)), http.StatusForbidden, "forbidden")
}

func TestAccountSettingsSetAndRemoveTheThreshold(t *testing.T) {
	h := newHarness(t)
	h.grant("alice", "100")
	got := h.must(h.put("/v1/accounts/alice/settings", `{"lowBalanceThreshold":"12.5"}`), http.StatusOK)
	assert.Equal(t, "12.5", got["lowBalanceThreshold"])
	assert.Equal(t, "100", got["balance"])
	assert.Equal(t, "12.5", h.must(h.get("/v1/accounts/alice"), http.StatusOK)["lowBalanceThreshold"])

	assertProblem(t, h.put("/v1/accounts/alice/settings", `{"lowBalanceThreshold":"-3"}`), 400, "validation-failed")
	assertProblem(t, h.put("/v1/accounts/alice/settings", `{"lowBalanceThreshold":"1"}`, withHeader("Content-Type", "text/plain")),
		http.StatusUnsupportedMediaType, "unsupported-media-type")
	assert.Equal(t, "12.5", h.must(h.get("/v1/accounts/alice"), http.StatusOK)["lowBalanceThreshold"])

	got = h.must(h.put("/v1/accounts/alice/settings", `{"lowBalanceThreshold":null}`), http.StatusOK)
	require.Contains(t, got, "lowBalanceThreshold")
	assert.Nil(t, got["lowBalanceThreshold"])

	// Setting a threshold opens an account never granted anything, empty.
	got = h.must(h.put("/v1/accounts/new%2Fuser/settings", `{"lowBalanceThreshold":"1"}`), http.StatusOK)
	assert.Equal(t, "new/user", got["id"])
	assert.Equal(t, "0", got["balance"])
	// Another tenant does not see it.
	assertProblem(t, h.get("/v1/accounts/new%2Fuser", withKey(h.keyB)), http.StatusNotFound, "not-found")
	h.assertSound()
}

// TestSettingsRoutesUnderAttack: the settings routes refuse what any route
// refuses, and change nothing: no key, made-up methods, a stalled body,
// an account id with an encoded NUL or a broken UTF-8 escape.
func TestSettingsRoutesUnderAttack(t *testing.T) {
	h := newHarness(t)
	h.must(h.put("/v1/accounts/alice/settings", `{"lowBalanceThreshold":"5"}`), http.StatusOK)
	settings := func() string {
		return h.get("/v1/event-settings").Body.String() + h.get("/v1/accounts/alice").Body.String()
	}
	before := settings()

	for _, path := range []string{"/v1/event-settings", "/v1/accounts/alice/settings"} {
		assertProblem(t, h.put(path, `{"lowBalanceThreshold":"1"}`, withoutHeader("Authorization")), http.StatusUnauthorized, "unauthorized")
		assertProblem(t, h.do("BREW", path, `{}`), http.StatusMethodNotAllowed, "method-not-allowed")
		assertProblem(t, h.do(http.MethodPatch, path, `{}`), http.StatusMethodNotAllowed, "method-not-allowed")
		assertProblem(t, h.put(path, "", withStalledBody), http.StatusRequestTimeout, "request-timeout")
	}
	assertProblem(t, h.get("/v1/event-settings", withoutHeader("Authorization")), http.StatusUnauthorized, "unauthorized")
	assert.Equal(t, "GET, PUT", h.do("BREW", "/v1/event-settings", "").Header().Get("Allow"))
	for _, account := range []string{"alice%00", "%C3", "%FF%FE"} {
		assertProblem(t, h.put("/v1/accounts/"+account+"/settings", `{"lowBalanceThreshold":"1"}`), http.StatusBadRequest, "validation-failed")
	}
	assert.Equal(t, before, settings(), "a refused request changed the settings")
}
