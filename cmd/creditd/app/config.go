package app

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/agnivade/levenshtein"
	"github.com/caarlos0/env/v11"
	"github.com/creditd/creditd/adapters/httpapi"
	"github.com/creditd/creditd/adapters/portone"
	"github.com/creditd/creditd/adapters/portonev1"
	"github.com/creditd/creditd/adapters/postgres"
	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
	"github.com/jackc/pgx/v5"
)

// Config is creditd's whole configuration, read from the environment. The
// README's configuration table lists the same variables. A setting an
// adapter has a default for takes it from the adapter (defaults), so each
// default is defined once; the others have theirs in the envDefault tag.
type Config struct {
	DatabaseURL          string        `env:"DATABASE_URL"`
	Addr                 string        `env:"CREDITD_ADDR"`
	DBMaxConns           int           `env:"CREDITD_DB_MAX_CONNS" envDefault:"8"`
	DBWriteLanes         int           `env:"CREDITD_DB_WRITE_LANES"`
	DBReadLanes          int           `env:"CREDITD_DB_READ_LANES"`
	DBConnectTimeout     time.Duration `env:"CREDITD_DB_CONNECT_TIMEOUT" envDefault:"30s"`
	MigrateOnStart       bool          `env:"CREDITD_MIGRATE_ON_START" envDefault:"true"`
	MaxBodyBytes         int64         `env:"CREDITD_MAX_BODY_BYTES"`
	LogLevel             slog.Level    `env:"CREDITD_LOG_LEVEL" envDefault:"info"`
	SweepInterval        time.Duration `env:"CREDITD_SWEEP_INTERVAL" envDefault:"5s"`
	SweepBatch           int           `env:"CREDITD_SWEEP_BATCH" envDefault:"500"`
	IdempotencyRetention time.Duration `env:"CREDITD_IDEMPOTENCY_RETENTION" envDefault:"720h"`
	ReconcileInterval    time.Duration `env:"CREDITD_RECONCILE_INTERVAL" envDefault:"10m"`
	ReconcileWindow      time.Duration `env:"CREDITD_RECONCILE_WINDOW" envDefault:"24h"`
	ShutdownTimeout      time.Duration `env:"CREDITD_SHUTDOWN_TIMEOUT" envDefault:"15s"`
	HTTPReadTimeout      time.Duration `env:"CREDITD_HTTP_READ_TIMEOUT"`
	HTTPWriteTimeout     time.Duration `env:"CREDITD_HTTP_WRITE_TIMEOUT"`
	HTTPIdleTimeout      time.Duration `env:"CREDITD_HTTP_IDLE_TIMEOUT"`
	HTTPRequestTimeout   time.Duration `env:"CREDITD_HTTP_REQUEST_TIMEOUT"`
	PprofAddr            string        `env:"CREDITD_PPROF_ADDR"`

	// Selling credits through PortOne: all of the secret, store, channel and
	// webhook secrets, or none (then creditd serves the ledger only).
	PortOneAPIURL         string         `env:"PORTONE_API_URL"`
	PortOneAPISecret      Secret         `env:"PORTONE_API_SECRET"`
	PortOneStoreID        string         `env:"PORTONE_STORE_ID"`
	PortOneChannelKey     string         `env:"PORTONE_CHANNEL_KEY"`
	PortOneWebhookSecrets WebhookSecrets `env:"PORTONE_WEBHOOK_SECRETS"` // space-separated, two while rotating
	// Selling credits through PortOne V1 (iamport) too, or instead: all of
	// the key, secret, merchant code and PG, or none.
	PortOneV1APIURL    string `env:"PORTONE_V1_API_URL"`
	PortOneV1IMPKey    Secret `env:"PORTONE_V1_IMP_KEY"`
	PortOneV1IMPSecret Secret `env:"PORTONE_V1_IMP_SECRET"`
	PortOneV1IMPCode   string `env:"PORTONE_V1_IMP_CODE"`
	PortOneV1PG        string `env:"PORTONE_V1_PG"` // IMP.request_pay's pg, e.g. html5_inicis
	// PortOneV1WebhookAllow, when set, are the only addresses (IPs or CIDRs,
	// comma- or space-separated) that may post V1 webhooks.
	PortOneV1WebhookAllow AddressList `env:"PORTONE_V1_WEBHOOK_ALLOW"`
	// PortOneDefaultGateway is the gateway of an order that names none (v2
	// or v1); empty: v2 when V2 is configured, else v1.
	PortOneDefaultGateway string `env:"PORTONE_DEFAULT_GATEWAY"`
	// CancelRejectedPayments cancels at PortOne a payment that does not match its order.
	CancelRejectedPayments bool `env:"CREDITD_CANCEL_REJECTED_PAYMENTS" envDefault:"true"`
	// RefundShortfallPolicy is what a cancellation or a grant's reversal does to credits already spent: debt or absorb.
	RefundShortfallPolicy string `env:"CREDITD_REFUND_SHORTFALL_POLICY" envDefault:"debt"`
	// WebhookPollInterval is how often an idle worker looks at the webhook inbox.
	WebhookPollInterval time.Duration `env:"CREDITD_WEBHOOK_POLL_INTERVAL" envDefault:"1s"`

	// Events to tenants' webhook endpoints (application.Deliveries).
	EventsAllowPrivateURLs bool          `env:"CREDITD_EVENTS_ALLOW_PRIVATE_URLS" envDefault:"false"`
	EventsPollInterval     time.Duration `env:"CREDITD_EVENTS_POLL_INTERVAL" envDefault:"1s"`
	EventsDeliveryTimeout  time.Duration `env:"CREDITD_EVENTS_DELIVERY_TIMEOUT"`
	EventsRetryWindow      time.Duration `env:"CREDITD_EVENTS_RETRY_WINDOW"`
	EventsBackoffBase      time.Duration `env:"CREDITD_EVENTS_BACKOFF_BASE"`
	EventsBackoffCap       time.Duration `env:"CREDITD_EVENTS_BACKOFF_CAP"`
	EventsRetention        time.Duration `env:"CREDITD_EVENTS_RETENTION"`
}

