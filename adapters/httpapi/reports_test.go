package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/creditd/creditd/domain"
)

const summaryPath = "/v1/reports/summary"

// TestSummary: the figures of a small ledger, in the documented shape; an
// offset sent percent-encoded is read as such; another tenant sees none of them.
func TestSummary(t *testing.T) {
	h := newHarness(t)
	h.must(h.post("/v1/accounts/user-1/grants", `{"amount":"100","source":"paid","fundingReference":"invoice-1"}`, withIdem("paid-1")), http.StatusCreated)
	h.must(h.post("/v1/accounts/user-1/grants", `{"amount":"7.5","source":"bonus"}`, withIdem("bonus-1")), http.StatusCreated)
	h.must(h.post("/v1/accounts/user-1/spends", `{"amount":"10"}`, withIdem("spend-1")), http.StatusCreated)

	// 09:00+09:00 is 00:00Z: the window holds start (09:00Z).
	got := h.must(h.get(summaryPath+"?from=2026-03-01T09%3A00%3A00%2B09%3A00&to=2026-03-02T00:00:00Z"), http.StatusOK)
	zero := map[string]any{"paid": "0", "bonus": "0"}
	assert.Equal(t, map[string]any{
		"from": "2026-03-01T00:00:00Z", "to": "2026-03-02T00:00:00Z",
		"granted":     map[string]any{"paid": map[string]any{"purchase": "0", "manual": "100"}, "bonus": map[string]any{"purchase": "0", "manual": "7.5"}},
		"consumed":    map[string]any{"paid": "10", "bonus": "0"},
		"expired":     zero,
		"refunded":    map[string]any{"paid": "0", "bonus": "0", "debt": "0", "absorbed": "0"},
		"reversed":    map[string]any{"returned": zero, "takenBack": zero},
		"debtRepaid":  zero,
		"outstanding": map[string]any{"paid": "90", "bonus": "7.5", "debt": "0"},
		// Paid credits granted through the API have no price.
		"deferredRevenue": []any{},
	}, got)

	// A window after the grants: no flows, the same outstanding credits.
	got = h.must(h.get(summaryPath+"?from=2026-03-02T00:00:00Z&to=2026-03-03T00:00:00Z"), http.StatusOK)
	assert.Equal(t, map[string]any{"purchase": "0", "manual": "0"}, got["granted"].(map[string]any)["paid"])
	assert.Equal(t, map[string]any{"paid": "90", "bonus": "7.5", "debt": "0"}, got["outstanding"])

	got = h.must(h.get(summaryPath+"?from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z", withKey(h.keyB)), http.StatusOK)
	assert.Equal(t, map[string]any{"paid": "0", "bonus": "0", "debt": "0"}, got["outstanding"])
}

// TestSummaryRefusesBadWindows: each bad from or to is a validation-failed
// problem naming the field.
func TestSummaryRefusesBadWindows(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct{ query, field string }{
		{"to=2026-03-02T00:00:00Z", "from"},
		{"from=2026-03-01T00:00:00Z", "to"},
		{"from=yesterday&to=2026-03-02T00:00:00Z", "from"},
		{"from=2026-03-01&to=2026-03-02T00:00:00Z", "from"},                   // a date is not a date-time
		{"from=2026-03-01T00:00:00&to=2026-03-02T00:00:00Z", "from"},          // no offset
		{"from=2026-03-01T00:00:00Z&to=2026-03-01T00:00:00Z", "to"},           // empty window
		{"from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z", "to"},           // from after to
		{"from=2016-03-01T00:00:00Z&to=2026-03-01T00:00:00.000001Z", "to"},    // a microsecond over 10 years
		{"from=2026-03-01T00:00:00+09:00&to=2026-03-02T00:00:00Z", "from"},    // '+' decoded as a space
		{"from=2026-03-01T00:00:00.0000001Z&to=2026-03-02T00:00:00Z", "from"}, // finer than the ledger keeps
		{"from=2026-03-01T00:00:00Z&from=2026-02-01T00:00:00Z&to=2026-03-02T00:00:00Z", "from"},
		{"from=%ZZ&to=2026-03-02T00:00:00Z", "from"}, // an invalid escape drops the parameter
		{"from=2026-03-01T00%3A00%3A00Z%00&to=2026-03-02T00:00:00Z", "from"},
	} {
		t.Run(tc.query, func(t *testing.T) {
			p := assertProblem(t, h.get(summaryPath+"?"+tc.query), http.StatusBadRequest, "validation-failed")
			assert.Equal(t, []string{tc.field}, problemFields(p))
		})
	}
	// Exactly ten years is allowed.
	h.must(h.get(summaryPath+"?from=2016-03-01T00:00:00Z&to=2026-03-01T00:00:00Z"), http.StatusOK)
	p := assertProblem(t, h.get(summaryPath+"?from=2026-03-01T00:00:00+09:00&to=2026-03-02T00:00:00Z"), http.StatusBadRequest, "validation-failed")
	assert.Contains(t, p["errors"].([]any)[0].(map[string]any)["message"], "%2B")
}

// TestSummaryScopes: credits:read or orders:read may read it; other keys get forbidden.
func TestSummaryScopes(t *testing.T) {
	h := newHarness(t)
	q := summaryPath + "?from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z"
	h.must(h.get(q, withKey(h.readOnlyA)), http.StatusOK)
	h.must(h.get(q, withKey(h.issueKey("alpha", domain.ScopeOrdersRead))), http.StatusOK)
	for _, scope := range []domain.Scope{domain.ScopeWrite, domain.ScopeOrdersWrite, domain.ScopeCatalogWrite} {
		p := assertProblem(t, h.get(q, withKey(h.issueKey("alpha", scope))), http.StatusForbidden, "forbidden")
		require.Contains(t, p["detail"], "credits:read")
	}
	assertProblem(t, h.get(q, withKey("nope")), http.StatusUnauthorized, "unauthorized")
}
