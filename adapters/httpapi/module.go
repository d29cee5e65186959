package httpapi

import (
	"log/slog"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"

	"github.com/creditd/creditd/application"
)

// Module provides the router and the server and ties the server to the app's
// lifecycle. It needs the Accounts, Holds, Catalog and APIKeys use cases and a Clock;
// a *slog.Logger, Config, ServerConfig, Readiness, a Prometheus
// Registerer/Gatherer, and the Orders and Webhooks use cases are used when provided.
var Module = fx.Module("httpapi",
	fx.Provide(newRouterFx, newServerFx),
	fx.Invoke(registerServerHooks),
)

type routerParams struct {
	fx.In

	Accounts   *application.Accounts
	Holds      *application.Holds
	Catalog    *application.Catalog
	Orders     *application.Orders `optional:"true"`
	APIKeys    *application.APIKeys
	Clock      application.Clock
	Logger     *slog.Logger          `optional:"true"`
	Registerer prometheus.Registerer `optional:"true"`
	Gatherer   prometheus.Gatherer   `optional:"true"`
	Config     Config                `optional:"true"`
	Readiness  Readiness             `optional:"true"`
	// Webhooks is provided once a verifier and a payment syncer are wired.
	Webhooks *application.Webhooks `optional:"true"`
	// V1Webhooks is provided when PortOne V1 is configured.
	V1Webhooks *application.V1Webhooks `optional:"true"`
	// Reconciliations serves /v1/reconciliation/reports when provided.
	Reconciliations *application.ReconciliationLog `optional:"true"`
	// Reports serves /v1/reports/summary when provided.
	Reports *application.Reports `optional:"true"`
	// Reversals serves /v1/transactions/{transactionId}/reversals when provided.
	Reversals *application.Reversals `optional:"true"`
	// WebhookEndpoints serves /v1/webhook-endpoints when provided.
	WebhookEndpoints *application.WebhookEndpoints `optional:"true"`
	// Settings serves the event settings routes when provided.
	Settings *application.Settings `optional:"true"`
}

func newRouterFx(p routerParams) *gin.Engine {
	return NewRouter(Deps{Accounts: p.Accounts, Holds: p.Holds, Catalog: p.Catalog, Orders: p.Orders, APIKeys: p.APIKeys, Clock: p.Clock, Logger: p.Logger,
		Registerer: p.Registerer, Gatherer: p.Gatherer, Config: p.Config, Readiness: p.Readiness, Webhooks: p.Webhooks, V1Webhooks: p.V1Webhooks,
		Reconciliations: p.Reconciliations, Reports: p.Reports, Reversals: p.Reversals, Settings: p.Settings,
		WebhookEndpoints: p.WebhookEndpoints})
}

type serverParams struct {
	fx.In

	Config     ServerConfig `optional:"true"`
	Router     *gin.Engine
	Logger     *slog.Logger `optional:"true"`
	Shutdowner fx.Shutdowner
}

// newServerFx shuts the whole app down when serving fails, rather than
// leaving a process that runs but no longer answers.
func newServerFx(p serverParams) *Server {
	return NewServer(p.Config, p.Router, p.Logger, func(error) { _ = p.Shutdowner.Shutdown(fx.ExitCode(1)) })
}

func registerServerHooks(lc fx.Lifecycle, s *Server) {
	lc.Append(fx.Hook{OnStart: s.Start, OnStop: s.Stop})
}
