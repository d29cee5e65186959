// Package httpapi is creditd's HTTP adapter: the JSON API product backends
// call, with API-key auth, idempotent POSTs, RFC 9457 problems, health,
// readiness, Prometheus metrics and the OpenAPI document that describes it.
package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/gin-contrib/requestid"
	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// DefaultMaxBodyBytes bounds request bodies when Config leaves it unset.
const DefaultMaxBodyBytes = 64 << 10

// Config tunes the router.
type Config struct {
	// MaxBodyBytes bounds a request body; larger ones get 413. Zero means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// RequestTimeout bounds the handling of each /v1 request, from its
	// headers on: past it, the request gets 503 unavailable whatever the
	// database is doing. Zero means DefaultRequestTimeout.
	RequestTimeout time.Duration
	// Version names the build in /healthz; empty means "devel".
	Version string
	// V1WebhookAllow, when not empty, are the only addresses that may post
	// PortOne V1 webhooks; others get 403.
	V1WebhookAllow []netip.Prefix
}

// DefaultRequestTimeout is far above the longest legitimate request (the
// group commit's queue under load adds some hundreds of milliseconds) and
// below what clients and load balancers commonly wait (30s or more), so a
// stuck database is reported as a 503 they can act on, not a hang.
const DefaultRequestTimeout = 10 * time.Second

// Readiness reports whether the service can take traffic: the database is
// reachable and its migrations are applied. A nil Readiness means always ready.
type Readiness func(ctx context.Context) error

// Deps is what the router needs. Accounts, Holds, Catalog, APIKeys and
// Clock are required; the rest have defaults.
type Deps struct {
	Accounts *application.Accounts
	Holds    *application.Holds
	Catalog  *application.Catalog
	// Orders is optional: without it (PortOne not configured), the order
	// routes answer 404.
	Orders  *application.Orders
	APIKeys *application.APIKeys
	Clock   application.Clock
	// Logger receives access and error logs; nil logs JSON to stderr.
	Logger *slog.Logger
	// Registerer and Gatherer back /metrics. With both nil the router makes
	// its own registry (with Go and process collectors); a Registerer that is
	// also a Gatherer (a *prometheus.Registry) serves as both.
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
	Config     Config
	Readiness  Readiness
	// Webhooks, when set, receives PortOne's webhooks at POST /webhooks/portone.
	Webhooks *application.Webhooks
	// V1Webhooks, when set, receives PortOne V1's at POST /webhooks/portone/v1.
	V1Webhooks *application.V1Webhooks

	// Reconciliations is optional: without it, /v1/reconciliation/reports answers 404.
	Reconciliations *application.ReconciliationLog

	// Reports is optional: without it, /v1/reports/summary answers 404.
	Reports *application.Reports
	// Reversals is optional: without it, /v1/transactions/{id}/reversals answers 404.
	Reversals *application.Reversals
	// WebhookEndpoints is optional: without it, /v1/webhook-endpoints answers 404.
	WebhookEndpoints *application.WebhookEndpoints
	// Settings is optional: without it, the event settings routes answer 404.
	Settings *application.Settings
}

