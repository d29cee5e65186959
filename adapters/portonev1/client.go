// Package portonev1 is the payment gateway adapter for PortOne's V1 REST API
// (iamport, https://api.iamport.kr): a Client implementing
// application.PaymentGateway, where creditd's domain.PaymentID is V1's
// merchant_uid.
//
// V1 differs from V2 in ways this package hides from the use cases: every
// call needs an access token from POST /users/getToken; every answer is an
// envelope {code, message, response} whose code, not the HTTP status, says
// whether it worked (a failed cancel is HTTP 200 with code 1); and amounts
// are JSON numbers in the currency's major unit.
//
//	gw, err := portonev1.New(portonev1.Config{IMPKey: key, IMPSecret: secret, IMPCode: "imp12345678"})
//	p, err := gw.GetPayment(ctx, id)
package portonev1

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/creditd/creditd/application"
)

// DefaultBaseURL is PortOne's V1 API host.
const DefaultBaseURL = "https://api.iamport.kr"

// Secret is a credential that prints as "[redacted]" however it is
// formatted, logged or marshalled (MarshalText covers JSON too); string(s)
// is the only way to read it.
type Secret string

const redacted = "[redacted]"

func (s Secret) String() string               { return redacted }
func (s Secret) GoString() string             { return redacted }
func (s Secret) LogValue() slog.Value         { return slog.StringValue(redacted) }
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// Config configures a Client. IMPKey and IMPSecret are required.
type Config struct {
	BaseURL   string // default DefaultBaseURL
	IMPKey    string // the V1 REST API key (imp_key)
	IMPSecret Secret // the V1 REST API secret (imp_secret)
	// IMPCode is the merchant code (가맹점 식별코드, "imp12345678"). V1
	// payments do not name their merchant, so the Client reports it as every
	// payment's StoreID: the key and secret only ever see this merchant's
	// payments, and a use case comparing StoreID with its settings then
	// compares it with what this Client was configured for.
	IMPCode string
	// Timeout bounds one HTTP request, answer included; default 10s.
	Timeout    time.Duration
	HTTPClient *http.Client // default: a new client with no overall timeout
	// Observer, if set, hears of every HTTP attempt (a retried call reports
	// several times): its operation (one of Operations), its outcome (one
	// of Outcomes) and how long it took. It is called synchronously.
	Observer func(op, outcome string, took time.Duration)
}

// Operations are the calls an Observer hears of.
func Operations() []string {
	return []string{"getToken", "GetPayment", "GetPaymentByTransaction", "PreRegister", "Cancel", "ListPayments"}
}

// Outcomes of an attempt, as an Observer hears them.
const (
	OutcomeOK           = "ok"
	OutcomeRefused      = "refused"      // an answer other than success: a 4xx, or HTTP 200 with code != 0
	OutcomeUnauthorized = "unauthorized" // 401: the token or the key and secret
	OutcomeServerError  = "server_error" // a 5xx
	OutcomeTimeout      = "timeout"
	OutcomeNetwork      = "network"      // no answer
	OutcomeBadResponse  = "bad_response" // an answer creditd cannot read
)

// Outcomes lists every outcome, so an exporter can create its series up front.
func Outcomes() []string {
	return []string{OutcomeOK, OutcomeRefused, OutcomeUnauthorized, OutcomeServerError, OutcomeTimeout, OutcomeNetwork, OutcomeBadResponse}
}

func outcomeOf(err error) string {
	var g *application.GatewayError
	switch {
	case err == nil:
		return OutcomeOK
	case errors.As(err, &g) && g.Status == http.StatusUnauthorized:
		return OutcomeUnauthorized
	case errors.As(err, &g) && g.Status >= 500:
		return OutcomeServerError
	case errors.As(err, &g):
		return OutcomeRefused
	case errors.Is(err, context.DeadlineExceeded):
		return OutcomeTimeout
	case errors.Is(err, application.ErrUnavailable):
		return OutcomeNetwork
	}
	return OutcomeBadResponse
}

// tokenMargin is how long before its expiry a token is no longer used, so
// that it cannot expire on the way to PortOne (nor in a clock skew).
const tokenMargin = 60 * time.Second

