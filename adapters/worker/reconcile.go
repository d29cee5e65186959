package worker

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/creditd/creditd/application"
)

// ReconcileConfig sets how often reconciliation runs and how far back each
// run looks; zero Interval disables it. Window should be longer than
// Interval, so consecutive runs overlap.
type ReconcileConfig struct {
	Interval time.Duration
	Window   time.Duration
	// Lock, when set, is tried before each run; a run that does not get it
	// is skipped (another replica is running). release ends the hold.
	Lock func(ctx context.Context) (release func(), acquired bool, err error)
}

// Reconciliation runs the reconciler on a timer. Several replicas may run
// it: each run first checks that no replica started one within the last
// interval (Reconciler.RunIfDue), under Lock when there is one.
type Reconciliation struct {
	cfg        ReconcileConfig
	reconciler *application.Reconciler
	log        *slog.Logger
	metrics    reconcileMetrics

	loop loop
}

// NewReconciliation builds the reconciliation worker; Start begins its runs.
func NewReconciliation(cfg ReconcileConfig, reconciler *application.Reconciler, log *slog.Logger) *Reconciliation {
	return &Reconciliation{cfg: cfg, reconciler: reconciler, log: log, metrics: newReconcileMetrics()}
}

// Run outcomes, the closed set of the outcome label.
const (
	outcomeOK      = "ok"
	outcomeError   = "error"
	outcomeSkipped = "skipped" // another replica ran (or is running) it
)

// findingSynced is the result label of a finding whose sync succeeded; the
// others are application.FindingErrors.
const findingSynced = "synced"

type reconcileMetrics struct {
	runs        *prometheus.CounterVec // by outcome
	seen        prometheus.Counter
	unknown     prometheus.Counter
	findings    *prometheus.CounterVec // by result
	lastSuccess prometheus.Gauge
}

func newReconcileMetrics() reconcileMetrics {
	m := reconcileMetrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "creditd", Subsystem: "reconcile", Name: "runs_total",
			Help: "Scheduled reconciliation runs, by outcome (ok, error, skipped: another replica ran one within the interval)."}, []string{"outcome"}),
		seen: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "creditd", Subsystem: "reconcile", Name: "payments_seen_total",
			Help: "Payments the gateway listed to reconciliation runs."}),
		unknown: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "creditd", Subsystem: "reconcile", Name: "unknown_payments_total",
			Help: "Listed payments creditd has no order for (another system's, on the same store)."}),
		findings: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "creditd", Subsystem: "reconcile", Name: "findings_total",
			Help: "Orders reconciliation found disagreeing with their payments, by the result of syncing them " +
				"(synced, unavailable, gateway_refused, cancel_failed, internal)."}, []string{"result"}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "creditd", Subsystem: "reconcile", Name: "last_success_timestamp_seconds",
			Help: "When the last reconciliation run that went through its whole window finished (Unix seconds; 0: none yet in this process)."}),
	}
	for _, o := range []string{outcomeOK, outcomeError, outcomeSkipped} {
		m.runs.WithLabelValues(o)
	}
	m.findings.WithLabelValues(findingSynced)
	for _, k := range application.FindingErrors {
		m.findings.WithLabelValues(string(k))
	}
	return m
}

// Collectors are the reconciliation metrics.
func (w *Reconciliation) Collectors() []prometheus.Collector {
	return []prometheus.Collector{w.metrics.runs, w.metrics.seen, w.metrics.unknown, w.metrics.findings, w.metrics.lastSuccess}
}

// Start runs reconciliation every Interval in the background.
func (w *Reconciliation) Start(context.Context) error {
	if w.cfg.Interval <= 0 {
		return nil
	}
	// Interrupted at Stop, so a long run stops with the service.
	w.loop.start(w.cfg.Interval, true, func(ctx context.Context) { w.RunOnce(ctx) })
	return nil
}

// Stop ends the runs; a run under way stops soon after (its report is
// saved with what it did).
func (w *Reconciliation) Stop(context.Context) error {
	w.loop.halt()
	return nil
}

// RunOnce runs reconciliation once if it is due, and reports whether it ran.
func (w *Reconciliation) RunOnce(ctx context.Context) bool {
	if w.cfg.Lock != nil {
		release, acquired, err := w.cfg.Lock(ctx)
		if err != nil {
			w.metrics.runs.WithLabelValues(outcomeError).Inc()
			w.log.Error("reconciliation failed", "err", err)
			return false
		}
		if !acquired {
			w.metrics.runs.WithLabelValues(outcomeSkipped).Inc()
			return false
		}
		defer release()
	}
	rep, ran, err := w.reconciler.RunIfDue(ctx, w.cfg.Window, w.cfg.Interval)
	if !ran && err == nil {
		w.metrics.runs.WithLabelValues(outcomeSkipped).Inc()
		return false
	}
	w.metrics.seen.Add(float64(rep.PaymentsSeen))
	w.metrics.unknown.Add(float64(rep.UnknownPayments))
	for _, f := range rep.Findings {
		result := findingSynced
		if f.ErrorKind != "" {
			result = string(f.ErrorKind)
		}
		w.metrics.findings.WithLabelValues(result).Inc()
		w.log.Warn("reconciliation synced an order that disagreed with its payment", "paymentId", f.Payment.String(),
			"tenant", f.Tenant.String(), "before", f.StatusBefore.String(), "after", f.StatusAfter.String(),
			"paymentStatus", string(f.PaymentStatus), "error", f.Error)
	}
	if err != nil {
		w.metrics.runs.WithLabelValues(outcomeError).Inc()
		w.log.Error("reconciliation failed", "run", rep.ID.String(), "err", err)
		return ran
	}
	w.metrics.runs.WithLabelValues(outcomeOK).Inc()
	w.metrics.lastSuccess.Set(float64(rep.FinishedAt.UnixMilli()) / 1000)
	w.log.Info("reconciled", "run", rep.ID.String(), "payments", rep.PaymentsSeen, "unknown", rep.UnknownPayments,
		"findings", len(rep.Findings))
	return true
}
