package httpapi_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/creditd/creditd/adapters/httpapi"
)

// stall sends the start of a request and then nothing, as a stalled or
// malicious client does, and returns the connection and when it stopped.
func stall(t *testing.T, addr, partial string) (net.Conn, time.Time) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second))) // the test's own bound
	_, err = conn.Write([]byte(partial))
	require.NoError(t, err)
	return conn, time.Now()
}

// TestStalledBodiesAreCutOff: a client that sends headers and part of a body
// gets a 408 problem once the read timeout has passed, and its connection
// is closed, over a real TCP socket.
func TestStalledBodiesAreCutOff(t *testing.T) {
	h := newHarness(t)
	const readTimeout = 300 * time.Millisecond
	addr := startServer(t, h, httpapi.ServerConfig{ReadTimeout: readTimeout, WriteTimeout: 5 * time.Second})
	h.grant("user-1", "10")
	before := h.ledgerSnapshot([]string{"user-1"}, nil)

	headers := "POST /v1/accounts/user-1/spends HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + h.keyA +
		"\r\nIdempotency-Key: stall\r\nContent-Type: application/json\r\n"
	for name, partial := range map[string]string{
		"short of its length": headers + "Content-Length: 100\r\n\r\n{\"amo",
		"chunked, stalled":    headers + "Transfer-Encoding: chunked\r\n\r\n5\r\n{\"amo\r\n",
		"chunked, no chunk":   headers + "Transfer-Encoding: chunked\r\n\r\n",
	} {
		conn, sent := stall(t, addr, partial)
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		require.NoError(t, err, name)
		elapsed := time.Since(sent)
		assert.Equal(t, http.StatusRequestTimeout, resp.StatusCode, name)
		assert.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"), name)
		var p map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&p), name)
		assert.Equal(t, "https://creditd.dev/problems/request-timeout", p["type"], name)
		assert.GreaterOrEqual(t, elapsed, readTimeout-50*time.Millisecond, name)
		assert.Less(t, elapsed, readTimeout+2*time.Second, name)
		// And the server hangs up: the connection is not left to the client.
		_, err = io.Copy(io.Discard, br)
		assert.NoError(t, err, "%s: the connection ends with EOF", name)
	}
	assert.Equal(t, before, h.ledgerSnapshot([]string{"user-1"}, nil))
}

// TestStalledHeadersAreCutOff: a client that never finishes its headers is
// disconnected once the header timeout has passed (net/http answers nothing).
func TestStalledHeadersAreCutOff(t *testing.T) {
	h := newHarness(t)
	addr := startServer(t, h, httpapi.ServerConfig{ReadHeaderTimeout: 200 * time.Millisecond, ReadTimeout: time.Second, WriteTimeout: 5 * time.Second})
	conn, sent := stall(t, addr, "GET /v1/accounts/user-1 HTTP/1.1\r\nHost: x\r\nX-Slow: ")
	_, err := io.Copy(io.Discard, conn)
	assert.False(t, errors.Is(err, os.ErrDeadlineExceeded), "still connected after %s", time.Since(sent))
	assert.Less(t, time.Since(sent), 3*time.Second)
}

// TestSlowHandlersAreNotCutByTheReadTimeout: the read timeout bounds reading
// the request; a handler that takes longer (the group commit waiting under
// load) still answers, within the write timeout.
func TestSlowHandlersAreNotCutByTheReadTimeout(t *testing.T) {
	h := newHarness(t, withSlowWrites(400*time.Millisecond))
	addr := startServer(t, h, httpapi.ServerConfig{ReadTimeout: 100 * time.Millisecond, WriteTimeout: 5 * time.Second})
	resp := rawExchange(t, addr, "POST /v1/accounts/user-1/grants HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+h.keyA+
		"\r\nIdempotency-Key: slow\r\nContent-Type: application/json\r\nContent-Length: 31\r\n\r\n{\"amount\":\"1\",\"source\":\"bonus\"}")
	assert.Equal(t, http.StatusCreated, resp.StatusCode)
}