// Client calls PortOne's V1 API. It is safe for concurrent use.
type Client struct {
	base    string // scheme://host[/prefix], no trailing slash
	key     string
	secret  Secret
	impCode string
	timeout time.Duration
	http    *http.Client
	observe func(op, outcome string, took time.Duration)
	now     func() time.Time
	// retryWait is the first wait between attempts (retryWait; tests shorten it).
	retryWait time.Duration

	// tokenLock (a one-slot semaphore, so a caller can stop waiting when its
	// context ends) is held while the token is read or fetched: concurrent
	// callers share one fetch.
	tokenLock chan struct{}
	token     string
	expires   time.Time // by the local clock, margin not yet taken off
}

var _ application.PaymentGateway = (*Client)(nil)

// String and GoString keep the secret and the token out of %v and %#v,
// which would otherwise print unexported fields as they are.
func (c *Client) String() string   { return "portonev1.Client(" + c.base + ")" }
func (c *Client) GoString() string { return c.String() }

// New makes a Client. It makes no request.
func New(cfg Config) (*Client, error) {
	if cfg.IMPKey == "" || cfg.IMPSecret == "" {
		return nil, errors.New("portonev1: imp_key and imp_secret are required")
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	base, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("portonev1: base URL %q is not an http(s) URL", cfg.BaseURL)
	}
	c := &Client{
		base: base.String(), key: cfg.IMPKey, secret: cfg.IMPSecret, impCode: cfg.IMPCode,
		timeout: cfg.Timeout, http: cfg.HTTPClient, observe: cfg.Observer, now: time.Now, tokenLock: make(chan struct{}, 1), retryWait: retryWait,
	}
	if c.timeout <= 0 {
		c.timeout = 10 * time.Second
	}
	if c.http == nil {
		c.http = &http.Client{}
	}
	return c, nil
}

// envelope is every V1 answer. Response stays raw until code is known to be 0.
type envelope struct {
	Code     json.Number     `json:"code"`
	Message  string          `json:"message"`
	Response json.RawMessage `json:"response"`
}

// maxBody bounds an answer: a page of 1000 payments is a few MB.
const maxBody = 32 << 20

// call makes an authenticated request, fetching a token first when there is
// no fresh one, and fetching a new one once (then retrying once) when
// PortOne answers 401. It decodes a successful envelope's response into out.
func (c *Client) call(ctx context.Context, op, method, path string, query url.Values, body, out any) error {
	tok, err := c.accessToken(ctx, "")
	if err != nil {
		return err
	}
	err = c.send(ctx, op, method, path, query, body, tok, out)
	var g *application.GatewayError
	if !errors.As(err, &g) || g.Status != http.StatusUnauthorized {
		return err
	}
	if tok, err = c.accessToken(ctx, tok); err != nil {
		return err
	}
	return c.send(ctx, op, method, path, query, body, tok, out)
}

// accessToken returns a token valid for at least tokenMargin. rejected, when
// set, is a token PortOne just refused: it is not returned again, but a newer
// one another caller fetched meanwhile is.
func (c *Client) accessToken(ctx context.Context, rejected string) (string, error) {
	select {
	case c.tokenLock <- struct{}{}:
		defer func() { <-c.tokenLock }()
	case <-ctx.Done():
		return "", fmt.Errorf("portonev1: waiting for an access token: %w: %w", application.ErrUnavailable, ctx.Err())
	}
	if c.token != "" && c.token != rejected && c.now().Add(tokenMargin).Before(c.expires) {
		return c.token, nil
	}
	c.token = ""
	var a struct {
		AccessToken string `json:"access_token"`
		ExpiredAt   int64  `json:"expired_at"`
		Now         int64  `json:"now"`
	}
	body := map[string]string{"imp_key": c.key, "imp_secret": string(c.secret)}
	if err := c.send(ctx, "getToken", http.MethodPost, "/users/getToken", nil, body, "", &a); err != nil {
		return "", err
	}
	if a.AccessToken == "" || a.ExpiredAt <= a.Now {
		return "", fmt.Errorf("portonev1 getToken: PortOne's answer has no usable token (expired_at %d, now %d)", a.ExpiredAt, a.Now)
	}
	// expired_at is by PortOne's clock: count the life it gives from ours.
	c.token = a.AccessToken
	c.expires = c.now().Add(time.Duration(a.ExpiredAt-a.Now) * time.Second)
	return c.token, nil
}

