package httpapi

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/creditd/creditd/application"
)

// The Standard Webhooks headers PortOne signs its deliveries with.
const (
	headerWebhookID        = "webhook-id"
	headerWebhookTimestamp = "webhook-timestamp"
	headerWebhookSignature = "webhook-signature"
)

// webhookHandler receives PortOne's webhooks. It needs no API key (PortOne
// cannot send one): the signature over the raw body is the authentication.
type webhookHandler struct {
	webhooks *application.Webhooks
	metrics  *webhookMetrics
}

// receivePortOne verifies and stores a delivery, and answers 200 only once
// the event is durable (or was stored before, or is not creditd's to
// process), so that PortOne resends anything else: 400 invalid-webhook for
// a delivery that failed verification (nothing is stored), 503 with
// Retry-After when the database is unavailable. The body is read as bytes
// whatever its Content-Type: the signature is over them.
func (h *webhookHandler) receivePortOne(c *gin.Context) {
	body, err := readRawBody(c.Request)
	if err != nil {
		_ = c.Error(err)
		return
	}
	d := application.WebhookDelivery{Body: body}
	var ok bool
	if d.ID, ok = singleHeader(c.Request.Header, headerWebhookID); ok {
		if d.Timestamp, ok = singleHeader(c.Request.Header, headerWebhookTimestamp); ok {
			d.Signature, ok = singleHeader(c.Request.Header, headerWebhookSignature)
		}
	}
	if !ok {
		// As PortOne's JS SDK: a header sent more than once (or not at all) is missing.
		err = &application.InvalidWebhookError{Reason: application.WebhookMissingHeaders}
	} else {
		var receipt application.WebhookReceipt
		if receipt, err = h.webhooks.Receive(c.Request.Context(), d); err == nil {
			h.metrics.deliveries.WithLabelValues(string(receipt)).Inc()
			c.JSON(http.StatusOK, webhookAck{Received: true})
			return
		}
	}
	if errors.Is(err, application.ErrInvalidWebhook) {
		var invalid *application.InvalidWebhookError
		var reason application.WebhookRejection // OTHER unless the error names one
		if errors.As(err, &invalid) {
			reason = invalid.Reason
		}
		h.metrics.rejected(reason)
	}
	_ = c.Error(err)
}

// webhookAck is the body of a delivery's 200.
type webhookAck struct {
	Received bool `json:"received"`
}

// singleHeader returns the one value of a header; false when it is absent
// or sent more than once.
func singleHeader(h http.Header, name string) (string, bool) {
	v := h.Values(name)
	if len(v) != 1 {
		return "", false
	}
	return v[0], true
}

// readRawBody reads the whole body, which limitBody bounds: too large is
// 413, a body that stalls past the server's read timeout 408.
func readRawBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(r.Body)
	var tooLarge *http.MaxBytesError
	switch {
	case err == nil:
		return b, nil
	case errors.As(err, &tooLarge):
		return nil, errRequestTooLarge
	case errors.Is(err, os.ErrDeadlineExceeded):
		return nil, errRequestTimeout
	}
	return nil, fmt.Errorf("%w: %v", errMalformedBody, err) // a broken chunked encoding, say
}

// webhookMetrics count deliveries by outcome. Both labels come from closed
// sets: the receipts, and the rejection reasons (application.WebhookRejections).
type webhookMetrics struct {
	deliveries *prometheus.CounterVec // by receipt: stored, duplicate, ignored
	rejections *prometheus.CounterVec // by reason
	known      map[application.WebhookRejection]bool
}

// otherRejection labels a rejection whose reason is not in the known set.
const otherRejection = "OTHER"

func newWebhookMetrics(reg prometheus.Registerer) (*webhookMetrics, error) {
	deliveries := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "creditd", Subsystem: "webhook", Name: "deliveries_total",
		Help: "Verified webhook deliveries acknowledged, by outcome: stored (a new event), duplicate (stored before), ignored (not about a payment).",
	}, []string{"outcome"})
	rejections := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "creditd", Subsystem: "webhook", Name: "rejections_total",
		Help: "Webhook deliveries refused with 400 invalid-webhook, by reason (Standard Webhooks' names, e.g. NO_MATCHING_SIGNATURE).",
	}, []string{"reason"})
	var err error
	if deliveries, err = register(reg, deliveries); err != nil {
		return nil, err
	}
	if rejections, err = register(reg, rejections); err != nil {
		return nil, err
	}
	m := &webhookMetrics{deliveries: deliveries, rejections: rejections, known: map[application.WebhookRejection]bool{}}
	// Every series exists from the start, so a rate over it is never absent.
	for _, r := range []application.WebhookReceipt{application.WebhookStored, application.WebhookDuplicate, application.WebhookIgnored} {
		deliveries.WithLabelValues(string(r))
	}
	for _, r := range application.WebhookRejections() {
		m.known[r] = true
		rejections.WithLabelValues(string(r))
	}
	return m, nil
}

func (m *webhookMetrics) rejected(reason application.WebhookRejection) {
	label := string(reason)
	if !m.known[reason] {
		label = otherRejection
	}
	m.rejections.WithLabelValues(label).Inc()
}
