package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/creditd/creditd/adapters/httpapi"
	"github.com/creditd/creditd/adapters/memory"
	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

var start = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// harness is the router over an in-memory store, a stopped clock and
// deterministic ids, with API keys for two tenants.
type harness struct {
	t        *testing.T
	store    *memory.Store
	clock    *memory.FixedClock
	ids      *memory.SequentialIDs
	apiKeys  *application.APIKeys
	accounts *application.Accounts
	holds    *application.Holds
	catalog  *application.Catalog
	orders   *application.Orders
	gateway  *fakeGateway // the payment gateway the orders pay through (PortOne V2)
	v1       *fakeGateway // PortOne V1's
	router   *gin.Engine
	logs     *syncBuffer
	reports  *memory.ReconciliationReports
	ready    atomic.Pointer[error]

	keyA, keyB  string // read+write keys of tenants "alpha" and "beta"
	readOnlyA   string
	writeOnlyA  string
	idemCounter atomic.Int64
	// onExchange, when set, sees every request sent through do with its
	// body and response, to check them against the OpenAPI document.
	onExchange func(r *http.Request, body string, w *httptest.ResponseRecorder)
	// inbox keeps the webhooks the router receives, verified with webhookSecrets.
	inbox *memory.WebhookInbox
	// webhooks keeps webhook endpoints and their deliveries of store's events.
	webhooks *memory.Webhooks
}

// ordersConfig is how the harness sells: through the fake gateway's store
// and channel, cancelling rejected payments, clawing back into debt.
var ordersConfig = application.OrdersConfig{Checkouts: map[domain.Gateway]application.Checkout{
	domain.GatewayPortOneV2: {StoreID: testStoreID, ChannelKey: testChannelKey},
	domain.GatewayPortOneV1: {StoreID: testIMPCode, PG: testPG},
},
	CancelRejected: true, Shortfall: domain.ShortfallDebt}

// reversalsConfig takes a reversed grant's spent part as debt, as orders do.
var reversalsConfig = application.ReversalsConfig{Shortfall: domain.ShortfallDebt}

type harnessOption func(*httpapi.Deps, *harness)

// withKeyStore wraps the API key store, to inject failures.
func withKeyStore(wrap func(application.APIKeyStore) application.APIKeyStore) harnessOption {
	return func(d *httpapi.Deps, h *harness) {
		d.APIKeys = application.NewAPIKeys(wrap(h.store.APIKeys()), h.clock, h.ids)
	}
}

func withMaxBody(n int64) harnessOption {
	return func(d *httpapi.Deps, _ *harness) { d.Config.MaxBodyBytes = n }
}

func newHarness(t *testing.T, opts ...harnessOption) *harness {
	t.Helper()
	store, clock, ids := memory.NewStore(), memory.NewFixedClock(start), &memory.SequentialIDs{}
	h := &harness{t: t, store: store, clock: clock, ids: ids, logs: &syncBuffer{}, reports: memory.NewReconciliationReports(),
		apiKeys:  application.NewAPIKeys(store.APIKeys(), clock, ids),
		accounts: application.NewAccounts(store.UnitOfWork(), store.Queries(), clock, ids),
		holds:    application.NewHolds(store.UnitOfWork(), store.Queries(), clock, ids),
		catalog:  application.NewCatalog(store.Products(), clock),
		gateway:  newFakeGateway(),
		v1:       &fakeGateway{memory.NewV1Gateway()},
	}
	h.orders = application.NewOrders(store.UnitOfWork(), store.Queries(), store.Products(),
		application.PaymentGateways{domain.GatewayPortOneV2: h.gateway, domain.GatewayPortOneV1: h.v1}, clock, ids, ordersConfig)
	h.keyA = h.issueKey("alpha")
	h.keyB = h.issueKey("beta")
	h.readOnlyA = h.issueKey("alpha", domain.ScopeRead)
	h.writeOnlyA = h.issueKey("alpha", domain.ScopeWrite)

	h.inbox = memory.NewWebhookInbox()
	h.webhooks = memory.NewWebhooks(store)
	deps := httpapi.Deps{Accounts: h.accounts, Holds: h.holds, Catalog: h.catalog, Orders: h.orders, APIKeys: h.apiKeys, Clock: clock,
		Webhooks:   application.NewWebhooks(newWebhookVerifier(), h.inbox, noSyncer{}, clock, application.WebhookConfig{}),
		V1Webhooks: application.NewV1Webhooks(h.inbox, store.Queries(), clock),
		Logger:     slog.New(slog.NewJSONHandler(h.logs, nil)),
		Registerer: prometheus.NewRegistry(),
		Readiness: func(context.Context) error {
			if err := h.ready.Load(); err != nil {
				return *err
			}
			return nil
		},
		Reconciliations: application.NewReconciliationLog(h.reports),
		Reports:         application.NewReports(store.Queries()),
		Reversals:       application.NewReversals(store.UnitOfWork(), store.Queries(), clock, ids, reversalsConfig),
		WebhookEndpoints: application.NewWebhookEndpoints(h.webhooks, h.webhooks, clock, ids,
			application.WebhookEndpointsConfig{URLPolicy: domain.URLPolicy{AllowPrivate: false}}),
		Settings: application.NewSettings(store.Settings(), nil, clock),
	}
	for _, o := range opts {
		o(&deps, h)
	}
	h.router = httpapi.NewRouter(deps)
	t.Cleanup(func() { h.assertSound() })
	return h
}

