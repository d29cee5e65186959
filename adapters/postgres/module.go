package postgres

import (
	"context"
	"log/slog"

	"github.com/uptrace/bun"
	"go.uber.org/fx"

	"github.com/creditd/creditd/application"
)

// Module provides the database and binds this adapter to the application's
// ports. It needs a Config, a *slog.Logger and, when MigrateOnStart, applies
// pending migrations before anything else uses the database.
var Module = fx.Module("postgres",
	fx.Provide(
		newLifecycleDB,
		fx.Annotate(NewUnitOfWork, fx.As(new(application.UnitOfWork))),
		NewRepos,
		fx.Annotate(NewAPIKeyStore, fx.As(new(application.APIKeyStore))),
		fx.Annotate(NewAuditor, fx.As(new(application.Auditor))),
	),
)

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
