package app_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"testing"
	"time"

	"go.uber.org/fx"

	"github.com/creditd/creditd/cmd/creditd/app"
	"github.com/creditd/creditd/domain"
)

func TestServiceGraphIsComplete(t *testing.T) {
	cfg, err := app.LoadConfig(map[string]string{"DATABASE_URL": "postgres://u:p@localhost:5432/db"})
	if err != nil {
		t.Fatal(err)
	}
	if err := fx.ValidateApp(app.Options(cfg, slog.New(slog.DiscardHandler))); err != nil {
		t.Fatal(err)
	}
}

func TestConfigDefaults(t *testing.T) {
	cfg, err := app.LoadConfig(map[string]string{"DATABASE_URL": "postgres://u:p@localhost:5432/db"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != ":8080" || cfg.DBMaxConns != 8 || cfg.IdempotencyRetention.Hours() != 720 || !cfg.MigrateOnStart {
		t.Fatalf("unexpected defaults: %+v", cfg)
	}
}

// TestConfigNamesEveryBadValue: each bad setting is reported by name, all at once,
// and the database password never appears in the message.
func TestConfigNamesEveryBadValue(t *testing.T) {
	_, err := app.LoadConfig(map[string]string{
		"DATABASE_URL":                  "postgres://u:s3cret@localhost:notaport/db",
		"CREDITD_ADDR":                  "8080",
		"CREDITD_DB_MAX_CONNS":          "0",
		"CREDITD_MAX_BODY_BYTES":        "12",
		"CREDITD_LOG_LEVEL":             "loud",
		"CREDITD_SWEEP_INTERVAL":        "soon",
		"CREDITD_SWEEP_BATCH":           "0",
		"CREDITD_IDEMPOTENCY_RETENTION": "24h",
		"CREDITD_SHUTDOWN_TIMEOUT":      "0s",
		"CREDITD_MIGRATE_ON_START":      "maybe",
	})
	if err == nil {
		t.Fatal("want an error")
	}
	msg := err.Error()
	for _, name := range []string{"DATABASE_URL", "CREDITD_ADDR", "CREDITD_DB_MAX_CONNS", "CREDITD_MAX_BODY_BYTES",
		"CREDITD_LOG_LEVEL", "CREDITD_SWEEP_INTERVAL", "CREDITD_SWEEP_BATCH", "CREDITD_IDEMPOTENCY_RETENTION",
		"CREDITD_SHUTDOWN_TIMEOUT", "CREDITD_MIGRATE_ON_START"} {
		if !strings.Contains(msg, name) {
			t.Errorf("error does not name %s:\n%s", name, msg)
		}
	}
	if strings.Contains(msg, "s3cret") {
		t.Errorf("error leaks the database password:\n%s", msg)
	}
	if _, err := app.LoadConfig(map[string]string{}); err == nil || !strings.Contains(err.Error(), "DATABASE_URL is required") {
		t.Errorf("missing DATABASE_URL: %v", err)
	}
}

func TestHTTPTimeoutSettings(t *testing.T) {
	cfg, err := app.LoadConfig(map[string]string{"DATABASE_URL": "postgres://u:p@localhost:5432/db"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTPReadTimeout != 10*time.Second || cfg.HTTPWriteTimeout != 30*time.Second || cfg.HTTPIdleTimeout != 120*time.Second ||
		cfg.HTTPRequestTimeout != 10*time.Second {
		t.Fatalf("unexpected HTTP timeout defaults: %+v", cfg)
	}
	for env, want := range map[string]string{
		"CREDITD_HTTP_READ_TIMEOUT=0s":                                 "CREDITD_HTTP_READ_TIMEOUT",
		"CREDITD_HTTP_IDLE_TIMEOUT=2h":                                 "CREDITD_HTTP_IDLE_TIMEOUT",
		"CREDITD_HTTP_WRITE_TIMEOUT=later":                             "CREDITD_HTTP_WRITE_TIMEOUT",
		"CREDITD_HTTP_READ_TIMEOUT=20s CREDITD_HTTP_WRITE_TIMEOUT=20s": "must be longer than CREDITD_HTTP_READ_TIMEOUT",
		"CREDITD_HTTP_REQUEST_TIMEOUT=30s":                             "must be longer than CREDITD_HTTP_REQUEST_TIMEOUT",
		"CREDITD_HTTP_REQUEST_TIMEOUT=1ms":                             "CREDITD_HTTP_REQUEST_TIMEOUT 1ms must be between",
	} {
		vars := map[string]string{"DATABASE_URL": "postgres://u:p@localhost:5432/db"}
		for _, kv := range strings.Fields(env) {
			k, v, _ := strings.Cut(kv, "=")
			vars[k] = v
		}
		if _, err := app.LoadConfig(vars); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error naming %s", env, err, want)
		}
	}
}

// portOneEnv is a complete PortOne configuration (the secret is the SDK's test secret).
var portOneEnv = map[string]string{
	"DATABASE_URL": "postgres://u:p@localhost:5432/db", "PORTONE_API_SECRET": "api-s3cret", "PORTONE_STORE_ID": "store-1",
	"PORTONE_CHANNEL_KEY": "channel-key-1", "PORTONE_WEBHOOK_SECRETS": "whsec_pzQGE83cSIRKM4/WH5QY+g==",
}

func TestServiceGraphSellingCreditsIsComplete(t *testing.T) {
	cfg, err := app.LoadConfig(portOneEnv)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.SellsCredits() {
		t.Fatal("a complete PortOne configuration does not sell credits")
	}
	if err := fx.ValidateApp(app.Options(cfg, slog.New(slog.DiscardHandler))); err != nil {
		t.Fatal(err)
	}
}

// TestPortOneSettingsAreAllOrNone: a partial configuration names what is
// missing, a bad webhook secret is refused, and no secret is echoed.
func TestPortOneSettingsAreAllOrNone(t *testing.T) {
	partial := map[string]string{"DATABASE_URL": portOneEnv["DATABASE_URL"], "PORTONE_API_SECRET": "api-s3cret"}
	_, err := app.LoadConfig(partial)
	if err == nil || !strings.Contains(err.Error(), "PORTONE_CHANNEL_KEY, PORTONE_STORE_ID, PORTONE_WEBHOOK_SECRETS missing") {
		t.Fatalf("partial PortOne settings: %v", err)
	}
	bad := map[string]string{}
	for k, v := range portOneEnv {
		bad[k] = v
	}
	bad["PORTONE_WEBHOOK_SECRETS"] = "whsec_not*base64 whsec_s3cret"
	bad["PORTONE_API_URL"] = "ftp://portone"
	_, err = app.LoadConfig(bad)
	if err == nil || !strings.Contains(err.Error(), "PORTONE_WEBHOOK_SECRETS") || !strings.Contains(err.Error(), "PORTONE_API_URL") {
		t.Fatalf("bad PortOne settings: %v", err)
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("the error echoes a secret: %v", err)
	}
}

func TestReconcileSettings(t *testing.T) {
	base := map[string]string{"DATABASE_URL": "postgres://u:p@localhost:5432/db"}
	cfg, err := app.LoadConfig(base)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ReconcileInterval != 10*time.Minute || cfg.ReconcileWindow != 24*time.Hour {
		t.Fatalf("reconcile defaults: every %s over %s", cfg.ReconcileInterval, cfg.ReconcileWindow)
	}
	for env, want := range map[string]string{
		"CREDITD_RECONCILE_INTERVAL=30s":                             "CREDITD_RECONCILE_INTERVAL",
		"CREDITD_RECONCILE_INTERVAL=later":                           "CREDITD_RECONCILE_INTERVAL",
		"CREDITD_RECONCILE_WINDOW=48h":                               "CREDITD_RECONCILE_WINDOW",
		"CREDITD_RECONCILE_WINDOW=0s":                                "CREDITD_RECONCILE_WINDOW",
		"CREDITD_RECONCILE_WINDOW=5m CREDITD_RECONCILE_INTERVAL=10m": "must be longer than CREDITD_RECONCILE_INTERVAL",
	} {
		e := maps.Clone(base)
		for kv := range strings.FieldsSeq(env) {
			k, v, _ := strings.Cut(kv, "=")
			e[k] = v
		}
		if _, err := app.LoadConfig(e); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want it to name %s", env, err, want)
		}
	}
	e := maps.Clone(base)
	e["CREDITD_RECONCILE_INTERVAL"] = "0"
	if cfg, err := app.LoadConfig(e); err != nil || cfg.ReconcileInterval != 0 {
		t.Fatalf("interval 0 (disabled): %v", err)
	}
}

// portOneV1Env is a complete PortOne V1 configuration.
var portOneV1Env = map[string]string{"PORTONE_V1_IMP_KEY": "imp-key", "PORTONE_V1_IMP_SECRET": "imp-s3cret",
	"PORTONE_V1_IMP_CODE": "imp12345678", "PORTONE_V1_PG": "html5_inicis"}

// TestServiceGraphSellingThroughV1: V1 alone, or with V2, makes a complete
// graph; the default gateway follows what is configured.
func TestServiceGraphSellingThroughV1(t *testing.T) {
	onlyV1 := maps.Clone(portOneV1Env)
	onlyV1["DATABASE_URL"] = portOneEnv["DATABASE_URL"]
	both := maps.Clone(portOneEnv)
	maps.Copy(both, portOneV1Env)
	for name, tc := range map[string]struct {
		env  map[string]string
		want domain.Gateway
	}{"only V1": {onlyV1, domain.GatewayPortOneV1}, "both": {both, domain.GatewayPortOneV2}} {
		cfg, err := app.LoadConfig(tc.env)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !cfg.SellsCredits() || !cfg.SellsThroughV1() || cfg.DefaultGateway() != tc.want {
			t.Fatalf("%s: sells %v, V1 %v, default %s", name, cfg.SellsCredits(), cfg.SellsThroughV1(), cfg.DefaultGateway())
		}
		if err := fx.ValidateApp(app.Options(cfg, slog.New(slog.DiscardHandler))); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		gws, err := app.PaymentGateways(cfg)
		if err != nil || gws[domain.GatewayPortOneV1] == nil || (gws[domain.GatewayPortOneV2] != nil) != cfg.SellsThroughV2() {
			t.Fatalf("%s: gateways %v, %v", name, gws, err)
		}
	}
	both["PORTONE_DEFAULT_GATEWAY"] = "v1"
	if cfg, err := app.LoadConfig(both); err != nil || cfg.DefaultGateway() != domain.GatewayPortOneV1 {
		t.Fatalf("PORTONE_DEFAULT_GATEWAY=v1: %v", err)
	}
}

// TestPortOneV1SettingsAreAllOrNone: a partial V1 configuration names what is
// missing, a default gateway must be configured, and no secret is echoed.
func TestPortOneV1SettingsAreAllOrNone(t *testing.T) {
	for env, want := range map[string]string{
		"PORTONE_V1_IMP_SECRET=imp-s3cret":                  "PORTONE_V1_IMP_CODE, PORTONE_V1_IMP_KEY, PORTONE_V1_PG missing",
		"PORTONE_V1_API_URL=ftp://iamport " + v1Vars():      "PORTONE_V1_API_URL",
		"PORTONE_DEFAULT_GATEWAY=v1":                        "PORTONE_DEFAULT_GATEWAY is v1, which is not configured",
		"PORTONE_DEFAULT_GATEWAY=v3 " + v1Vars():            "PORTONE_DEFAULT_GATEWAY \"v3\" must be v2 or v1",
		"PORTONE_DEFAULT_GATEWAY=v2 " + v1Vars():            "PORTONE_DEFAULT_GATEWAY is v2, which is not configured",
		"PORTONE_V1_IMP_KEY=k PORTONE_V1_IMP_SECRET=s3cret": "PORTONE_V1_IMP_CODE, PORTONE_V1_PG missing",
	} {
		e := map[string]string{"DATABASE_URL": portOneEnv["DATABASE_URL"]}
		for kv := range strings.FieldsSeq(env) {
			k, v, _ := strings.Cut(kv, "=")
			e[k] = v
		}
		_, err := app.LoadConfig(e)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want it to say %s", env, err, want)
		} else if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: the error echoes a secret: %v", env, err)
		}
	}
}