// Deliveries are the delivery use case's settings.
func (c Config) Deliveries() application.DeliveriesConfig {
	return application.DeliveriesConfig{Timeout: c.EventsDeliveryTimeout, RetryWindow: c.EventsRetryWindow, BackoffBase: c.EventsBackoffBase,
		BackoffCap: c.EventsBackoffCap, Retention: c.EventsRetention}
}

// Shortfall is RefundShortfallPolicy, parsed (LoadConfig has checked it).
func (c Config) Shortfall() domain.ShortfallPolicy {
	p, _ := domain.ShortfallPolicyFromString(c.RefundShortfallPolicy)
	return p
}

// SellsCredits reports whether PortOne (V2, V1 or both) is configured, so
// orders and webhooks are served.
func (c Config) SellsCredits() bool { return c.SellsThroughV2() || c.SellsThroughV1() }

// SellsThroughV2 reports whether PortOne V2 is configured.
func (c Config) SellsThroughV2() bool { return c.PortOneAPISecret != "" }

// SellsThroughV1 reports whether PortOne V1 (iamport) is configured.
func (c Config) SellsThroughV1() bool { return c.PortOneV1IMPSecret != "" }

// DefaultGateway is PortOneDefaultGateway, parsed, or the one configured gateway.
func (c Config) DefaultGateway() domain.Gateway {
	if g, err := domain.ParseGateway(c.PortOneDefaultGateway); err == nil {
		return g
	}
	if !c.SellsThroughV2() && c.SellsThroughV1() {
		return domain.GatewayPortOneV1
	}
	return domain.GatewayPortOneV2
}

// portOneVariables are the settings selling credits through V2 needs, all or none.
func (c Config) portOneVariables() map[string]string {
	return map[string]string{"PORTONE_API_SECRET": string(c.PortOneAPISecret), "PORTONE_STORE_ID": c.PortOneStoreID,
		"PORTONE_CHANNEL_KEY": c.PortOneChannelKey, "PORTONE_WEBHOOK_SECRETS": strings.Join(c.PortOneWebhookSecrets, " ")}
}

