package shop

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"

	"github.com/caarlos0/env/v11"
)

// Config is the demo shop's configuration; LoadConfig reads it from the
// environment.
type Config struct {
	// Addr is where the shop listens.
	Addr string `env:"DEMO_SHOP_ADDR" envDefault:"127.0.0.1:8081"`
	// CreditdURL is creditd's base URL, without /v1.
	CreditdURL string `env:"CREDITD_URL" envDefault:"http://127.0.0.1:8080"`
	// APIKey authenticates the shop to creditd. It stays on this server:
	// whoever holds it can grant credits to anyone.
	APIKey APIKey `env:"CREDITD_API_KEY,required"`
	// PortOneSDKURL and PortOneV1SDKURL are PortOne's browser libraries, V2's
	// and V1's (iamport): the only scripts the page loads from elsewhere.
	PortOneSDKURL   string `env:"PORTONE_BROWSER_SDK_URL" envDefault:"https://cdn.portone.io/v2/browser-sdk.js"`
	PortOneV1SDKURL string `env:"PORTONE_V1_BROWSER_SDK_URL" envDefault:"https://cdn.iamport.kr/v1/iamport.js"`
	// Gateway is the PortOne API the page offers first: v2 or v1. Empty
	// (and an empty PortOneV1SDKURL) in a Config made by hand are the defaults.
	Gateway string `env:"DEMO_SHOP_GATEWAY" envDefault:"v2"`

	// HTTPClient calls creditd; nil is a client with a 15 s timeout.
	HTTPClient *http.Client `env:"-"`
	// Logger logs creditd failures; nil is slog.Default().
	Logger *slog.Logger `env:"-"`
}

// LoadConfig reads the environment, as from env.ToMap(os.Environ()).
func LoadConfig(environment map[string]string) (Config, error) {
	var cfg Config
	if err := env.ParseWithOptions(&cfg, env.Options{Environment: environment}); err != nil {
		return Config{}, err
	}
	return cfg, cfg.check()
}

// withDefaults fills in what LoadConfig's environment defaults would.
func (c Config) withDefaults() Config {
	c.PortOneV1SDKURL = cmp.Or(c.PortOneV1SDKURL, "https://cdn.iamport.kr/v1/iamport.js")
	c.Gateway = cmp.Or(c.Gateway, "v2")
	return c
}

func (c Config) check() error {
	var errs []error
	if c.APIKey == "" {
		errs = append(errs, errors.New("CREDITD_API_KEY is required (make run prints one; or: creditd apikey create --tenant demo)"))
	}
	if !gateways[c.Gateway] {
		errs = append(errs, fmt.Errorf("DEMO_SHOP_GATEWAY %q is v2 or v1", c.Gateway))
	}
	for name, raw := range map[string]string{"CREDITD_URL": c.CreditdURL, "PORTONE_BROWSER_SDK_URL": c.PortOneSDKURL, "PORTONE_V1_BROWSER_SDK_URL": c.PortOneV1SDKURL} {
		if u, err := url.Parse(raw); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("%s %q is not an http(s) URL", name, raw))
		}
	}
	return errors.Join(errs...)
}

// gateways are the PortOne APIs creditd takes orders through.
var gateways = map[string]bool{"v2": true, "v1": true}

// APIKey is a creditd API key. It prints redacted, so no log line or error
// message can leak it.
type APIKey string

func (APIKey) String() string                 { return "[redacted]" }
func (k APIKey) GoString() string             { return k.String() }
func (k APIKey) LogValue() slog.Value         { return slog.StringValue(k.String()) }
func (k APIKey) MarshalJSON() ([]byte, error) { return json.Marshal(k.String()) }
