package sandbox

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of Config.
const (
	DefaultAPISecret      = "sandbox-api-secret"
	DefaultStoreID        = "store-sandbox"
	DefaultChannelKey     = "channel-key-sandbox"
	DefaultWebhookTimeout = 30 * time.Second // PortOne's connect and read timeouts
)

// Bounds that keep a long-running sandbox's memory flat.
const (
	maxRequestLog         = 10_000
	maxIdempotencyKeys    = 10_000
	idempotencyLifetime   = 3 * time.Hour // PortOne keeps keys this long
	maxCheckouts          = 1_000
	checkoutLifetime      = time.Hour
	maxWebhooksPerPay     = 100 // attempts kept in a payment's webhooks list
	maxHistoryPerPay      = 100
	maxQueuedWebhooks     = 1_000
	maxHeldWebhooks       = 1_000
	maxSendingAtOnce      = 64     // attempts on the wire at once
	maxDeliveriesInFlight = 10_000 // events sent or waiting to retry
	maxDroppedLog         = 1_000
)

// Config configures a Sandbox; the zero value works.
type Config struct {
	APISecret  string // Authorization: PortOne <APISecret>; default DefaultAPISecret
	StoreID    string // the secret's store; default DefaultStoreID
	ChannelKey string // the channel checkouts must name; default DefaultChannelKey
	// WebhookURL receives every payment change; empty sends none by itself.
	WebhookURL string
	// WebhookSecrets sign the webhooks ("whsec_" + base64), each giving one
	// signature (two while rotating). Required with a WebhookURL.
	WebhookSecrets []string
	// WebhookRetryScale multiplies PortOne's retry waits (1 = minutes, as
	// PortOne; tests use e.g. 0.0005). Default 1.
	WebhookRetryScale float64
	WebhookTimeout    time.Duration // per attempt; default DefaultWebhookTimeout
	// PublicURL is the base of checkout URLs; empty takes the request's host.
	PublicURL string
	Now       func() time.Time // payment and webhook times; default time.Now
	// V1Prefix is where PortOne V1's REST API is served (V1's
	// GET /payments/{imp_uid} would collide with V2's at the root): a V1
	// client's base URL is the sandbox's URL + V1Prefix. Default DefaultV1Prefix.
	V1Prefix    string
	V1IMPKey    string // V1's imp_key; default DefaultV1IMPKey
	V1IMPSecret string // V1's imp_secret; default DefaultV1IMPSecret
	V1IMPCode   string // the V1 merchant code (가맹점 식별코드); default DefaultV1IMPCode
	// V1TokenLifetime is how long a V1 access token lives; default
	// DefaultV1TokenLifetime (PortOne's 30 minutes).
	V1TokenLifetime time.Duration
	// V1WebhookURL receives the V1 webhooks (unsigned) of payments made
	// through V1; a payment's notice_url goes first. Empty sends none by itself.
	V1WebhookURL string
	// V1WebhookContentType is V1's console setting: V1WebhookJSON (the
	// default) or V1WebhookForm.
	V1WebhookContentType string
	// V1WebhookRetries is the retry PortOne turns on when asked: up to 5
	// more attempts, a minute (times WebhookRetryScale) apart, after a
	// network error or a 5xx. Off, V1 makes one attempt.
	V1WebhookRetries bool
	Logger           *slog.Logger // webhook delivery failures; default discards
}

// Sandbox is a local PortOne: serve Handler over HTTP, Close when done.
type Sandbox struct {
	APISecret  string
	StoreID    string
	ChannelKey string
	// V1's credentials and merchant code, as Config set them or defaulted.
	V1IMPKey, V1IMPSecret, V1IMPCode string

	cfg       Config
	keys      [][]byte // decoded webhook secrets
	handler   http.Handler
	now       func() time.Time
	client    *http.Client
	log       *slog.Logger
	closed    chan struct{}
	closeOnce sync.Once
	stop      context.CancelFunc
	ctx       context.Context
	queue     chan delivery
	sending   chan struct{} // a slot per attempt on the wire
	inFlight  atomic.Int64
	workers   sync.WaitGroup

	mu            sync.Mutex
	seq           int
	payments      map[string]*Payment
	raw           map[string][]byte
	preRegistered map[string]PreRegistration
	enforcePreReg bool
	idem          map[string]*idemEntry
	failures      []failure
	delay         time.Duration
	delayNext     []time.Duration
	requests      []*Request
	webhookTimes  map[string]time.Time // a webhook id's event time, kept for resends
	lastEvent     map[string]event     // per payment, for ResendWebhook
	webhookURL    string
	v1WebhookURL  string
	webhookFaults webhookFaults
	held          []delivery
	dropped       []DroppedWebhook
	checkouts     map[string]*checkout
	v1Tokens      map[string]time.Time // a V1 access token's expiry
}

