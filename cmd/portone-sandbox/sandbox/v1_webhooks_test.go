package sandbox_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/creditd/creditd/cmd/portone-sandbox/sandbox"
)

// v1notices decodes the V1 webhooks a receiver got, JSON or form.
func v1notices(t *testing.T, rc *receiver) []sandbox.V1Notice {
	t.Helper()
	var out []sandbox.V1Notice
	for _, d := range rc.deliveries() {
		var n sandbox.V1Notice
		switch ct := d.header.Get("Content-Type"); ct {
		case sandbox.V1WebhookJSON:
			if err := json.Unmarshal([]byte(d.body), &n); err != nil {
				t.Fatalf("V1 webhook %q: %v", d.body, err)
			}
		case sandbox.V1WebhookForm:
			form, err := url.ParseQuery(d.body)
			if err != nil {
				t.Fatalf("V1 webhook %q: %v", d.body, err)
			}
			n = sandbox.V1Notice{ImpUID: form.Get("imp_uid"), MerchantUID: form.Get("merchant_uid"), Status: form.Get("status"), CancellationID: form.Get("cancellation_id")}
		default:
			t.Fatalf("V1 webhook of Content-Type %q", ct)
		}
		if d.header.Get("webhook-signature") != "" || d.header.Get("webhook-id") != "" {
			t.Errorf("a V1 webhook is unsigned, got %v", d.header)
		}
		out = append(out, n)
	}
	return out
}

