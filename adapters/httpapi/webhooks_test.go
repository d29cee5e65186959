package httpapi_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/creditd/creditd/adapters/httpapi"
	"github.com/creditd/creditd/adapters/portone"
	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// webhookSecrets are the harness's webhook secrets: the test secret of
// PortOne's SDK test suites (README §2.4), and a second one, as during a
// rotation.
var webhookSecrets = [][]byte{mustBase64("pzQGE83cSIRKM4/WH5QY+g=="), []byte("a second secret, mid-rotation")}

func mustBase64(s string) []byte {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// newWebhookVerifier is the service's own verifier (adapters/portone) with
// the harness's secrets.
func newWebhookVerifier() application.WebhookVerifier {
	var encoded []string
	for _, secret := range webhookSecrets {
		encoded = append(encoded, "whsec_"+base64.StdEncoding.EncodeToString(secret))
	}
	v, err := portone.NewWebhookVerifier(encoded)
	if err != nil {
		panic(err)
	}
	return v
}

func signature(secret []byte, id, timestamp string, body []byte) []byte {
	mac := hmac.New(sha256.New, secret)
	fmt.Fprintf(mac, "%s.%s.%s", id, timestamp, body)
	return mac.Sum(nil)
}

// noSyncer is never called: the router only receives webhooks.
type noSyncer struct{}

func (noSyncer) Sync(context.Context, domain.PaymentID) error {
	panic("the router must not sync payments")
}

// withWebhookInbox wraps the webhook inbox, to inject failures.
func withWebhookInbox(wrap func(application.WebhookInbox) application.WebhookInbox) harnessOption {
	return func(d *httpapi.Deps, h *harness) {
		d.Webhooks = application.NewWebhooks(newWebhookVerifier(), wrap(h.inbox), noSyncer{}, h.clock,
			application.WebhookConfig{})
	}
}

// webhookHeaders sets a delivery's headers, each once.
func webhookHeaders(id, timestamp, sig string) reqOption {
	return func(r *http.Request) {
		r.Header.Del("Authorization") // PortOne sends no API key
		r.Header.Del("Idempotency-Key")
		r.Header.Set("webhook-id", id)
		r.Header.Set("webhook-timestamp", timestamp)
		r.Header.Set("webhook-signature", sig)
	}
}

// signed signs body as PortOne does now, with the first secret.
func (h *harness) signed(id, body string) reqOption {
	ts := strconv.FormatInt(h.clock.Now().Unix(), 10)
	return webhookHeaders(id, ts, "v1,"+base64.StdEncoding.EncodeToString(signature(webhookSecrets[0], id, ts, []byte(body))))
}

func paidBody(payment string) string {
	return `{"type":"Transaction.Paid","timestamp":"2026-03-01T09:00:00.000Z","data":{"paymentId":"` + payment +
		`","storeId":"store-1","transactionId":"tx-1"}}`
}

func (h *harness) inboxDepth() int {
	h.t.Helper()
	s, err := h.inbox.Stats(context.Background())
	require.NoError(h.t, err)
	return s.Depth
}

// TestWebhookFromPortOnesDocs: the signed example of PortOne's docs (with
// the clock at its timestamp) is stored once, however often delivered.
func TestWebhookFromPortOnesDocs(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := newHarness(t, func(d *httpapi.Deps, _ *harness) { d.Registerer = reg })
	h.clock.Set(time.Unix(1714039200, 0))
	body := `{"type":"Transaction.Paid","timestamp":"2024-04-25T10:00:00.000Z","data":{"paymentId":"example-payment-id","storeId":"store-ae356798-3d20-4969-b739-14c6b0e1a667","transactionId":"55451513-9763-4a7a-bb43-78a4c65be843"}}`
	deliver := func() *httpRecorder {
		return h.post("/webhooks/portone", body,
			webhookHeaders("dummy-webhook-id", "1714039200", "v1,qmNcYHU8w9hP22fshTiuuIP9XZrhl6h0hjCr1zh7DRs="))
	}
	for range 2 {
		w := deliver()
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		assert.JSONEq(t, `{"received":true}`, w.Body.String())
		assert.Equal(t, 1, h.inboxDepth())
	}
	items, err := h.inbox.Claim(context.Background(), h.clock.Now(), time.Minute, 10)
	require.NoError(t, err)
	require.Len(t, items, 1)
	e := items[0].Event
	assert.Equal(t, "dummy-webhook-id", e.ID)
	assert.Equal(t, "Transaction.Paid", e.Type)
	assert.Equal(t, "example-payment-id", e.Payment.String())
	assert.Equal(t, "store-ae356798-3d20-4969-b739-14c6b0e1a667", e.StoreID)

	// Five minutes on, the same delivery is too old.
	h.clock.Advance(301 * time.Second)
	p := assertProblem(t, deliver(), http.StatusBadRequest, "invalid-webhook")
	assert.Contains(t, p["detail"], "TIMESTAMP_TOO_OLD")

	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP creditd_webhook_deliveries_total Verified webhook deliveries acknowledged, by outcome: stored (a new event), duplicate (stored before), ignored (not about a payment).
# TYPE creditd_webhook_deliveries_total counter
creditd_webhook_deliveries_total{outcome="duplicate"} 1
creditd_webhook_deliveries_total{outcome="ignored"} 0
creditd_webhook_deliveries_total{outcome="stored"} 1
`), "creditd_webhook_deliveries_total"))
	assert.Equal(t, 1.0, series(t, reg, "creditd_webhook_rejections_total")["TIMESTAMP_TOO_OLD"])
}

// series reads the series of a metric family from reg, by their one label's value.
func series(t *testing.T, reg *prometheus.Registry, name string) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]float64{}
	for _, f := range families {
		if f.GetName() == name {
			for _, m := range f.GetMetric() {
				out[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
			}
		}
	}
	return out
}

// TestInvalidWebhooksAre400sAndStoreNothing: every way a delivery fails
// verification is a 400 invalid-webhook naming the reason, counted, and
// nothing is stored.
func TestInvalidWebhooksAre400sAndStoreNothing(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := newHarness(t, func(d *httpapi.Deps, _ *harness) { d.Registerer = reg })
	body := paidBody("pay-1")
	now := h.clock.Now().Unix()
	sig := func(id string, ts int64, body string) string {
		return "v1," + base64.StdEncoding.EncodeToString(signature(webhookSecrets[0], id, strconv.FormatInt(ts, 10), []byte(body)))
	}
	for _, c := range []struct {
		name   string
		body   string
		opts   []reqOption
		reason string
	}{
		{"wrong secret", body, []reqOption{webhookHeaders("w1", strconv.FormatInt(now, 10),
			"v1,"+base64.StdEncoding.EncodeToString(signature([]byte("other"), "w1", strconv.FormatInt(now, 10), []byte(body))))},
			"NO_MATCHING_SIGNATURE"},
		{"tampered body", strings.Replace(body, "pay-1", "pay-2", 1), []reqOption{h.signed("w1", body)}, "NO_MATCHING_SIGNATURE"},
		{"signed for another id", body, []reqOption{webhookHeaders("w2", strconv.FormatInt(now, 10), sig("w1", now, body))}, "NO_MATCHING_SIGNATURE"},
		{"too old", body, []reqOption{webhookHeaders("w1", strconv.FormatInt(now-301, 10), sig("w1", now-301, body))}, "TIMESTAMP_TOO_OLD"},
		{"too new", body, []reqOption{webhookHeaders("w1", strconv.FormatInt(now+301, 10), sig("w1", now+301, body))}, "TIMESTAMP_TOO_NEW"},
		{"timestamp not a number", body, []reqOption{webhookHeaders("w1", "soon", sig("w1", now, body))}, "INVALID_SIGNATURE"},
		{"no signature", body, []reqOption{h.signed("w1", body), withoutHeader("webhook-signature")}, "MISSING_REQUIRED_HEADERS"},
		{"no id", body, []reqOption{h.signed("w1", body), withoutHeader("webhook-id")}, "MISSING_REQUIRED_HEADERS"},
		{"id sent twice", body, []reqOption{h.signed("w1", body), func(r *http.Request) { r.Header.Add("webhook-id", "w1") }},
			"MISSING_REQUIRED_HEADERS"},
		{"signature sent twice", body, []reqOption{h.signed("w1", body),
			func(r *http.Request) { r.Header.Add("webhook-signature", r.Header.Get("webhook-signature")) }}, "MISSING_REQUIRED_HEADERS"},
		{"id too long", body, []reqOption{h.signed(strings.Repeat("w", 257), body)}, "INVALID_WEBHOOK_ID"},
		{"id with a space", body, []reqOption{h.signed("w 1", body)}, "INVALID_WEBHOOK_ID"},
		{"signed junk", "not json", []reqOption{h.signed("w1", "not json")}, "MALFORMED_BODY"},
	} {
		p := assertProblem(t, h.post("/webhooks/portone", c.body, c.opts...), http.StatusBadRequest, "invalid-webhook")
		assert.Contains(t, p["detail"], c.reason, c.name)
		assert.Equal(t, "/webhooks/portone", p["instance"])
	}
	assert.Equal(t, 0, h.inboxDepth())
	rejections := series(t, reg, "creditd_webhook_rejections_total")
	assert.Equal(t, 3.0, rejections["NO_MATCHING_SIGNATURE"])
	assert.Equal(t, 4.0, rejections["MISSING_REQUIRED_HEADERS"])
	assert.Equal(t, 2.0, rejections["INVALID_WEBHOOK_ID"])
	// Every reason is a series from the start, and there is no other.
	assert.Len(t, rejections, len(application.WebhookRejections()))
}

// TestWebhooksNotAboutPaymentsAreAcknowledged: PortOne must not resend
// events creditd has nothing to do with.
func TestWebhooksNotAboutPaymentsAreAcknowledged(t *testing.T) {
	h := newHarness(t)
	for i, body := range []string{
		`{"type":"BillingKey.Issued","timestamp":"2024-04-25T10:00:00.000Z","data":{"storeId":"store-1","billingKey":"bk-1"}}`,
		`{"type":"Transaction.Paid","timestamp":"2024-04-25T10:00:00.000Z","data":{"paymentId":"not/ours","storeId":"store-1"}}`,
		`{"type":"Something.New","data":{}}`,
	} {
		w := h.post("/webhooks/portone", body, h.signed(fmt.Sprintf("w%d", i), body))
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	}
	assert.Equal(t, 0, h.inboxDepth())
}

// TestWebhookBodiesAreBytes: any Content-Type, or none, and the body is
// verified as sent; the body limit and the read timeout apply.
func TestWebhookBodiesAreBytes(t *testing.T) {
	h := newHarness(t)
	for i, opts := range [][]reqOption{
		{withHeader("Content-Type", "text/plain")}, {withoutHeader("Content-Type")}, {chunked},
	} {
		body := " " + paidBody(fmt.Sprintf("pay-%d", i)) + "\n" // white space is part of what is signed
		w := h.post("/webhooks/portone", body, append(opts, h.signed(fmt.Sprintf("w%d", i), body))...)
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	}
	assert.Equal(t, 3, h.inboxDepth())

	huge := `{"type":"Transaction.Paid","pad":"` + strings.Repeat("x", 70<<10) + `"}`
	assertProblem(t, h.post("/webhooks/portone", huge, h.signed("big", huge)), http.StatusRequestEntityTooLarge, "request-too-large")
	assertProblem(t, h.post("/webhooks/portone", huge, h.signed("big", huge), chunked), http.StatusRequestEntityTooLarge, "request-too-large")
	w := h.post("/webhooks/portone", "", h.signed("stalled", `{"amo`), withStalledBody)
	assertProblem(t, w, http.StatusRequestTimeout, "request-timeout")
	assert.Equal(t, 3, h.inboxDepth())
}

// failingInbox fails every write as an unreachable database does.
type failingInbox struct{ application.WebhookInbox }

func (failingInbox) Add(context.Context, application.WebhookEvent, time.Time) (bool, error) {
	return false, fmt.Errorf("store webhook event: %w: connection refused", application.ErrUnavailable)
}

// TestWebhookWithTheDatabaseDownIs503: PortOne resends what was not stored.
func TestWebhookWithTheDatabaseDownIs503(t *testing.T) {
	h := newHarness(t, withWebhookInbox(func(in application.WebhookInbox) application.WebhookInbox { return failingInbox{in} }))
	body := paidBody("pay-1")
	w := h.post("/webhooks/portone", body, h.signed("w1", body))
	assertProblem(t, w, http.StatusServiceUnavailable, "unavailable")
	assert.NotEmpty(t, w.Header().Get("Retry-After"))
	assert.Equal(t, 0, h.inboxDepth())
}

// TestWebhookRouteNeedsNoAPIKey: an API key, if any is sent, is ignored.
func TestWebhookRouteNeedsNoAPIKey(t *testing.T) {
	h := newHarness(t)
	body := paidBody("pay-1")
	w := h.post("/webhooks/portone", body, h.signed("w1", body), withHeader("Authorization", "Bearer nonsense"))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
}
