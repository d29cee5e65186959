package application_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/creditd/creditd/adapters/memory"
	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// fakeVerifier accepts a delivery whose signature is "ok" and reads its
// body as "<type> <paymentId>"; it counts its calls.
type fakeVerifier struct{ calls atomic.Int64 }

func (v *fakeVerifier) Verify(d application.WebhookDelivery, _ time.Time) (application.WebhookEvent, error) {
	v.calls.Add(1)
	if d.ID == "" || d.Timestamp == "" || d.Signature == "" {
		return application.WebhookEvent{}, &application.InvalidWebhookError{Reason: application.WebhookMissingHeaders}
	}
	if d.Signature != "ok" {
		return application.WebhookEvent{}, &application.InvalidWebhookError{Reason: application.WebhookNoMatchingSignature}
	}
	typ, payment, _ := strings.Cut(string(d.Body), " ")
	e := application.WebhookEvent{ID: d.ID, Type: typ, StoreID: "store-1"}
	if payment != "" {
		p, err := domain.ParsePaymentID(payment)
		if err != nil {
			return application.WebhookEvent{}, &application.InvalidWebhookError{Reason: application.WebhookMalformedBody}
		}
		e.Payment = p
	}
	return e, nil
}

// fakeSyncer answers Sync from a table of errors by payment (nil: synced),
// records every call and checks that no payment is synced twice at once.
type fakeSyncer struct {
	mu       sync.Mutex
	errs     map[domain.PaymentID]error
	calls    []domain.PaymentID
	inFlight map[domain.PaymentID]int
	running  int
	maxRun   int
	overlap  []domain.PaymentID // payments found synced twice at once
	delay    time.Duration
	block    chan struct{} // when set, Sync waits for it or ctx
}

func newFakeSyncer() *fakeSyncer {
	return &fakeSyncer{errs: map[domain.PaymentID]error{}, inFlight: map[domain.PaymentID]int{}}
}

func (s *fakeSyncer) Sync(ctx context.Context, p domain.PaymentID) error {
	s.mu.Lock()
	s.calls = append(s.calls, p)
	s.inFlight[p]++
	if s.inFlight[p] > 1 {
		s.overlap = append(s.overlap, p)
	}
	s.running++
	s.maxRun = max(s.maxRun, s.running)
	err, block, delay := s.errs[p], s.block, s.delay
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inFlight[p]--
		s.running--
		s.mu.Unlock()
	}()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	time.Sleep(delay)
	return err
}

func (s *fakeSyncer) callCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls)
}

type webhookEnv struct {
	t        *testing.T
	ctx      context.Context
	clock    *memory.FixedClock
	inbox    *memory.WebhookInbox
	verifier *fakeVerifier
	syncer   *fakeSyncer
	webhooks *application.Webhooks
}

func newWebhookEnv(t *testing.T, cfg application.WebhookConfig) *webhookEnv {
	e := &webhookEnv{t: t, ctx: t.Context(), clock: memory.NewFixedClock(start), inbox: memory.NewWebhookInbox(),
		verifier: &fakeVerifier{}, syncer: newFakeSyncer()}
	if cfg.Random == nil {
		cfg.Random = func() float64 { return 1 } // the backoff's ceiling, exactly
	}
	e.webhooks = application.NewWebhooks(e.verifier, e.inbox, e.syncer, e.clock, cfg)
	return e
}

func delivery(id, body string) application.WebhookDelivery {
	return application.WebhookDelivery{ID: id, Timestamp: "1", Signature: "ok", Body: []byte(body)}
}

func (e *webhookEnv) receive(d application.WebhookDelivery) application.WebhookReceipt {
	e.t.Helper()
	r, err := e.webhooks.Receive(e.ctx, d)
	if err != nil {
		e.t.Fatalf("receive %q: %v", d.ID, err)
	}
	return r
}

