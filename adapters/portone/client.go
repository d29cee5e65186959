// Package portone is the payment gateway adapter for PortOne's V2 REST API
// (https://api.portone.io): a Client implementing application.PaymentGateway
// and a WebhookVerifier implementing application.WebhookVerifier for its
// Standard Webhooks signatures.
//
// Everything V2-specific (paths, JSON shapes, error types) stays in this
// package; a V1 (iamport) adapter would be a sibling package behind the same
// ports.
//
//	gw, err := portone.New(portone.Config{APISecret: secret, StoreID: store})
//	p, err := gw.GetPayment(ctx, id)
package portone

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/creditd/creditd/application"
)

// DefaultBaseURL is PortOne's production API; PortOne has no separate
// sandbox host (test payments go through test channels).
const DefaultBaseURL = "https://api.portone.io"

// Config configures a Client. Only APISecret is required.
type Config struct {
	BaseURL   string // default DefaultBaseURL
	APISecret string // the V2 API secret (not the webhook secret)
	// StoreID is sent with every request when set; PortOne otherwise uses
	// the store the secret belongs to.
	StoreID string
	// Timeout bounds one attempt, answer included; default 10s.
	Timeout time.Duration
	// Retries is how many times a failed request that is safe to repeat is
	// tried again (network error, timeout, 5xx); 0 means the default, 3, and
	// a negative value turns retries off.
	Retries    int
	HTTPClient *http.Client // default: a new client with no overall timeout
	// Observer, if set, hears of every attempt: see Observer.
	Observer Observer
}

// Operation names a Client call in Observer reports.
type Operation string

const (
	OpGetPayment   Operation = "get_payment"
	OpPreRegister  Operation = "pre_register"
	OpCancel       Operation = "cancel"
	OpListPayments Operation = "list_payments"
)

// Observer hears of every HTTP attempt the Client makes (so a retried call
// reports several times): its operation, its outcome and how long it took.
// outcome is one of Outcomes(): "ok", "timeout", "network", "canceled",
// "bad_response", a PortOne error type creditd knows, or "other". It is
// called synchronously, so it must be quick.
type Observer func(op Operation, outcome string, took time.Duration)

// Outcomes outside PortOne's error types.
const (
	OutcomeOK          = "ok"
	OutcomeTimeout     = "timeout"      // the attempt ran out of time
	OutcomeNetwork     = "network"      // no answer: refused, reset, DNS...
	OutcomeCanceled    = "canceled"     // the caller's context ended
	OutcomeBadResponse = "bad_response" // a 2xx whose body did not decode
	OutcomeOther       = "other"        // an error type not in the list, or no type at all
)

// knownErrorTypes bounds the outcome label: any other type reports as
// OutcomeOther, since PortOne adds types without notice.
var knownErrorTypes = []string{
	"INVALID_REQUEST", "UNAUTHORIZED", "FORBIDDEN", "PAYMENT_NOT_FOUND", "ALREADY_PAID",
	"PAYMENT_NOT_PAID", "PAYMENT_ALREADY_CANCELLED", "CANCELLABLE_AMOUNT_CONSISTENCY_BROKEN",
	"CANCEL_AMOUNT_EXCEEDS_CANCELLABLE_AMOUNT", "SUM_OF_PARTS_EXCEEDS_CANCEL_AMOUNT",
	"MAX_CANCEL_COUNT_REACHED", "IDEMPOTENCY_OUTSTANDING_REQUEST", "PG_PROVIDER",
}

// Outcomes lists every outcome an Observer can be given, so a metrics
// exporter can create its series up front.
func Outcomes() []string {
	return append([]string{OutcomeOK, OutcomeTimeout, OutcomeNetwork, OutcomeCanceled, OutcomeBadResponse, OutcomeOther}, knownErrorTypes...)
}

// Operations lists every Operation.
func Operations() []Operation {
	return []Operation{OpGetPayment, OpPreRegister, OpCancel, OpListPayments}
}

func outcomeOf(typ string) string {
	for _, k := range knownErrorTypes {
		if typ == k {
			return typ
		}
	}
	return OutcomeOther
}

// Option adjusts a Client beyond its Config.
type Option func(*Client)

// WithRetryWait sets the exponential backoff between retries: the first
// wait is about initial, doubling up to max (±50% jitter). The defaults,
// 200ms and 5s, suit production; tests shorten them.
func WithRetryWait(initial, max time.Duration) Option {
	return func(c *Client) { c.waitInitial, c.waitMax = initial, max }
}

// Client calls PortOne's V2 API. It is safe for concurrent use.
type Client struct {
	base        string // scheme://host[/prefix], no trailing slash
	auth        string // "PortOne <secret>"; never printed
	storeID     string
	timeout     time.Duration
	retries     int
	http        *http.Client
	observe     Observer
	waitInitial time.Duration
	waitMax     time.Duration
}

var _ application.PaymentGateway = (*Client)(nil)

