// Package app is creditd's configuration and its fx service graph, kept
// apart from main so tests can start the real service.
package app

import (
	"context"
	"log/slog"

	"github.com/uptrace/bun"
	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"

	"github.com/creditd/creditd/adapters/httpapi"
	"github.com/creditd/creditd/adapters/metrics"
	"github.com/creditd/creditd/adapters/portone"
	"github.com/creditd/creditd/adapters/portonev1"
	"github.com/creditd/creditd/adapters/postgres"
	"github.com/creditd/creditd/adapters/system"
	"github.com/creditd/creditd/adapters/webhooksender"
	"github.com/creditd/creditd/adapters/worker"
	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// Options is the whole service graph, for serve and for tests (fx.ValidateApp, fxtest).
func Options(cfg Config, log *slog.Logger) fx.Option {
	return fx.Options(
		fx.WithLogger(func() fxevent.Logger {
			l := &fxevent.SlogLogger{Logger: log}
			l.UseLogLevel(slog.LevelDebug) // wiring details
			// fx returns every failure (New, Start, Stop), and serve reports it
			// once, in one line; logged here too, each came with the whole
			// dependency chain, once per consumer.
			l.UseErrorLevel(slog.LevelDebug)
			return l
		}),
		fx.StopTimeout(cfg.ShutdownTimeout),
		fx.Supply(
			log,
			postgres.Config{URL: cfg.DatabaseURL, MaxConns: cfg.DBMaxConns, WriteLanes: cfg.DBWriteLanes, ReadLanes: cfg.DBReadLanes,
				ConnectTimeout: cfg.DBConnectTimeout, Log: log},
			postgres.MigrateOnStart(cfg.MigrateOnStart),
			httpapi.Config{MaxBodyBytes: cfg.MaxBodyBytes, RequestTimeout: cfg.HTTPRequestTimeout, Version: Version(),
				V1WebhookAllow: cfg.PortOneV1WebhookAllow},
			httpapi.ServerConfig{Addr: cfg.Addr, ReadTimeout: cfg.HTTPReadTimeout, WriteTimeout: cfg.HTTPWriteTimeout,
				IdleTimeout: cfg.HTTPIdleTimeout},
			worker.Config{Interval: cfg.SweepInterval, Batch: cfg.SweepBatch},
			// Events to tenants' webhook endpoints.
			worker.DeliveriesConfig{PollInterval: cfg.EventsPollInterval},
			cfg.Deliveries(),
		),
		fx.Provide(
			fx.Annotate(func() system.Clock { return system.Clock{} }, fx.As(new(application.Clock))),
			fx.Annotate(func() system.UUIDv7 { return system.UUIDv7{} }, fx.As(new(application.IDGenerator))),
			// Every unit of work writes the events of its changes to the
			// outbox, and tells the meter what it committed.
			func(u *postgres.UnitOfWork, m application.Meter, ids application.IDGenerator, clock application.Clock,
				settings *application.Settings) application.UnitOfWork {
				return application.Metered(application.Publishing(u, ids, clock, settings), m)
			},
			// Events no endpoint of the tenant receives are not written.
			func(store application.TenantSettingsStore, subs *postgres.WebhookEndpointStore, clock application.Clock) *application.Settings {
				return application.NewSettings(store, subs, clock)
			},
			// A change of endpoints is seen by this replica's units of work
			// at once, by the others' within the settings' cache time.
			func(settings *application.Settings) application.WebhookEndpointsConfig {
				return application.WebhookEndpointsConfig{URLPolicy: domain.URLPolicy{AllowPrivate: cfg.EventsAllowPrivateURLs},
					Changed: settings.Forget}
			},
			application.NewLotNotices,
			application.NewAccounts,
			application.NewHolds,
			application.NewCatalog,
			application.NewExpiry,
			application.NewAPIKeys,
			func(records application.IdempotencyCleaner, clock application.Clock) *application.IdempotencyJanitor {
				return application.NewIdempotencyJanitor(records, clock, cfg.IdempotencyRetention)
			},
			application.NewReconciliationLog,
			application.NewReports,
			application.NewReversals,
			application.NewWebhookEndpoints,
			application.NewDeliveries,
			fx.Annotate(func() *webhooksender.Sender {
				return webhooksender.New(webhooksender.Config{AllowPrivate: cfg.EventsAllowPrivateURLs, UserAgent: "creditd/" + Version()})
			}, fx.As(new(application.WebhookSender))),
			func() application.ReversalsConfig { return application.ReversalsConfig{Shortfall: cfg.Shortfall()} },
			// Scheduled reconciliation runs take turns across replicas under
			// a PostgreSQL advisory lock.
			func(db *bun.DB) worker.ReconcileConfig {
				return worker.ReconcileConfig{Interval: cfg.ReconcileInterval, Window: cfg.ReconcileWindow,
					Lock: func(ctx context.Context) (func(), bool, error) {
						return postgres.TryAdvisoryLock(ctx, db, postgres.ReconcileLockKey)
					}}
			},
			func(db *bun.DB) httpapi.Readiness {
				return func(ctx context.Context) error { return postgres.Ready(ctx, db) }
			},
		),
		fx.Supply(cfg),
		fx.Invoke(servePprof),
		metrics.Module,
		postgres.Module,
		httpapi.Module,
		worker.Module,
		sellingCredits(cfg),
	)
}

// sellingCredits is the purchase side, when PortOne is configured: the
// gateways (V2, V1 or both), webhook verification, and the orders that
// converge with them.
func sellingCredits(cfg Config) fx.Option {
	if !cfg.SellsCredits() {
		return fx.Options()
	}
	opts := []fx.Option{
		fx.Supply(
			// The webhook inbox: /webhooks/portone stores events, the worker syncs their payments.
			worker.InboxConfig{PollInterval: cfg.WebhookPollInterval},
			application.WebhookConfig{},
		),
		fx.Provide(
			metrics.NewOrderObserver,
			func(obs *metrics.OrderObserver) application.OrdersConfig {
				c := OrdersSettings(cfg)
				c.Observer = obs
				return c
			},
			newPaymentGateways,
			application.NewOrders,
			fx.Annotate(func(o *application.Orders) *application.Orders { return o }, fx.As(new(application.PaymentSyncer))),
			application.NewWebhooks,
			application.NewReconciler,
		),
		worker.ReconcileModule,
	}
	if cfg.SellsThroughV2() {
		opts = append(opts, fx.Supply(PortOneSettings(cfg)), portone.Module)
	} else {
		// V2's webhooks are refused: nothing can sign them.
		opts = append(opts, fx.Supply(fx.Annotate(application.RefuseWebhooks{}, fx.As(new(application.WebhookVerifier)))))
	}
	if cfg.SellsThroughV1() {
		// /webhooks/portone/v1 stores V1's unsigned hints in the same inbox.
		opts = append(opts, fx.Supply(PortOneV1Settings(cfg)), portonev1.Module, fx.Provide(application.NewV1Webhooks))
	}
	return fx.Options(opts...)
}

type gatewayClients struct {
	fx.In

	V2 *portone.Client   `optional:"true"`
	V1 *portonev1.Client `optional:"true"`
}

// newPaymentGateways are the configured gateways' clients.
func newPaymentGateways(c gatewayClients) application.PaymentGateways {
	gws := application.PaymentGateways{}
	if c.V2 != nil {
		gws[domain.GatewayPortOneV2] = c.V2
	}
	if c.V1 != nil {
		gws[domain.GatewayPortOneV1] = c.V1
	}
	return gws
}

// PaymentGateways builds the configured gateways' clients as the service
// does, for admin commands that talk to PortOne (reconcile).
func PaymentGateways(cfg Config) (application.PaymentGateways, error) {
	var c gatewayClients
	var err error
	if cfg.SellsThroughV2() {
		if c.V2, err = portone.New(PortOneSettings(cfg).Client); err != nil {
			return nil, err
		}
	}
	if cfg.SellsThroughV1() {
		if c.V1, err = portonev1.New(PortOneV1Settings(cfg)); err != nil {
			return nil, err
		}
	}
	return newPaymentGateways(c), nil
}

// PortOneSettings are the PortOne client's and the webhook verifier's
// settings, for the service and for admin commands alike.
func PortOneSettings(cfg Config) portone.Settings {
	return portone.Settings{
		Client:         portone.Config{BaseURL: cfg.PortOneAPIURL, APISecret: string(cfg.PortOneAPISecret), StoreID: cfg.PortOneStoreID},
		WebhookSecrets: cfg.PortOneWebhookSecrets,
	}
}

// PortOneV1Settings are the PortOne V1 client's settings.
func PortOneV1Settings(cfg Config) portonev1.Config {
	return portonev1.Config{BaseURL: cfg.PortOneV1APIURL, IMPKey: string(cfg.PortOneV1IMPKey),
		IMPSecret: portonev1.Secret(cfg.PortOneV1IMPSecret), IMPCode: cfg.PortOneV1IMPCode}
}

// OrdersSettings are the purchase use cases' settings.
func OrdersSettings(cfg Config) application.OrdersConfig {
	c := application.OrdersConfig{
		Checkouts:      map[domain.Gateway]application.Checkout{},
		DefaultGateway: cfg.DefaultGateway(),
		CancelRejected: cfg.CancelRejectedPayments,
		Shortfall:      cfg.Shortfall(),
	}
	if cfg.SellsThroughV2() {
		c.Checkouts[domain.GatewayPortOneV2] = application.Checkout{StoreID: cfg.PortOneStoreID, ChannelKey: cfg.PortOneChannelKey}
	}
	if cfg.SellsThroughV1() {
		c.Checkouts[domain.GatewayPortOneV1] = application.Checkout{StoreID: cfg.PortOneV1IMPCode, PG: cfg.PortOneV1PG}
	}
	return c
}
