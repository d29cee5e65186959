package httpapi

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/netip"
	"net/url"

	"github.com/gin-gonic/gin"
	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/creditd/creditd/application"
)

// v1WebhookHandler receives PortOne V1's unsigned webhooks: hints, which
// application.V1Webhooks stores only for creditd's own V1 orders.
type v1WebhookHandler struct {
	webhooks *application.V1Webhooks
	// allow, when not empty, are the only peers that may send (PortOne
	// publishes its senders' addresses).
	allow      []netip.Prefix
	deliveries *prometheus.CounterVec // by outcome: a receipt, malformed or forbidden
}

// maxV1WebhookBytes bounds a V1 body: it holds three short ids.
const maxV1WebhookBytes = 8 << 10

// Outcomes of V1 deliveries refused before the use case takes them.
const (
	v1OutcomeMalformed = "malformed"
	v1OutcomeForbidden = "forbidden"
)

var errSenderNotAllowed = errors.New("this address may not send PortOne V1 webhooks")

func newV1WebhookHandler(webhooks *application.V1Webhooks, allow []netip.Prefix, reg prometheus.Registerer) (*v1WebhookHandler, error) {
	deliveries, err := register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "creditd", Subsystem: "webhook_v1", Name: "deliveries_total",
		Help: "PortOne V1 webhook deliveries, by outcome: stored, duplicate, rearmed (processed, or being processed: it will be again), " +
			"unknown_order (nothing stored), malformed (400) or forbidden (403, a sender outside PORTONE_V1_WEBHOOK_ALLOW).",
	}, []string{"outcome"}))
	if err != nil {
		return nil, err
	}
	for _, r := range application.V1WebhookReceipts() {
		deliveries.WithLabelValues(string(r))
	}
	deliveries.WithLabelValues(v1OutcomeMalformed)
	deliveries.WithLabelValues(v1OutcomeForbidden)
	return &v1WebhookHandler{webhooks: webhooks, allow: allow, deliveries: deliveries}, nil
}

// receive answers 200 once what the delivery calls for is durable (or when
// it names no order of creditd's), 400 invalid-webhook for a malformed body,
// 403 for a sender outside the allow-list (its body is not read), 415 for a
// body neither JSON nor a form, and 503 with Retry-After when the database
// is unavailable, so PortOne's retries (when enabled) try again.
func (h *v1WebhookHandler) receive(c *gin.Context) {
	if !h.allowed(c.Request.RemoteAddr) {
		h.deliveries.WithLabelValues(v1OutcomeForbidden).Inc()
		_ = c.Error(errSenderNotAllowed)
		return
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxV1WebhookBytes)
	n, err := readV1Notice(c.Request)
	if err != nil {
		if errors.Is(err, application.ErrInvalidWebhook) {
			h.deliveries.WithLabelValues(v1OutcomeMalformed).Inc()
		}
		_ = c.Error(err)
		return
	}
	receipt, err := h.webhooks.Receive(c.Request.Context(), n)
	if err != nil {
		if errors.Is(err, application.ErrInvalidWebhook) {
			h.deliveries.WithLabelValues(v1OutcomeMalformed).Inc()
		}
		_ = c.Error(err)
		return
	}
	h.deliveries.WithLabelValues(string(receipt)).Inc()
	c.JSON(http.StatusOK, webhookAck{Received: true})
}

// allowed reports whether the TCP peer may send. The peer, not
// X-Forwarded-For: a header anyone can write proves nothing.
func (h *v1WebhookHandler) allowed(remoteAddr string) bool {
	if len(h.allow) == 0 {
		return true
	}
	peer, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return false
	}
	for _, p := range h.allow {
		if p.Contains(peer.Addr().Unmap()) {
			return true
		}
	}
	return false
}

// v1Lenient decodes V1's JSON: a duplicate name is refused (it would let two
// readers see two bodies), but members creditd does not read are ignored,
// since PortOne adds some over time.
var v1Lenient = jsonv2.JoinOptions(
	jsonv2.RejectUnknownMembers(false),
	jsontext.AllowDuplicateNames(false),
	jsontext.AllowInvalidUTF8(false),
)

// v1NoticeJSON is V1's JSON body.
type v1NoticeJSON struct {
	IMPUID         string `json:"imp_uid"`
	MerchantUID    string `json:"merchant_uid"`
	Status         string `json:"status"`
	CancellationID string `json:"cancellation_id"`
}

// readV1Notice reads a V1 body, JSON or form-encoded as PortOne's console
// chooses.
func readV1Notice(r *http.Request) (application.V1Notice, error) {
	body, err := readRawBody(r)
	if err != nil {
		return application.V1Notice{}, err
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return application.V1Notice{}, errUnsupportedMediaType
	}
	switch mt {
	case contentTypeJSON:
		var n v1NoticeJSON
		if err := jsonv2.Unmarshal(body, &n, v1Lenient); err != nil {
			return application.V1Notice{}, malformedNotice(err)
		}
		return application.V1Notice(n), nil
	case "application/x-www-form-urlencoded":
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return application.V1Notice{}, malformedNotice(err)
		}
		one := func(key string) (string, error) {
			if v := form[key]; len(v) > 1 {
				return "", malformedNotice(fmt.Errorf("%s is given %d times", key, len(v)))
			} else if len(v) == 1 {
				return v[0], nil
			}
			return "", nil
		}
		var n application.V1Notice
		for _, f := range []struct {
			key string
			dst *string
		}{{"imp_uid", &n.IMPUID}, {"merchant_uid", &n.MerchantUID}, {"status", &n.Status}, {"cancellation_id", &n.CancellationID}} {
			if *f.dst, err = one(f.key); err != nil {
				return application.V1Notice{}, err
			}
		}
		return n, nil
	}
	return application.V1Notice{}, errUnsupportedMediaType
}

// malformedNotice is a V1 body that does not parse.
func malformedNotice(err error) error {
	return fmt.Errorf("%w: %v", &application.InvalidWebhookError{Reason: application.WebhookMalformedNotice}, err)
}
