package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestExtendHold(t *testing.T) {
	h := newHarness(t)
	h.grant("user-1", "100")
	hold := h.placeHold("user-1", "10") // expires at 10:00, an hour from now
	extend := "/v1/holds/" + hold + "/extend"

	w := h.post(extend, `{"expiresInSeconds":7200}`, withIdem("ext-1"))
	got := h.must(w, http.StatusOK)
	assert.Equal(t, "2026-03-01T11:00:00Z", got["expiresAt"])
	assert.Equal(t, "ACTIVE", got["status"])
	// The same key replays the answer, though the clock moved.
	h.clock.Advance(time.Minute)
	replay := h.post(extend, `{"expiresInSeconds":7200}`, withIdem("ext-1"))
	assert.Equal(t, "true", replay.Header().Get("Idempotent-Replayed"))
	assert.Equal(t, w.Body.String(), replay.Body.String())
	assertProblem(t, h.post(extend, `{"expiresInSeconds":60}`, withIdem("ext-1")), http.StatusUnprocessableEntity, "idempotency-key-reused")
	// Shorter than what the hold has: kept as it was.
	got = h.must(h.post(extend, `{"expiresInSeconds":60}`), http.StatusOK)
	assert.Equal(t, "2026-03-01T11:00:00Z", got["expiresAt"])
	got = h.must(h.get("/v1/holds/"+hold), http.StatusOK)
	assert.Equal(t, "2026-03-01T11:00:00Z", got["expiresAt"])

	// Past the first expiry the hold is still open and can be captured.
	h.clock.Advance(time.Hour)
	capture := h.must(h.post("/v1/holds/"+hold+"/capture", `{"amount":"4"}`), http.StatusOK)
	assert.Equal(t, "PARTIALLY_CAPTURED", capture["hold"].(map[string]any)["status"])
	h.must(h.post(extend, `{"expiresInSeconds":60}`), http.StatusOK) // a partially captured hold is open

	// A closed hold cannot be extended, and the refusal is replayed.
	h.must(h.post("/v1/holds/"+hold+"/release", `{}`), http.StatusOK)
	assertProblem(t, h.post(extend, `{"expiresInSeconds":60}`, withIdem("ext-closed")), http.StatusConflict, "hold-not-open")
	assertProblem(t, h.post(extend, `{"expiresInSeconds":60}`, withIdem("ext-closed")), http.StatusConflict, "hold-not-open")
	// So can a hold past its expiry, swept or not.
	due := h.placeHold("user-1", "1")
	h.clock.Advance(time.Hour)
	assertProblem(t, h.post("/v1/holds/"+due+"/extend", `{"expiresInSeconds":60}`), http.StatusConflict, "hold-not-open")
	assertProblem(t, h.post("/v1/holds/00000000-0000-7000-8000-000000000000/extend", `{"expiresInSeconds":60}`), http.StatusNotFound, "not-found")
	assertProblem(t, h.post(extend, `{"expiresInSeconds":60}`, withKey(h.readOnlyA)), http.StatusForbidden, "forbidden")
}