// V1 payments are announced by V1 webhooks, for the changes V1 announces
// (paid, vbank issued, deposit, console cancel, API cancel with
// enable_webhook) and no others; V2 payments by V2's only.
func TestV1WebhooksOfEachChange(t *testing.T) {
	v1 := newReceiver(t, always(http.StatusOK))
	v2 := newReceiver(t, always(http.StatusOK))
	sb := startSandbox(t, sandbox.Config{V1WebhookURL: v1.URL, WebhookURL: v2.URL, WebhookSecrets: []string{testWebhookSecret}})
	w := sandbox.PaidWith{Total: 1000, Version: sandbox.VersionV1}

	card := sb.PayV1("card", sandbox.PaidWith{Total: 1000})
	va := sb.IssueVirtualAccount("va", w)
	waitFor(t, "paid and issued", func() bool { return len(v1.deliveries()) == 2 })
	if _, err := sb.Deposit("va"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the deposit", func() bool { return len(v1.deliveries()) == 3 })
	c, err := sb.CancelFromConsole("va", 300)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the console cancel", func() bool { return len(v1.deliveries()) == 4 })

	// Not announced: a failure, a refusal by pre-registration, an API cancel
	// not asking for it.
	sb.Ready("failed", w)
	sb.Fail("failed", "declined")
	sb.Ready("refused", w)
	token := v1token(t, sb)
	okV1(t)(v1call(t, sb, "POST", "/payments/prepare", map[string]any{"merchant_uid": "refused", "amount": 1000}, token))
	sb.Pay("refused", sandbox.PaidWith{Total: 10, Version: sandbox.VersionV1})
	okV1(t)(v1call(t, sb, "POST", "/payments/cancel", map[string]any{"imp_uid": card.ImpUID, "amount": 100, "reason": "r"}, token))
	time.Sleep(100 * time.Millisecond)
	if n := len(v1.deliveries()); n != 4 {
		t.Fatalf("%d V1 webhooks after the unannounced changes, want 4: %v", n, v1notices(t, v1))
	}
	okV1(t)(v1call(t, sb, "POST", "/payments/cancel", map[string]any{"merchant_uid": "card", "reason": "r", "enable_webhook": true}, token))
	waitFor(t, "the API cancel asking for it", func() bool { return len(v1.deliveries()) == 5 })

	got := v1notices(t, v1)
	want := []sandbox.V1Notice{
		{ImpUID: card.ImpUID, MerchantUID: "card", Status: "paid"},
		{ImpUID: va.ImpUID, MerchantUID: "va", Status: "ready"},
		{ImpUID: va.ImpUID, MerchantUID: "va", Status: "paid"},
		{ImpUID: va.ImpUID, MerchantUID: "va", Status: "cancelled", CancellationID: c.ID},
		{ImpUID: card.ImpUID, MerchantUID: "card", Status: "cancelled", CancellationID: mustPayment(t, sb, "card").Cancellations[1].ID},
	}
	for i := range want { // the first two may come in either order
		if !containsNotice(got, want[i]) {
			t.Errorf("no V1 webhook %+v among %+v", want[i], got)
		}
	}
	if len(v2.deliveries()) != 0 {
		t.Errorf("V1 payments sent %d V2 webhooks", len(v2.deliveries()))
	}
	for _, d := range v1.deliveries() {
		if d.header.Get("Content-Type") != "application/json" || !strings.HasPrefix(d.body, `{"imp_uid":`) {
			t.Errorf("a V1 webhook by default is JSON: %v %s", d.header, d.body)
		}
	}

	sb.Pay("v2", sandbox.PaidWith{Total: 1000})
	waitFor(t, "the V2 payment's V2 webhook", func() bool { return len(v2.deliveries()) == 1 })
	time.Sleep(50 * time.Millisecond)
	if len(v1.deliveries()) != 5 {
		t.Errorf("a V2 payment sent a V1 webhook")
	}

	waitFor(t, "the attempts recorded", func() bool { return len(mustPayment(t, sb, "va").Webhooks) == 3 })
	for _, a := range mustPayment(t, sb, "va").Webhooks {
		if a.URL != v1.URL || a.Status != "SUCCEEDED" || a.MaxExecutionCount != 1 || a.Request == nil ||
			!strings.Contains(a.Request.Header, "Content-Type: application/json") || strings.Contains(a.Request.Header, "Webhook-Signature") ||
			!strings.Contains(a.Request.Body, `"merchant_uid":"va"`) {
			t.Errorf("recorded %+v %+v", a, a.Request)
		}
	}
	for _, r := range sb.Payments() {
		if !strings.HasPrefix(r.ImpUID, "imp_") {
			t.Errorf("the sandbox page's record %s has no imp_uid", r.Payment)
		}
	}
	var rendered struct{ Version string }
	_, raw := rawCall(t, sb, "GET", "/payments/va", "")
	if err := json.Unmarshal(raw, &rendered); err != nil || rendered.Version != "V1" {
		t.Errorf("V2's API shows a V1 payment as version %q (%v)", rendered.Version, err)
	}
}

func containsNotice(list []sandbox.V1Notice, n sandbox.V1Notice) bool {
	for _, m := range list {
		if m == n {
			return true
		}
	}
	return false
}

func TestV1WebhooksAsForms(t *testing.T) {
	rc := newReceiver(t, always(http.StatusOK))
	sb := startSandbox(t, sandbox.Config{V1WebhookURL: rc.URL, V1WebhookContentType: sandbox.V1WebhookForm})
	p := sb.PayV1("ord/1 &x", sandbox.PaidWith{Total: 1000})
	c, err := sb.CancelFromConsole("ord/1 &x", 0)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "two webhooks", func() bool { return len(rc.deliveries()) == 2 })
	got := v1notices(t, rc)
	if !containsNotice(got, sandbox.V1Notice{ImpUID: p.ImpUID, MerchantUID: "ord/1 &x", Status: "paid"}) ||
		!containsNotice(got, sandbox.V1Notice{ImpUID: p.ImpUID, MerchantUID: "ord/1 &x", Status: "cancelled", CancellationID: c.ID}) {
		t.Errorf("form webhooks %+v", got)
	}
	if _, err := sandbox.New(sandbox.Config{V1WebhookContentType: "text/xml"}); err == nil {
		t.Error("a V1 content type other than JSON or a form was taken")
	}
}

