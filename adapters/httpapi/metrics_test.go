package httpapi_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// seriesIn counts the samples /metrics exposes: each is a series Prometheus
// keeps, so their number must not grow with what clients send.
func seriesIn(t *testing.T, h *harness) int {
	t.Helper()
	w := h.get("/metrics", withoutHeader("Authorization"))
	require.Equal(t, http.StatusOK, w.Code)
	n := 0
	for _, line := range strings.Split(w.Body.String(), "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			n++
		}
	}
	return n
}

const tokenChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+-.^_`|~"

func randomToken(r *rand.Rand, n int) string {
	b := make([]byte, 1+r.IntN(n))
	for i := range b {
		b[i] = tokenChars[r.IntN(len(tokenChars))]
	}
	return string(b)
}

// randomPath is a path on or off the API's routes.
func randomPath(r *rand.Rand) string {
	seg := func() string { return strings.NewReplacer("%", "%25", "#", "%23").Replace(randomToken(r, 12)) }
	switch r.IntN(6) {
	case 0:
		return "/v1/accounts/" + seg()
	case 1:
		return "/v1/accounts/" + seg() + "/" + seg()
	case 2:
		return "/v1/holds/" + seg() + "/capture"
	case 3:
		return "/healthz"
	case 4:
		return "/" + seg() + "/" + seg()
	}
	return "/v1/" + seg()
}

// flood sends n requests without a key, with made-up methods, paths and headers.
func flood(h *harness, r *rand.Rand, n int) {
	methods := []string{"GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE"}
	for range n {
		method := methods[r.IntN(len(methods))]
		if r.IntN(2) == 0 {
			method = randomToken(r, 10)
		}
		req := httptest.NewRequest(method, randomPath(r), strings.NewReader("{}"))
		for range r.IntN(4) {
			req.Header.Set("X-"+randomToken(r, 20), randomToken(r, 40))
		}
		if r.IntN(4) == 0 {
			req.Header.Set("Authorization", "Bearer cdk_"+randomToken(r, 40))
		}
		h.router.ServeHTTP(httptest.NewRecorder(), req)
	}
}

// TestMetricSeriesStayBounded: every label value comes from a closed set, so
// a flood of requests with made-up methods, paths and headers and no key
// adds no series after the first few hundred requests have seen every kind.
func TestMetricSeriesStayBounded(t *testing.T) {
	h := newHarness(t)
	r := rand.New(rand.NewPCG(7, 7))
	flood(h, r, 500)
	seriesIn(t, h) // the first scrape adds the series of /metrics itself
	after500 := seriesIn(t, h)
	flood(h, r, 3000)
	after3500 := seriesIn(t, h)
	assert.Equal(t, after500, after3500, "series grew with the flood")
	// 13 route values × 10 method values × a few statuses, each a counter
	// and a histogram of 14 lines, could reach thousands; a flood without a
	// key reaches a few of them.
	assert.Less(t, after3500, 400, "series after the flood")

	body := h.get("/metrics", withoutHeader("Authorization")).Body.String()
	assert.True(t, strings.Contains(body, `method="OTHER"`), "no OTHER method label")
	assert.True(t, strings.Contains(body, `route="unmatched"`), "no unmatched route label")
}

func TestUnknownMethodsAreOneLabelValue(t *testing.T) {
	h := newHarness(t)
	for i := range 50 {
		w := h.do(fmt.Sprintf("M%d", i), "/nope", "")
		assertProblem(t, w, http.StatusNotFound, "not-found")
		w = h.do(fmt.Sprintf("X%d", i), "/v1/accounts/user-1", "")
		assertProblem(t, w, http.StatusMethodNotAllowed, "method-not-allowed")
	}
	body := h.get("/metrics", withoutHeader("Authorization")).Body.String()
	for _, want := range []string{
		`creditd_http_requests_total{method="OTHER",route="unmatched",status="404"} 50`,
		`creditd_http_requests_total{method="OTHER",route="unmatched",status="405"} 50`,
	} {
		assert.True(t, strings.Contains(body, want), "no %s", want)
	}
	for _, made := range []string{`method="M1"`, `method="X1"`} {
		assert.False(t, strings.Contains(body, made), "a made-up method became a label: %s", made)
	}
}
