package httpapi_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/creditd/creditd/adapters/httpapi"
)

func withoutLogs(d *httpapi.Deps, _ *harness) { d.Logger = slog.New(slog.DiscardHandler) }

// TestEveryErrorIsAProblem: whatever a client makes up, an error answer is
// problem+json with a type from the documented list.
func TestEveryErrorIsAProblem(t *testing.T) {
	h := newHarness(t)
	slugs := httpapi.ProblemSlugs()
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		method := randomToken(r, 8)
		if r.IntN(2) == 0 {
			method = []string{"GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "TRACE"}[r.IntN(8)]
		}
		req := httptest.NewRequest(method, randomPath(r), strings.NewReader(randomToken(r, 30)))
		if r.IntN(2) == 0 {
			req.Header.Set("Authorization", "Bearer "+h.keyA)
			req.Header.Set("Idempotency-Key", randomToken(r, 20))
			req.Header.Set("Content-Type", "application/json")
		}
		w := httptest.NewRecorder()
		h.router.ServeHTTP(w, req)
		if w.Code < 400 {
			continue
		}
		require.Equal(t, "application/problem+json", w.Header().Get("Content-Type"), "%s %s -> %d", method, req.URL, w.Code)
		if method == http.MethodHead {
			continue // net/http drops a HEAD answer's body
		}
		var p struct {
			Type   string `json:"type"`
			Status int    `json:"status"`
		}
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &p), "%s %s -> %s", method, req.URL, w.Body.String())
		require.Contains(t, slugs, strings.TrimPrefix(p.Type, "https://creditd.dev/problems/"), "%s %s", method, req.URL)
		require.Equal(t, w.Code, p.Status)
	}
}

func TestMadeUpMethods(t *testing.T) {
	h := newHarness(t)
	for _, method := range []string{"BREW", "M123", "get", "PROPFIND", "CONNECT", "X-" + strings.Repeat("A", 200)} {
		w := h.do(method, "/v1/accounts/user-1", "")
		assertProblem(t, w, http.StatusMethodNotAllowed, "method-not-allowed")
		assert.Equal(t, "GET", w.Header().Get("Allow"), method)
		assertProblem(t, h.do(method, "/nope", ""), http.StatusNotFound, "not-found")
		assertProblem(t, h.do(method, "/v1/holds/x/capture", ""), http.StatusMethodNotAllowed, "method-not-allowed")
	}
}

// TestFloodWithoutAKeyKeepsMemoryFlat: requests without a key, with made-up
// methods and paths, leave nothing behind: no series, no cache entries.
func TestFloodWithoutAKeyKeepsMemoryFlat(t *testing.T) {
	h := newHarness(t, withoutLogs)
	r := rand.New(rand.NewPCG(3, 4))
	flood(h, r, 2000) // warm up: every label value, pools and buffers
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	flood(h, r, 20000)
	after := heap()
	// 20,000 requests that each left 100 bytes behind would add 2 MB; with
	// a series per made-up method they added tens of MB.
	assert.Less(t, int64(after)-int64(before), int64(1<<20), "heap grew from %d to %d bytes", before, after)
}