func (h *harness) issueKey(tenant string, scopes ...domain.Scope) string {
	h.t.Helper()
	name, err := domain.ParseTenantName(tenant)
	require.NoError(h.t, err)
	k, err := h.apiKeys.Create(context.Background(), name, scopes)
	require.NoError(h.t, err)
	return k.Secret
}

// assertSound audits the ledger: every scenario must leave it balanced.
func (h *harness) assertSound() {
	h.t.Helper()
	report, err := h.store.Auditor().Audit(context.Background())
	require.NoError(h.t, err)
	require.Empty(h.t, report.Drifts, "ledger drift")
}

type httpRecorder = httptest.ResponseRecorder

type reqOption func(*http.Request)

func withKey(key string) reqOption {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+key) }
}

func withHeader(name, value string) reqOption {
	return func(r *http.Request) { r.Header.Set(name, value) }
}

func withoutHeader(name string) reqOption {
	return func(r *http.Request) { r.Header.Del(name) }
}

func withIdem(key string) reqOption { return withHeader("Idempotency-Key", key) }

// withStalledBody sends a body whose reading fails as it does on a real
// connection once the server's read timeout has passed.
func withStalledBody(r *http.Request) {
	r.ContentLength = -1
	r.Body = io.NopCloser(io.MultiReader(strings.NewReader(`{"amo`), stalledReader{}))
}

type stalledReader struct{}

func (stalledReader) Read([]byte) (int, error) {
	return 0, &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
}

// do sends a request as tenant alpha; POSTs get a JSON content type and a
// fresh Idempotency-Key, PATCHes and PUTs a JSON content type, unless options say otherwise.
func (h *harness) do(method, path, body string, opts ...reqOption) *httptest.ResponseRecorder {
	h.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, path, rd)
	r.Header.Set("Authorization", "Bearer "+h.keyA)
	if method == http.MethodPost {
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Idempotency-Key", fmt.Sprintf("key-%d", h.idemCounter.Add(1)))
	}
	if method == http.MethodPatch || method == http.MethodPut {
		r.Header.Set("Content-Type", "application/json")
	}
	for _, o := range opts {
		o(r)
	}
	w := httptest.NewRecorder()
	h.router.ServeHTTP(w, r)
	if h.onExchange != nil {
		h.onExchange(r, body, w)
	}
	return w
}

func (h *harness) get(path string, opts ...reqOption) *httptest.ResponseRecorder {
	h.t.Helper()
	return h.do(http.MethodGet, path, "", opts...)
}

func (h *harness) post(path, body string, opts ...reqOption) *httptest.ResponseRecorder {
	h.t.Helper()
	return h.do(http.MethodPost, path, body, opts...)
}

