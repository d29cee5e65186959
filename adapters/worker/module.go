package worker

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"
)

// Module starts and stops the worker with the application, and registers its
// metrics when a prometheus.Registerer is provided.
var Module = fx.Module("worker",
	fx.Provide(New),
	fx.Invoke(func(lc fx.Lifecycle, w *Worker) { lc.Append(fx.StartStopHook(w.Start, w.Stop)) }),
	fx.Invoke(registerMetrics),
)

type metricsParams struct {
	fx.In
	Worker     *Worker
	Registerer prometheus.Registerer `optional:"true"`
}

func registerMetrics(p metricsParams) error {
	if p.Registerer == nil {
		return nil
	}
	for _, c := range p.Worker.Collectors() {
		if err := p.Registerer.Register(c); err != nil {
			return fmt.Errorf("register the sweep metrics: %w", err)
		}
	}
	return nil
}

// ReconcileModule runs reconciliation on a timer with the application, and
// registers its metrics when a prometheus.Registerer is provided. It needs
// a *application.Reconciler and a ReconcileConfig.
var ReconcileModule = fx.Module("reconcile",
	fx.Provide(NewReconciliation),
	fx.Invoke(func(lc fx.Lifecycle, w *Reconciliation) { lc.Append(fx.StartStopHook(w.Start, w.Stop)) }),
	fx.Invoke(registerReconcileMetrics),
)

type reconcileMetricsParams struct {
	fx.In
	Reconciliation *Reconciliation
	Registerer     prometheus.Registerer `optional:"true"`
}

func registerReconcileMetrics(p reconcileMetricsParams) error {
	if p.Registerer == nil {
		return nil
	}
	for _, c := range p.Reconciliation.Collectors() {
		if err := p.Registerer.Register(c); err != nil {
			return fmt.Errorf("register the reconciliation metrics: %w", err)
		}
	}
	return nil
}
