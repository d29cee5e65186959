// Command portone-sandbox serves a local PortOne V2 and V1 (package sandbox)
// for development: creditd's PORTONE_API_URL points at it (its
// PORTONE_V1_API_URL at /v1compat), its webhooks go to SANDBOX_WEBHOOK_URL
// (V1's to SANDBOX_V1_WEBHOOK_URL), and /sandbox/ shows what happened.
//
//	portone-sandbox [-state FILE]
//
// Settings come from the environment (see config); -state keeps payments
// across restarts.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/creditd/creditd/cmd/portone-sandbox/sandbox"
)

// config is the environment the sandbox reads.
type config struct {
	Addr              string        `env:"SANDBOX_ADDR" envDefault:"127.0.0.1:8090"`
	APISecret         string        `env:"SANDBOX_API_SECRET" envDefault:"sandbox-api-secret"`
	WebhookSecret     string        `env:"SANDBOX_WEBHOOK_SECRET"` // whsec_…, two space-separated while rotating
	WebhookURL        string        `env:"SANDBOX_WEBHOOK_URL"`
	StoreID           string        `env:"SANDBOX_STORE_ID" envDefault:"store-sandbox"`
	ChannelKey        string        `env:"SANDBOX_CHANNEL_KEY" envDefault:"channel-key-sandbox"`
	WebhookRetryScale float64       `env:"SANDBOX_WEBHOOK_RETRY_SCALE" envDefault:"1"`
	WebhookTimeout    time.Duration `env:"SANDBOX_WEBHOOK_TIMEOUT" envDefault:"30s"`
	PublicURL         string        `env:"SANDBOX_PUBLIC_URL"` // default http:// + SANDBOX_ADDR
	// PortOne V1 (iamport), served under /v1compat.
	V1IMPKey    string `env:"SANDBOX_V1_IMP_KEY" envDefault:"sandbox-imp-key"`
	V1IMPSecret string `env:"SANDBOX_V1_IMP_SECRET" envDefault:"sandbox-imp-secret"`
	V1IMPCode   string `env:"SANDBOX_V1_IMP_CODE" envDefault:"imp00000000"`
	// V1's webhooks (unsigned): where, as json or form, and whether failed
	// ones are retried (PortOne's option, off by default).
	V1WebhookURL         string `env:"SANDBOX_V1_WEBHOOK_URL"`
	V1WebhookContentType string `env:"SANDBOX_V1_WEBHOOK_CONTENT_TYPE" envDefault:"json"`
	V1WebhookRetries     bool   `env:"SANDBOX_V1_WEBHOOK_RETRIES"`
}

// v1ContentTypes maps SANDBOX_V1_WEBHOOK_CONTENT_TYPE to what V1 sends.
var v1ContentTypes = map[string]string{"json": sandbox.V1WebhookJSON, "form": sandbox.V1WebhookForm}

// loadConfig reads the environment (as from env.ToMap(os.Environ())).
func loadConfig(environment map[string]string) (config, error) {
	var cfg config
	if err := env.ParseWithOptions(&cfg, env.Options{Environment: environment}); err != nil {
		return config{}, err
	}
	if cfg.WebhookRetryScale <= 0 {
		return config{}, fmt.Errorf("SANDBOX_WEBHOOK_RETRY_SCALE %v must be positive", cfg.WebhookRetryScale)
	}
	if cfg.WebhookTimeout <= 0 {
		return config{}, fmt.Errorf("SANDBOX_WEBHOOK_TIMEOUT %s must be positive", cfg.WebhookTimeout)
	}
	if _, ok := v1ContentTypes[cfg.V1WebhookContentType]; !ok {
		return config{}, fmt.Errorf("SANDBOX_V1_WEBHOOK_CONTENT_TYPE %q is json or form", cfg.V1WebhookContentType)
	}
	if cfg.PublicURL == "" {
		host, port, err := net.SplitHostPort(cfg.Addr)
		if err != nil {
			return config{}, fmt.Errorf("SANDBOX_ADDR %q is not host:port: %w", cfg.Addr, err)
		}
		if host == "" || host == "0.0.0.0" || host == "::" { // listening everywhere: browsers on this machine use localhost
			host = "localhost"
		}
		cfg.PublicURL = "http://" + net.JoinHostPort(host, port)
	}
	return cfg, nil
}

// saveEvery is how often -state is written while running.
const saveEvery = 30 * time.Second

func main() {
	statePath := flag.String("state", "", "load payments from FILE at start, save them there periodically and on shutdown")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(*statePath, log); err != nil {
		log.Error("portone-sandbox", "err", err)
		os.Exit(1)
	}
}

func run(statePath string, log *slog.Logger) error {
	cfg, err := loadConfig(env.ToMap(os.Environ()))
	if err != nil {
		return err
	}
	sb, err := sandbox.New(sandbox.Config{
		APISecret: cfg.APISecret, StoreID: cfg.StoreID, ChannelKey: cfg.ChannelKey,
		WebhookURL: cfg.WebhookURL, WebhookSecrets: strings.Fields(cfg.WebhookSecret), WebhookRetryScale: cfg.WebhookRetryScale,
		WebhookTimeout: cfg.WebhookTimeout, PublicURL: cfg.PublicURL, Logger: log,
		V1IMPKey: cfg.V1IMPKey, V1IMPSecret: cfg.V1IMPSecret, V1IMPCode: cfg.V1IMPCode,
		V1WebhookURL: cfg.V1WebhookURL, V1WebhookContentType: v1ContentTypes[cfg.V1WebhookContentType], V1WebhookRetries: cfg.V1WebhookRetries,
	})
	if err != nil {
		return err
	}
	defer sb.Close()
	if statePath != "" {
		if err := load(sb, statePath); err != nil {
			return err
		}
	}

	ln, err := net.Listen("tcp", cfg.Addr) // synchronously, so a busy port fails at once
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: sb.Handler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("PortOne sandbox listening", "url", cfg.PublicURL, "v1_url", cfg.PublicURL+sandbox.DefaultV1Prefix,
		"controls", cfg.PublicURL+"/sandbox/", "store", cfg.StoreID, "webhooks", cfg.WebhookURL, "v1_webhooks", cfg.V1WebhookURL)

	tick := time.NewTicker(saveEvery)
	defer tick.Stop()
	for stopping := false; !stopping; {
		select {
		case err := <-served:
			return err
		case <-tick.C:
			if statePath != "" {
				if err := save(sb, statePath); err != nil {
					log.Warn("saving state", "err", err)
				}
			}
		case <-ctx.Done():
			stopping = true
		}
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("shutdown", "err", err)
	}
	sb.Close()
	if statePath != "" {
		return save(sb, statePath)
	}
	return nil
}

func load(sb *sandbox.Sandbox, path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil // the first run
	}
	if err != nil {
		return err
	}
	defer f.Close()
	return sb.LoadState(f)
}

// save writes the state beside path and renames it over path, so a crash
// never leaves half a file.
func save(sb *sandbox.Sandbox, path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if err := sb.SaveState(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	return nil
}
