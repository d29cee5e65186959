package portonev1

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"
)

// Module provides the PortOne V1 client, built from the supplied Config, and
// exports its request latencies by operation and outcome when a
// prometheus.Registerer is provided.
var Module = fx.Module("portonev1", fx.Provide(newClientFx))

type clientParams struct {
	fx.In

	Config     Config
	Registerer prometheus.Registerer `optional:"true"`
}

func newClientFx(p clientParams) (*Client, error) {
	cfg := p.Config
	if p.Registerer != nil {
		latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "creditd", Subsystem: "portone_v1", Name: "request_duration_seconds",
			Help:    "PortOne V1 API requests (each attempt), by operation and outcome.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"operation", "outcome"})
		if err := p.Registerer.Register(latency); err != nil {
			return nil, fmt.Errorf("register the PortOne V1 metrics: %w", err)
		}
		// Every series exists from the start: the label sets are closed.
		for _, op := range Operations() {
			for _, o := range Outcomes() {
				latency.WithLabelValues(op, o)
			}
		}
		cfg.Observer = func(op, outcome string, took time.Duration) {
			latency.WithLabelValues(op, outcome).Observe(took.Seconds())
		}
	}
	return New(cfg)
}
