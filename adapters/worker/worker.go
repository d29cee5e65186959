// Package worker drives the application's background work on a timer:
// expiring holds and lots, and forgetting old idempotency records. Every
// sweep is safe to run in several replicas at once.
package worker

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/creditd/creditd/application"
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
	log     *slog.Logger

	stop chan struct{}
	done sync.WaitGroup
}

// New builds a worker; Start begins the sweeps.
func New(cfg Config, expiry *application.Expiry, janitor *application.IdempotencyJanitor, log *slog.Logger) *Worker {
	return &Worker{cfg: cfg, expiry: expiry, janitor: janitor, log: log, stop: make(chan struct{})}
}

// Start runs the sweeps every Interval in the background.
func (w *Worker) Start(context.Context) error {
	if w.cfg.Interval <= 0 {
		return nil
	}
	w.done.Add(1)
	go func() {
		defer w.done.Done()
		t := time.NewTicker(w.cfg.Interval)
		defer t.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-t.C:
				w.SweepOnce(context.Background())
			}
		}
	}()
	return nil
}

// Stop ends the sweeps, waiting for a running one to finish.
func (w *Worker) Stop(context.Context) error {
	close(w.stop)
	w.done.Wait()
	return nil
}

// SweepOnce runs every sweep once, each until a batch comes back short.
func (w *Worker) SweepOnce(ctx context.Context) {
	w.drain(ctx, "expire holds", w.expiry.ExpireHolds)
	w.drain(ctx, "expire lots", w.expiry.ExpireLots)
	if n, err := w.janitor.Sweep(ctx); err != nil {
		w.log.Error("forget idempotency records", "err", err)
	} else if n > 0 {
		w.log.Info("forgot idempotency records", "count", n)
	}
}

func (w *Worker) drain(ctx context.Context, what string, sweep func(context.Context, int) (application.Sweep, error)) {
	for {
		s, err := sweep(ctx, w.cfg.Batch)
		if err != nil {
			w.log.Error(what, "err", err)
			return
		}
		if s.Changed > 0 {
			w.log.Info(what, "wallets", s.Changed)
		}
		if s.Due < w.cfg.Batch { // a short batch: nothing more is due
			return
		}
	}
}
