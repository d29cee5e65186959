// Package app is creditd's configuration and its fx service graph, kept
// apart from main so tests can start the real service.
package app

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/uptrace/bun"
	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"

	"github.com/creditd/creditd/adapters/httpapi"
	"github.com/creditd/creditd/adapters/postgres"
	"github.com/creditd/creditd/adapters/system"
	"github.com/creditd/creditd/adapters/worker"
	"github.com/creditd/creditd/application"
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
			httpapi.Config{MaxBodyBytes: cfg.MaxBodyBytes, Version: Version()},
			httpapi.ServerConfig{Addr: cfg.Addr},
			worker.Config{Interval: cfg.SweepInterval, Batch: cfg.SweepBatch},
		),
		fx.Provide(
			fx.Annotate(func() system.Clock { return system.Clock{} }, fx.As(new(application.Clock))),
			fx.Annotate(func() system.UUIDv7 { return system.UUIDv7{} }, fx.As(new(application.IDGenerator))),
			application.NewAccounts,
			application.NewHolds,
			application.NewExpiry,
			application.NewAPIKeys,
			func(reads application.Repos, clock application.Clock) *application.IdempotencyJanitor {
				return application.NewIdempotencyJanitor(reads, clock, cfg.IdempotencyRetention)
			},
			func(db *bun.DB) httpapi.Readiness {
				return func(ctx context.Context) error { return postgres.Ready(ctx, db) }
			},
			newMetricsRegistry,
		),
		fx.Supply(cfg),
		fx.Invoke(servePprof),
		postgres.Module,
		httpapi.Module,
		worker.Module,
	)
}

// newMetricsRegistry is the registry /metrics serves, with Go and process metrics.
func newMetricsRegistry() (prometheus.Registerer, prometheus.Gatherer) {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r, r
}
