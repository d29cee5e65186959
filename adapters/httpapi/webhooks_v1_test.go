package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/creditd/creditd/adapters/httpapi"
	"github.com/creditd/creditd/application"
)

const v1Route = "/webhooks/portone/v1"

// withV1WebhookAllow lets only these senders post V1 webhooks.
func withV1WebhookAllow(prefixes ...string) harnessOption {
	return func(d *httpapi.Deps, _ *harness) {
		for _, p := range prefixes {
			d.Config.V1WebhookAllow = append(d.Config.V1WebhookAllow, netip.MustParsePrefix(p))
		}
	}
}

// withV1Inbox wraps the inbox V1 webhooks are stored in, to inject failures.
func withV1Inbox(wrap func(application.WebhookInbox) application.WebhookInbox) harnessOption {
	return func(d *httpapi.Deps, h *harness) {
		d.V1Webhooks = application.NewV1Webhooks(wrap(h.inbox), h.store.Queries(), h.clock)
	}
}

// v1Post posts a V1 webhook body as PortOne does: no API key.
func (h *harness) v1Post(body, contentType string, opts ...reqOption) *httpRecorder {
	h.t.Helper()
	return h.post(v1Route, body, append([]reqOption{withoutHeader("Authorization"), withoutHeader("Idempotency-Key"),
		withHeader("Content-Type", contentType)}, opts...)...)
}

func v1JSON(imp, merchant, status string) string {
	return fmt.Sprintf(`{"imp_uid":%q,"merchant_uid":%q,"status":%q}`, imp, merchant, status)
}

func v1Form(imp, merchant, status string) string {
	return url.Values{"imp_uid": {imp}, "merchant_uid": {merchant}, "status": {status}}.Encode()
}

const formType = "application/x-www-form-urlencoded"

func TestV1WebhookOfAnOrderIsStoredOncePerStatusAndWindow(t *testing.T) {
	h := newHarness(t)
	o := h.v1Order("buyer-1")
	id := o["merchantUid"].(string)
	for range 3 {
		h.must(h.v1Post(v1JSON("imp_1", id, "paid"), "application/json"), http.StatusOK)
		h.must(h.v1Post(v1Form("imp_1", id, "paid"), formType), http.StatusOK)
	}
	assert.Equal(t, 1, h.inboxDepth(), "one event for six deliveries of one change")
	// Unknown JSON members are PortOne's to add.
	h.must(h.v1Post(`{"imp_uid":"imp_1","merchant_uid":"`+id+`","status":"cancelled","cancellation_id":"c-1","tier":"x","n":1}`,
		"application/json; charset=utf-8"), http.StatusOK)
	assert.Equal(t, 2, h.inboxDepth(), "another status is another event")
	items, err := h.inbox.Claim(context.Background(), h.clock.Now(), time.Minute, 10)
	require.NoError(t, err)
	for _, it := range items {
		assert.Equal(t, id, it.Event.Payment.String())
		require.NoError(t, h.inbox.Done(context.Background(), it, h.clock.Now()))
	}
	// A delivery after its event was processed makes it due again: a second
	// change within the window is not deduplicated away.
	h.must(h.v1Post(v1JSON("imp_1", id, "cancelled"), "application/json"), http.StatusOK)
	assert.Equal(t, 1, h.inboxDepth())
	h.must(h.v1Post(v1JSON("imp_1", id, "cancelled"), "application/json"), http.StatusOK)
	assert.Equal(t, 1, h.inboxDepth())
	// A V2 order's id is not a V1 order's.
	v2 := h.order("buyer-2")
	h.must(h.v1Post(v1JSON("imp_2", v2["paymentId"].(string), "paid"), "application/json"), http.StatusOK)
	assert.Equal(t, 1, h.inboxDepth())
	assert.Contains(t, h.get("/metrics").Body.String(), `creditd_webhook_v1_deliveries_total{outcome="rearmed"} 1`)
}

