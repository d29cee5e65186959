package app_test

import (
	"strings"
	"testing"
	"time"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/cmd/creditd/app"
)

// TestEventsSettings: the CREDITD_EVENTS_* defaults are the use case's, bad values
// are named, and the retry window keeps the promise of 3 days.
func TestEventsSettings(t *testing.T) {
	base := map[string]string{"DATABASE_URL": "postgres://u:p@localhost:5432/creditd"}
	with := func(kv ...string) map[string]string {
		env := map[string]string{}
		for k, v := range base {
			env[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			env[kv[i]] = kv[i+1]
		}
		return env
	}
	cfg, err := app.LoadConfig(base)
	if err != nil {
		t.Fatal(err)
	}
	d := cfg.Deliveries()
	if cfg.EventsAllowPrivateURLs || cfg.EventsPollInterval != time.Second || d.Timeout != 10*time.Second || d.RetryWindow != 72*time.Hour ||
		d.BackoffBase != 30*time.Second || d.BackoffCap != 6*time.Hour || d.Retention != application.DefaultDeliveryRetention {
		t.Errorf("defaults: %+v %+v", cfg, d)
	}
	cfg, err = app.LoadConfig(with("CREDITD_EVENTS_ALLOW_PRIVATE_URLS", "true", "CREDITD_EVENTS_RETRY_WINDOW", "96h", "CREDITD_EVENTS_POLL_INTERVAL", "0"))
	if err != nil || !cfg.EventsAllowPrivateURLs || cfg.Deliveries().RetryWindow != 96*time.Hour || cfg.EventsPollInterval != 0 {
		t.Errorf("set: %+v %v", cfg, err)
	}
	for _, kv := range [][2]string{
		{"CREDITD_EVENTS_RETRY_WINDOW", "24h"}, {"CREDITD_EVENTS_RETRY_WINDOW", "1000h"}, {"CREDITD_EVENTS_DELIVERY_TIMEOUT", "0s"}, {"CREDITD_EVENTS_DELIVERY_TIMEOUT", "5m"},
		{"CREDITD_EVENTS_BACKOFF_BASE", "10ms"}, {"CREDITD_EVENTS_BACKOFF_CAP", "10s"}, {"CREDITD_EVENTS_RETENTION", "1m"}, {"CREDITD_EVENTS_POLL_INTERVAL", "-1s"},
		{"CREDITD_EVENTS_ALLOW_PRIVATE_URLS", "maybe"},
	} {
		if _, err := app.LoadConfig(with(kv[0], kv[1])); err == nil || !strings.Contains(err.Error(), kv[0]) {
			t.Errorf("%s=%s: %v", kv[0], kv[1], err)
		}
	}
}