func TestCaptureTheRestWithItsOwnMemo(t *testing.T) {
	h := newHarness(t)
	h.grant("user-1", "100")
	w := h.post("/v1/accounts/user-1/holds", `{"amount":"10","expiresInSeconds":3600,"reason":"dub","metadata":{"job":"7"}}`)
	hold := h.must(w, http.StatusCreated)["id"].(string)

	first := h.must(h.post("/v1/holds/"+hold+"/capture", `{"amount":"3","reason":"part 1","metadata":{"minutes":"2"}}`), http.StatusOK)
	tx := first["transaction"].(map[string]any)
	assert.Equal(t, "part 1", tx["reason"])
	assert.Equal(t, map[string]any{"minutes": "2"}, tx["metadata"])

	rest := h.must(h.post("/v1/holds/"+hold+"/capture", `{}`), http.StatusOK)
	tx2 := rest["transaction"].(map[string]any)
	assert.Equal(t, "7", tx2["amount"])
	assert.Equal(t, "dub", tx2["reason"], "a capture without a reason takes the hold's")
	assert.Equal(t, map[string]any{"job": "7"}, tx2["metadata"])
	got := rest["hold"].(map[string]any)
	assert.Equal(t, "CAPTURED", got["status"])
	assert.Equal(t, "0", got["released"])
	assert.Equal(t, []any{
		map[string]any{"transactionId": tx["id"], "amount": "3", "reason": "part 1", "metadata": map[string]any{"minutes": "2"}, "capturedAt": "2026-03-01T09:00:00Z"},
		map[string]any{"transactionId": tx2["id"], "amount": "7", "reason": "dub", "metadata": map[string]any{"job": "7"}, "capturedAt": "2026-03-01T09:00:00Z"},
	}, got["captures"])
	read := h.must(h.get("/v1/holds/"+hold), http.StatusOK)
	assert.Equal(t, got, read)
	assert.Equal(t, "dub", read["reason"])
	assert.Equal(t, map[string]any{"job": "7"}, read["metadata"])
	assert.Equal(t, "2026-03-01T09:00:00Z", read["createdAt"])
	assertProblem(t, h.post("/v1/holds/"+hold+"/capture", `{}`), http.StatusConflict, "hold-not-capturable")
	acct := h.must(h.get("/v1/accounts/user-1"), http.StatusOK)
	assert.Equal(t, []any{"90", "0"}, []any{acct["balance"], acct["held"]})
}