// portOneV1Variables are the settings selling credits through V1 needs, all or none.
func (c Config) portOneV1Variables() map[string]string {
	return map[string]string{"PORTONE_V1_IMP_KEY": string(c.PortOneV1IMPKey), "PORTONE_V1_IMP_SECRET": string(c.PortOneV1IMPSecret),
		"PORTONE_V1_IMP_CODE": c.PortOneV1IMPCode, "PORTONE_V1_PG": c.PortOneV1PG}
}

// defaults are the settings whose defaults the adapters define; the
// environment overrides them.
func defaults() Config {
	return Config{
		Addr:               httpapi.DefaultAddr,
		DBWriteLanes:       postgres.DefaultWriteLanes,
		DBReadLanes:        postgres.DefaultReadLanes,
		MaxBodyBytes:       httpapi.DefaultMaxBodyBytes,
		HTTPReadTimeout:    httpapi.DefaultReadTimeout,
		HTTPWriteTimeout:   httpapi.DefaultWriteTimeout,
		HTTPIdleTimeout:    httpapi.DefaultIdleTimeout,
		HTTPRequestTimeout: httpapi.DefaultRequestTimeout,
		PortOneAPIURL:      portone.DefaultBaseURL,
		PortOneV1APIURL:    portonev1.DefaultBaseURL,
		// Events.
		EventsDeliveryTimeout: application.DefaultDeliveryTimeout,
		EventsRetryWindow:     application.DefaultDeliveryRetryWindow,
		EventsBackoffBase:     application.DefaultDeliveryBackoffBase,
		EventsBackoffCap:      application.DefaultDeliveryBackoffCap,
		EventsRetention:       application.DefaultDeliveryRetention,
	}
}

// minEventsRetryWindow is the promise: deliveries are retried for at least 3 days.
const minEventsRetryWindow = 72 * time.Hour

// maxReconcileWindow bounds a scheduled run's lookback: every run lists
// every payment of its window from PortOne, so a longer one costs PortOne
// reads (and its rate limit) every interval; creditd reconcile --since
// reaches further back once, after an outage.
const maxReconcileWindow = 24 * time.Hour

// minIdempotencyRetention is the 30 days clients are promised.
const minIdempotencyRetention = 30 * 24 * time.Hour

