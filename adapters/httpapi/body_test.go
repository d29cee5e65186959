package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// chunked sends the body without a Content-Length, as a chunked upload would.
func chunked(r *http.Request) { r.ContentLength = -1 }

// TestOptionalBodyMayBeEmpty: release declares its body optional, so no body,
// or an empty one, with or without a Content-Type, means {}.
func TestOptionalBodyMayBeEmpty(t *testing.T) {
	h := newHarness(t)
	h.grant("user-1", "100")
	for name, opts := range map[string][]reqOption{
		"no content type":   {withoutHeader("Content-Type")},
		"JSON content type": nil,
		"text content type": {withHeader("Content-Type", "text/plain")},
		"chunked":           {withoutHeader("Content-Type"), chunked},
	} {
		hold := h.placeHold("user-1", "1")
		w := h.post("/v1/holds/"+hold+"/release", "", opts...)
		if assert.Equal(t, http.StatusOK, w.Code, "%s: %s", name, w.Body.String()) {
			assert.Contains(t, w.Body.String(), `"status":"RELEASED"`, name)
		}
	}
	// An empty body is the same request as {}: a retry with either replays.
	hold := h.placeHold("user-1", "1")
	first := h.post("/v1/holds/"+hold+"/release", "", withIdem("rel-1"), withoutHeader("Content-Type"))
	h.must(first, http.StatusOK)
	again := h.post("/v1/holds/"+hold+"/release", `{}`, withIdem("rel-1"))
	h.must(again, http.StatusOK)
	assert.Equal(t, "true", again.Header().Get("Idempotent-Replayed"))
	assert.Equal(t, first.Body.String(), again.Body.String())

	// A body that is not empty is still JSON, strictly.
	hold = h.placeHold("user-1", "1")
	assertProblem(t, h.post("/v1/holds/"+hold+"/release", `{}`, withoutHeader("Content-Type")),
		http.StatusUnsupportedMediaType, "unsupported-media-type")
	assertProblem(t, h.post("/v1/holds/"+hold+"/release", ` `), http.StatusBadRequest, "malformed-request")
	assertProblem(t, h.post("/v1/holds/"+hold+"/release", `{"force":true}`), http.StatusBadRequest, "validation-failed")
	assertProblem(t, h.post("/v1/holds/"+hold+"/release", `null`), http.StatusBadRequest, "malformed-request")
}

// TestRequiredBodyMustNotBeEmpty: every other POST needs its body, and an
// empty one is a 400 whatever its Content-Type.
func TestRequiredBodyMustNotBeEmpty(t *testing.T) {
	h := newHarness(t)
	h.grant("user-1", "100")
	hold := h.placeHold("user-1", "10")
	before := h.ledgerSnapshot([]string{"user-1"}, []string{hold})
	for _, path := range []string{
		"/v1/accounts/user-1/grants", "/v1/accounts/user-1/spends", "/v1/accounts/user-1/holds", "/v1/holds/" + hold + "/capture",
	} {
		for _, opts := range [][]reqOption{nil, {withoutHeader("Content-Type")}, {chunked}} {
			p := assertProblem(t, h.post(path, "", opts...), http.StatusBadRequest, "malformed-request")
			assert.True(t, strings.Contains(p["detail"].(string), "empty"), "detail: %v", p["detail"])
		}
	}
	assert.Equal(t, before, h.ledgerSnapshot([]string{"user-1"}, []string{hold}))
}