// New makes a Client. It makes no request.
func New(cfg Config, opts ...Option) (*Client, error) {
	if cfg.APISecret == "" {
		return nil, errors.New("portone: the API secret is empty")
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	base, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("portone: base URL %q is not an http(s) URL", cfg.BaseURL)
	}
	c := &Client{
		base:        base.String(),
		auth:        "PortOne " + cfg.APISecret,
		storeID:     cfg.StoreID,
		timeout:     cfg.Timeout,
		retries:     cfg.Retries,
		http:        cfg.HTTPClient,
		observe:     cfg.Observer,
		waitInitial: 200 * time.Millisecond,
		waitMax:     5 * time.Second,
	}
	if c.timeout <= 0 {
		c.timeout = 10 * time.Second
	}
	switch {
	case c.retries == 0:
		c.retries = 3
	case c.retries < 0:
		c.retries = 0
	}
	if c.http == nil {
		c.http = &http.Client{}
	}
	if c.observe == nil {
		c.observe = func(Operation, string, time.Duration) {}
	}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// request is one API call, retried as a whole.
type request struct {
	op     Operation
	method string
	path   string // already escaped
	query  url.Values
	body   any // JSON-encoded when non-nil
	// idempotencyKey, when set, is sent as an RFC 8941 string.
	idempotencyKey string
	// retry says whether repeating the request is safe.
	retry bool
}

// errorBody is PortOne's error envelope; other fields (pgCode...) are ignored.
type errorBody struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// maxBody bounds a response: a page of 1000 payments is a few MB.
const maxBody = 32 << 20

// do runs r, retrying what may be retried, and decodes a 2xx body into out
// (when out is non-nil). Errors are *application.GatewayError for answers
// and wrap application.ErrUnavailable for silence.
func (c *Client) do(ctx context.Context, r request, out any) error {
	var payload []byte
	if r.body != nil {
		var err error
		if payload, err = json.Marshal(r.body); err != nil {
			return fmt.Errorf("portone %s: encode request: %w", r.op, err)
		}
	}
	wait := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(c.waitInitial),
		backoff.WithMaxInterval(c.waitMax),
		backoff.WithMaxElapsedTime(0), // the retry count ends it
	)
	for attempt := 0; ; attempt++ {
		err := c.attempt(ctx, r, payload, out)
		if err == nil || !r.retry || !retryable(err) {
			return err
		}
		if attempt >= c.retries {
			if attempt > 0 {
				err = fmt.Errorf("%w (after %d attempts)", err, attempt+1)
			}
			return err
		}
		t := time.NewTimer(wait.NextBackOff())
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (not retried: %w)", err, ctx.Err())
		case <-t.C:
		}
	}
}

// retryable: no answer, a server-side failure, or (with an idempotency key)
// the same request still running at PortOne after a timed-out attempt.
func retryable(err error) bool {
	var g *application.GatewayError
	if errors.As(err, &g) {
		return g.Status >= 500 || g.Type == application.GatewayErrOutstanding
	}
	var u *unavailableError
	return errors.As(err, &u) && !u.canceled
}

// unavailableError is a request that got no answer.
type unavailableError struct {
	op       Operation
	cause    error
	canceled bool // the caller's context ended: retrying is pointless
}

func (e *unavailableError) Error() string {
	return fmt.Sprintf("portone %s: no answer: %v", e.op, e.cause)
}

func (e *unavailableError) Unwrap() []error { return []error{application.ErrUnavailable, e.cause} }

func (c *Client) attempt(ctx context.Context, r request, payload []byte, out any) error {
	start := time.Now()
	outcome, err := c.roundTrip(ctx, r, payload, out)
	c.observe(r.op, outcome, time.Since(start))
	return err
}

func (c *Client) roundTrip(ctx context.Context, r request, payload []byte, out any) (outcome string, err error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	target := c.base + r.path
	if len(r.query) > 0 {
		target += "?" + r.query.Encode()
	}
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, target, body)
	if err != nil {
		return OutcomeOther, fmt.Errorf("portone %s: %w", r.op, err)
	}
	req.Header.Set("Authorization", c.auth)
	req.Header.Set("User-Agent", "creditd")
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.idempotencyKey != "" {
		req.Header.Set("Idempotency-Key", sfString(r.idempotencyKey))
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return c.silence(ctx, r.op, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return c.silence(ctx, r.op, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		g := &application.GatewayError{Status: resp.StatusCode}
		var eb errorBody
		if json.Unmarshal(raw, &eb) == nil {
			g.Type, g.Message = eb.Type, eb.Message
		} else {
			// A proxy's HTML page, say: keep a little of it to go by.
			g.Message = snippet(raw)
		}
		return outcomeOf(g.Type), g
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return OutcomeBadResponse, fmt.Errorf("portone %s: decode the %d answer: %w", r.op, resp.StatusCode, err)
		}
	}
	return OutcomeOK, nil
}

// silence classifies a request that got no (complete) answer.
func (c *Client) silence(ctx context.Context, op Operation, err error) (string, error) {
	// ctx is the attempt's: Canceled only when the caller's ended.
	outcome, canceled := OutcomeNetwork, errors.Is(ctx.Err(), context.Canceled)
	switch {
	case canceled:
		outcome = OutcomeCanceled
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		outcome = OutcomeTimeout
	}
	return outcome, &unavailableError{op: op, cause: err, canceled: canceled}
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// snippet is the start of a non-JSON body, on one line.
func snippet(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// checkIdempotencyKey holds a key to PortOne's rules: 16 to 256 printable
// ASCII characters (an RFC 8941 string can carry no others).
func checkIdempotencyKey(k string) error {
	if len(k) < 16 || len(k) > 256 {
		return fmt.Errorf("idempotency key of %d characters; PortOne takes 16 to 256", len(k))
	}
	for i := range len(k) {
		if k[i] < 0x20 || k[i] > 0x7e {
			return errors.New("idempotency key with a character outside printable ASCII")
		}
	}
	return nil
}

// sfString writes a checked key as an RFC 8941 string.
func sfString(k string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(k) + `"`
}

// pathID escapes an id for a path segment, as PortOne asks.
func pathID(id string) string { return url.PathEscape(id) }
