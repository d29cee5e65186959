package httpapi_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/creditd/creditd/adapters/httpapi"
)

func getStatus(t *testing.T, url string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

func TestServerListensServesAndStops(t *testing.T) {
	h := newHarness(t)
	logs := &syncBuffer{}
	srv := httpapi.NewServer(httpapi.ServerConfig{Addr: "127.0.0.1:0"}, h.router, slog.New(slog.NewJSONHandler(logs, nil)), nil)
	assert.Empty(t, srv.Addr())
	require.NoError(t, srv.Start(t.Context()))
	addr := srv.Addr()
	_, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	assert.NotEqual(t, "0", port)
	assert.Contains(t, logs.String(), addr, "the real address is logged")

	assert.Equal(t, http.StatusOK, getStatus(t, "http://"+addr+"/healthz"))

	// A second server cannot take the same port: startup fails, synchronously.
	busy := httpapi.NewServer(httpapi.ServerConfig{Addr: addr}, h.router, slog.New(slog.DiscardHandler), nil)
	require.Error(t, busy.Start(t.Context()))

	require.NoError(t, srv.Stop(context.Background()))
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+addr+"/healthz", nil)
	require.NoError(t, err)
	_, err = http.DefaultClient.Do(req)
	assert.Error(t, err, "the server is gone")
}