func (h *harness) put(path, body string, opts ...reqOption) *httptest.ResponseRecorder {
	h.t.Helper()
	return h.do(http.MethodPut, path, body, opts...)
}

// must asserts the status and returns the decoded JSON body.
func (h *harness) must(w *httptest.ResponseRecorder, status int) map[string]any {
	h.t.Helper()
	require.Equal(h.t, status, w.Code, "body: %s", w.Body.String())
	var out map[string]any
	require.NoError(h.t, json.Unmarshal(w.Body.Bytes(), &out), "body: %s", w.Body.String())
	return out
}

// grant gives alpha's account amount bonus credits through the API.
func (h *harness) grant(account, amount string) map[string]any {
	h.t.Helper()
	return h.must(h.post("/v1/accounts/"+account+"/grants", fmt.Sprintf(`{"amount":%q,"source":"bonus"}`, amount)), http.StatusCreated)
}

// placeHold reserves amount on alpha's account for an hour and returns the hold id.
func (h *harness) placeHold(account, amount string) string {
	h.t.Helper()
	body := h.must(h.post("/v1/accounts/"+account+"/holds", fmt.Sprintf(`{"amount":%q,"expiresInSeconds":3600}`, amount)), http.StatusCreated)
	return body["id"].(string)
}

// assertProblem checks a problem+json response of the given status and type slug.
func assertProblem(t *testing.T, w *httptest.ResponseRecorder, status int, slug string) map[string]any {
	t.Helper()
	require.Equal(t, status, w.Code, "body: %s", w.Body.String())
	require.Equal(t, "application/problem+json", w.Header().Get("Content-Type"))
	var p map[string]any
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &p))
	require.Equal(t, "https://creditd.dev/problems/"+slug, p["type"], "body: %s", w.Body.String())
	require.EqualValues(t, status, p["status"])
	require.NotEmpty(t, p["title"])
	require.NotEmpty(t, p["detail"])
	require.NotEmpty(t, p["instance"])
	return p
}

// ledgerSnapshot is everything a client or an auditor can see of the given
// accounts and holds, to show that a refused request changed nothing.
// refusedPost is a POST that must be refused with a problem and change nothing.
type refusedPost struct {
	name, path, body string
	opts             []reqOption
	status           int
	slug             string
	field            string // the member errors[0] names, when set
}

// requireRefused sends each POST, checks its problem, and checks that state
// (say, a ledgerSnapshot) reads as it did before the first.
func (h *harness) requireRefused(t *testing.T, cases []refusedPost, state func() string) {
	t.Helper()
	before := state()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := h.post(tc.path, tc.body, tc.opts...)
			p := assertProblem(t, w, tc.status, tc.slug)
			if tc.field != "" {
				require.NotEmpty(t, p["errors"], "body: %s", w.Body.String())
				assert.Equal(t, tc.field, p["errors"].([]any)[0].(map[string]any)["field"], "body: %s", w.Body.String())
			}
			assert.Equal(t, before, state(), "the ledger changed")
		})
	}
}

func (h *harness) ledgerSnapshot(accounts []string, holds []string) string {
	h.t.Helper()
	report, err := h.store.Auditor().Audit(context.Background())
	require.NoError(h.t, err)
	var b strings.Builder
	fmt.Fprintf(&b, "wallets=%d transactions=%d drifts=%v\n", report.Wallets, report.Transactions, report.Drifts)
	for _, a := range accounts {
		for _, p := range []string{"/v1/accounts/" + a, "/v1/accounts/" + a + "/transactions?limit=200"} {
			w := h.get(p)
			fmt.Fprintf(&b, "%s %d %s\n", p, w.Code, w.Body.String())
		}
	}
	for _, id := range holds {
		w := h.get("/v1/holds/" + id)
		fmt.Fprintf(&b, "hold %s %d %s\n", id, w.Code, w.Body.String())
	}
	return b.String()
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// logLines decodes the JSON log lines written so far.
func (h *harness) logLines() []map[string]any {
	h.t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(h.logs.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		require.NoError(h.t, json.Unmarshal([]byte(line), &m), "log line %q", line)
		out = append(out, m)
	}
	return out
}
