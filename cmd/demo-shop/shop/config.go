package shop

import (
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
	// PortOneSDKURL is the one script the page loads from elsewhere.
	PortOneSDKURL string `env:"PORTONE_BROWSER_SDK_URL" envDefault:"https://cdn.portone.io/v2/browser-sdk.js"`

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

func (c Config) check() error {
	var errs []error
	if c.APIKey == "" {
		errs = append(errs, errors.New("CREDITD_API_KEY is required (make run prints one; or: creditd apikey create --tenant demo)"))
	}
	for name, raw := range map[string]string{"CREDITD_URL": c.CreditdURL, "PORTONE_BROWSER_SDK_URL": c.PortOneSDKURL} {
		if u, err := url.Parse(raw); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("%s %q is not an http(s) URL", name, raw))
		}
	}
	return errors.Join(errs...)
}

// APIKey is a creditd API key. It prints redacted, so no log line or error
// message can leak it.
type APIKey string

func (APIKey) String() string                 { return "[redacted]" }
func (k APIKey) GoString() string             { return k.String() }
func (k APIKey) LogValue() slog.Value         { return slog.StringValue(k.String()) }
func (k APIKey) MarshalJSON() ([]byte, error) { return json.Marshal(k.String()) }