// V1 sends once unless its retry option is on; then it retries a network
// error or a 5xx up to 5 times a minute apart (scaled), and not a 4xx.
func TestV1WebhookRetries(t *testing.T) {
	const scale = 0.0005 // 30 ms a minute
	for _, tt := range []struct {
		name    string
		retries bool
		status  int
		want    int
	}{
		{"off: one attempt", false, http.StatusInternalServerError, 1},
		{"on: a 5xx is retried five times", true, http.StatusServiceUnavailable, 6},
		{"on: a 4xx is not retried", true, http.StatusBadRequest, 1},
		{"on: a success ends it", true, http.StatusOK, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rc := newReceiver(t, always(tt.status))
			sb := startSandbox(t, sandbox.Config{V1WebhookURL: rc.URL, V1WebhookRetries: tt.retries, WebhookRetryScale: scale})
			sb.PayV1("ord-1", sandbox.PaidWith{Total: 1000})
			waitFor(t, "the attempts", func() bool { return len(rc.deliveries()) == tt.want })
			time.Sleep(200 * time.Millisecond) // a minute is 30 ms here: any retry more would have come
			got := rc.deliveries()
			if len(got) != tt.want {
				t.Fatalf("%d attempts, want %d", len(got), tt.want)
			}
			for i := 1; i < len(got); i++ {
				if gap := got[i].at.Sub(got[i-1].at); gap < 25*time.Millisecond {
					t.Errorf("attempt %d came %s after the one before, under a (scaled) minute", i+1, gap)
				}
			}
			waitFor(t, "the attempts recorded", func() bool { return len(mustPayment(t, sb, "ord-1").Webhooks) == tt.want })
			last := mustPayment(t, sb, "ord-1").Webhooks[tt.want-1]
			if last.CurrentExecutionCount != tt.want || last.MaxExecutionCount != map[bool]int{false: 1, true: 6}[tt.retries] {
				t.Errorf("last attempt recorded %+v", last)
			}
		})
	}

	t.Run("on: a network error is retried", func(t *testing.T) {
		gone := httptest.NewServer(http.NotFoundHandler())
		gone.Close()
		sb := startSandbox(t, sandbox.Config{V1WebhookURL: gone.URL, V1WebhookRetries: true, WebhookRetryScale: scale})
		sb.PayV1("ord-1", sandbox.PaidWith{Total: 1000})
		waitFor(t, "six attempts", func() bool { return len(mustPayment(t, sb, "ord-1").Webhooks) == 6 })
		for _, a := range mustPayment(t, sb, "ord-1").Webhooks {
			if a.Status != "FAILED_UNEXPECTED_ERROR" {
				t.Errorf("attempt %+v", a)
			}
		}
	})
}

// A payment's notice_url takes its V1 webhooks instead of V1WebhookURL,
// and SetV1WebhookURL moves the others.
func TestV1NoticeURLAndSetV1WebhookURL(t *testing.T) {
	console := newReceiver(t, always(http.StatusOK))
	notice := newReceiver(t, always(http.StatusOK))
	moved := newReceiver(t, always(http.StatusOK))
	sb := startSandbox(t, sandbox.Config{V1WebhookURL: console.URL})
	sb.PayV1("noticed", sandbox.PaidWith{Total: 1000, NoticeURL: notice.URL})
	sb.PayV1("plain", sandbox.PaidWith{Total: 1000})
	waitFor(t, "both", func() bool { return len(console.deliveries()) == 1 && len(notice.deliveries()) == 1 })
	if n := v1notices(t, notice); n[0].MerchantUID != "noticed" {
		t.Errorf("notice_url got %+v", n)
	}
	sb.SetV1WebhookURL(moved.URL)
	if _, err := sb.CancelFromConsole("plain", 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the moved one", func() bool { return len(moved.deliveries()) == 1 })
	sb.SetV1WebhookURL("")
	if err := sb.ResendWebhook("plain"); err == nil {
		t.Error("resent with nowhere to send to")
	}
	if err := sb.ResendWebhook("noticed"); err != nil { // it still has its notice_url
		t.Fatal(err)
	}
	waitFor(t, "the resend", func() bool { return len(notice.deliveries()) == 2 })
	if got := notice.deliveries(); got[0].body != got[1].body {
		t.Errorf("the resend %s differs from %s", got[1].body, got[0].body)
	}
}

// The webhook faults (drop, duplicate, hold) apply to V1 webhooks as to V2's.
func TestV1WebhookFaults(t *testing.T) {
	rc := newReceiver(t, always(http.StatusOK))
	sb := startSandbox(t, sandbox.Config{V1WebhookURL: rc.URL})
	sb.DropWebhooks(1)
	sb.PayV1("dropped", sandbox.PaidWith{Total: 1000})
	if d := sb.DroppedWebhooks(); len(d) != 1 || d[0].PaymentID != "dropped" {
		t.Errorf("dropped %+v", d)
	}
	sb.DuplicateWebhooks(1)
	sb.PayV1("twice", sandbox.PaidWith{Total: 1000})
	waitFor(t, "two copies", func() bool { return len(rc.deliveries()) == 2 })
	sb.DuplicateWebhooks(0)
	sb.HoldWebhooks(true)
	sb.PayV1("held", sandbox.PaidWith{Total: 1000})
	time.Sleep(50 * time.Millisecond)
	if len(rc.deliveries()) != 2 || sb.Faults().Webhooks.Held != 1 {
		t.Fatalf("a held V1 webhook was sent (%d), or not held (%+v)", len(rc.deliveries()), sb.Faults())
	}
	if n := sb.ReleaseWebhooks(false); n != 1 {
		t.Errorf("released %d", n)
	}
	waitFor(t, "the released one", func() bool { return len(rc.deliveries()) == 3 })
	if n := v1notices(t, rc); n[2].MerchantUID != "held" || n[0] != n[1] {
		t.Errorf("notices %+v", n)
	}
}

// A V1 target that never answers holds only its own delivery: the API and
// other deliveries go on.
func TestStalledV1TargetBlocksNothing(t *testing.T) {
	release := make(chan struct{})
	stalled := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer stalled.Close()
	defer close(release)
	rc := newReceiver(t, always(http.StatusOK))
	sb := startSandbox(t, sandbox.Config{V1WebhookURL: stalled.URL, WebhookURL: rc.URL, WebhookSecrets: []string{testWebhookSecret}})
	for i := range 20 {
		sb.PayV1("stalled-"+string(rune('a'+i)), sandbox.PaidWith{Total: 1000})
	}
	start := time.Now()
	sb.Pay("v2", sandbox.PaidWith{Total: 1000})
	if code, _ := call(t, sb, "GET", "/payments/v2", nil, nil); code != 200 {
		t.Fatalf("GET answered %d", code)
	}
	waitFor(t, "the V2 webhook", func() bool { return len(rc.deliveries()) == 1 })
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("the API and a V2 webhook took %s behind stalled V1 deliveries", took)
	}
}

