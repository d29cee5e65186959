package app_test

import (
	"strings"
	"testing"
	"time"

	"github.com/creditd/creditd/cmd/creditd/app"
)

func loadWith(vars map[string]string) (app.Config, error) {
	env := map[string]string{"DATABASE_URL": "postgres://u:p@localhost:5432/db"}
	for k, v := range vars {
		env[k] = v
	}
	return app.LoadConfig(env)
}

func TestConnectTimeout(t *testing.T) {
	cfg, err := loadWith(nil)
	if err != nil || cfg.DBConnectTimeout != 30*time.Second {
		t.Fatalf("default: %v, %v; want 30s", cfg.DBConnectTimeout, err)
	}
	if cfg, err := loadWith(map[string]string{"CREDITD_DB_CONNECT_TIMEOUT": "0"}); err != nil || cfg.DBConnectTimeout != 0 {
		t.Errorf("0 (try once): %v, %v", cfg.DBConnectTimeout, err)
	}
	if _, err := loadWith(map[string]string{"CREDITD_DB_CONNECT_TIMEOUT": "-1s"}); err == nil ||
		!strings.Contains(err.Error(), "CREDITD_DB_CONNECT_TIMEOUT") {
		t.Errorf("negative: want an error naming CREDITD_DB_CONNECT_TIMEOUT, got %v", err)
	}
}