// PreRegistration is what POST /payments/{id}/pre-register recorded.
type PreRegistration struct {
	TotalAmount   int64  `json:"totalAmount"`
	TaxFreeAmount int64  `json:"taxFreeAmount"`
	Currency      string `json:"currency"`
}

type idemEntry struct {
	done   bool
	status int
	body   []byte
	at     time.Time
}

type failure struct {
	status int
	body   []byte
	v1body []byte // the answer on a V1 path
}

// New makes a Sandbox with no payments and starts its webhook senders.
func New(cfg Config) (*Sandbox, error) {
	cfg.APISecret = cmp.Or(cfg.APISecret, DefaultAPISecret)
	cfg.StoreID = cmp.Or(cfg.StoreID, DefaultStoreID)
	cfg.ChannelKey = cmp.Or(cfg.ChannelKey, DefaultChannelKey)
	cfg.WebhookRetryScale = cmp.Or(cfg.WebhookRetryScale, 1)
	if cfg.WebhookRetryScale < 0 {
		return nil, fmt.Errorf("sandbox: WebhookRetryScale %v is negative", cfg.WebhookRetryScale)
	}
	cfg.WebhookTimeout = cmp.Or(cfg.WebhookTimeout, DefaultWebhookTimeout)
	cfg.V1Prefix = cmp.Or(cfg.V1Prefix, DefaultV1Prefix)
	cfg.V1Prefix = "/" + strings.Trim(cfg.V1Prefix, "/")
	if cfg.V1Prefix == "/" {
		return nil, errors.New("sandbox: V1Prefix must name a path below the root")
	}
	cfg.V1IMPKey = cmp.Or(cfg.V1IMPKey, DefaultV1IMPKey)
	cfg.V1IMPSecret = cmp.Or(cfg.V1IMPSecret, DefaultV1IMPSecret)
	cfg.V1IMPCode = cmp.Or(cfg.V1IMPCode, DefaultV1IMPCode)
	cfg.V1TokenLifetime = cmp.Or(cfg.V1TokenLifetime, DefaultV1TokenLifetime)
	cfg.V1WebhookContentType = cmp.Or(cfg.V1WebhookContentType, V1WebhookJSON)
	if cfg.V1WebhookContentType != V1WebhookJSON && cfg.V1WebhookContentType != V1WebhookForm {
		return nil, fmt.Errorf("sandbox: V1WebhookContentType %q is neither %s nor %s", cfg.V1WebhookContentType, V1WebhookJSON, V1WebhookForm)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.PublicURL = strings.TrimSuffix(cfg.PublicURL, "/")
	var keys [][]byte
	for _, secret := range cfg.WebhookSecrets {
		key, err := decodeWebhookSecret(secret)
		if err != nil {
			return nil, err
		}
		keys = append(keys, key)
	}
	if cfg.WebhookURL != "" && len(keys) == 0 {
		return nil, errors.New("sandbox: a WebhookURL needs WebhookSecrets to sign with")
	}
	ctx, stop := context.WithCancel(context.Background())
	s := &Sandbox{
		APISecret:  cfg.APISecret,
		StoreID:    cfg.StoreID,
		ChannelKey: cfg.ChannelKey,
		V1IMPKey:   cfg.V1IMPKey, V1IMPSecret: cfg.V1IMPSecret, V1IMPCode: cfg.V1IMPCode,
		cfg:        cfg,
		keys:       keys,
		now:        func() time.Time { return cfg.Now().UTC() },
		client:     &http.Client{Timeout: cfg.WebhookTimeout},
		log:        cfg.Logger,
		closed:     make(chan struct{}),
		ctx:        ctx,
		stop:       stop,
		queue:      make(chan delivery, maxQueuedWebhooks),
		sending:    make(chan struct{}, maxSendingAtOnce),
		webhookURL: cfg.WebhookURL, v1WebhookURL: cfg.V1WebhookURL,
	}
	s.resetLocked()
	s.handler = s.routes()
	s.workers.Go(s.dispatch)
	return s, nil
}

func decodeWebhookSecret(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil || len(key) == 0 {
		return nil, errors.New(`sandbox: a webhook secret is "whsec_" and non-empty base64`)
	}
	return key, nil
}

// resetLocked forgets every payment, key, fault and checkout.
func (s *Sandbox) resetLocked() {
	s.payments = map[string]*Payment{}
	s.raw = map[string][]byte{}
	s.preRegistered = map[string]PreRegistration{}
	s.enforcePreReg = true
	s.idem = map[string]*idemEntry{}
	s.failures, s.delay, s.delayNext = nil, 0, nil
	s.requests = nil
	s.webhookTimes = map[string]time.Time{}
	s.lastEvent = map[string]event{}
	s.webhookFaults = webhookFaults{}
	s.held, s.dropped = nil, nil
	s.checkouts = map[string]*checkout{}
	s.v1Tokens = map[string]time.Time{}
}

// Handler serves the REST API, the checkout and the controls.
func (s *Sandbox) Handler() http.Handler { return s.handler }

// Close stops the webhook senders (an attempt under way is cancelled) and
// releases held API answers, so a server's Close does not wait for them.
func (s *Sandbox) Close() {
	s.closeOnce.Do(func() {
		close(s.closed)
		s.mu.Lock() // release starts senders under s.mu, so none starts after this
		s.stop()
		s.mu.Unlock()
		s.workers.Wait()
	})
}

// Reset forgets every payment, pre-registration, checkout, logged request
// and fault, as a fresh sandbox. Deliveries under way finish.
func (s *Sandbox) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resetLocked()
}

