package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"

	"github.com/creditd/creditd/application"
)

// Module provides the registry (as a Registerer for adapters and a Gatherer
// for /metrics) and the application's Meter.
var Module = fx.Module("metrics",
	fx.Provide(
		func() (prometheus.Registerer, prometheus.Gatherer) { r := NewRegistry(); return r, r },
		fx.Annotate(NewLedgerMeter, fx.As(new(application.Meter))),
	),
)
