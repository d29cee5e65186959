package httpapi_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/creditd/creditd/adapters/httpapi"
)

func TestHealthzNamesTheBuild(t *testing.T) {
	for _, tc := range []struct{ configured, want string }{
		{"v1.2.0-3-g17c371c-dirty", "v1.2.0-3-g17c371c-dirty"},
		{"", "devel"},
	} {
		h := newHarness(t, func(d *httpapi.Deps, _ *harness) { d.Config.Version = tc.configured })
		w := h.get("/healthz", withoutHeader("Authorization"))
		require.Equal(t, http.StatusOK, w.Code)
		var body map[string]string
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body))
		assert.Equal(t, map[string]string{"status": "ok", "version": tc.want}, body)
	}
}
