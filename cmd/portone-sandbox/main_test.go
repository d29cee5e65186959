package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/creditd/creditd/cmd/portone-sandbox/sandbox"
)

func TestConfigDefaults(t *testing.T) {
	cfg, err := loadConfig(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	want := config{Addr: "127.0.0.1:8090", APISecret: sandbox.DefaultAPISecret, StoreID: sandbox.DefaultStoreID, ChannelKey: sandbox.DefaultChannelKey,
		WebhookRetryScale: 1, WebhookTimeout: 30 * time.Second, PublicURL: "http://127.0.0.1:8090",
		V1IMPKey: sandbox.DefaultV1IMPKey, V1IMPSecret: sandbox.DefaultV1IMPSecret, V1IMPCode: sandbox.DefaultV1IMPCode,
		V1WebhookContentType: "json"}
	if cfg != want {
		t.Errorf("defaults %+v, want %+v", cfg, want)
	}
	cfg, err = loadConfig(map[string]string{"SANDBOX_ADDR": ":9000", "SANDBOX_WEBHOOK_RETRY_SCALE": "0.001"})
	if err != nil || cfg.PublicURL != "http://localhost:9000" || cfg.WebhookRetryScale != 0.001 {
		t.Errorf("%+v %v", cfg, err)
	}
	cfg, err = loadConfig(map[string]string{"SANDBOX_V1_WEBHOOK_URL": "http://127.0.0.1:8080/webhooks/portone/v1",
		"SANDBOX_V1_WEBHOOK_CONTENT_TYPE": "form", "SANDBOX_V1_WEBHOOK_RETRIES": "true"})
	if err != nil || cfg.V1WebhookURL != "http://127.0.0.1:8080/webhooks/portone/v1" || v1ContentTypes[cfg.V1WebhookContentType] != sandbox.V1WebhookForm || !cfg.V1WebhookRetries {
		t.Errorf("V1 webhooks %+v %v", cfg, err)
	}
	for name, environment := range map[string]map[string]string{
		"a bad scale":          {"SANDBOX_WEBHOOK_RETRY_SCALE": "-1"},
		"a scale not a number": {"SANDBOX_WEBHOOK_RETRY_SCALE": "fast"},
		"a bad timeout":        {"SANDBOX_WEBHOOK_TIMEOUT": "0s"},
		"a bad address":        {"SANDBOX_ADDR": "8090"},
		"a V1 content type":    {"SANDBOX_V1_WEBHOOK_CONTENT_TYPE": "xml"},
	} {
		if _, err := loadConfig(environment); err == nil {
			t.Errorf("%s was taken", name)
		}
	}
}

func TestStateFileIsReplacedWhole(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	sb, err := sandbox.New(sandbox.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	sb.Pay("p-1", sandbox.PaidWith{Total: 1000})
	if err := load(sb, path); err != nil { // no file yet: the first run
		t.Fatal(err)
	}
	sb.Pay("p-1", sandbox.PaidWith{Total: 1000})
	if err := save(sb, path); err != nil {
		t.Fatal(err)
	}
	if err := save(sb, path); err != nil { // over an existing file
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("%d files beside the state, want none left over", len(entries)-1)
	}
	again, err := sandbox.New(sandbox.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if err := load(again, path); err != nil {
		t.Fatal(err)
	}
	if p, ok := again.Payment("p-1"); !ok || p.Status != "PAID" {
		t.Errorf("loaded %+v", p)
	}
	if err := os.WriteFile(path, []byte("{broken"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := load(again, path); err == nil {
		t.Error("a broken state file loaded")
	}
}
