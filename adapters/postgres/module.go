package postgres

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/uptrace/bun"
	"go.uber.org/fx"

	"github.com/creditd/creditd/application"
)

// Module provides the database and binds this adapter to the application's
// ports; the unit of work comes as *UnitOfWork, for the caller to meter. It
// needs a Config, a Clock and a *slog.Logger, registers its metrics when a
// prometheus.Registerer is provided, and, when MigrateOnStart, applies
// pending migrations before anything else uses the database.
var Module = fx.Module("postgres",
	fx.Provide(
		newLifecycleDB,
		NewUnitOfWork,
		NewQueries,
		NewIdempotencyCleaner,
		fx.Annotate(NewAPIKeyStore, fx.As(new(application.APIKeyStore))),
		fx.Annotate(NewProductStore, fx.As(new(application.ProductStore))),
		fx.Annotate(NewSettingsStore, fx.As(new(application.TenantSettingsStore))),
		fx.Annotate(NewLotNoticeStore, fx.As(new(application.LotExpiryNotices))),
		fx.Annotate(NewWebhookInbox, fx.As(new(application.WebhookInbox))),
		fx.Annotate(NewAuditor, fx.As(new(application.Auditor))),
		fx.Annotate(NewReconciliationStore, fx.As(new(application.ReconciliationReports))),
		fx.Annotate(NewWebhookEndpointStore, fx.As(new(application.WebhookEndpointStore)), fx.As(fx.Self())),
		fx.Annotate(NewDeliveryStore, fx.As(new(application.DeliveryStore))),
	),
	fx.Invoke(registerMetrics),
)

type metricsParams struct {
	fx.In
	DB         *bun.DB
	UnitOfWork *UnitOfWork
	Registerer prometheus.Registerer `optional:"true"`
}

func registerMetrics(p metricsParams) error {
	if p.Registerer == nil {
		return nil
	}
	for _, c := range Collectors(p.DB, p.UnitOfWork) {
		if err := p.Registerer.Register(c); err != nil {
			return fmt.Errorf("register the database metrics: %w", err)
		}
	}
	return nil
}

// MigrateOnStart says whether serving applies pending migrations first.
type MigrateOnStart bool

func newLifecycleDB(lc fx.Lifecycle, cfg Config, migrate MigrateOnStart, log *slog.Logger) (*bun.DB, error) {
	ctx := context.Background()
	if cfg.Log == nil {
		cfg.Log = log
	}
	db, err := Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	lc.Append(fx.StopHook(db.Close))
	if migrate {
		applied, err := Migrate(ctx, db)
		if err != nil {
			return nil, err
		}
		log.Info("database migrated", "applied", applied)
	}
	return db, nil
}
