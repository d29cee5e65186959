// Package webhooksender POSTs events to tenants' webhook endpoints, signed
// as Standard Webhooks has it (webhook-id, webhook-timestamp and
// webhook-signature headers, HMAC-SHA256 with the endpoint's whsec_ secret),
// with the official library's signer.
package webhooksender

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"syscall"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// Config tunes the sender.
type Config struct {
	// AllowPrivate lets deliveries reach private, loopback and link-local
	// addresses: for local development and tests only.
	AllowPrivate bool
	// UserAgent names creditd to receivers; empty: "creditd-webhooks".
	UserAgent string
}

// maxResponseBytes is as much of a response body as is read (and thrown
// away): enough for the connection to be reused after a short answer,
// never so much that a receiver can make creditd read without end.
const maxResponseBytes = 4 << 10

// ErrForbiddenAddress: the endpoint's host resolved to an address that
// deliveries may not reach.
var ErrForbiddenAddress = errors.New("the endpoint's address is private, loopback, link-local or reserved")

// Sender is the application's WebhookSender over HTTP.
type Sender struct {
	client    *http.Client
	userAgent string
}

var _ application.WebhookSender = (*Sender)(nil)

// New builds a sender. Redirects are not followed (a 3xx is a failed
// attempt), no proxy from the environment is used (it would connect on the
// endpoint's behalf, past the address check), and unless AllowPrivate every
// connection's resolved address is checked when it is dialled, so a host
// name that resolves to a private address (DNS rebinding included) is
// refused however it was checked when the endpoint was registered.
func New(cfg Config) *Sender {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if !cfg.AllowPrivate {
		dialer.Control = refusePrivate
	}
	transport := &http.Transport{
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           100,
		MaxIdleConnsPerHost:    4,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		ResponseHeaderTimeout:  30 * time.Second,
		MaxResponseHeaderBytes: 16 << 10,
	}
	ua := cfg.UserAgent
	if ua == "" {
		ua = "creditd-webhooks"
	}
	return &Sender{userAgent: ua, client: &http.Client{
		Transport:     transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// refusePrivate is the dialer's Control: it runs on the address actually
// being connected to, after resolution.
func refusePrivate(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	a, err := netip.ParseAddr(host)
	if err != nil || !domain.PublicAddr(a) {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, host)
	}
	return nil
}

// Sign returns the Standard Webhooks headers of a message.
func Sign(m application.WebhookMessage) (http.Header, error) {
	wh, err := standardwebhooks.NewWebhook(m.Secret)
	if err != nil {
		return nil, errors.New("the endpoint's secret is not base64") // never quote the secret
	}
	sig, err := wh.Sign(m.ID, m.Timestamp, m.Body)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	h := http.Header{}
	h.Set(standardwebhooks.HeaderWebhookID, m.ID)
	h.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(m.Timestamp.Unix(), 10))
	h.Set(standardwebhooks.HeaderWebhookSignature, sig)
	return h, nil
}

// Send POSTs the message once, within ctx.
func (s *Sender) Send(ctx context.Context, m application.WebhookMessage) application.SendResult {
	h, err := Sign(m)
	if err != nil {
		return application.SendResult{Err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.URL, bytes.NewReader(m.Body))
	if err != nil {
		return application.SendResult{Err: fmt.Errorf("build request: %w", err)}
	}
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", s.userAgent)
	resp, err := s.client.Do(req)
	if err != nil {
		return application.SendResult{Err: err}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBytes))
	_ = resp.Body.Close()
	return application.SendResult{StatusCode: resp.StatusCode}
}