func TestHugeAndDuplicateHeaders(t *testing.T) {
	h := newHarness(t)
	h.grant("user-1", "10")
	before := h.ledgerSnapshot([]string{"user-1"}, nil)

	huge := strings.Repeat("a", 512<<10)
	assertProblem(t, h.get("/v1/accounts/user-1", withHeader("Authorization", "Bearer cdk_"+huge)), http.StatusUnauthorized, "unauthorized")
	w := h.get("/v1/accounts/user-1", withHeader("X-Request-ID", huge))
	h.must(w, http.StatusOK)
	assert.Less(t, len(w.Header().Get("X-Request-ID")), 200, "an overlong request id is not echoed")
	assertProblem(t, h.post("/v1/accounts/user-1/spends", `{"amount":"1"}`, withIdem(huge)), http.StatusBadRequest, "validation-failed")
	many := func(r *http.Request) {
		for i := range 5000 {
			r.Header.Add("X-Junk", strings.Repeat("j", i%64))
		}
	}
	h.must(h.get("/v1/accounts/user-1", many), http.StatusOK)

	// A field that may appear once, sent twice, is refused rather than read
	// one way here and another way by a proxy in front.
	twice := func(name, first, second string) reqOption {
		return func(r *http.Request) { r.Header[name] = []string{first, second} }
	}
	for _, second := range []string{"Bearer " + h.keyB, "Bearer " + h.keyA, "Basic eA=="} {
		w := h.get("/v1/accounts/user-1", twice("Authorization", "Bearer "+h.keyA, second))
		assertProblem(t, w, http.StatusUnauthorized, "unauthorized")
	}
	p := assertProblem(t, h.post("/v1/accounts/user-1/spends", `{"amount":"1"}`, twice("Idempotency-Key", "a", "b")),
		http.StatusBadRequest, "validation-failed")
	assert.Equal(t, "Idempotency-Key", p["errors"].([]any)[0].(map[string]any)["field"])
	assertProblem(t, h.post("/v1/accounts/user-1/spends", `{"amount":"1"}`, twice("Idempotency-Key", "a", "a")),
		http.StatusBadRequest, "validation-failed")
	assert.Equal(t, before, h.ledgerSnapshot([]string{"user-1"}, nil))
}

// TestOversizedHeadersOverTCP: net/http refuses a header block larger than
// its 1 MB limit before any handler runs.
func TestOversizedHeadersOverTCP(t *testing.T) {
	h := newHarness(t)
	addr := startServer(t, h, httpapi.ServerConfig{})
	resp := rawExchange(t, addr, "GET /v1/accounts/user-1 HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("b", 2<<20)+"\r\n\r\n")
	assert.Equal(t, http.StatusRequestHeaderFieldsTooLarge, resp.StatusCode)
	assert.False(t, slices.ContainsFunc(h.logLines(), func(l map[string]any) bool { return l["msg"] == "http request" }),
		"a handler saw it")
}

// TestWebhookFloodStoresNothing: a flood of forged deliveries (random ids,
// timestamps, signatures and bodies, some headers twice) at the one route
// that takes no key is refused, stores nothing, keeps memory flat and adds
// no metric series.
func TestWebhookFloodStoresNothing(t *testing.T) {
	h := newHarness(t, withoutLogs)
	r := rand.New(rand.NewPCG(5, 6))
	forge := func(n int) {
		for range n {
			body := `{"type":"Transaction.Paid","data":{"paymentId":"` + randomToken(r, 30) + `"}}`
			req := httptest.NewRequest(http.MethodPost, "/webhooks/portone", strings.NewReader(body))
			req.Header.Set("webhook-id", randomToken(r, 1+r.IntN(300)))
			req.Header.Set("webhook-timestamp", strconv.FormatInt(start.Unix()+int64(r.IntN(1000)-500), 10))
			req.Header.Set("webhook-signature", "v1,"+randomToken(r, 44))
			if r.IntN(5) == 0 {
				req.Header.Add("webhook-id", randomToken(r, 10))
			}
			w := httptest.NewRecorder()
			h.router.ServeHTTP(w, req)
			if w.Code != http.StatusBadRequest {
				t.Fatalf("a forged delivery answered %d: %s", w.Code, w.Body)
			}
		}
	}
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	forge(2000)
	seriesIn(t, h) // the first scrape adds the series of /metrics itself
	series := seriesIn(t, h)
	before := heap()
	forge(20000)
	after := heap()
	assert.Less(t, int64(after)-int64(before), int64(1<<20), "heap grew from %d to %d bytes", before, after)
	assert.Equal(t, series, seriesIn(t, h), "series grew with the flood")
	stats, err := h.inbox.Stats(context.Background())
	require.NoError(t, err)
	assert.Zero(t, stats.Depth, "forged deliveries were stored")
}
