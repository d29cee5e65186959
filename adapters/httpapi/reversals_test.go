package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// percentEncoded spells every byte of s as %XX, in upper or lower case hex.
func percentEncoded(s string, lower bool) string {
	var b strings.Builder
	for i := range len(s) {
		f := "%%%02X"
		if lower {
			f = "%%%02x"
		}
		fmt.Fprintf(&b, f, s[i])
	}
	return b.String()
}

func reversalsPath(id string) string { return "/v1/transactions/" + id + "/reversals" }

func TestReversalOfASpend(t *testing.T) {
	h := newHarness(t)
	h.grant("user-1", "10")
	spend := h.must(h.post("/v1/accounts/user-1/spends", `{"amount":"6"}`), http.StatusCreated)["id"].(string)

	w := h.post(reversalsPath(spend), `{"amount":"2.5","reason":"charged twice"}`, withIdem("rev-1"))
	rev := h.must(w, http.StatusCreated)
	assert.Equal(t, "REVERSAL", rev["type"])
	assert.Equal(t, spend, rev["reversalOf"])
	assert.Equal(t, "2.5", rev["amount"])
	assert.Equal(t, "6.5", rev["balanceAfter"])
	assert.Equal(t, "charged twice", rev["reason"])
	assert.NotContains(t, rev, "reversedAmount")
	postings := rev["postings"].([]any)
	require.Len(t, postings, 2)
	assert.Equal(t, "2.5", postings[0].(map[string]any)["amount"])
	assert.Equal(t, map[string]any{"account": "consumption", "accountType": "system", "amount": "-2.5"}, postings[1])

	// A retry replays; the same key for another amount is refused.
	again := h.post(reversalsPath(spend), `{"amount":"2.5","reason":"charged twice"}`, withIdem("rev-1"))
	assert.Equal(t, http.StatusCreated, again.Code)
	assert.Equal(t, w.Body.String(), again.Body.String())
	assert.Equal(t, "true", again.Header().Get("Idempotent-Replayed"))
	assertProblem(t, h.post(reversalsPath(spend), `{"amount":"1","reason":"charged twice"}`, withIdem("rev-1")),
		http.StatusUnprocessableEntity, "idempotency-key-reused")

	// Every percent-encoding of the id names the same transaction: the same
	// request, replayed under its key, or a new reversal under a new one.
	for i, spelling := range []string{percentEncoded(spend, false), percentEncoded(spend, true),
		spend[:8] + percentEncoded(spend[8:9], false) + spend[9:]} {
		replay := h.post(reversalsPath(spelling), `{"amount":"2.5","reason":"charged twice"}`, withIdem("rev-1"))
		assert.Equal(t, w.Body.String(), replay.Body.String(), spelling)
		other := h.must(h.post(reversalsPath(spelling), `{"amount":"0.5","reason":"encoded"}`, withIdem(fmt.Sprintf("enc-%d", i))), http.StatusCreated)
		assert.Equal(t, spend, other["reversalOf"], spelling)
	}

	// All that is left: 6 - 2.5 - 3 × 0.5.
	rest := h.must(h.post(reversalsPath(spend), `{"reason":"the rest"}`), http.StatusCreated)
	assert.Equal(t, "2", rest["amount"])
	assertProblem(t, h.post(reversalsPath(spend), `{"reason":"again"}`), http.StatusUnprocessableEntity, "reversal-exceeds-original")

	// History shows what was reversed of the spend, and what each reversal reverses.
	page := h.must(h.get("/v1/accounts/user-1/transactions"), http.StatusOK)
	var seen int
	for _, it := range page["items"].([]any) {
		item := it.(map[string]any)
		switch item["type"] {
		case "SPEND":
			seen++
			assert.Equal(t, "6", item["reversedAmount"])
			assert.Len(t, item["reversals"], 5)
			assert.Equal(t, rev["id"], item["reversals"].([]any)[0], "oldest first")
		case "REVERSAL":
			seen++
			assert.Equal(t, spend, item["reversalOf"])
			assert.NotContains(t, item, "reversedAmount")
		default:
			assert.NotContains(t, item, "reversedAmount")
			assert.NotContains(t, item, "reversalOf")
		}
	}
	assert.Equal(t, 6, seen)
	assert.Equal(t, "10", h.must(h.get("/v1/accounts/user-1"), http.StatusOK)["balance"])

	// So does reading either one alone.
	one := h.must(h.get("/v1/transactions/"+spend), http.StatusOK)
	assert.Equal(t, "6", one["reversedAmount"])
	assert.Len(t, one["reversals"], 5)
	alone := h.must(h.get("/v1/transactions/"+rev["id"].(string)), http.StatusOK)
	assert.Equal(t, spend, alone["reversalOf"])
	assert.NotContains(t, alone, "reversedAmount")
}

