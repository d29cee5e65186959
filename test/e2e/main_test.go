//go:build integration

// Package e2e starts the real creditd service graph (fxtest) on its own
// PostgreSQL database per test and talks to it over HTTP, as a product backend would.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uptrace/bun"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/creditd/creditd/adapters/httpapi"
	"github.com/creditd/creditd/adapters/postgres"
	"github.com/creditd/creditd/adapters/worker"
	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/cmd/creditd/app"
	"github.com/creditd/creditd/domain"
	"github.com/creditd/creditd/test/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, postgres.MigrateURL)) }

// service is a running creditd with one tenant's key.
type service struct {
	t       *testing.T
	base    string
	dsn     string // its database
	db      *bun.DB
	apiKeys *application.APIKeys
	key     string
	client  *http.Client
	worker  *worker.Worker
	keys    *atomic.Int64 // numbers the Idempotency-Keys do makes up; shared by copies
}

func start(t *testing.T, env map[string]string) *service {
	t.Helper()
	vars := map[string]string{"DATABASE_URL": pgtest.NewDatabase(t), "CREDITD_ADDR": "127.0.0.1:0", "CREDITD_DB_MAX_CONNS": "32"}
	for k, v := range env {
		vars[k] = v
	}
	cfg, err := app.LoadConfig(vars)
	if err != nil {
		t.Fatal(err)
	}
	s := &service{t: t, dsn: vars["DATABASE_URL"], keys: new(atomic.Int64), client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 128}}}
	var srv *httpapi.Server
	fxApp := fxtest.New(t, app.Options(cfg, slog.New(slog.DiscardHandler)), fx.Populate(&srv, &s.db, &s.apiKeys, &s.worker))
	fxApp.RequireStart()
	t.Cleanup(fxApp.RequireStop)
	s.base = "http://" + srv.Addr()
	s.key = s.newKey("acme")
	return s
}

func (s *service) newKey(tenant string, scopes ...domain.Scope) string {
	s.t.Helper()
	name, err := domain.ParseTenantName(tenant)
	if err != nil {
		s.t.Fatal(err)
	}
	k, err := s.apiKeys.Create(context.Background(), name, scopes)
	if err != nil {
		s.t.Fatal(err)
	}
	return k.Secret
}

// response is what came back, with the JSON body decoded for convenience.
type response struct {
	Status int
	Header http.Header
	Raw    []byte
	JSON   map[string]any
}

// do sends a request with the service's key; post bodies get a fresh Idempotency-Key unless headers set one.
func (s *service) do(method, path, body string, headers ...string) response {
	s.t.Helper()
	req, err := http.NewRequest(method, s.base+path, bytes.NewBufferString(body))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.key)
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", fmt.Sprintf("k-%d", s.keys.Add(1)))
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	resp, err := s.client.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := response{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	_ = json.Unmarshal(raw, &r.JSON)
	return r
}

// expect fails unless the response has the status (and, for problems, the type slug).
func (r response) expect(t *testing.T, status int, problem ...string) response {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Raw)
	}
	if len(problem) > 0 {
		typ, _ := r.JSON["type"].(string)
		if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" || !bytes.HasSuffix([]byte(typ), []byte("/"+problem[0])) {
			t.Fatalf("want problem %s as application/problem+json, got %s %q: %s", problem[0], ct, typ, r.Raw)
		}
	}
	return r
}

// requireSound fails the test when verify finds any drift.
func (s *service) requireSound() {
	s.t.Helper()
	report, err := application.NewVerifier(postgres.NewAuditor(s.db)).Verify(context.Background())
	if err != nil {
		s.t.Fatal(err)
	}
	for _, d := range report.Drifts {
		s.t.Error("drift:", d)
	}
}

// snapshot summarises every table a request could change.
func (s *service) snapshot() string {
	s.t.Helper()
	var out string
	err := s.db.NewRaw(`SELECT concat_ws(' ',
		(SELECT count(*) FROM wallets), (SELECT coalesce(sum(balance), 0) FROM wallets), (SELECT coalesce(sum(held), 0) FROM wallets),
		(SELECT count(*) FROM lots), (SELECT coalesce(sum(remaining), 0) FROM lots), (SELECT count(*) FROM transactions),
		(SELECT count(*) FROM postings), (SELECT count(*) FROM holds), (SELECT count(*) FROM idempotency_records),
		(SELECT count(*) FROM api_keys), (SELECT count(*) FROM tenants))`).Scan(context.Background(), &out)
	if err != nil {
		s.t.Fatal(err)
	}
	return out
}

func mustScope(t *testing.T, s string) domain.Scope {
	t.Helper()
	sc, err := domain.ScopeFromString(s)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}
