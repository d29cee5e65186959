// Package worker drives the application's background work on a timer:
// expiring holds and lots, telling accounts of lots about to expire, and
// forgetting old idempotency records. Every
// sweep is safe to run in several replicas at once.
package worker

import (
	"context"
	"log/slog"
	"time"

	"github.com/creditd/creditd/application"
	"github.com/prometheus/client_golang/prometheus"
)

// Config sets how often the sweeps run; zero Interval disables them.
type Config struct {
	Interval time.Duration
	Batch    int
}

// Worker runs the sweeps until stopped.
type Worker struct {
	cfg     Config
	expiry  *application.Expiry
	janitor *application.IdempotencyJanitor
	notices *application.LotNotices // nil: no lots.expiring events
	clock   application.Clock
	log     *slog.Logger
	metrics metrics

	loop loop
}

// New builds a worker; Start begins the sweeps.
func New(cfg Config, expiry *application.Expiry, janitor *application.IdempotencyJanitor, notices *application.LotNotices,
	clock application.Clock, log *slog.Logger) *Worker {
	return &Worker{cfg: cfg, expiry: expiry, janitor: janitor, notices: notices, clock: clock, log: log, metrics: newMetrics()}
}

// metrics say how the sweeps go. Each sweep is a label value from a closed set.
type metrics struct {
	runs    *prometheus.CounterVec // by sweep and outcome (ok, error)
	changed *prometheus.CounterVec // wallets changed (or records forgotten), by sweep
	lag     *prometheus.GaugeVec   // how long the oldest due item had waited when its sweep began
}

// The sweeps, the closed set of the sweep label.
const (
	sweepHolds       = "expire_holds"
	sweepLots        = "expire_lots"
	sweepIdempotency = "forget_idempotency_records"
	sweepLotNotices  = "notice_expiring_lots"
)

func newMetrics() metrics {
	return metrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "creditd", Subsystem: "sweep", Name: "runs_total",
			Help: "Sweep runs, by sweep (expire_holds, expire_lots, notice_expiring_lots, forget_idempotency_records) and outcome (ok, error)."}, []string{"sweep", "outcome"}),
		changed: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "creditd", Subsystem: "sweep", Name: "changed_total",
			Help: "Wallets a sweep changed, lots it told of, or idempotency records it forgot, by sweep."}, []string{"sweep"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "creditd", Subsystem: "sweep", Name: "lag_seconds",
			Help: "How long the longest overdue item had been due when its sweep last ran (0: nothing was due), by sweep."}, []string{"sweep"}),
	}
}

// Collectors are the worker's metrics.
func (w *Worker) Collectors() []prometheus.Collector {
	return []prometheus.Collector{w.metrics.runs, w.metrics.changed, w.metrics.lag}
}

// Start runs the sweeps every Interval in the background.
func (w *Worker) Start(context.Context) error {
	if w.cfg.Interval <= 0 {
		return nil
	}
	w.loop.start(w.cfg.Interval, false, w.SweepOnce)
	return nil
}

// Stop ends the sweeps, waiting for a running one to finish.
func (w *Worker) Stop(context.Context) error {
	w.loop.halt()
	return nil
}

// SweepOnce runs every sweep once, each until a batch comes back short.
func (w *Worker) SweepOnce(ctx context.Context) {
	w.drain(ctx, sweepHolds, w.expiry.ExpireHolds)
	w.drain(ctx, sweepLots, w.expiry.ExpireLots)
	if w.notices != nil {
		w.drain(ctx, sweepLotNotices, w.notices.Sweep)
	}
	n, err := w.janitor.Sweep(ctx)
	w.count(sweepIdempotency, err)
	if err != nil {
		w.log.Error("sweep failed", "sweep", sweepIdempotency, "err", err)
		return
	}
	w.metrics.changed.WithLabelValues(sweepIdempotency).Add(float64(n))
	if n > 0 {
		w.log.Info("forgot idempotency records", "count", n)
	}
}

func (w *Worker) count(sweep string, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	w.metrics.runs.WithLabelValues(sweep, outcome).Inc()
}

// drain runs a sweep until a batch comes back short. Its lag is measured on
// the first batch, which holds the longest overdue items.
func (w *Worker) drain(ctx context.Context, name string, sweep func(context.Context, int) (application.Sweep, error)) {
	for first := true; ; first = false {
		s, err := sweep(ctx, w.cfg.Batch)
		w.count(name, err)
		if err != nil {
			w.log.Error("sweep failed", "sweep", name, "err", err)
			return
		}
		if first {
			lag := 0.0
			if !s.OldestDue.IsZero() {
				lag = max(w.clock.Now().Sub(s.OldestDue).Seconds(), 0)
			}
			w.metrics.lag.WithLabelValues(name).Set(lag)
		}
		w.metrics.changed.WithLabelValues(name).Add(float64(s.Changed))
		if s.Changed > 0 {
			w.log.Info("swept", "sweep", name, "wallets", s.Changed)
		}
		if s.Due < w.cfg.Batch { // a short batch: nothing more is due
			return
		}
	}
}
