package shop

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// creditd is the little client the shop needs: one method per call it makes.
// It is written out by hand so an integrator sees every header and path.
type creditd struct {
	baseURL string
	key     APIKey
	http    *http.Client
}

// apiError is a failed creditd call, already in the shape the page gets:
// the HTTP status to answer and the JSON body {error, detail}.
type apiError struct {
	Status     int
	Code       string // creditd's problem slug, e.g. insufficient-credits, or the shop's own
	Detail     string
	RetryAfter string // for 503: creditd's Retry-After, passed through
	cause      error  // logged, never shown to the browser
}

func (e *apiError) Error() string {
	if e.cause != nil {
		return fmt.Sprintf("%s (%d): %s: %v", e.Code, e.Status, e.Detail, e.cause)
	}
	return fmt.Sprintf("%s (%d): %s", e.Code, e.Status, e.Detail)
}

// problem is the part of creditd's RFC 9457 errors the shop reads.
type problem struct {
	Type      string `json:"type"`
	Detail    string `json:"detail"`
	Requested string `json:"requested"` // insufficient-credits only
	Available string `json:"available"`
}

// do calls creditd and decodes a 2xx answer into out (when not nil). path
// must already be escaped. A POST gets a fresh Idempotency-Key: each call is
// one intent of the buyer (one click). A shop whose own clients retry
// requests would take the key from them instead, so a retry replays.
func (c *creditd) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.baseURL+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+string(c.key))
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if method == http.MethodPost {
		req.Header.Set("Idempotency-Key", "demo-shop-"+rand.Text())
	}
	resp, err := c.http.Do(req)
	if err != nil {
		// Down, refused or too slow: whether a POST took effect is unknown,
		// which is what 503 tells the page.
		return &apiError{Status: http.StatusServiceUnavailable, Code: "unavailable",
			Detail: "creditd cannot be reached; try again shortly", RetryAfter: "5", cause: err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return &apiError{Status: http.StatusServiceUnavailable, Code: "unavailable",
			Detail: "creditd's answer was cut off; try again shortly", RetryAfter: "5", cause: err}
	}
	if resp.StatusCode >= 300 {
		return problemError(resp, raw)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return &apiError{Status: http.StatusBadGateway, Code: "bad-gateway", Detail: "creditd answered something unexpected", cause: err}
	}
	return nil
}

// problemError maps a creditd error to what the page gets. The buyer's own
// mistakes and the ledger's verdicts (404, 409, 422) keep their status and
// creditd's slug; a 503 keeps its Retry-After; anything else (a bad API key,
// a 500) is the shop's or creditd's problem, a 502 with a generic detail.
func problemError(resp *http.Response, raw []byte) error {
	var p problem
	_ = json.Unmarshal(raw, &p) // a body that is no problem leaves p empty
	slug := p.Type[strings.LastIndex(p.Type, "/")+1:]
	e := &apiError{Status: resp.StatusCode, Code: slug, Detail: p.Detail,
		cause: fmt.Errorf("creditd %s %s: %d %s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, raw)}
	switch {
	case resp.StatusCode == http.StatusServiceUnavailable:
		e.Code, e.Detail = "unavailable", "creditd is busy or cannot reach its database or PortOne; try again shortly"
		e.RetryAfter = resp.Header.Get("Retry-After")
		if e.RetryAfter == "" {
			e.RetryAfter = "5"
		}
	case slug == "insufficient-credits":
		e.Detail = fmt.Sprintf("Not enough credits: %s available, %s needed", p.Available, p.Requested)
	case slug == "" || resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden ||
		resp.StatusCode >= 500 || resp.StatusCode == http.StatusRequestEntityTooLarge || resp.StatusCode == http.StatusUnsupportedMediaType:
		e.Status, e.Code, e.Detail = http.StatusBadGateway, "bad-gateway", "the shop could not use creditd; see the shop's log"
	}
	return e
}

// isNotFound reports a creditd 404 (an account never granted to, an order of no one).
func isNotFound(err error) bool {
	var e *apiError
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}
