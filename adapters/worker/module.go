package worker

import (
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"

	"github.com/creditd/creditd/application"
)

// Module starts and stops the worker with the application, and registers its
// metrics when a prometheus.Registerer is provided. When the Webhooks use
// case is provided, it also processes the webhook inbox (InboxConfig), and
// when the Deliveries use case is, it delivers events (DeliveriesConfig).
var Module = fx.Module("worker",
	fx.Provide(New),
	fx.Invoke(func(lc fx.Lifecycle, w *Worker) { lc.Append(fx.StartStopHook(w.Start, w.Stop)) }),
	fx.Invoke(registerMetrics),
	fx.Invoke(startInbox),
	fx.Invoke(startDeliveries),
)

type deliveriesParams struct {
	fx.In
	Lifecycle  fx.Lifecycle
	Config     DeliveriesConfig        `optional:"true"`
	Deliveries *application.Deliveries `optional:"true"`
	Clock      application.Clock
	Log        *slog.Logger
	Registerer prometheus.Registerer `optional:"true"`
}

// startDeliveries fans the events outbox out and delivers to webhook
// endpoints when the Deliveries use case is provided.
func startDeliveries(p deliveriesParams) error {
	if p.Deliveries == nil {
		return nil
	}
	w := NewDeliveries(p.Config, p.Deliveries, p.Clock, p.Log)
	if err := register(p.Registerer, "webhook delivery", w.Collectors()); err != nil {
		return err
	}
	p.Lifecycle.Append(fx.StartStopHook(w.Start, w.Stop))
	return nil
}

type inboxParams struct {
	fx.In
	Lifecycle  fx.Lifecycle
	Config     InboxConfig           `optional:"true"`
	Webhooks   *application.Webhooks `optional:"true"`
	Clock      application.Clock
	Log        *slog.Logger
	Registerer prometheus.Registerer `optional:"true"`
}

func startInbox(p inboxParams) error {
	if p.Webhooks == nil {
		return nil
	}
	w := NewInbox(p.Config, p.Webhooks, p.Clock, p.Log)
	if err := register(p.Registerer, "webhook inbox", w.Collectors()); err != nil {
		return err
	}
	p.Lifecycle.Append(fx.StartStopHook(w.Start, w.Stop))
	return nil
}

type metricsParams struct {
	fx.In
	Worker     *Worker
	Registerer prometheus.Registerer `optional:"true"`
}

func registerMetrics(p metricsParams) error {
	return register(p.Registerer, "sweep", p.Worker.Collectors())
}

// register registers a job's metrics, when there is a registry.
func register(reg prometheus.Registerer, job string, collectors []prometheus.Collector) error {
	if reg == nil {
		return nil
	}
	for _, c := range collectors {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("register the %s metrics: %w", job, err)
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
	return register(p.Registerer, "reconciliation", p.Reconciliation.Collectors())
}