func TestReversalBadInputIsRefusedAndChangesNothing(t *testing.T) {
	h := newHarness(t)
	grant := h.grant("user-1", "100")["id"].(string)
	spend := h.must(h.post("/v1/accounts/user-1/spends", `{"amount":"10"}`), http.StatusCreated)["id"].(string)
	reversal := h.must(h.post(reversalsPath(spend), `{"amount":"1","reason":"r"}`), http.StatusCreated)["id"].(string)
	hold := h.placeHold("user-1", "5")
	path := reversalsPath(spend)
	const bad = http.StatusBadRequest

	cases := []refusedPost{
		{"id not a UUID", reversalsPath("nope"), `{"reason":"r"}`, nil, bad, "validation-failed", "transactionId"},
		{"id without dashes", reversalsPath(strings.ReplaceAll(spend, "-", "")), `{"reason":"r"}`, nil, bad, "validation-failed", "transactionId"},
		{"id with pluses", reversalsPath(strings.ReplaceAll(spend, "-", "+")), `{"reason":"r"}`, nil, bad, "validation-failed", "transactionId"},
		{"id as a URN", reversalsPath("urn:uuid:" + spend), `{"reason":"r"}`, nil, bad, "validation-failed", "transactionId"},
		{"id in encoded braces", reversalsPath("%7B" + spend + "%7D"), `{"reason":"r"}`, nil, bad, "validation-failed", "transactionId"},
		{"id with an encoded NUL", reversalsPath(spend + "%00"), `{"reason":"r"}`, nil, bad, "validation-failed", "transactionId"},
		{"id with an encoded slash", reversalsPath(spend[:8] + "%2F" + spend[9:]), `{"reason":"r"}`, nil, bad, "validation-failed", "transactionId"},
		{"id with an encoded space", reversalsPath(spend + "%20"), `{"reason":"r"}`, nil, bad, "validation-failed", "transactionId"},
		{"id too long", reversalsPath(spend + "0"), `{"reason":"r"}`, nil, bad, "validation-failed", "transactionId"},
		{"unknown id", reversalsPath("01000000-0000-7000-8000-000000000000"), `{"reason":"r"}`, nil, http.StatusNotFound, "not-found", ""},
		{"another tenant's transaction", path, `{"reason":"r"}`, []reqOption{withKey(h.keyB)}, http.StatusNotFound, "not-found", ""},
		{"amount zero", path, `{"amount":"0","reason":"r"}`, nil, bad, "validation-failed", "amount"},
		{"amount negative", path, `{"amount":"-1","reason":"r"}`, nil, bad, "validation-failed", "amount"},
		{"amount empty", path, `{"amount":"","reason":"r"}`, nil, bad, "validation-failed", "amount"},
		{"amount over-precise", path, `{"amount":"0.0000001","reason":"r"}`, nil, bad, "validation-failed", "amount"},
		{"amount as a number", path, `{"amount":1,"reason":"r"}`, nil, bad, "validation-failed", "amount"},
		{"amount exponent", path, `{"amount":"1e1","reason":"r"}`, nil, bad, "validation-failed", "amount"},
		{"amount over the original", path, `{"amount":"10.000001","reason":"r"}`, nil, http.StatusUnprocessableEntity, "reversal-exceeds-original", ""},
		{"amount over what is left", path, `{"amount":"9.5","reason":"r"}`, nil, http.StatusUnprocessableEntity, "reversal-exceeds-original", ""},
		{"reason missing", path, `{"amount":"1"}`, nil, bad, "validation-failed", "reason"},
		{"reason empty", path, `{"amount":"1","reason":""}`, nil, bad, "validation-failed", "reason"},
		{"reason with NUL", path, `{"amount":"1","reason":"a\u0000b"}`, nil, bad, "validation-failed", "reason"},
		{"reason too long", path, `{"reason":"` + strings.Repeat("r", 501) + `"}`, nil, bad, "validation-failed", "reason"},
		{"reason not a string", path, `{"reason":7}`, nil, bad, "validation-failed", "reason"},
		{"duplicate amount", path, `{"amount":"1","reason":"r","amount":"9"}`, nil, bad, "validation-failed", "amount"},
		{"duplicate reason", path, `{"reason":"r","reason":"s"}`, nil, bad, "validation-failed", "reason"},
		{"unknown field", path, `{"reason":"r","metadata":{"a":"b"}}`, nil, bad, "validation-failed", "metadata"},
		{"field in another case", path, `{"Reason":"r"}`, nil, bad, "validation-failed", "Reason"},
		{"malformed JSON", path, `{"reason":`, nil, bad, "malformed-request", ""},
		{"empty body", path, ``, nil, bad, "malformed-request", ""},
		{"idempotency key missing", path, `{"reason":"r"}`, []reqOption{withoutHeader("Idempotency-Key")}, bad, "idempotency-key-missing", ""},
		{"read-only key", path, `{"reason":"r"}`, []reqOption{withKey(h.readOnlyA)}, http.StatusForbidden, "forbidden", ""},
		{"a reversal", reversalsPath(reversal), `{"reason":"r"}`, nil, http.StatusConflict, "transaction-not-reversible", ""},
		{"wrong method", reversalsPath(grant), `{"reason":"r"}`, []reqOption{func(r *http.Request) { r.Method = http.MethodPut }},
			http.StatusMethodNotAllowed, "method-not-allowed", ""},
	}
	h.requireRefused(t, cases, func() string { return h.ledgerSnapshot([]string{"user-1"}, []string{hold}) })
}
