package httpapi

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
)

// requestLabels are the label values of one request. Every metric of this
// package takes its labels from here, and each value comes from a closed set
// (route patterns, standard methods, status codes), so no request, however
// made up, can create a series: a series lives as long as the process.
type requestLabels struct {
	route   string // a route pattern, or unmatchedRoute
	method  string // a standard method, or otherMethod
	status  string // the response status code
	problem string // the slug of the problem answered (one of the error table's), or ""
	// replayed is set when the answer is a stored idempotent outcome.
	replayed bool
}

// otherMethod is the method label of every request whose method is not one
// of the standard ones below; net/http accepts any token as a method.
const otherMethod = "OTHER"

var standardMethods = map[string]string{
	http.MethodGet: http.MethodGet, http.MethodHead: http.MethodHead, http.MethodPost: http.MethodPost,
	http.MethodPut: http.MethodPut, http.MethodPatch: http.MethodPatch, http.MethodDelete: http.MethodDelete,
	http.MethodConnect: http.MethodConnect, http.MethodOptions: http.MethodOptions, http.MethodTrace: http.MethodTrace,
}

// labelsOf turns a served request into its label values. The route is the
// pattern the router matched, never the raw path, which would make one
// series per account.
func labelsOf(c *gin.Context) requestLabels {
	l := requestLabels{route: c.FullPath(), method: standardMethods[c.Request.Method], status: strconv.Itoa(c.Writer.Status())}
	if l.route == "" {
		l.route = unmatchedRoute
	}
	if l.method == "" {
		l.method = otherMethod
	}
	if slug := c.GetString(ctxProblemSlug); knownSlugs[slug] {
		l.problem = slug
	}
	l.replayed = c.Writer.Header().Get(headerIdempotentReplayed) != ""
	return l
}

// metrics are the HTTP adapter's metrics, labelled by requestLabels.
type metrics struct {
	requests   *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	rejections *prometheus.CounterVec
	replays    *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	labels := []string{"route", "method", "status"}
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "creditd", Subsystem: "http", Name: "requests_total",
		Help: "HTTP requests served, by route pattern, method (OTHER for non-standard ones) and status.",
	}, labels)
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "creditd", Subsystem: "http", Name: "request_duration_seconds",
		Help:    "Time to serve HTTP requests, by route pattern, method (OTHER for non-standard ones) and status.",
		Buckets: prometheus.DefBuckets,
	}, labels)
	rejections := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "creditd", Subsystem: "http", Name: "rejections_total",
		Help: "Requests answered with a problem (refused, or failed), by problem type; replayed rejections included.",
	}, []string{"type"})
	replays := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "creditd", Subsystem: "http", Name: "idempotent_replays_total",
		Help: "Requests answered with the stored outcome of an earlier one with the same Idempotency-Key, by route pattern.",
	}, []string{"route"})
	var err error
	if requests, err = register(reg, requests); err != nil {
		return nil, err
	}
	if duration, err = register(reg, duration); err != nil {
		return nil, err
	}
	if rejections, err = register(reg, rejections); err != nil {
		return nil, err
	}
	if replays, err = register(reg, replays); err != nil {
		return nil, err
	}
	return &metrics{requests: requests, duration: duration, rejections: rejections, replays: replays}, nil
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

func (m *metrics) observe(l requestLabels, elapsed time.Duration) {
	m.requests.WithLabelValues(l.route, l.method, l.status).Inc()
	m.duration.WithLabelValues(l.route, l.method, l.status).Observe(elapsed.Seconds())
	if l.problem != "" {
		m.rejections.WithLabelValues(l.problem).Inc()
	}
	if l.replayed {
		m.replays.WithLabelValues(l.route).Inc()
	}
}