func (e *webhookEnv) depth() int {
	e.t.Helper()
	s, err := e.webhooks.Stats(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	return s.Depth
}

func (e *webhookEnv) process(limit int) application.InboxRun {
	e.t.Helper()
	run, err := e.webhooks.ProcessDue(e.ctx, limit)
	if err != nil {
		e.t.Fatal(err)
	}
	return run
}

func TestReceiveRefusesInvalidDeliveriesAndStoresNothing(t *testing.T) {
	e := newWebhookEnv(t, application.WebhookConfig{})
	for name, c := range map[string]struct {
		d      application.WebhookDelivery
		reason application.WebhookRejection
	}{
		"bad signature":     {application.WebhookDelivery{ID: "w1", Timestamp: "1", Signature: "v1,xx", Body: []byte("Transaction.Paid pay-1")}, application.WebhookNoMatchingSignature},
		"no id":             {application.WebhookDelivery{Timestamp: "1", Signature: "ok", Body: []byte("Transaction.Paid pay-1")}, application.WebhookMissingHeaders},
		"id too long":       {delivery(strings.Repeat("i", 257), "Transaction.Paid pay-1"), application.WebhookInvalidID},
		"id not printable":  {delivery("w 1", "Transaction.Paid pay-1"), application.WebhookInvalidID},
		"id not ASCII":      {delivery("wé", "Transaction.Paid pay-1"), application.WebhookInvalidID},
		"type too long":     {delivery("w2", "Transaction."+strings.Repeat("x", 250)+" pay-1"), application.WebhookMalformedBody},
		"invalid paymentId": {delivery("w3", "Transaction.Paid pay/1"), application.WebhookMalformedBody},
	} {
		_, err := e.webhooks.Receive(e.ctx, c.d)
		var iw *application.InvalidWebhookError
		if !errors.Is(err, application.ErrInvalidWebhook) || !errors.As(err, &iw) || iw.Reason != c.reason {
			t.Errorf("%s: got %v, want an invalid webhook (%s)", name, err, c.reason)
		}
	}
	if d := e.depth(); d != 0 {
		t.Fatalf("%d events stored from invalid deliveries", d)
	}
	// A longest valid id is fine.
	if r := e.receive(delivery(strings.Repeat("i", 256), "Transaction.Paid pay-1")); r != application.WebhookStored {
		t.Fatalf("a 256-character id: %s", r)
	}
}

func TestReceiveStoresAnEventOncePerWebhookID(t *testing.T) {
	e := newWebhookEnv(t, application.WebhookConfig{})
	if r := e.receive(delivery("w1", "Transaction.Paid pay-1")); r != application.WebhookStored {
		t.Fatalf("first delivery: %s", r)
	}
	e.clock.Advance(time.Minute)
	if r := e.receive(delivery("w1", "Transaction.Paid pay-1")); r != application.WebhookDuplicate {
		t.Fatalf("resent delivery: %s", r)
	}
	if r := e.receive(delivery("w2", "Transaction.Paid pay-1")); r != application.WebhookStored {
		t.Fatalf("another event of the same payment: %s", r)
	}
	if d := e.depth(); d != 2 {
		t.Fatalf("depth %d, want 2", d)
	}
	// Even once processed, the id still deduplicates.
	e.process(10)
	if r := e.receive(delivery("w1", "Transaction.Paid pay-1")); r != application.WebhookDuplicate {
		t.Fatalf("delivery of a processed event: %s", r)
	}
	if d := e.depth(); d != 0 {
		t.Fatalf("depth %d after processing, want 0", d)
	}
}

func TestReceiveAcknowledgesEventsNotAboutPayments(t *testing.T) {
	e := newWebhookEnv(t, application.WebhookConfig{})
	for i, body := range []string{"BillingKey.Issued", "TaxInvoice.Issued", "Something.New pay-1", "Transaction.Future"} {
		if r := e.receive(delivery(fmt.Sprintf("w%d", i), body)); r != application.WebhookIgnored {
			t.Errorf("%q: %s, want ignored", body, r)
		}
	}
	if d := e.depth(); d != 0 {
		t.Fatalf("%d ignored events stored", d)
	}
	// An unknown Transaction.* type naming a payment is processed: the sync
	// reads the payment, whatever happened to it.
	if r := e.receive(delivery("w9", "Transaction.SomethingNew pay-1")); r != application.WebhookStored {
		t.Fatalf("unknown transaction event: %s", r)
	}
}

func TestProcessDueSyncsAndMarksDone(t *testing.T) {
	e := newWebhookEnv(t, application.WebhookConfig{})
	e.receive(delivery("w1", "Transaction.Paid pay-1"))
	e.receive(delivery("w2", "Transaction.Paid pay-2"))
	e.receive(delivery("w3", "Transaction.Cancelled pay-2")) // the same payment: one sync covers both
	e.syncer.errs[mustPayment("pay-2")] = fmt.Errorf("order: %w", domain.ErrNotFound)

	run := e.process(10)
	if run.Claimed != 3 || run.Processed != 1 || run.Ignored != 2 || run.Retried != 0 {
		t.Fatalf("run %+v", run)
	}
	if n := e.syncer.callCount(); n != 2 {
		t.Fatalf("%d syncs, want one per payment", n)
	}
	if d := e.depth(); d != 0 {
		t.Fatalf("depth %d after processing", d)
	}
	e.clock.Advance(24 * time.Hour)
	if run := e.process(10); run.Claimed != 0 {
		t.Fatalf("done events claimed again: %+v", run)
	}
}

func TestFailedSyncIsRetriedWithGrowingBackoff(t *testing.T) {
	e := newWebhookEnv(t, application.WebhookConfig{})
	e.receive(delivery("w1", "Transaction.Paid pay-1"))
	e.syncer.errs[mustPayment("pay-1")] = errors.New("gateway: 503 " + strings.Repeat("x", 5000))

	for attempt, wait := range []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 40 * time.Second} {
		run := e.process(10)
		if run.Retried != 1 || len(run.Failures) != 1 {
			t.Fatalf("attempt %d: %+v", attempt+1, run)
		}
		f := run.Failures[0]
		if f.Attempts != attempt+1 || !f.RetryAt.Equal(e.clock.Now().Add(wait)) {
			t.Fatalf("attempt %d: failure %+v, want a retry in %s", attempt+1, f, wait)
		}
		e.clock.Advance(wait - time.Millisecond)
		if run := e.process(10); run.Claimed != 0 {
			t.Fatalf("attempt %d: claimed %s before its backoff ended", attempt+1, wait-time.Millisecond)
		}
		e.clock.Advance(time.Millisecond)
	}
	if got := e.inbox.LastError("w1"); len(got) != 1024 || !strings.HasPrefix(got, "gateway: 503") {
		t.Fatalf("last error %d bytes: %.40q…", len(got), got)
	}
	delete(e.syncer.errs, mustPayment("pay-1"))
	if run := e.process(10); run.Processed != 1 {
		t.Fatalf("after the gateway recovered: %+v", run)
	}
	if d := e.depth(); d != 0 {
		t.Fatalf("depth %d", d)
	}
}