// LoadConfig reads the environment (as from env.ToMap(os.Environ())) and
// reports every bad value at once.
func LoadConfig(environment map[string]string) (Config, error) {
	cfg := defaults()
	errs := parseErrors(env.ParseWithOptions(&cfg, env.Options{Environment: environment}))
	if cfg.DatabaseURL == "" {
		errs = append(errs, errors.New(`DATABASE_URL is required (e.g. "postgres://user:pass@localhost:5432/creditd")`))
	} else if _, err := pgx.ParseConfig(cfg.DatabaseURL); err != nil {
		errs = append(errs, errors.New("DATABASE_URL is not a valid PostgreSQL URL or DSN")) // the URL may hold a password: do not echo it
	}
	if err := checkListenAddr(cfg.Addr); err != nil {
		errs = append(errs, fmt.Errorf("CREDITD_ADDR %q is not a listen address like \":8080\" or \"127.0.0.1:8080\": %w", cfg.Addr, err))
	}
	if cfg.PprofAddr != "" {
		if err := checkListenAddr(cfg.PprofAddr); err != nil {
			errs = append(errs, fmt.Errorf("CREDITD_PPROF_ADDR %q is not a listen address like \"127.0.0.1:6060\": %w", cfg.PprofAddr, err))
		}
	}
	if cfg.DBConnectTimeout < 0 {
		errs = append(errs, fmt.Errorf("CREDITD_DB_CONNECT_TIMEOUT %s must not be negative (0 tries once)", cfg.DBConnectTimeout))
	}
	if cfg.DBMaxConns < 1 || cfg.DBMaxConns > 1000 {
		errs = append(errs, fmt.Errorf("CREDITD_DB_MAX_CONNS %d must be between 1 and 1000", cfg.DBMaxConns))
	}
	if cfg.DBWriteLanes < 1 || cfg.DBWriteLanes > cfg.DBMaxConns {
		errs = append(errs, fmt.Errorf("CREDITD_DB_WRITE_LANES %d must be between 1 and CREDITD_DB_MAX_CONNS (%d)", cfg.DBWriteLanes, cfg.DBMaxConns))
	}
	if cfg.DBReadLanes < 1 || cfg.DBReadLanes > cfg.DBMaxConns {
		errs = append(errs, fmt.Errorf("CREDITD_DB_READ_LANES %d must be between 1 and CREDITD_DB_MAX_CONNS (%d)", cfg.DBReadLanes, cfg.DBMaxConns))
	}
	if cfg.MaxBodyBytes < 1024 || cfg.MaxBodyBytes > 16<<20 {
		errs = append(errs, fmt.Errorf("CREDITD_MAX_BODY_BYTES %d must be between 1024 and 16777216", cfg.MaxBodyBytes))
	}
	if cfg.SweepInterval < 0 {
		errs = append(errs, fmt.Errorf("CREDITD_SWEEP_INTERVAL %s must not be negative (0 disables sweeping)", cfg.SweepInterval))
	}
	if cfg.SweepBatch < 1 || cfg.SweepBatch > 10000 {
		errs = append(errs, fmt.Errorf("CREDITD_SWEEP_BATCH %d must be between 1 and 10000", cfg.SweepBatch))
	}
	if cfg.WebhookPollInterval < 0 || cfg.WebhookPollInterval > time.Hour {
		errs = append(errs, fmt.Errorf("CREDITD_WEBHOOK_POLL_INTERVAL %s must be between 0 (off) and 1h", cfg.WebhookPollInterval))
	}
	errs = append(errs, checkEvents(cfg)...)
	if err := cfg.PortOneWebhookSecrets.check(); err != nil {
		errs = append(errs, fmt.Errorf("PORTONE_WEBHOOK_SECRETS: %w", err))
	}
	if cfg.ReconcileInterval != 0 && (cfg.ReconcileInterval < time.Minute || cfg.ReconcileInterval > 24*time.Hour) {
		errs = append(errs, fmt.Errorf("CREDITD_RECONCILE_INTERVAL %s must be between 1m and 24h (0 disables reconciliation)", cfg.ReconcileInterval))
	}
	if cfg.ReconcileWindow < time.Minute || cfg.ReconcileWindow > maxReconcileWindow {
		errs = append(errs, fmt.Errorf("CREDITD_RECONCILE_WINDOW %s must be between 1m and %s", cfg.ReconcileWindow, maxReconcileWindow))
	} else if cfg.ReconcileWindow <= cfg.ReconcileInterval {
		errs = append(errs, fmt.Errorf("CREDITD_RECONCILE_WINDOW %s must be longer than CREDITD_RECONCILE_INTERVAL %s, so runs overlap",
			cfg.ReconcileWindow, cfg.ReconcileInterval))
	}
	if cfg.IdempotencyRetention < minIdempotencyRetention {
		errs = append(errs, fmt.Errorf("CREDITD_IDEMPOTENCY_RETENTION %s must be at least %s (30 days)", cfg.IdempotencyRetention, minIdempotencyRetention))
	}
	if cfg.ShutdownTimeout <= 0 {
		errs = append(errs, fmt.Errorf("CREDITD_SHUTDOWN_TIMEOUT %s must be positive", cfg.ShutdownTimeout))
	}
	for _, t := range []struct {
		name string
		d    time.Duration
	}{{"CREDITD_HTTP_READ_TIMEOUT", cfg.HTTPReadTimeout}, {"CREDITD_HTTP_WRITE_TIMEOUT", cfg.HTTPWriteTimeout},
		{"CREDITD_HTTP_IDLE_TIMEOUT", cfg.HTTPIdleTimeout}, {"CREDITD_HTTP_REQUEST_TIMEOUT", cfg.HTTPRequestTimeout}} {
		if t.d < 100*time.Millisecond || t.d > time.Hour {
			errs = append(errs, fmt.Errorf("%s %s must be between 100ms and 1h", t.name, t.d))
		}
	}
	// A response written after the write timeout is lost: the 408 that ends
	// a stalled body and the 503 that ends a request past its deadline must
	// be written before it.
	if cfg.HTTPWriteTimeout <= cfg.HTTPReadTimeout {
		errs = append(errs, fmt.Errorf("CREDITD_HTTP_WRITE_TIMEOUT %s must be longer than CREDITD_HTTP_READ_TIMEOUT %s",
			cfg.HTTPWriteTimeout, cfg.HTTPReadTimeout))
	}
	if cfg.HTTPWriteTimeout <= cfg.HTTPRequestTimeout {
		errs = append(errs, fmt.Errorf("CREDITD_HTTP_WRITE_TIMEOUT %s must be longer than CREDITD_HTTP_REQUEST_TIMEOUT %s",
			cfg.HTTPWriteTimeout, cfg.HTTPRequestTimeout))
	}
	if _, err := domain.ShortfallPolicyFromString(cfg.RefundShortfallPolicy); err != nil {
		errs = append(errs, fmt.Errorf("CREDITD_REFUND_SHORTFALL_POLICY %q must be \"debt\" or \"absorb\"", cfg.RefundShortfallPolicy))
	}
	errs = append(errs, checkPortOne(cfg)...)
	if len(errs) > 0 {
		return Config{}, fmt.Errorf("configuration: %w", errors.Join(errs...))
	}
	return cfg, nil
}

