package app_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.uber.org/fx"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/cmd/creditd/app"
)

func TestWebhookSettings(t *testing.T) {
	base := portOneEnv
	with := func(k, v string) map[string]string {
		env := map[string]string{}
		for k, v := range base {
			env[k] = v
		}
		env[k] = v
		return env
	}
	cfg, err := app.LoadConfig(base)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.WebhookPollInterval != time.Second || len(cfg.PortOneWebhookSecrets) != 1 {
		t.Fatalf("defaults: poll %s, %d secrets", cfg.WebhookPollInterval, len(cfg.PortOneWebhookSecrets))
	}
	cfg, err = app.LoadConfig(with("PORTONE_WEBHOOK_SECRETS", "  whsec_pzQGE83cSIRKM4/WH5QY+g==   b2xkLXNlY3JldA== "))
	if err != nil {
		t.Fatal(err)
	}
	if got := []string(cfg.PortOneWebhookSecrets); len(got) != 2 || got[0] != "whsec_pzQGE83cSIRKM4/WH5QY+g==" || got[1] != "b2xkLXNlY3JldA==" {
		t.Fatalf("secrets %q", got)
	}
	// Printed or logged, a Config never shows them.
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "cfg", cfg, "secrets", cfg.PortOneWebhookSecrets)
	for _, out := range []string{fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), fmt.Sprint(cfg.PortOneWebhookSecrets), logs.String()} {
		if strings.Contains(out, "pzQGE83c") || strings.Contains(out, "b2xkLXNl") || strings.Contains(out, "api-s3cret") {
			t.Errorf("a secret leaks: %s", out)
		}
	}

	for env, want := range map[string]string{
		"a b c":                     "at most 2",
		"whsec_not*base64 c2VjcmV0": "secret 1 of 2",
		"whsec_":                    "secret 1 of 1",
	} {
		_, err := app.LoadConfig(with("PORTONE_WEBHOOK_SECRETS", env))
		if err == nil || !strings.Contains(err.Error(), "PORTONE_WEBHOOK_SECRETS") || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error saying %q", env, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "base64 c2Vj") {
			t.Errorf("the error quotes the secret: %v", err)
		}
	}
	for _, v := range []string{"-1s", "2h", "often"} {
		if _, err := app.LoadConfig(with("CREDITD_WEBHOOK_POLL_INTERVAL", v)); err == nil ||
			!strings.Contains(err.Error(), "CREDITD_WEBHOOK_POLL_INTERVAL") {
			t.Errorf("CREDITD_WEBHOOK_POLL_INTERVAL=%s: %v", v, err)
		}
	}
}

// TestServiceGraphWithWebhooks: selling credits, the graph builds the
// webhooks use case (its consumers take it as optional, which ValidateApp
// does not build: ask for it).
func TestServiceGraphWithWebhooks(t *testing.T) {
	cfg, err := app.LoadConfig(portOneEnv)
	if err != nil {
		t.Fatal(err)
	}
	err = fx.ValidateApp(app.Options(cfg, slog.New(slog.DiscardHandler)),
		fx.Invoke(func(*application.Webhooks, *application.Orders, application.PaymentSyncer) {}))
	if err != nil {
		t.Fatal(err)
	}
}
