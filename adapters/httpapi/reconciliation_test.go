package httpapi_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// seedReconciliation stores two runs: the older finds one of alpha's orders
// and one of beta's (alpha's sync failed), the newer stopped part way.
func (h *harness) seedReconciliation() (older, newer application.ReconciliationReport) {
	h.t.Helper()
	tenant := func(key string) domain.TenantID {
		p, err := h.apiKeys.Authenticate(context.Background(), key)
		require.NoError(h.t, err)
		return p.Tenant
	}
	payment := func(s string) domain.PaymentID {
		id, err := domain.ParsePaymentID(s)
		require.NoError(h.t, err)
		return id
	}
	older = application.ReconciliationReport{ID: domain.ReconciliationID(h.ids.NewID()), StartedAt: start, FinishedAt: start.Add(time.Second),
		WindowStart: start.Add(-24 * time.Hour), WindowEnd: start, PaymentsSeen: 3, UnknownPayments: 1,
		Findings: []application.ReconciliationFinding{
			{Payment: payment("ord-alpha"), Tenant: tenant(h.keyA), StatusBefore: domain.OrderPending, StatusAfter: domain.OrderPending,
				PaymentStatus: domain.PaymentPaid, ErrorKind: application.FindingUnavailable, Error: "read payment: dial tcp 10.0.0.9:443: refused", FoundAt: start},
			{Payment: payment("ord-beta"), Tenant: tenant(h.keyB), StatusBefore: domain.OrderPending, StatusAfter: domain.OrderPaid,
				PaymentStatus: domain.PaymentPaid, FoundAt: start},
		}}
	newer = application.ReconciliationReport{ID: domain.ReconciliationID(h.ids.NewID()), StartedAt: start.Add(10 * time.Minute),
		FinishedAt: start.Add(11 * time.Minute), WindowStart: start.Add(-14 * time.Hour), WindowEnd: start.Add(10 * time.Minute),
		Error: "list payments: unavailable"}
	require.NoError(h.t, h.reports.Save(context.Background(), older))
	require.NoError(h.t, h.reports.Save(context.Background(), newer))
	return older, newer
}

// TestReconciliationReports: runs newest first, by pages, each with only the
// caller's findings; a failed sync shows its kind, never its message.
func TestReconciliationReports(t *testing.T) {
	h := newHarness(t)
	older, newer := h.seedReconciliation()

	page := h.must(h.get("/v1/reconciliation/reports?limit=1"), http.StatusOK)
	items := page["items"].([]any)
	require.Len(t, items, 1)
	run := items[0].(map[string]any)
	assert.Equal(t, newer.ID.String(), run["id"])
	assert.Equal(t, false, run["complete"])
	assert.Empty(t, run["findings"])
	require.NotNil(t, page["nextCursor"])

	page = h.must(h.get("/v1/reconciliation/reports?limit=1&cursor="+page["nextCursor"].(string)), http.StatusOK)
	items = page["items"].([]any)
	require.Len(t, items, 1)
	assert.Nil(t, page["nextCursor"])
	assert.Equal(t, map[string]any{"id": older.ID.String(), "startedAt": "2026-03-01T09:00:00Z", "finishedAt": "2026-03-01T09:00:01Z",
		"windowStart": "2026-02-28T09:00:00Z", "windowEnd": "2026-03-01T09:00:00Z", "paymentsSeen": float64(3), "unknownPayments": float64(1),
		"complete": true, "findings": []any{map[string]any{"paymentId": "ord-alpha", "orderStatusBefore": "PENDING",
			"orderStatusAfter": "PENDING", "paymentStatus": "PAID", "error": "unavailable", "foundAt": "2026-03-01T09:00:00Z"}}}, items[0])

	// beta sees its own finding, and not alpha's.
	page = h.must(h.get("/v1/reconciliation/reports", withKey(h.keyB)), http.StatusOK)
	items = page["items"].([]any)
	require.Len(t, items, 2)
	findings := items[1].(map[string]any)["findings"].([]any)
	require.Len(t, findings, 1)
	assert.Equal(t, "ord-beta", findings[0].(map[string]any)["paymentId"])
	assert.Nil(t, findings[0].(map[string]any)["error"])

	h.must(h.get("/v1/reconciliation/reports", withKey(h.readOnlyA)), http.StatusForbidden) // credits:read only
	for _, q := range []string{"limit=0", "limit=201", "limit=x", "cursor=nope"} {
		h.must(h.get("/v1/reconciliation/reports?"+q), http.StatusBadRequest)
	}
	h.must(h.get("/v1/reconciliation/reports", withoutHeader("Authorization")), http.StatusUnauthorized)
}