// checkEvents bounds the delivery settings.
func checkEvents(cfg Config) []error {
	var errs []error
	if cfg.EventsPollInterval < 0 || cfg.EventsPollInterval > time.Hour {
		errs = append(errs, fmt.Errorf("CREDITD_EVENTS_POLL_INTERVAL %s must be between 0 (off) and 1h", cfg.EventsPollInterval))
	}
	if cfg.EventsDeliveryTimeout < time.Second || cfg.EventsDeliveryTimeout > time.Minute {
		errs = append(errs, fmt.Errorf("CREDITD_EVENTS_DELIVERY_TIMEOUT %s must be between 1s and 1m", cfg.EventsDeliveryTimeout))
	}
	if cfg.EventsRetryWindow < minEventsRetryWindow || cfg.EventsRetryWindow > 30*24*time.Hour {
		errs = append(errs, fmt.Errorf("CREDITD_EVENTS_RETRY_WINDOW %s must be between %s (3 days) and 720h", cfg.EventsRetryWindow, minEventsRetryWindow))
	}
	if cfg.EventsBackoffBase < time.Second || cfg.EventsBackoffBase > time.Hour {
		errs = append(errs, fmt.Errorf("CREDITD_EVENTS_BACKOFF_BASE %s must be between 1s and 1h", cfg.EventsBackoffBase))
	}
	if cfg.EventsBackoffCap < cfg.EventsBackoffBase || cfg.EventsBackoffCap > 24*time.Hour {
		errs = append(errs, fmt.Errorf("CREDITD_EVENTS_BACKOFF_CAP %s must be between CREDITD_EVENTS_BACKOFF_BASE (%s) and 24h", cfg.EventsBackoffCap, cfg.EventsBackoffBase))
	}
	if cfg.EventsRetention < time.Hour || cfg.EventsRetention > 365*24*time.Hour {
		errs = append(errs, fmt.Errorf("CREDITD_EVENTS_RETENTION %s must be between 1h and 8760h", cfg.EventsRetention))
	}
	return errs
}

