package httpapi_test

import (
	"bufio"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/creditd/creditd/adapters/httpapi"
)

// startServer runs the harness's router on a real TCP socket.
func startServer(t *testing.T, h *harness, cfg httpapi.ServerConfig) string {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	srv := httpapi.NewServer(cfg, h.router, slog.New(slog.DiscardHandler), nil)
	require.NoError(t, srv.Start(t.Context()))
	t.Cleanup(func() { _ = srv.Stop(t.Context()) })
	return srv.Addr()
}

// rawExchange writes request bytes as they are and reads one response.
func rawExchange(t *testing.T, addr, request string) *http.Response {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	require.NoError(t, conn.SetDeadline(time.Now().Add(5*time.Second)))
	_, err = conn.Write([]byte(request))
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// TestInvalidPercentEncodingsNeverReachTheAPI: Go's HTTP server refuses a
// request line with a broken %XX, or raw control characters, with a plain 400
// before routing, so no handler sees such a path.
func TestInvalidPercentEncodingsNeverReachTheAPI(t *testing.T) {
	h := newHarness(t)
	addr := startServer(t, h, httpapi.ServerConfig{})
	for _, path := range []string{"/v1/accounts/%zz", "/v1/accounts/%", "/v1/accounts/a%2", "/v1/holds/%G0/release", "/v1/accounts/a\x01b"} {
		resp := rawExchange(t, addr, "GET "+path+" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+h.keyA+"\r\n\r\n")
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, path)
	}
	assert.NotContains(t, h.logs.String(), "/v1/accounts/:accountId", "a handler saw one of them")
}