func v1Vars() string {
	var kv []string
	for k, v := range portOneV1Env {
		kv = append(kv, k+"="+v)
	}
	return strings.Join(kv, " ")
}

// TestV1CredentialsNeverPrinted: the configuration prints, logs and
// marshals without the V1 key and secret, however it is formatted.
func TestV1CredentialsNeverPrinted(t *testing.T) {
	env := maps.Clone(portOneV1Env)
	env["DATABASE_URL"] = portOneEnv["DATABASE_URL"]
	env["PORTONE_V1_IMP_KEY"] = "imp-k3y-private"
	cfg, err := app.LoadConfig(env)
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "cfg", cfg, "v1", app.PortOneV1Settings(cfg))
	js, _ := json.Marshal(cfg)
	for _, out := range []string{fmt.Sprintf("%v %+v %#v", cfg, cfg, cfg), fmt.Sprintf("%v %+v %#v", app.PortOneV1Settings(cfg),
		app.PortOneV1Settings(cfg), app.PortOneV1Settings(cfg)), logged.String(), string(js)} {
		if strings.Contains(out, "s3cret") {
			t.Fatalf("the imp_secret is printed: %s", out)
		}
	}
}

func TestV1WebhookAllowList(t *testing.T) {
	env := maps.Clone(portOneV1Env)
	env["DATABASE_URL"] = portOneEnv["DATABASE_URL"]
	env["PORTONE_V1_WEBHOOK_ALLOW"] = "52.78.100.19, 52.78.48.223 10.0.0.0/8,2001:db8::/32"
	cfg, err := app.LoadConfig(env)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range cfg.PortOneV1WebhookAllow {
		got = append(got, p.String())
	}
	if strings.Join(got, " ") != "52.78.100.19/32 52.78.48.223/32 10.0.0.0/8 2001:db8::/32" {
		t.Fatalf("allow list %v", got)
	}
	env["PORTONE_V1_WEBHOOK_ALLOW"] = "52.78.100.19 portone.io"
	if _, err := app.LoadConfig(env); err == nil || !strings.Contains(err.Error(), `"portone.io"`) {
		t.Fatalf("err = %v, want it to name the bad entry", err)
	}
}
