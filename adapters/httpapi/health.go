package httpapi

import (
	"context"
	_ "embed"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-contrib/requestid"
	"github.com/gin-gonic/gin"
)

// openAPI is the API's contract, served at /openapi.yaml and checked against
// the router by the tests.
//
//go:embed openapi.yaml
var openAPI []byte

// readinessTimeout bounds one readiness check, so a hung database makes
// /readyz fail rather than hang the probe.
const readinessTimeout = 2 * time.Second

// healthz says the process is serving, and which build; it checks nothing else.
func healthz(version string) gin.HandlerFunc {
	body, err := json.Marshal(struct {
		Status  string `json:"status"`
		Version string `json:"version"`
	}{"ok", version})
	if err != nil {
		panic(err) // two strings always marshal
	}
	return func(c *gin.Context) { c.Data(http.StatusOK, contentTypeJSON, body) }
}

// readyz says whether the service can take traffic. The cause of a failure
// is logged, not shown: it may name hosts or credentials.
func readyz(ready Readiness, log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		if ready != nil {
			ctx, cancel := context.WithTimeout(c.Request.Context(), readinessTimeout)
			defer cancel()
			if err := ready(ctx); err != nil {
				log.WarnContext(ctx, "not ready", "request_id", requestid.Get(c), "error", err.Error())
				_ = c.Error(errNotReady)
				return
			}
		}
		c.Data(http.StatusOK, contentTypeJSON, []byte(`{"status":"ready"}`))
	}
}

func serveOpenAPI(c *gin.Context) {
	c.Data(http.StatusOK, "application/yaml", openAPI)
}
