package portone

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"

	"github.com/creditd/creditd/application"
)

// Settings are what the module needs: the client's Config and the webhook
// secrets (one, or two while rotating).
type Settings struct {
	Client         Config
	WebhookSecrets []string
}

// Module provides the PortOne client (the V2 gateway) and the webhook
// verifier, and exports the client's request latencies by operation and
// outcome when a prometheus.Registerer is provided.
var Module = fx.Module("portone",
	fx.Provide(
		newGatewayFx,
		fx.Annotate(newVerifierFx, fx.As(new(application.WebhookVerifier))),
	),
)

type gatewayParams struct {
	fx.In

	Settings   Settings
	Registerer prometheus.Registerer `optional:"true"`
}

func newGatewayFx(p gatewayParams) (*Client, error) {
	cfg := p.Settings.Client
	if p.Registerer != nil {
		latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "creditd", Subsystem: "portone", Name: "request_duration_seconds",
			Help:    "PortOne API requests (each attempt), by operation and outcome (ok, timeout, network, a PortOne error type, other).",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"operation", "outcome"})
		if err := p.Registerer.Register(latency); err != nil {
			return nil, fmt.Errorf("register the PortOne metrics: %w", err)
		}
		// Every series exists from the start, so a dashboard sees a zero
		// rather than nothing; the label sets are closed.
		for _, op := range Operations() {
			for _, o := range Outcomes() {
				latency.WithLabelValues(string(op), o)
			}
		}
		cfg.Observer = func(op Operation, outcome string, took time.Duration) {
			latency.WithLabelValues(string(op), outcome).Observe(took.Seconds())
		}
	}
	return New(cfg)
}

func newVerifierFx(s Settings) (*WebhookVerifier, error) { return NewWebhookVerifier(s.WebhookSecrets) }
