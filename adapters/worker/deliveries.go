package worker

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// DeliveriesConfig sets how events are delivered to webhook endpoints; zero
// fields other than PollInterval take the defaults below.
type DeliveriesConfig struct {
	// PollInterval is how often the outbox and due deliveries are looked
	// for; a full batch is followed by the next one at once. Zero disables
	// delivery.
	PollInterval time.Duration
	// FanOutBatch is how many outbox events one fan-out moves.
	FanOutBatch int
	// Senders is how many claim loops this replica runs. Each sender claims
	// a few deliveries (deliveryClaimBatch), sends them at once, records
	// each, and claims again: a slow endpoint holds up one sender's next
	// claim, not the others.
	Senders int
	// StatsEvery is how often the pending deliveries are measured.
	StatsEvery time.Duration
	// ForgetEvery is how often finished deliveries past their retention are deleted.
	ForgetEvery time.Duration
}

// Defaults of DeliveriesConfig.
const (
	DefaultFanOutBatch         = 500
	DefaultDeliverySenders     = application.DefaultDeliveryConcurrency
	DefaultDeliveryStatsEvery  = 10 * time.Second
	DefaultDeliveryForgetEvery = time.Hour
	maxFanOutRoundsPerPoll     = 20
	maxDeliveryRoundsPerPoll   = 50
	// deliveryClaimBatch is how many deliveries a sender claims at once: one
	// claim statement for several, sent concurrently (a slow one holds up
	// only its sender's next claim).
	deliveryClaimBatch          = 16
	deliveryOutcomeDelivered    = "delivered"
	deliveryOutcomeRetried      = "retried"
	deliveryOutcomeFailed       = "failed"
	deliveryOutcomeUnrecordable = "error"
)

// Deliveries fans the outbox out and delivers due deliveries until
// stopped. Every replica may run one: fan-outs take turns under an
// advisory lock, and deliveries are claimed with leases.
type Deliveries struct {
	cfg        DeliveriesConfig
	deliveries *application.Deliveries
	clock      application.Clock
	log        *slog.Logger
	metrics    deliveryMetrics

	lastStats, lastForget time.Time

	loop loop
}

// NewDeliveries builds the delivery worker; Start begins polling.
func NewDeliveries(cfg DeliveriesConfig, deliveries *application.Deliveries, clock application.Clock, log *slog.Logger) *Deliveries {
	if cfg.FanOutBatch <= 0 {
		cfg.FanOutBatch = DefaultFanOutBatch
	}
	if cfg.Senders <= 0 {
		cfg.Senders = DefaultDeliverySenders
	}
	if cfg.StatsEvery <= 0 {
		cfg.StatsEvery = DefaultDeliveryStatsEvery
	}
	if cfg.ForgetEvery <= 0 {
		cfg.ForgetEvery = DefaultDeliveryForgetEvery
	}
	return &Deliveries{cfg: cfg, deliveries: deliveries, clock: clock, log: log, metrics: newDeliveryMetrics()}
}

// deliveryMetrics say how delivery goes. Labels come from closed sets.
type deliveryMetrics struct {
	fannedOut prometheus.Counter
	made      prometheus.Counter
	attempts  *prometheus.CounterVec // by outcome: delivered, retried, failed, error
	pending   prometheus.Gauge
	age       prometheus.Gauge
	forgot    prometheus.Counter
}

func newDeliveryMetrics() deliveryMetrics {
	m := deliveryMetrics{
		fannedOut: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "creditd", Subsystem: "webhook_delivery", Name: "events_total",
			Help: "Outbox events fanned out by this replica (to some endpoints, or dropped when none receives them)."}),
		made: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "creditd", Subsystem: "webhook_delivery", Name: "deliveries_made_total",
			Help: "Deliveries made of outbox events, one per receiving endpoint."}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "creditd", Subsystem: "webhook_delivery", Name: "attempts_total",
			Help: "Delivery attempts by outcome: delivered (2xx), retried (failed, to be tried again), failed (failed past the retry window), error (the outcome could not be stored)."},
			[]string{"outcome"}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "creditd", Subsystem: "webhook_delivery", Name: "pending",
			Help: "Deliveries pending, across replicas, when last measured."}),
		age: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "creditd", Subsystem: "webhook_delivery", Name: "oldest_pending_age_seconds",
			Help: "How long the oldest pending delivery has been retried (0: none), when last measured."}),
		forgot: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "creditd", Subsystem: "webhook_delivery", Name: "forgotten_total",
			Help: "Finished deliveries deleted after their retention."}),
	}
	for _, o := range []string{deliveryOutcomeDelivered, deliveryOutcomeRetried, deliveryOutcomeFailed, deliveryOutcomeUnrecordable} {
		m.attempts.WithLabelValues(o)
	}
	return m
}

