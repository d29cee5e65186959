package sandbox_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/creditd/creditd/adapters/portone"
	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/cmd/portone-sandbox/sandbox"
)

// The webhook secrets of these tests (the first is PortOne's SDK test secret).
const (
	testWebhookSecret    = "whsec_pzQGE83cSIRKM4/WH5QY+g=="
	rotatedWebhookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
)

// received is one delivery as the receiver saw it.
type received struct {
	header http.Header
	body   string
	at     time.Time
}

// receiver is a webhook endpoint answering each delivery with answer(n),
// n counting from 1.
type receiver struct {
	*httptest.Server
	mu  sync.Mutex
	got []received
}

func newReceiver(t *testing.T, answer func(n int) int) *receiver {
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, received{r.Header.Clone(), string(b), time.Now()})
		n := len(rc.got)
		rc.mu.Unlock()
		w.Header().Set("X-Receiver", "test")
		w.WriteHeader(answer(n))
		_, _ = w.Write([]byte("attempt " + strconv.Itoa(n)))
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) deliveries() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

func always(status int) func(int) int { return func(int) int { return status } }

// steppingClock advances a second at every reading, so each attempt is
// signed at a different webhook-timestamp.
func steppingClock() func() time.Time {
	var ticks atomic.Int64
	start := time.Now().Add(-time.Hour)
	return func() time.Time { return start.Add(time.Duration(ticks.Add(1)) * time.Second) }
}

// verify checks a delivery with creditd's own verifier, at the time it was signed.
func verify(t *testing.T, secrets []string, d received) application.WebhookEvent {
	t.Helper()
	v, err := portone.NewWebhookVerifier(secrets)
	if err != nil {
		t.Fatal(err)
	}
	ts, _ := strconv.ParseInt(d.header.Get("webhook-timestamp"), 10, 64)
	ev, err := v.Verify(application.WebhookDelivery{ID: d.header.Get("webhook-id"), Timestamp: d.header.Get("webhook-timestamp"),
		Signature: d.header.Get("webhook-signature"), Body: []byte(d.body)}, time.Unix(ts, 0))
	if err != nil {
		t.Fatalf("creditd refuses the delivery: %v\n%v\n%s", err, d.header, d.body)
	}
	return ev
}

