package httpapi

import (
	"errors"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the HTTP request counters, labelled by route pattern (never the
// raw path, which would make one series per account), method and status.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	labels := []string{"route", "method", "status"}
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "creditd", Subsystem: "http", Name: "requests_total",
		Help: "HTTP requests served, by route pattern, method and status.",
	}, labels)
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "creditd", Subsystem: "http", Name: "request_duration_seconds",
		Help:    "Time to serve HTTP requests, by route pattern, method and status.",
		Buckets: prometheus.DefBuckets,
	}, labels)
	var err error
	if requests, err = register(reg, requests); err != nil {
		return nil, err
	}
	if duration, err = register(reg, duration); err != nil {
		return nil, err
	}
	return &metrics{requests: requests, duration: duration}, nil
}

// register reuses a collector registered before, so two routers can share a
// registry (as tests and a restarted fx app do).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		var already prometheus.AlreadyRegisteredError
		if errors.As(err, &already) {
			if existing, ok := already.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, err
	}
	return c, nil
}

func (m *metrics) observe(route, method string, status int, elapsed time.Duration) {
	s := strconv.Itoa(status)
	m.requests.WithLabelValues(route, method, s).Inc()
	m.duration.WithLabelValues(route, method, s).Observe(elapsed.Seconds())
}