// Collectors are the delivery metrics.
func (w *Deliveries) Collectors() []prometheus.Collector {
	return []prometheus.Collector{w.metrics.fannedOut, w.metrics.made, w.metrics.attempts, w.metrics.pending, w.metrics.age, w.metrics.forgot}
}

// Start polls every PollInterval in the background.
func (w *Deliveries) Start(context.Context) error {
	if w.cfg.PollInterval <= 0 {
		return nil
	}
	w.loop.start(w.cfg.PollInterval, true, w.PollOnce)
	return nil
}

// Stop ends polling; POSTs in flight are cancelled, and their deliveries
// are attempted again once their leases end.
func (w *Deliveries) Stop(context.Context) error {
	w.loop.halt()
	return nil
}

// PollOnce fans the outbox out, batch after batch until one comes back
// short, then runs Senders senders until no delivery is due (each bounded,
// so the housekeeping below runs under load too), then measures and
// forgets when due.
func (w *Deliveries) PollOnce(ctx context.Context) {
	for range maxFanOutRoundsPerPoll {
		run, err := w.deliveries.FanOut(ctx, w.cfg.FanOutBatch)
		if err != nil {
			if ctx.Err() == nil {
				w.log.Error("webhook fan-out failed", "error", err.Error())
			}
			break
		}
		w.metrics.fannedOut.Add(float64(run.Events))
		w.metrics.made.Add(float64(run.Deliveries))
		if run.Skipped || run.Events < w.cfg.FanOutBatch {
			break
		}
	}
	var senders sync.WaitGroup
	for range w.cfg.Senders {
		senders.Go(func() {
			for range maxDeliveryRoundsPerPoll {
				if ctx.Err() != nil {
					return
				}
				run, err := w.deliveries.DeliverDue(ctx, deliveryClaimBatch)
				w.observe(ctx, run, err)
				if err != nil || run.Claimed == 0 {
					return
				}
			}
		})
	}
	senders.Wait()
	if ctx.Err() != nil {
		return
	}
	now := w.clock.Now()
	if dueEvery(&w.lastStats, now, w.cfg.StatsEvery) {
		w.measure(ctx, now)
	}
	if dueEvery(&w.lastForget, now, w.cfg.ForgetEvery) {
		forgetFinished(ctx, w.log, w.metrics.forgot, "finished webhook deliveries", w.deliveries.ForgetFinished)
	}
}

// observe counts and logs what one DeliverDue did.
func (w *Deliveries) observe(ctx context.Context, run application.DeliveryRun, err error) {
	w.metrics.attempts.WithLabelValues(deliveryOutcomeDelivered).Add(float64(run.Delivered))
	w.metrics.attempts.WithLabelValues(deliveryOutcomeRetried).Add(float64(run.Retried))
	w.metrics.attempts.WithLabelValues(deliveryOutcomeFailed).Add(float64(run.Failed))
	for _, f := range run.Failures {
		args := []any{"webhook_id", domain.EventID(f.Delivery.EventID).String(), "endpoint", f.Delivery.Endpoint.String(),
			"tenant", f.Delivery.Tenant.String(), "type", f.Delivery.Type, "attempts", f.Delivery.Attempts, "status", f.StatusCode, "error", f.Err}
		if f.RetryAt != nil {
			w.log.Info("webhook delivery failed, will retry", append(args, "retry_at", *f.RetryAt)...)
		} else {
			w.log.Warn("webhook delivery failed past its retry window, given up", args...)
		}
	}
	if err != nil && ctx.Err() == nil {
		w.metrics.attempts.WithLabelValues(deliveryOutcomeUnrecordable).Inc()
		w.log.Error("webhook delivery pass failed", "error", err.Error())
	}
}

func (w *Deliveries) measure(ctx context.Context, now time.Time) {
	s, err := w.deliveries.Stats(ctx)
	if err != nil {
		w.log.Error("measuring webhook deliveries failed", "error", err.Error())
		return
	}
	w.metrics.pending.Set(float64(s.Pending))
	age := 0.0
	if s.OldestAt != nil {
		age = max(now.Sub(*s.OldestAt).Seconds(), 0)
	}
	w.metrics.age.Set(age)
}
