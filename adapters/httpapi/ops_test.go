package httpapi_test

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/creditd/creditd/adapters/httpapi"
)

func withLogLevel(level slog.Level) harnessOption {
	return func(d *httpapi.Deps, h *harness) {
		d.Logger = slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: level}))
	}
}

func (h *harness) metricsText() string {
	h.t.Helper()
	w := h.get("/metrics", withoutHeader("Authorization"))
	require.Equal(h.t, http.StatusOK, w.Code)
	return w.Body.String()
}

func TestRejectionAndReplayMetrics(t *testing.T) {
	h := newHarness(t)
	h.grant("user-1", "10")
	h.post("/v1/accounts/user-1/spends", `{"amount":"1000"}`, withIdem("big"))
	h.post("/v1/accounts/user-1/spends", `{"amount":"1000"}`, withIdem("big")) // a replayed rejection
	h.post("/v1/accounts/user-1/spends", `{"amount":"1"}`, withIdem("small"))
	h.post("/v1/accounts/user-1/spends", `{"amount":"1"}`, withIdem("small"))
	h.post("/v1/accounts/user-1/spends", `{"amount":"1"}`, withIdem("small"))
	h.post("/v1/accounts/user-1/spends", `{"amount":"-1"}`)
	h.get("/v1/accounts/user-1", withoutHeader("Authorization"))
	h.do("BREW", "/coffee", "")

	body := h.metricsText()
	for _, want := range []string{
		`creditd_http_rejections_total{type="insufficient-credits"} 2`,
		`creditd_http_rejections_total{type="validation-failed"} 1`,
		`creditd_http_rejections_total{type="unauthorized"} 1`,
		`creditd_http_rejections_total{type="not-found"} 1`,
		`creditd_http_idempotent_replays_total{route="/v1/accounts/:accountId/spends"} 3`,
	} {
		assert.True(t, strings.Contains(body, want), "no %s in\n%s", want, body)
	}
	assert.False(t, strings.Contains(body, `creditd_http_rejections_total{type="internal"}`))
}

func TestAccessLog(t *testing.T) {
	h := newHarness(t)
	h.get("/healthz", withoutHeader("Authorization"))
	h.get("/readyz", withoutHeader("Authorization"))
	h.get("/metrics", withoutHeader("Authorization"))
	h.grant("user-1", "5")

	lines := h.logLines()
	require.Len(t, lines, 1, "probes and scrapes are not logged at info: %s", h.logs.String())
	line := lines[0]
	assert.Equal(t, "/v1/accounts/:accountId/grants", line["route"])
	assert.Equal(t, "INFO", line["level"])
	assert.Equal(t, "alpha", line["tenant"])
	ms, ok := line["duration_ms"].(float64)
	assert.True(t, ok, "duration_ms is a number: %v", line["duration_ms"])
	assert.GreaterOrEqual(t, ms, 0.0)
	assert.NotContains(t, line, "duration", "a duration without its unit")

	debug := newHarness(t, withLogLevel(slog.LevelDebug))
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		debug.get(path, withoutHeader("Authorization"))
	}
	var probes []string
	for _, l := range debug.logLines() {
		if l["msg"] == "http request" {
			assert.Equal(t, "DEBUG", l["level"], "%v", l)
			probes = append(probes, l["route"].(string))
		}
	}
	assert.Equal(t, []string{"/healthz", "/readyz", "/metrics"}, probes)
}