func TestBadHoldInputIsRefusedAndChangesNothing(t *testing.T) {
	h := newHarness(t)
	h.grant("user-1", "100")
	hold := h.placeHold("user-1", "10")
	extend, capture := "/v1/holds/"+hold+"/extend", "/v1/holds/"+hold+"/capture"
	manyKeys := make([]string, 51)
	for i := range manyKeys {
		manyKeys[i] = fmt.Sprintf(`"k%d":"v"`, i)
	}
	cases := []refusedPost{
		{"extend: missing", extend, `{}`, nil, 400, "validation-failed", "expiresInSeconds"},
		{"extend: null", extend, `{"expiresInSeconds":null}`, nil, 400, "validation-failed", "expiresInSeconds"},
		{"extend: zero", extend, `{"expiresInSeconds":0}`, nil, 400, "validation-failed", "expiresInSeconds"},
		{"extend: negative", extend, `{"expiresInSeconds":-60}`, nil, 400, "validation-failed", "expiresInSeconds"},
		{"extend: too large", extend, `{"expiresInSeconds":2592001}`, nil, 400, "validation-failed", "expiresInSeconds"},
		{"extend: huge", extend, `{"expiresInSeconds":1e30}`, nil, 400, "validation-failed", "expiresInSeconds"},
		{"extend: beyond int64", extend, `{"expiresInSeconds":9223372036854775808}`, nil, 400, "validation-failed", "expiresInSeconds"},
		{"extend: fractional", extend, `{"expiresInSeconds":60.5}`, nil, 400, "validation-failed", "expiresInSeconds"},
		{"extend: string", extend, `{"expiresInSeconds":"60"}`, nil, 400, "validation-failed", "expiresInSeconds"},
		{"extend: boolean", extend, `{"expiresInSeconds":true}`, nil, 400, "validation-failed", "expiresInSeconds"},
		{"extend: duplicate", extend, `{"expiresInSeconds":60,"expiresInSeconds":7200}`, nil, 400, "validation-failed", "expiresInSeconds"},
		{"extend: other case", extend, `{"ExpiresInSeconds":60}`, nil, 400, "validation-failed", "ExpiresInSeconds"},
		{"extend: unknown field", extend, `{"expiresInSeconds":60,"reason":"x"}`, nil, 400, "validation-failed", "reason"},
		{"extend: empty body", extend, ``, nil, 400, "malformed-request", ""},
		{"extend: array body", extend, `[60]`, nil, 400, "malformed-request", ""},
		{"extend: trailing data", extend, `{"expiresInSeconds":60}{}`, nil, 400, "malformed-request", ""},
		{"extend: no idempotency key", extend, `{"expiresInSeconds":60}`, []reqOption{withoutHeader("Idempotency-Key")}, 400, "idempotency-key-missing", ""},
		{"extend: text content type", extend, `{"expiresInSeconds":60}`, []reqOption{withHeader("Content-Type", "text/plain")}, 415, "unsupported-media-type", ""},
		{"extend: bad id", "/v1/holds/nope/extend", `{"expiresInSeconds":60}`, nil, 400, "validation-failed", "holdId"},
		{"extend: id without dashes", "/v1/holds/" + strings.ReplaceAll(hold, "-", "") + "/extend", `{"expiresInSeconds":60}`, nil, 400, "validation-failed", "holdId"},
		{"extend: id in braces, percent-encoded", "/v1/holds/%7B" + hold + "%7D/extend", `{"expiresInSeconds":60}`, nil, 400, "validation-failed", "holdId"},
		{"extend: id with an encoded NUL", "/v1/holds/" + hold + "%00/extend", `{"expiresInSeconds":60}`, nil, 400, "validation-failed", "holdId"},
		{"extend: id with an encoded slash", "/v1/holds/" + hold + "%2Fx/extend", `{"expiresInSeconds":60}`, nil, 400, "validation-failed", "holdId"},
		{"extend: urn id", "/v1/holds/urn:uuid:" + hold + "/extend", `{"expiresInSeconds":60}`, nil, 400, "validation-failed", "holdId"},
		{"extend: wrong method", extend, `{"expiresInSeconds":60}`, []reqOption{func(r *http.Request) { r.Method = "PUT" }}, 405, "method-not-allowed", ""},
		{"capture: reason with NUL", capture, `{"reason":"a\u0000b"}`, nil, 400, "validation-failed", "reason"},
		{"capture: reason too long", capture, `{"amount":"1","reason":"` + strings.Repeat("r", 501) + `"}`, nil, 400, "validation-failed", "reason"},
		{"capture: reason not a string", capture, `{"reason":1}`, nil, 400, "validation-failed", "reason"},
		{"capture: metadata not an object", capture, `{"metadata":"x"}`, nil, 400, "validation-failed", "metadata"},
		{"capture: metadata an array", capture, `{"metadata":["x"]}`, nil, 400, "validation-failed", "metadata"},
		{"capture: metadata value not a string", capture, `{"metadata":{"k":1}}`, nil, 400, "validation-failed", ""},
		{"capture: metadata value with NUL", capture, `{"metadata":{"k":"\u0000"}}`, nil, 400, "validation-failed", "metadata"},
		{"capture: metadata too many keys", capture, `{"metadata":{` + strings.Join(manyKeys, ",") + `}}`, nil, 400, "validation-failed", "metadata"},
		{"capture: duplicate metadata key", capture, `{"metadata":{"k":"a","k":"b"}}`, nil, 400, "validation-failed", "metadata.k"},
		{"capture: duplicate amount", capture, `{"amount":"1","amount":"10"}`, nil, 400, "validation-failed", "amount"},
		{"capture: amount null", capture, `{"amount":null}`, nil, 400, "validation-failed", "amount"},
		{"capture: amount an object", capture, `{"amount":{}}`, nil, 400, "validation-failed", "amount"},
		{"capture: amount zero", capture, `{"amount":"0"}`, nil, 400, "validation-failed", "amount"},
		{"capture: amount a number", capture, `{"amount":10}`, nil, 400, "validation-failed", "amount"},
		{"capture: empty body", capture, ``, nil, 400, "malformed-request", ""},
		{"capture: unknown field", capture, `{"all":true}`, nil, 400, "validation-failed", "all"},
		{"capture: more than remains", capture, `{"amount":"10.000001"}`, nil, 409, "capture-exceeds-hold", ""},
	}
	h.requireRefused(t, cases, func() string { return h.ledgerSnapshot([]string{"user-1"}, []string{hold}) })
}