// Retries: a request that got no answer, or a 5xx, is sent again up to
// retryAttempts times in all, retryWait apart and doubling, when sending it
// twice is harmless: reads, getToken, and prepare (which only sets the
// amount again). A cancel is sent once: V1 takes no idempotency key, and
// the caller finds out what happened by reading the payment.
const (
	retryAttempts = 3
	retryWait     = 200 * time.Millisecond
)

// send makes a request, again when that is safe and may help (see retryAttempts).
func (c *Client) send(ctx context.Context, op, method, path string, query url.Values, body any, token string, out any) error {
	safe := method == http.MethodGet || op == "getToken" || op == "PreRegister"
	wait := c.retryWait
	for attempt := 1; ; attempt++ {
		began := time.Now()
		err := c.sendOnce(ctx, op, method, path, query, body, token, out)
		if c.observe != nil {
			c.observe(op, outcomeOf(err), time.Since(began))
		}
		if err == nil || !safe || attempt == retryAttempts || !errors.Is(err, application.ErrUnavailable) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait *= 2
	}
}

// sendOnce makes one request. Errors: *application.GatewayError for an answer
// that is not a success (a non-2xx status, or an envelope code other than
// 0); an error wrapping application.ErrUnavailable for no answer.
func (c *Client) sendOnce(ctx context.Context, op, method, path string, query url.Values, body any, token string, out any) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	target := c.base + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		payload, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("portonev1 %s: encode the request: %w", op, err)
		}
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return fmt.Errorf("portonev1 %s: %w", op, err)
	}
	req.Header.Set("User-Agent", "creditd")
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("portonev1 %s: no answer: %w: %w", op, application.ErrUnavailable, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fmt.Errorf("portonev1 %s: no complete answer: %w: %w", op, application.ErrUnavailable, err)
	}
	var env envelope
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	envErr := dec.Decode(&env)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		g := &application.GatewayError{Status: resp.StatusCode}
		if envErr == nil {
			g.Type, g.Message = errorType(env.Code.String(), env.Message), env.Message
		} else {
			g.Message = snippet(raw) // a proxy's HTML page, say
		}
		return g
	}
	if envErr != nil {
		return fmt.Errorf("portonev1 %s: decode the %d answer: %w", op, resp.StatusCode, envErr)
	}
	if env.Code.String() != "0" {
		// V1 reports many failures as HTTP 200: the status says nothing.
		return &application.GatewayError{Status: resp.StatusCode, Type: errorType(env.Code.String(), env.Message), Message: env.Message}
	}
	if out == nil {
		return nil
	}
	if len(env.Response) == 0 || string(env.Response) == "null" {
		return fmt.Errorf("portonev1 %s: PortOne's answer has no response", op)
	}
	dec = json.NewDecoder(bytes.NewReader(env.Response))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("portonev1 %s: decode the response: %w", op, err)
	}
	return nil
}

// V1 failure messages creditd acts on. V1 has no error types, only a code
// (mostly 1, or -1) and a Korean message, so the known messages are matched
// by a distinctive part of them.
var knownMessages = []struct{ contains, typ string }{
	{"이미 전액취소", application.GatewayErrAlreadyCancelled},           // "이미 전액취소된 주문입니다."
	{"이미 취소", application.GatewayErrAlreadyCancelled},             // "이미 취소된 거래입니다." and the like
	{"checksum", application.GatewayErrCancellableAmountMismatch}, // "[checksum] ..." on a mismatch
	{"취소가능잔액", application.GatewayErrCancellableAmountMismatch},
}

// errorType is the application's type for a V1 failure when the message is
// one creditd knows, otherwise "V1_CODE_<code>" so the code is kept.
func errorType(code, message string) string {
	for _, k := range knownMessages {
		if strings.Contains(message, k.contains) {
			return k.typ
		}
	}
	if _, err := strconv.Atoi(code); err != nil {
		code = "?"
	}
	return "V1_CODE_" + code
}

// snippet is the start of a non-JSON body, on one line.
func snippet(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