// SetWebhookURL changes where webhooks go ("" stops sending them), e.g.
// once the receiving service has started.
func (s *Sandbox) SetWebhookURL(url string) error {
	if url != "" && len(s.keys) == 0 {
		return errors.New("sandbox: a WebhookURL needs WebhookSecrets to sign with")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.webhookURL = url
	return nil
}

// SetV1WebhookURL changes where V1 webhooks go ("" stops sending those
// of payments without a notice_url).
func (s *Sandbox) SetV1WebhookURL(url string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.v1WebhookURL = url
}

// EnforcePreRegistration turns PortOne's check of a payment against its
// pre-registration on (the default) or off, to see the merchant's own
// verification catch a tampered amount.
func (s *Sandbox) EnforcePreRegistration(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.enforcePreReg = on
}

// --- API faults ------------------------------------------------------------

// FailNext answers the next n API requests with status and a JSON error
// (type INTERNAL_SERVER_ERROR for 5xx) before looking at them.
func (s *Sandbox) FailNext(n, status int) {
	typ := "INTERNAL_SERVER_ERROR"
	switch {
	case status == http.StatusUnauthorized:
		typ = "UNAUTHORIZED"
	case status == http.StatusForbidden:
		typ = "FORBIDDEN"
	case status < 500:
		typ = "INVALID_REQUEST"
	}
	s.failNext(n, status, mustJSON(errorBody{Type: typ, Message: "sandbox: injected failure"}),
		mustJSON(v1Envelope{Code: -1, Message: "sandbox: injected failure"}))
}

// FailNextRaw answers the next n API requests with status and body as is
// (say, a proxy's HTML page).
func (s *Sandbox) FailNextRaw(n, status int, body string) {
	s.failNext(n, status, []byte(body), []byte(body))
}

const maxQueuedFailures = 100_000

func (s *Sandbox) failNext(n, status int, body, v1body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range min(n, maxQueuedFailures-len(s.failures)) {
		s.failures = append(s.failures, failure{status, body, v1body})
	}
}

// Heal ends every fault: queued API failures and delays, webhook drops and
// duplicates; held webhooks are released in the order they were due.
func (s *Sandbox) Heal() {
	s.mu.Lock()
	s.failures, s.delayNext, s.delay = nil, nil, 0
	s.webhookFaults = webhookFaults{}
	held := s.held
	s.held = nil
	s.mu.Unlock()
	s.release(held)
}

// Delay holds every answer d after doing the work; 0 stops it.
func (s *Sandbox) Delay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// DelayNext holds the answers to the next n API requests d (instead of
// Delay's) after doing the work, as when PortOne's answer is lost.
func (s *Sandbox) DelayNext(n int, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range min(n, maxQueuedFailures-len(s.delayNext)) {
		s.delayNext = append(s.delayNext, d)
	}
}