// TestV1WebhookUnderAttack: bodies that are not a V1 notice are refused,
// and none stores anything.
func TestV1WebhookUnderAttack(t *testing.T) {
	h := newHarness(t)
	id := h.v1Order("buyer-1")["merchantUid"].(string)
	for name, c := range map[string]struct {
		body, contentType string
		status            int
		problem           string
	}{
		"duplicate JSON name":   {`{"imp_uid":"imp_1","merchant_uid":"` + id + `","merchant_uid":"ord-x","status":"paid"}`, "application/json", 400, "invalid-webhook"},
		"repeated form key":     {"imp_uid=imp_1&merchant_uid=" + id + "&merchant_uid=ord-x&status=paid", formType, 400, "invalid-webhook"},
		"broken escape":         {"imp_uid=imp_%zz&merchant_uid=" + id, formType, 400, "invalid-webhook"},
		"encoded repeated key":  {"imp_uid=imp_1&merchant_uid=" + id + "&merchant%5Fuid=ord-x", formType, 400, "invalid-webhook"},
		"escaped repeated name": {`{"imp_uid":"imp_1","merchant_uid":"` + id + `","merchant\u005fuid":"ord-x"}`, "application/json", 400, "invalid-webhook"},
		"NUL in imp_uid":        {v1Form("imp\x00", id, "paid"), formType, 400, "invalid-webhook"},
		"encoded NUL":           {"imp_uid=imp%00&merchant_uid=" + id, formType, 400, "invalid-webhook"},
		"invalid UTF-8":         {"{\"imp_uid\":\"imp\xff\",\"merchant_uid\":\"" + id + "\"}", "application/json", 400, "invalid-webhook"},
		"no imp_uid":            {`{"merchant_uid":"` + id + `","status":"paid"}`, "application/json", 400, "invalid-webhook"},
		"long imp_uid":          {v1JSON(strings.Repeat("i", 65), id, "paid"), "application/json", 400, "invalid-webhook"},
		"bad merchant_uid":      {v1JSON("imp_1", "ord/../1", "paid"), "application/json", 400, "invalid-webhook"},
		"numbers":               {`{"imp_uid":1,"merchant_uid":"` + id + `"}`, "application/json", 400, "invalid-webhook"},
		"array":                 {`[]`, "application/json", 400, "invalid-webhook"},
		"plain text":            {v1Form("imp_1", id, "paid"), "text/plain", 415, "unsupported-media-type"},
		"no content type":       {v1Form("imp_1", id, "paid"), "", 415, "unsupported-media-type"},
		"too large":             {v1JSON("imp_1", id, strings.Repeat("p", 9<<10)), "application/json", 413, "request-too-large"},
	} {
		assertProblem(t, h.v1Post(c.body, c.contentType), c.status, c.problem)
		assert.Equal(t, 0, h.inboxDepth(), name)
	}
	assertProblem(t, h.v1Post("", "application/json", withStalledBody), http.StatusRequestTimeout, "request-timeout")
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodDelete, "PROPFIND", "BREW"} {
		assertProblem(t, h.do(m, v1Route, v1JSON("imp_1", id, "paid")), http.StatusMethodNotAllowed, "method-not-allowed")
	}
	assert.Equal(t, 0, h.inboxDepth())
	assert.Contains(t, h.get("/metrics").Body.String(), `creditd_webhook_v1_deliveries_total{outcome="malformed"} 13`)
}

// TestV1WebhookFloodOfUnknownPaymentsStoresNothing: made-up ids are
// acknowledged and leave no row, no metric series and no memory behind.
func TestV1WebhookFloodOfUnknownPaymentsStoresNothing(t *testing.T) {
	h := newHarness(t)
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range 10_000 {
		body := v1JSON(fmt.Sprintf("imp_%d", i), fmt.Sprintf("ord-made-up-%d", i), fmt.Sprintf("status-%d", i))
		if i%2 == 1 {
			body = v1Form(fmt.Sprintf("imp_%d", i), fmt.Sprintf("ord-made-up-%d", i), "paid")
		}
		h.must(h.v1Post(body, map[bool]string{true: formType, false: "application/json"}[i%2 == 1]), http.StatusOK)
	}
	assert.Equal(t, 0, h.inboxDepth())
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	assert.Less(t, int64(after.HeapAlloc)-int64(before.HeapAlloc), int64(4<<20), "the heap grew with the flood")
	metrics := h.get("/metrics").Body.String()
	assert.Contains(t, metrics, `creditd_webhook_v1_deliveries_total{outcome="unknown_order"} 10000`)
	assert.NotContains(t, metrics, "status-1", "a sender's text became a metric label")
}

func TestV1WebhookFromASenderOutsideTheAllowListIsForbidden(t *testing.T) {
	h := newHarness(t, withV1WebhookAllow("52.78.100.19/32", "10.0.0.0/8"))
	id := h.v1Order("buyer-1")["merchantUid"].(string)
	from := func(addr string) reqOption { return func(r *http.Request) { r.RemoteAddr = addr } }
	assertProblem(t, h.v1Post(v1JSON("imp_1", id, "paid"), "application/json", from("192.0.2.1:4000"),
		withHeader("X-Forwarded-For", "52.78.100.19")), http.StatusForbidden, "forbidden")
	assertProblem(t, h.v1Post(v1JSON("imp_1", id, "paid"), "application/json", from("[2001:db8::1]:4000")), http.StatusForbidden, "forbidden")
	assert.Equal(t, 0, h.inboxDepth())
	h.must(h.v1Post(v1JSON("imp_1", id, "paid"), "application/json", from("52.78.100.19:4000")), http.StatusOK)
	h.must(h.v1Post(v1JSON("imp_1", id, "ready"), "application/json", from("[::ffff:10.1.2.3]:4000")), http.StatusOK)
	assert.Equal(t, 2, h.inboxDepth())
}

func TestV1WebhookWithTheDatabaseDownIs503(t *testing.T) {
	h := newHarness(t, withV1Inbox(func(in application.WebhookInbox) application.WebhookInbox { return failingInbox{in} }))
	id := h.v1Order("buyer-1")["merchantUid"].(string)
	w := h.v1Post(v1JSON("imp_1", id, "paid"), "application/json")
	assertProblem(t, w, http.StatusServiceUnavailable, "unavailable")
	assert.NotEmpty(t, w.Header().Get("Retry-After"))
	assert.Equal(t, 0, h.inboxDepth())
}