func TestWebhookBackoff(t *testing.T) {
	base, ceiling := 5*time.Second, time.Hour
	one := func() float64 { return 1 }
	for _, c := range []struct {
		attempts int
		want     time.Duration
	}{
		{0, 5 * time.Second}, {1, 5 * time.Second}, {2, 10 * time.Second}, {3, 20 * time.Second},
		{10, 2560 * time.Second}, {11, time.Hour}, {12, time.Hour}, {64, time.Hour}, {1 << 30, time.Hour},
	} {
		if got := application.WebhookBackoff(c.attempts, base, ceiling, one); got != c.want {
			t.Errorf("attempts %d: %s, want %s", c.attempts, got, c.want)
		}
	}
	// Full jitter: a share of the ceiling, never more, never negative.
	for _, c := range []struct {
		r    float64
		want time.Duration
	}{{0, 0}, {0.5, 10 * time.Second}, {0.25, 5 * time.Second}, {-1, 0}, {2, 20 * time.Second}} {
		if got := application.WebhookBackoff(3, base, ceiling, func() float64 { return c.r }); got != c.want {
			t.Errorf("random %v: %s, want %s", c.r, got, c.want)
		}
	}
	if got := application.WebhookBackoff(1, 2*time.Hour, time.Hour, one); got != time.Hour {
		t.Errorf("base above the cap: %s", got)
	}
}

// TestOnePaymentIsNeverSyncedTwiceAtOnce: concurrent ProcessDue calls, each
// syncing several payments at once, never sync one payment twice at once.
func TestOnePaymentIsNeverSyncedTwiceAtOnce(t *testing.T) {
	e := newWebhookEnv(t, application.WebhookConfig{Concurrency: 4})
	e.syncer.delay = 2 * time.Millisecond
	const events, payments = 120, 5
	for i := range events {
		e.receive(delivery(fmt.Sprintf("w%03d", i), fmt.Sprintf("Transaction.Paid pay-%d", i%payments)))
	}
	var wg sync.WaitGroup
	var processed atomic.Int64
	for range 6 {
		wg.Go(func() {
			for {
				run, err := e.webhooks.ProcessDue(e.ctx, 3)
				if err != nil {
					t.Error(err)
					return
				}
				processed.Add(int64(run.Processed))
				if run.Claimed == 0 {
					return
				}
			}
		})
	}
	wg.Wait()
	if processed.Load() != events {
		t.Fatalf("%d events processed, want %d", processed.Load(), events)
	}
	if len(e.syncer.overlap) > 0 {
		t.Fatalf("payments synced twice at once: %v", e.syncer.overlap)
	}
	if e.syncer.maxRun < 2 || e.syncer.maxRun > payments {
		t.Fatalf("at most %d syncs ran at once; want several, at most one per payment", e.syncer.maxRun)
	}
}