// NewRouter builds the API. It panics on a missing required dependency or a
// metrics name clash, both programming errors found at startup.
func NewRouter(deps Deps) *gin.Engine {
	if deps.Accounts == nil || deps.Holds == nil || deps.Catalog == nil || deps.APIKeys == nil || deps.Clock == nil {
		panic("httpapi: Deps.Accounts, Holds, Catalog, APIKeys and Clock are required")
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	if deps.Config.Version == "" {
		deps.Config.Version = "devel"
	}
	if deps.Config.MaxBodyBytes <= 0 {
		deps.Config.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if deps.Config.RequestTimeout <= 0 {
		deps.Config.RequestTimeout = DefaultRequestTimeout
	}
	reg, gatherer := deps.Registerer, deps.Gatherer
	if reg == nil && gatherer == nil {
		r := prometheus.NewRegistry()
		r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		reg, gatherer = r, r
	}
	if g, ok := reg.(prometheus.Gatherer); ok && gatherer == nil {
		gatherer = g
	}
	if reg == nil || gatherer == nil {
		panic("httpapi: give Deps both a Registerer and a Gatherer, or neither")
	}
	m, err := newMetrics(reg)
	if err != nil {
		panic(fmt.Sprintf("httpapi: register metrics: %v", err))
	}

	gin.SetMode(gin.ReleaseMode) // no debug route dump or warnings on stdout
	e := gin.New()
	// Match routes on the escaped path, so an account id such as "team/42"
	// sent as "team%2F42" is one segment, and unescape parameters afterwards
	// as a path (unescapePathParams), not as gin does, as a query.
	e.UseEscapedPath = true
	e.UnescapePathValues = false
	// Clients are programs: answer 404/405 problems rather than redirects.
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false
	e.HandleMethodNotAllowed = true
	_ = e.SetTrustedProxies(nil) // nothing here reads the client IP

	log := deps.Logger
	e.Use(dropBadRequestID, requestID(), accessLog(log, m), recovery(log), mapErrors(log),
		unescapePathParams, limitBody(deps.Config.MaxBodyBytes))
	e.NoRoute(func(c *gin.Context) { _ = c.Error(errRouteNotFound) })
	e.NoMethod(func(c *gin.Context) { _ = c.Error(errMethodNotAllowed) })

	e.GET("/healthz", healthz(deps.Config.Version))
	e.GET("/readyz", readyz(deps.Readiness, log))
	e.GET("/metrics", gin.WrapH(promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{})))
	e.GET("/openapi.yaml", serveOpenAPI)
	if deps.Webhooks != nil {
		wm, err := newWebhookMetrics(reg)
		if err != nil {
			panic(fmt.Sprintf("httpapi: register webhook metrics: %v", err))
		}
		wh := &webhookHandler{webhooks: deps.Webhooks, metrics: wm}
		e.POST("/webhooks/portone", withDeadline(deps.Config.RequestTimeout), wh.receivePortOne)
	}
	if deps.V1Webhooks != nil {
		v1h, err := newV1WebhookHandler(deps.V1Webhooks, deps.Config.V1WebhookAllow, reg)
		if err != nil {
			panic(fmt.Sprintf("httpapi: register V1 webhook metrics: %v", err))
		}
		e.POST("/webhooks/portone/v1", withDeadline(deps.Config.RequestTimeout), v1h.receive)
	}

	h := &handlers{accounts: deps.Accounts, holds: deps.Holds, clock: deps.Clock}
	v1 := e.Group("/v1", withDeadline(deps.Config.RequestTimeout), authenticate(deps.APIKeys))
	read := v1.Group("", requireScope(domain.ScopeRead))
	write := v1.Group("", requireScope(domain.ScopeWrite), requireIdempotencyKey)

	read.GET("/accounts/:accountId", h.getAccount)
	read.GET("/accounts/:accountId/transactions", h.listTransactions)
	write.POST("/accounts/:accountId/grants", h.grant)
	write.POST("/accounts/:accountId/spends", h.spend)
	write.POST("/accounts/:accountId/holds", h.placeHold)
	read.GET("/holds/:holdId", h.getHold)
	// Lookups (issue 10 §2).
	read.GET("/accounts", h.listAccounts)
	read.GET("/accounts/:accountId/holds", h.listHolds)
	read.GET("/accounts/:accountId/expiring", h.expiring)
	read.GET("/transactions/:transactionId", h.getTransaction)
	read.GET("/lots", h.listLots)
	write.POST("/holds/:holdId/capture", h.captureHold)
	write.POST("/holds/:holdId/release", h.releaseHold)
	write.POST("/holds/:holdId/extend", h.extendHold)

	// Any key of the tenant reads the catalog: a backend that only sells
	// (orders:write) must see what it sells.
	catalog := &catalogHandlers{catalog: deps.Catalog}
	catalogWrite := v1.Group("", requireScope(domain.ScopeCatalogWrite))
	v1.GET("/products", catalog.list)
	v1.GET("/products/:productId", catalog.get)
	catalogWrite.POST("/products", catalog.create)
	catalogWrite.PATCH("/products/:productId", catalog.change)

	if deps.Orders != nil {
		o := &orderHandlers{orders: deps.Orders, log: log}
		readOrders := v1.Group("", requireScope(domain.ScopeOrdersRead))
		writeOrders := v1.Group("", requireScope(domain.ScopeOrdersWrite))
		writeOrders.POST("/orders", requireIdempotencyKey, o.create)
		readOrders.GET("/orders", o.list)
		readOrders.GET("/orders/:paymentId", o.get)
		writeOrders.POST("/orders/:paymentId/complete", o.complete)
		readOrders.GET("/orders/:paymentId/refund-quote", o.refundQuote)
		writeOrders.POST("/orders/:paymentId/refunds", requireIdempotencyKey, o.refund)
	}
	if deps.Reversals != nil {
		rv := &reversalHandlers{reversals: deps.Reversals}
		write.POST("/transactions/:transactionId/reversals", rv.reverse)
	}
	if deps.Settings != nil {
		s := &settingsHandlers{settings: deps.Settings, accounts: deps.Accounts}
		v1.GET("/event-settings", requireScope(domain.ScopeEventsRead), s.get)
		v1.PUT("/event-settings", requireScope(domain.ScopeEventsWrite), s.put)
		v1.PUT("/accounts/:accountId/settings", requireScope(domain.ScopeWrite), s.putAccount)
	}
	if deps.Reconciliations != nil {
		r := &reconciliationHandlers{log: deps.Reconciliations}
		v1.GET("/reconciliation/reports", requireScope(domain.ScopeOrdersRead), r.list)
	}
	if deps.Reports != nil {
		// Finance reads credits and the money they were bought with: a key
		// that may read either (credits:read or orders:read) may read it.
		r := &reportHandlers{reports: deps.Reports}
		v1.GET("/reports/summary", requireAnyScope(domain.ScopeRead, domain.ScopeOrdersRead), r.summary)
	}
	if deps.WebhookEndpoints != nil {
		w := &webhookEndpointHandlers{endpoints: deps.WebhookEndpoints}
		readEvents := v1.Group("", requireScope(domain.ScopeEventsRead))
		writeEvents := v1.Group("", requireScope(domain.ScopeEventsWrite))
		writeEvents.POST("/webhook-endpoints", w.create)
		readEvents.GET("/webhook-endpoints", w.list)
		readEvents.GET("/webhook-endpoints/:endpointId", w.get)
		writeEvents.DELETE("/webhook-endpoints/:endpointId", w.delete)
		readEvents.GET("/webhook-endpoints/:endpointId/deliveries", w.deliveries)
		writeEvents.POST("/webhook-endpoints/:endpointId/deliveries/:deliveryId/redeliver", w.redeliver)
	}
	return e
}

// requestID is built once per process: requestid.New writes a package
// variable that every request reads, so building a second router while one
// serves would race.
var requestID = sync.OnceValue(func() gin.HandlerFunc { return requestid.New() })
