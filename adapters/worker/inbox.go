package worker

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/creditd/creditd/application"
)

// InboxConfig sets how the webhook inbox is processed; zero fields other
// than PollInterval take the defaults below.
type InboxConfig struct {
	// PollInterval is how often due events are looked for; a full batch is
	// followed by the next one at once. Zero disables processing.
	PollInterval time.Duration
	// Batch is how many events one pass claims. Above the use case's
	// Concurrency, the last syncs of a batch start late and their leases
	// may end first (harmless, but the events are then synced twice).
	Batch int
	// StatsEvery is how often the inbox's depth and age are measured.
	StatsEvery time.Duration
	// ForgetEvery is how often processed events past their retention are deleted.
	ForgetEvery time.Duration
}

// Defaults of InboxConfig.
const (
	DefaultInboxBatch       = application.DefaultWebhookConcurrency
	DefaultInboxStatsEvery  = 10 * time.Second
	DefaultInboxForgetEvery = time.Hour
)

// Inbox processes the webhook inbox until stopped. Every replica may run
// one: events are claimed with leases, so each is processed by one at a time.
type Inbox struct {
	cfg      InboxConfig
	webhooks *application.Webhooks
	clock    application.Clock
	log      *slog.Logger
	metrics  inboxMetrics

	lastStats, lastForget time.Time // when each last ran, by clock

	loop loop
}

// NewInbox builds an inbox processor; Start begins polling.
func NewInbox(cfg InboxConfig, webhooks *application.Webhooks, clock application.Clock, log *slog.Logger) *Inbox {
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultInboxBatch
	}
	if cfg.StatsEvery <= 0 {
		cfg.StatsEvery = DefaultInboxStatsEvery
	}
	if cfg.ForgetEvery <= 0 {
		cfg.ForgetEvery = DefaultInboxForgetEvery
	}
	return &Inbox{cfg: cfg, webhooks: webhooks, clock: clock, log: log, metrics: newInboxMetrics()}
}

// inboxMetrics say how the inbox goes. Labels come from closed sets.
type inboxMetrics struct {
	runs   *prometheus.CounterVec // passes, by outcome (ok, error)
	events *prometheus.CounterVec // processed events, by outcome (processed, ignored, retried)
	depth  prometheus.Gauge
	age    prometheus.Gauge
	forgot prometheus.Counter
}

func newInboxMetrics() inboxMetrics {
	m := inboxMetrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "creditd", Subsystem: "webhook_inbox", Name: "runs_total",
			Help: "Passes over the webhook inbox, by outcome (ok, error: the database failed)."}, []string{"outcome"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "creditd", Subsystem: "webhook_inbox", Name: "events_total",
			Help: "Webhook events handled, by outcome: processed (payment synced), ignored (no order for the payment), retried (sync failed)."},
			[]string{"outcome"}),
		depth: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "creditd", Subsystem: "webhook_inbox", Name: "depth",
			Help: "Webhook events stored and not processed yet, across replicas, when last measured."}),
		age: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "creditd", Subsystem: "webhook_inbox", Name: "oldest_age_seconds",
			Help: "How long the oldest unprocessed webhook event has waited since it was received (0: none), when last measured."}),
		forgot: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "creditd", Subsystem: "webhook_inbox", Name: "forgotten_total",
			Help: "Processed webhook events deleted after their retention."}),
	}
	for _, o := range []string{"processed", "ignored", "retried"} {
		m.events.WithLabelValues(o)
	}
	return m
}

// Collectors are the inbox's metrics.
func (w *Inbox) Collectors() []prometheus.Collector {
	return []prometheus.Collector{w.metrics.runs, w.metrics.events, w.metrics.depth, w.metrics.age, w.metrics.forgot}
}

// Start polls the inbox every PollInterval in the background.
func (w *Inbox) Start(context.Context) error {
	if w.cfg.PollInterval <= 0 {
		return nil
	}
	w.loop.start(w.cfg.PollInterval, true, w.PollOnce)
	return nil
}

// Stop ends polling. Unlike the sweeps, a pass in flight is cancelled
// rather than awaited, since a sync may take longer than the shutdown
// allows: the events it had not finished are processed again once their
// leases end.
func (w *Inbox) Stop(context.Context) error {
	w.loop.halt()
	return nil
}

// PollOnce processes due events until a batch comes back short, then
// measures the inbox and forgets old events when they are due.
func (w *Inbox) PollOnce(ctx context.Context) {
	for ctx.Err() == nil {
		run, err := w.webhooks.ProcessDue(ctx, w.cfg.Batch)
		w.count(err)
		w.metrics.events.WithLabelValues("processed").Add(float64(run.Processed))
		w.metrics.events.WithLabelValues("ignored").Add(float64(run.Ignored))
		w.metrics.events.WithLabelValues("retried").Add(float64(run.Retried))
		for _, f := range run.Failures {
			w.log.Warn("webhook event: payment sync failed, will retry", "webhook_id", f.Event.ID, "type", f.Event.Type,
				"payment_id", f.Event.Payment.String(), "attempts", f.Attempts, "retry_at", f.RetryAt, "error", f.Err.Error())
		}
		if err != nil {
			w.log.Error("webhook inbox pass failed", "error", err.Error())
			break
		}
		if run.Claimed < w.cfg.Batch {
			break
		}
	}
	if ctx.Err() != nil { // stopping
		return
	}
	now := w.clock.Now()
	if dueEvery(&w.lastStats, now, w.cfg.StatsEvery) {
		w.measure(ctx, now)
	}
	if dueEvery(&w.lastForget, now, w.cfg.ForgetEvery) {
		forgetFinished(ctx, w.log, w.metrics.forgot, "processed webhook events", w.webhooks.ForgetProcessed)
	}
}

func (w *Inbox) measure(ctx context.Context, now time.Time) {
	s, err := w.webhooks.Stats(ctx)
	if err != nil {
		w.log.Error("measuring the webhook inbox failed", "error", err.Error())
		return
	}
	w.metrics.depth.Set(float64(s.Depth))
	age := 0.0
	if s.OldestAt != nil {
		age = max(now.Sub(*s.OldestAt).Seconds(), 0)
	}
	w.metrics.age.Set(age)
}

func (w *Inbox) count(err error) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	w.metrics.runs.WithLabelValues(outcome).Inc()
}