func TestProcessDueBoundsConcurrency(t *testing.T) {
	e := newWebhookEnv(t, application.WebhookConfig{Concurrency: 3})
	e.syncer.delay = 2 * time.Millisecond
	for i := range 20 {
		e.receive(delivery(fmt.Sprintf("w%d", i), fmt.Sprintf("Transaction.Paid pay-%d", i)))
	}
	if run := e.process(20); run.Processed != 20 {
		t.Fatalf("run %+v", run)
	}
	if e.syncer.maxRun != 3 {
		t.Fatalf("%d syncs at once, want the bound, 3", e.syncer.maxRun)
	}
}

// TestClaimedEventsWaitForTheirLease: an event claimed by a worker that died
// is processed again once the lease ends, not before.
func TestClaimedEventsWaitForTheirLease(t *testing.T) {
	e := newWebhookEnv(t, application.WebhookConfig{Lease: 30 * time.Second})
	e.receive(delivery("w1", "Transaction.Paid pay-1"))
	if items, err := e.inbox.Claim(e.ctx, e.clock.Now(), 30*time.Second, 10); err != nil || len(items) != 1 {
		t.Fatalf("claim: %v %v", items, err)
	}
	e.clock.Advance(29 * time.Second)
	if run := e.process(10); run.Claimed != 0 {
		t.Fatalf("claimed during another's lease: %+v", run)
	}
	e.clock.Advance(time.Second)
	if run := e.process(10); run.Processed != 1 {
		t.Fatalf("after the lease: %+v", run)
	}
}

// TestSyncCutShortIsLeftToItsLease: at shutdown, a sync whose ctx ends has
// an unknown outcome; the event is neither done nor rescheduled.
func TestSyncCutShortIsLeftToItsLease(t *testing.T) {
	e := newWebhookEnv(t, application.WebhookConfig{Lease: time.Minute})
	e.receive(delivery("w1", "Transaction.Paid pay-1"))
	e.syncer.block = make(chan struct{})
	ctx, cancel := context.WithCancel(e.ctx)
	go func() {
		for e.syncer.callCount() == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	run, err := e.webhooks.ProcessDue(ctx, 10)
	if err != nil || run.Claimed != 1 || run.Processed+run.Retried+run.Ignored != 0 {
		t.Fatalf("run %+v, err %v", run, err)
	}
	e.syncer.block = nil
	e.clock.Advance(time.Minute)
	if run := e.process(10); run.Processed != 1 {
		t.Fatalf("after the lease: %+v", run)
	}
}

func TestForgetProcessedKeepsRetention(t *testing.T) {
	e := newWebhookEnv(t, application.WebhookConfig{Retention: 48 * time.Hour})
	e.receive(delivery("old", "Transaction.Paid pay-1"))
	e.process(10)
	e.clock.Advance(24 * time.Hour)
	e.receive(delivery("new", "Transaction.Paid pay-2"))
	e.process(10)
	e.receive(delivery("pending", "Transaction.Paid pay-3"))
	e.syncer.errs[mustPayment("pay-3")] = errors.New("down")
	e.process(10)
	e.clock.Advance(24*time.Hour + time.Second)
	n, err := e.webhooks.ForgetProcessed(e.ctx)
	if err != nil || n != 1 {
		t.Fatalf("forgot %d (%v), want the one processed over 48h ago", n, err)
	}
	if r := e.receive(delivery("new", "Transaction.Paid pay-2")); r != application.WebhookDuplicate {
		t.Fatalf("a kept event: %s", r)
	}
	if r := e.receive(delivery("old", "Transaction.Paid pay-1")); r != application.WebhookStored {
		t.Fatalf("a forgotten event: %s", r)
	}
	if d := e.depth(); d != 2 {
		t.Fatalf("depth %d, want the pending one and the old one again", d)
	}
}

func mustPayment(s string) domain.PaymentID {
	p, err := domain.ParsePaymentID(s)
	if err != nil {
		panic(err)
	}
	return p
}