// checkPortOne wants every setting of a PortOne API or none, and never
// echoes a secret.
func checkPortOne(cfg Config) []error {
	errs := checkAllOrNone("PortOne", cfg.portOneVariables(), "PORTONE_API_URL", cfg.PortOneAPIURL)
	errs = append(errs, checkAllOrNone("PortOne V1", cfg.portOneV1Variables(), "PORTONE_V1_API_URL", cfg.PortOneV1APIURL)...)
	if g := cfg.PortOneDefaultGateway; g != "" {
		switch parsed, err := domain.ParseGateway(g); {
		case err != nil:
			errs = append(errs, fmt.Errorf("PORTONE_DEFAULT_GATEWAY %q must be v2 or v1", g))
		case parsed == domain.GatewayPortOneV2 && !cfg.SellsThroughV2(), parsed == domain.GatewayPortOneV1 && !cfg.SellsThroughV1():
			errs = append(errs, fmt.Errorf("PORTONE_DEFAULT_GATEWAY is %s, which is not configured", g))
		}
	}
	return errs
}

// checkAllOrNone wants every one of an API's variables or none, and its URL
// an http(s) one when any is set.
func checkAllOrNone(api string, variables map[string]string, urlName, rawURL string) []error {
	var set, missing []string
	for name, v := range variables {
		if v == "" {
			missing = append(missing, name)
		} else {
			set = append(set, name)
		}
	}
	if len(set) == 0 {
		return nil
	}
	var errs []error
	if len(missing) > 0 {
		slices.Sort(missing)
		errs = append(errs, fmt.Errorf("selling credits through %s needs every one of its settings: %s missing", api, strings.Join(missing, ", ")))
	}
	if u, err := url.Parse(rawURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		errs = append(errs, fmt.Errorf("%s %q is not an http(s) URL", urlName, rawURL))
	}
	return errs
}

// WebhookSecrets are PortOne's webhook secrets, as the console shows them
// (base64, with or without a "whsec_" prefix): one, or two while rotating.
// They print redacted, so a logged Config never shows them.
type WebhookSecrets []string

// UnmarshalText splits the space-separated secrets. Its errors never quote them.
func (s *WebhookSecrets) UnmarshalText(text []byte) error {
	*s = strings.Fields(string(text))
	return nil
}

// check accepts up to two secrets (PortOne keeps at most two active), each
// decoding to some bytes.
func (s WebhookSecrets) check() error {
	if len(s) > 2 {
		return fmt.Errorf("%d secrets given; PortOne has at most 2 active at once (separate them with a space)", len(s))
	}
	for i, secret := range s {
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
		if err != nil || len(key) == 0 {
			return fmt.Errorf("secret %d of %d is not base64 (with or without the whsec_ prefix) of a non-empty key", i+1, len(s))
		}
	}
	return nil
}

func (s WebhookSecrets) String() string   { return fmt.Sprintf("[%d redacted]", len(s)) }
func (s WebhookSecrets) GoString() string { return s.String() }

// LogValue and MarshalJSON keep the secrets out of structured logs too.
func (s WebhookSecrets) LogValue() slog.Value         { return slog.StringValue(s.String()) }
func (s WebhookSecrets) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// AddressList is a list of IP addresses and CIDR prefixes.
type AddressList []netip.Prefix

// UnmarshalText reads addresses and prefixes separated by commas or spaces;
// an address stands for itself alone.
func (l *AddressList) UnmarshalText(text []byte) error {
	*l = nil
	for f := range strings.FieldsFuncSeq(string(text), func(r rune) bool { return r == ',' || unicode.IsSpace(r) }) {
		p, err := netip.ParsePrefix(f)
		if err != nil {
			a, aerr := netip.ParseAddr(f)
			if aerr != nil {
				return fmt.Errorf("%q is neither an IP address nor a CIDR prefix", f)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		*l = append(*l, p.Masked())
	}
	return nil
}

// Secret is a setting that must never be printed: it prints redacted.
type Secret string

func (s Secret) String() string               { return "[redacted]" }
func (s Secret) GoString() string             { return s.String() }
func (s Secret) LogValue() slog.Value         { return slog.StringValue(s.String()) }
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// parseErrors restates the env library's errors, which name Go fields, in
// terms of the variables a user sets.
func parseErrors(err error) []error {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		if err != nil {
			return []error{err}
		}
		return nil
	}
	var out []error
	for _, e := range agg.Errors {
		var pe env.ParseError
		if !errors.As(e, &pe) {
			out = append(out, e)
			continue
		}
		name := pe.Name
		if f, ok := reflect.TypeFor[Config]().FieldByName(pe.Name); ok {
			name, _, _ = strings.Cut(f.Tag.Get("env"), ",")
		}
		out = append(out, fmt.Errorf("%s: %w", name, pe.Err))
	}
	return out
}

// checkListenAddr accepts host:port with a numeric port (0 picks a free one)
// and a host that is empty (every interface), an IP address or a host name.
func checkListenAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("port %q is not a number from 0 to 65535", port)
	}
	if host != "" && !validHost(host) {
		return fmt.Errorf("host %q is neither an IP address nor a host name", host)
	}
	return nil
}

