package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// clawback takes amount back from alpha's account for the external funding
// ref, under the debt policy, through the use case: no endpoint does it.
func (h *harness) clawback(account, ref, amount string) application.ClawbackOutcome {
	h.t.Helper()
	name, err := domain.ParseTenantName("alpha")
	require.NoError(h.t, err)
	tenant, err := h.store.APIKeys().EnsureTenant(context.Background(), name, domain.TenantID{})
	require.NoError(h.t, err)
	acct, err := domain.ParseAccountID(account)
	require.NoError(h.t, err)
	funding, err := domain.NewFunding(domain.FundedExternally, ref)
	require.NoError(h.t, err)
	out, _, err := h.accounts.Clawback(context.Background(), application.ClawbackCommand{Tenant: tenant, Account: acct, Funding: funding,
		Amount: domain.MustCredits(amount), Policy: domain.ShortfallDebt}, nil)
	require.NoError(h.t, err)
	return out
}

// TestAccountInDebt: the account shows its debt and a negative net balance,
// and the clawback's debt leg is a wallet posting without a lot.
func TestAccountInDebt(t *testing.T) {
	h := newHarness(t)
	lot := lotOf(t, h.must(h.post("/v1/accounts/user-1/grants", `{"amount":"10","source":"paid","fundingReference":"inv-1"}`), http.StatusCreated))
	h.must(h.post("/v1/accounts/user-1/spends", `{"amount":"4"}`), http.StatusCreated)
	out := h.clawback("user-1", "inv-1", "10")

	w := h.get("/v1/accounts/user-1")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.JSONEq(t, `{"id": "user-1", "balance": "-4", "held": "0", "available": "-4", "debt": "4", "lots": [], "lowBalanceThreshold": null}`, w.Body.String())

	items := h.must(h.get("/v1/accounts/user-1/transactions?limit=1"), http.StatusOK)["items"].([]any)
	require.Len(t, items, 1)
	assert.JSONEq(t, fmt.Sprintf(`{"id": %q, "type": "CLAWBACK", "accountId": "user-1", "amount": "10", "balanceAfter": "-4",
		"createdAt": "2026-03-01T09:00:00Z", "reason": "", "metadata": {}, "funding": null, "postings": [
			{"account": "user-1", "accountType": "wallet", "lotId": %q, "lotSource": "paid",
			 "lotFunding": {"kind": "external", "reference": "inv-1"}, "amount": "-6"},
			{"account": "user-1", "accountType": "wallet", "amount": "-4"},
			{"account": "refunds", "accountType": "system", "amount": "10"}
		]}`, out.Transaction.ID(), lot), mustJSON(t, items[0]))

	// A grant pays the debt first.
	h.grant("user-1", "5")
	acct := h.must(h.get("/v1/accounts/user-1"), http.StatusOK)
	assert.Equal(t, "1", acct["balance"])
	assert.Equal(t, "0", acct["debt"])
	assert.Equal(t, "1", acct["available"])
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}