func TestSendV1Webhook(t *testing.T) {
	rc := newReceiver(t, always(http.StatusAccepted))
	sb := startSandbox(t, sandbox.Config{})
	code, err := sb.SendV1Webhook(context.Background(), rc.URL, "imp_1", "ord-1", "paid")
	if err != nil || code != http.StatusAccepted {
		t.Fatalf("%d %v", code, err)
	}
	code, err = sb.SendV1Notice(context.Background(), rc.URL, sandbox.V1Notice{ImpUID: "imp_1", MerchantUID: "ord-1", Status: "cancelled", CancellationID: "c-1"}, sandbox.V1WebhookForm)
	if err != nil || code != http.StatusAccepted {
		t.Fatalf("%d %v", code, err)
	}
	got := v1notices(t, rc)
	if len(got) != 2 || got[0] != (sandbox.V1Notice{ImpUID: "imp_1", MerchantUID: "ord-1", Status: "paid"}) ||
		got[1] != (sandbox.V1Notice{ImpUID: "imp_1", MerchantUID: "ord-1", Status: "cancelled", CancellationID: "c-1"}) {
		t.Errorf("sent %+v", got)
	}
	if rc.deliveries()[0].body != `{"imp_uid":"imp_1","merchant_uid":"ord-1","status":"paid"}` {
		t.Errorf("body %s", rc.deliveries()[0].body)
	}
	if _, err := sb.SendV1Webhook(context.Background(), "http://127.0.0.1:1/", "imp_1", "ord-1", "paid"); err == nil {
		t.Error("no error from a refused connection")
	}
}

// A V1 payment stays one across SaveState and LoadState, notice_url and all.
func TestV1PaymentSurvivesSaveAndLoad(t *testing.T) {
	notice := newReceiver(t, always(http.StatusOK))
	sb := startSandbox(t, sandbox.Config{})
	sb.PayV1("ord-1", sandbox.PaidWith{Total: 1000, NoticeURL: notice.URL})
	waitFor(t, "the paid webhook", func() bool { return len(notice.deliveries()) == 1 })
	var state strings.Builder
	if err := sb.SaveState(&state); err != nil {
		t.Fatal(err)
	}
	again := startSandbox(t, sandbox.Config{})
	if err := again.LoadState(strings.NewReader(state.String())); err != nil {
		t.Fatal(err)
	}
	if p := mustPayment(t, again, "ord-1"); p.Version != sandbox.VersionV1 || p.NoticeURL != notice.URL {
		t.Fatalf("loaded %+v", p)
	}
	if _, err := again.CancelFromConsole("ord-1", 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the cancel's V1 webhook", func() bool { return len(notice.deliveries()) == 2 })
	if n := v1notices(t, notice); n[1].Status != "cancelled" {
		t.Errorf("after a reload: %+v", n)
	}
}