func validHost(host string) bool {
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	if len(host) > 253 {
		return false
	}
	for label := range strings.SplitSeq(host, ".") {
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// toolingVariables are CREDITD_ variables read by the Makefile, its scripts
// (make run's CREDITD_RUN_DIR), the tests (CREDITD_BROWSER) and the demo shop
// (cmd/demo-shop: CREDITD_URL, CREDITD_API_KEY) rather than by creditd. make run and make bench pass their environment on
// to creditd, and a shell may run both creditd and the demo shop, so these
// are no typos there.
var toolingVariables = []string{
	"CREDITD_DEV_PG_PORT", "CREDITD_PG_NAME", "CREDITD_PG_VOLUME", "CREDITD_PG_FRESH", "CREDITD_PG_ARGS",
	"CREDITD_PG_IMAGE", "CREDITD_PG_BUILD_TMP", "CREDITD_SEED", "CREDITD_CONTRACT_OPS", "CREDITD_CONTRACT_SEEDS",
	"CREDITD_URL", "CREDITD_API_KEY", "CREDITD_RUN_DIR", "CREDITD_BROWSER",
}

// Variables are the environment variables Config reads, from its env tags.
func Variables() []string {
	params, err := env.GetFieldParams(&Config{})
	if err != nil {
		panic(fmt.Sprintf("Config's env tags: %v", err)) // a programming error, caught by every test
	}
	names := make([]string, len(params))
	for i, p := range params {
		names[i] = p.Key
	}
	return names
}

// UnknownVariable is a CREDITD_ variable that nothing reads: most likely a
// misspelt setting, which would otherwise be silently ignored.
type UnknownVariable struct {
	Name string
	// Suggestion is the setting whose name is closest, if one is close.
	Suggestion string
}

func (u UnknownVariable) String() string {
	if u.Suggestion == "" {
		return u.Name + " is not a creditd setting"
	}
	return fmt.Sprintf("%s is not a creditd setting; did you mean %s?", u.Name, u.Suggestion)
}

// UnknownVariables lists, sorted, the variables in environment that look
// meant for creditd (CREDITD_ in any case) but that no setting reads.
func UnknownVariables(environment map[string]string) []UnknownVariable {
	settings := Variables()
	known := append(slices.Clone(settings), toolingVariables...)
	var unknown []UnknownVariable
	for name := range environment {
		if !strings.HasPrefix(strings.ToUpper(name), "CREDITD_") || slices.Contains(known, name) {
			continue
		}
		unknown = append(unknown, UnknownVariable{Name: name, Suggestion: closest(strings.ToUpper(name), settings)})
	}
	slices.SortFunc(unknown, func(a, b UnknownVariable) int { return strings.Compare(a.Name, b.Name) })
	return unknown
}

// closest is the candidate nearest to name in edit distance, if it is near
// enough to be a typo: up to one edit per three characters after the
// prefix, at most three.
func closest(name string, candidates []string) string {
	best, bestDist := "", math.MaxInt
	for _, c := range candidates {
		if d := levenshtein.ComputeDistance(name, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	limit := min(3, max(1, len(strings.TrimPrefix(name, "CREDITD_"))/3))
	if bestDist > limit {
		return ""
	}
	return best
}