func TestWebhookIsRetriedUntilTheReceiverTakesIt(t *testing.T) {
	rc := newReceiver(t, func(n int) int {
		if n <= 3 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	sb := startSandbox(t, sandbox.Config{WebhookURL: rc.URL, WebhookSecrets: []string{testWebhookSecret}, WebhookRetryScale: 0.0005, Now: steppingClock()})
	paid := sb.Pay("ord-1", sandbox.PaidWith{Total: 1000})
	waitFor(t, "four attempts", func() bool { return len(rc.deliveries()) == 4 })
	time.Sleep(100 * time.Millisecond) // none after the success
	got := rc.deliveries()
	if len(got) != 4 {
		t.Fatalf("%d attempts, want 4", len(got))
	}
	stamps := map[string]bool{}
	for _, d := range got {
		ev := verify(t, []string{testWebhookSecret}, d)
		if ev.Type != "Transaction.Paid" || ev.Payment.String() != "ord-1" || ev.StoreID != sb.StoreID || d.body != got[0].body ||
			d.header.Get("webhook-id") != got[0].header.Get("webhook-id") || d.header.Get("Content-Type") != "application/json" {
			t.Errorf("attempt %+v, event %+v", d, ev)
		}
		stamps[d.header.Get("webhook-timestamp")] = true
	}
	if len(stamps) != 4 {
		t.Errorf("webhook-timestamps %v: each attempt is signed anew", stamps)
	}
	if !strings.Contains(got[0].body, `"transactionId":"`+paid.TransactionID+`"`) {
		t.Errorf("body %s", got[0].body)
	}

	attempts := mustPayment(t, sb, "ord-1").Webhooks
	if len(attempts) != 4 {
		t.Fatalf("%d attempts recorded: %+v", len(attempts), attempts)
	}
	for i, a := range attempts {
		wantStatus, wantCode := "FAILED_NOT_OK_RESPONSE", "500"
		if i == 3 {
			wantStatus, wantCode = "SUCCEEDED", "200"
		}
		if a.ID != got[0].header.Get("webhook-id") || a.URL != rc.URL || a.PaymentStatus != "PAID" || a.Status != wantStatus ||
			a.CurrentExecutionCount != i+1 || a.MaxExecutionCount != 6 || a.Request == nil || a.Request.Body != got[0].body ||
			!strings.Contains(a.Request.Header, "Webhook-Signature: v1,") || a.Response == nil || a.Response.Code != wantCode ||
			!strings.Contains(a.Response.Header, "X-Receiver: test") || a.Response.Body != "attempt "+strconv.Itoa(i+1) || a.TriggeredAt.IsZero() {
			t.Errorf("attempt %d recorded as %+v (request %+v, response %+v)", i+1, a, a.Request, a.Response)
		}
	}
}

func TestWebhookGivesUpAfterSixAttemptsWaitingPortOnesBackoff(t *testing.T) {
	rc := newReceiver(t, always(http.StatusBadGateway))
	const scale = 0.0002 // waits of at most 12, 48, 192, 768 and 3072 ms
	sb := startSandbox(t, sandbox.Config{WebhookURL: rc.URL, WebhookSecrets: []string{testWebhookSecret}, WebhookRetryScale: scale})
	sb.Pay("ord-1", sandbox.PaidWith{Total: 1000})
	waitFor(t, "six attempts", func() bool { return len(rc.deliveries()) == 6 })
	time.Sleep(200 * time.Millisecond)
	got := rc.deliveries()
	if len(got) != 6 {
		t.Fatalf("%d attempts, want 6", len(got))
	}
	for i, minutes := range []float64{1, 4, 16, 64, 256} {
		limit := time.Duration(minutes*scale*float64(time.Minute)) + 250*time.Millisecond // slack for a loaded machine
		if gap := got[i+1].at.Sub(got[i].at); gap > limit {
			t.Errorf("attempt %d came %s after the one before, more than %s", i+2, gap, limit)
		}
	}
	if p := mustPayment(t, sb, "ord-1"); len(p.Webhooks) != 6 || p.Webhooks[5].CurrentExecutionCount != 6 || p.Webhooks[5].Status != "FAILED_NOT_OK_RESPONSE" {
		t.Errorf("recorded %+v", p.Webhooks)
	}
}

func TestWebhookThatTimesOutIsAnUnexpectedError(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	sb := startSandbox(t, sandbox.Config{WebhookURL: slow.URL, WebhookSecrets: []string{testWebhookSecret}, WebhookRetryScale: 1,
		WebhookTimeout: 50 * time.Millisecond})
	sb.Pay("ord-1", sandbox.PaidWith{Total: 1000})
	waitFor(t, "the first attempt", func() bool { return len(mustPayment(t, sb, "ord-1").Webhooks) == 1 })
	if a := mustPayment(t, sb, "ord-1").Webhooks[0]; a.Status != "FAILED_UNEXPECTED_ERROR" || a.Response != nil {
		t.Errorf("attempt %+v", a)
	}
}

func TestWebhooksAreSignedWithBothSecretsWhileRotating(t *testing.T) {
	rc := newReceiver(t, always(http.StatusOK))
	sb := startSandbox(t, sandbox.Config{WebhookURL: rc.URL, WebhookSecrets: []string{testWebhookSecret, rotatedWebhookSecret}})
	sb.Pay("ord-1", sandbox.PaidWith{Total: 1000})
	waitFor(t, "the delivery", func() bool { return len(rc.deliveries()) == 1 })
	d := rc.deliveries()[0]
	if sigs := strings.Fields(d.header.Get("webhook-signature")); len(sigs) != 2 {
		t.Fatalf("signatures %v, want two", sigs)
	}
	verify(t, []string{testWebhookSecret}, d)
	verify(t, []string{rotatedWebhookSecret}, d)
	if _, err := sandbox.New(sandbox.Config{WebhookSecrets: []string{"whsec_not base64!"}}); err == nil {
		t.Error("a secret that is not base64 was taken")
	}
	if _, err := sandbox.New(sandbox.Config{WebhookURL: rc.URL}); err == nil {
		t.Error("a WebhookURL without a secret was taken")
	}
}

// Each change sends its event, with the trigger PortOne names; an API
// cancel with skipWebhook sends none; without a WebhookURL nothing is sent.
func TestEventsOfEachChange(t *testing.T) {
	rc := newReceiver(t, always(http.StatusOK))
	sb := startSandbox(t, sandbox.Config{WebhookURL: rc.URL, WebhookSecrets: []string{testWebhookSecret}})
	w := sandbox.PaidWith{Total: 1000}
	sb.IssueVirtualAccount("va", w)
	waitFor(t, "issued", func() bool { return len(rc.deliveries()) == 1 })
	if _, err := sb.Deposit("va"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "deposit", func() bool { return len(rc.deliveries()) == 2 })
	code, _ := call(t, sb, "POST", "/payments/va/cancel", map[string]any{"reason": "r", "amount": 100}, nil)
	waitFor(t, "partial cancel", func() bool { return code == 200 && len(rc.deliveries()) == 3 })
	c, err := sb.CancelFromConsole("va", 0)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "cancel", func() bool { return len(rc.deliveries()) == 4 })
	sb.Fail("failed", "declined")
	sb.PayPending("pending", w)
	waitFor(t, "failed and pending", func() bool { return len(rc.deliveries()) == 6 })
	sb.Pay("quiet", w)
	waitFor(t, "paid", func() bool { return len(rc.deliveries()) == 7 })
	if code, body := call(t, sb, "POST", "/payments/quiet/cancel", map[string]any{"reason": "r", "skipWebhook": true}, nil); code != 200 {
		t.Fatalf("%d %v", code, body)
	}
	time.Sleep(100 * time.Millisecond)
	types := map[string]application.WebhookEvent{}
	for _, d := range rc.deliveries() {
		ev := verify(t, []string{testWebhookSecret}, d)
		types[ev.Type+" "+ev.Payment.String()] = ev
	}
	for _, want := range []string{"Transaction.VirtualAccountIssued va", "Transaction.Paid va", "Transaction.PartialCancelled va", "Transaction.Cancelled va",
		"Transaction.Failed failed", "Transaction.PayPending pending", "Transaction.Paid quiet"} {
		if _, ok := types[want]; !ok {
			t.Errorf("no %s among %v", want, types)
		}
	}
	if len(types) != 7 {
		t.Errorf("events %v", types)
	}
	if ev := types["Transaction.Cancelled va"]; ev.CancellationID != c.ID {
		t.Errorf("cancelled event names cancellation %q, want %q", ev.CancellationID, c.ID)
	}
	waitFor(t, "four attempts recorded", func() bool { return len(mustPayment(t, sb, "va").Webhooks) == 4 })
	for _, a := range mustPayment(t, sb, "va").Webhooks {
		deposit := a.PaymentStatus == "PAID"
		if deposit != (a.Trigger == "VIRTUAL_ACCOUNT_DEPOSIT") || deposit != a.IsAsync {
			t.Errorf("attempt %+v", a)
		}
	}

	silent := startSandbox(t, sandbox.Config{})
	silent.Pay("p", w)
	if err := silent.ResendWebhook("p"); err == nil {
		t.Error("resent without a WebhookURL")
	}
}
