package application

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/creditd/creditd/domain"
)

// Webhooks receives the payment gateway's webhooks into an inbox and
// processes the inbox. A webhook is trusted only to name a payment: each
// processed event makes creditd read that payment again from the gateway
// (PaymentSyncer), never use the event's own content for amounts or states.
//
// Several replicas may process the inbox at once: an event is claimed for a
// lease, so only one of them syncs it at a time, and one whose worker died
// is processed again once its lease ends. Syncing is idempotent, so an event
// processed twice (a lease that ended during a slow sync) does no harm.
type Webhooks struct {
	verifier WebhookVerifier
	inbox    WebhookInbox
	syncer   PaymentSyncer
	clock    Clock
	cfg      WebhookConfig

	// syncing holds the payments being synced in this process, so that two
	// concurrent ProcessDue calls never sync one payment at once.
	mu      sync.Mutex
	syncing map[domain.PaymentID]chan struct{}
}

// WebhookConfig tunes the inbox; zero fields take the defaults below.
type WebhookConfig struct {
	// Lease is how long a claimed event is left to its claimer before
	// another claim may take it. It must exceed a sync's longest duration.
	Lease time.Duration
	// Retention is how long processed events are kept; until then their
	// webhook-id deduplicates deliveries. PortOne's resends stop within a
	// few hours, so the default 30 days is ample.
	Retention time.Duration
	// Concurrency is how many payments one ProcessDue syncs at once.
	Concurrency int
	// BackoffBase and BackoffCap bound the wait before an event whose sync
	// failed is tried again (see WebhookBackoff).
	BackoffBase, BackoffCap time.Duration
	// Random returns a number in [0, 1) for the backoff's jitter; nil uses math/rand/v2.
	Random func() float64
}

// Defaults of WebhookConfig.
const (
	DefaultWebhookLease       = time.Minute
	DefaultWebhookRetention   = 30 * 24 * time.Hour
	DefaultWebhookConcurrency = 8
	DefaultWebhookBackoffBase = 5 * time.Second
	DefaultWebhookBackoffCap  = time.Hour
)

func (c WebhookConfig) withDefaults() WebhookConfig {
	if c.Lease <= 0 {
		c.Lease = DefaultWebhookLease
	}
	if c.Retention <= 0 {
		c.Retention = DefaultWebhookRetention
	}
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultWebhookConcurrency
	}
	if c.BackoffBase <= 0 {
		c.BackoffBase = DefaultWebhookBackoffBase
	}
	if c.BackoffCap <= 0 {
		c.BackoffCap = DefaultWebhookBackoffCap
	}
	if c.Random == nil {
		c.Random = rand.Float64
	}
	return c
}

// NewWebhooks builds the webhook use cases.
func NewWebhooks(verifier WebhookVerifier, inbox WebhookInbox, syncer PaymentSyncer, clock Clock, cfg WebhookConfig) *Webhooks {
	return &Webhooks{verifier: verifier, inbox: inbox, syncer: syncer, clock: clock, cfg: cfg.withDefaults(),
		syncing: map[domain.PaymentID]chan struct{}{}}
}

// WebhookInvalidID rejects a webhook-id that is not 1 to MaxWebhookIDLength
// printable ASCII characters: it is stored as the event's key, and Standard
// Webhooks ids are short tokens.
const WebhookInvalidID WebhookRejection = "INVALID_WEBHOOK_ID"

// MaxWebhookIDLength bounds a webhook-id, and the other names an event
// carries (its type, store and cancellation ids).
const MaxWebhookIDLength = 256

// WebhookRejections is every reason a delivery is rejected for: a closed
// set, for metrics labels.
func WebhookRejections() []WebhookRejection {
	return []WebhookRejection{WebhookMissingHeaders, WebhookInvalidSignature, WebhookNoMatchingSignature,
		WebhookTimestampTooOld, WebhookTimestampTooNew, WebhookMalformedBody, WebhookInvalidID}
}

// transactionEventPrefix starts the type of every event about a payment.
// The others (BillingKey.*, TaxInvoice.*, and types PortOne adds later)
// are not creditd's to process.
const transactionEventPrefix = "Transaction."

// WebhookReceipt says what Receive did with a verified delivery.
type WebhookReceipt string

const (
	// WebhookStored: the event is new and now in the inbox.
	WebhookStored WebhookReceipt = "stored"
	// WebhookDuplicate: the inbox has the event already (a resent delivery).
	WebhookDuplicate WebhookReceipt = "duplicate"
	// WebhookIgnored: the event is not about a payment, so not creditd's to process.
	WebhookIgnored WebhookReceipt = "ignored"
)

// Receive verifies a delivery and stores its event in the inbox, once per
// webhook-id: a resent delivery of a stored event is acknowledged all the
// same. Events that name no payment, or whose type is not a Transaction.*
// one (billing keys, tax invoices, types PortOne adds later), are
// acknowledged and not stored at all: nothing would process them, and an
// error would only make PortOne resend them.
//
// A delivery that fails verification fails with an error wrapping
// ErrInvalidWebhook (a *InvalidWebhookError naming the reason), and nothing
// is stored. When Receive returns nil the event is durable.
func (w *Webhooks) Receive(ctx context.Context, d WebhookDelivery) (WebhookReceipt, error) {
	// An empty id is the verifier's to reject (MISSING_REQUIRED_HEADERS).
	if d.ID != "" && !validName(d.ID) {
		return "", &InvalidWebhookError{Reason: WebhookInvalidID}
	}
	now := w.clock.Now()
	e, err := w.verifier.Verify(d, now)
	if err != nil {
		return "", err
	}
	if e.ID == "" {
		e.ID = d.ID
	}
	if e.ID != d.ID {
		return "", fmt.Errorf("webhook verifier returned event %q for delivery %q", e.ID, d.ID)
	}
	if !strings.HasPrefix(e.Type, transactionEventPrefix) || e.Payment.IsZero() {
		return WebhookIgnored, nil
	}
	// The body is signed, but its names go into the inbox: bound them.
	for _, s := range []string{e.Type, e.StoreID, e.CancellationID} {
		if len(s) > MaxWebhookIDLength || !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
			return "", &InvalidWebhookError{Reason: WebhookMalformedBody}
		}
	}
	stored, err := w.inbox.Add(ctx, e, now)
	switch {
	case err != nil:
		return "", err
	case stored:
		return WebhookStored, nil
	}
	return WebhookDuplicate, nil
}

// validName reports whether s is 1 to MaxWebhookIDLength printable ASCII characters.
func validName(s string) bool {
	if len(s) == 0 || len(s) > MaxWebhookIDLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// InboxRun is what one ProcessDue did.
type InboxRun struct {
	Claimed   int // events claimed: a full batch means more may be due
	Processed int // events whose payment was synced
	Ignored   int // events naming a payment creditd has no order for
	Retried   int // events whose sync failed, due again later
	// Failures say why each retried event failed, for the logs.
	Failures []InboxFailure
}

// InboxFailure is a failed sync of a claimed event.
type InboxFailure struct {
	Event    WebhookEvent
	Attempts int // this one included
	RetryAt  time.Time
	Err      error
}

// maxLastErrorBytes bounds the failure reason kept with an event.
const maxLastErrorBytes = 1024

// recordTimeout bounds recording an event's outcome, which is done even
// when ctx has ended (at shutdown), so a finished sync is not done again.
const recordTimeout = 5 * time.Second

// ProcessDue claims up to limit due events and syncs the payments they
// name, outside any transaction, up to Concurrency payments at once, each
// for at most half the lease. (A limit above Concurrency lets the last
// syncs of a batch start late; their events' leases may then end first.) The
// events of one payment are synced by one call (a sync reads the payment's
// current state, which covers them all), and never while this process
// syncs that payment for another ProcessDue. A synced event, or one naming
// a payment creditd has no order for, is done; one whose sync failed is due
// again after WebhookBackoff. An event whose sync ctx cut short is left to
// its lease. The error reports failures to claim or to record an outcome.
func (w *Webhooks) ProcessDue(ctx context.Context, limit int) (InboxRun, error) {
	items, err := w.inbox.Claim(ctx, w.clock.Now(), w.cfg.Lease, limit)
	if err != nil {
		return InboxRun{}, err
	}
	run := InboxRun{Claimed: len(items)}
	var order []domain.PaymentID
	byPayment := map[domain.PaymentID][]InboxItem{}
	for _, it := range items {
		p := it.Event.Payment
		if _, seen := byPayment[p]; !seen {
			order = append(order, p)
		}
		byPayment[p] = append(byPayment[p], it)
	}

	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
		sem  = make(chan struct{}, w.cfg.Concurrency)
	)
	for _, p := range order {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			out, err := w.process(ctx, p, byPayment[p])
			mu.Lock()
			defer mu.Unlock()
			run.Processed += out.Processed
			run.Ignored += out.Ignored
			run.Retried += out.Retried
			run.Failures = append(run.Failures, out.Failures...)
			if err != nil {
				errs = append(errs, err)
			}
		})
	}
	wg.Wait()
	return run, errors.Join(errs...)
}

// process syncs one payment and records the outcome of its claimed events.
func (w *Webhooks) process(ctx context.Context, p domain.PaymentID, items []InboxItem) (InboxRun, error) {
	release, err := w.lockPayment(ctx, p)
	if err != nil {
		return InboxRun{}, nil // ctx ended while waiting: the leases end on their own
	}
	// Half the lease: a sync that hangs fails, and is retried, well before
	// its events' leases end and another claim could take them.
	sctx, cancel := context.WithTimeout(ctx, w.cfg.Lease/2)
	syncErr := w.syncer.Sync(sctx, p)
	cancel()
	release()
	if syncErr != nil && ctx.Err() != nil {
		return InboxRun{}, nil // cut short: the outcome is unknown, so leave it to the lease
	}

	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	now := w.clock.Now()
	var (
		run  InboxRun
		errs []error
	)
	for _, it := range items {
		switch {
		case syncErr == nil || errors.Is(syncErr, domain.ErrNotFound):
			if err := w.inbox.Done(rctx, it, now); err != nil {
				errs = append(errs, fmt.Errorf("webhook %s: mark done: %w", it.Event.ID, err))
				continue
			}
			if syncErr == nil {
				run.Processed++
			} else {
				run.Ignored++
			}
		default:
			attempts := it.Attempts + 1
			at := now.Add(WebhookBackoff(attempts, w.cfg.BackoffBase, w.cfg.BackoffCap, w.cfg.Random))
			if err := w.inbox.Retry(rctx, it.Event.ID, at, lastError(syncErr)); err != nil {
				errs = append(errs, fmt.Errorf("webhook %s: schedule a retry: %w", it.Event.ID, err))
				continue
			}
			run.Retried++
			run.Failures = append(run.Failures, InboxFailure{Event: it.Event, Attempts: attempts, RetryAt: at, Err: syncErr})
		}
	}
	return run, errors.Join(errs...)
}

// lockPayment waits until no other ProcessDue of this process syncs p, and
// claims it; release gives it back.
func (w *Webhooks) lockPayment(ctx context.Context, p domain.PaymentID) (release func(), err error) {
	for {
		w.mu.Lock()
		busy, ok := w.syncing[p]
		if !ok {
			done := make(chan struct{})
			w.syncing[p] = done
			w.mu.Unlock()
			return func() {
				w.mu.Lock()
				delete(w.syncing, p)
				w.mu.Unlock()
				close(done)
			}, nil
		}
		w.mu.Unlock()
		select {
		case <-busy:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// lastError is err's text as kept with the event: valid UTF-8 without NUL
// (PostgreSQL's text refuses both), at most maxLastErrorBytes.
func lastError(err error) string {
	s := strings.ToValidUTF8(strings.ReplaceAll(err.Error(), "\x00", ""), "\uFFFD")
	if len(s) <= maxLastErrorBytes {
		return s
	}
	cut := maxLastErrorBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// maxBackoffDoublings keeps base<<n from overflowing; the cap applies long before.
const maxBackoffDoublings = 30

// WebhookBackoff is how long to wait before trying an event again after
// its attempts-th failed attempt (1 for the first): "full jitter", a random
// share (random() in [0, 1]) of min(cap, base·2^(attempts−1)), so that
// events that failed together (the gateway was down) spread out.
func WebhookBackoff(attempts int, base, cap time.Duration, random func() float64) time.Duration {
	n := min(max(attempts-1, 0), maxBackoffDoublings)
	ceiling := cap
	if base <= cap>>n {
		ceiling = base << n
	}
	r := min(max(random(), 0), 1)
	return time.Duration(r * float64(ceiling))
}

// Stats reports the events not processed yet: how many, and since when the oldest waits.
func (w *Webhooks) Stats(ctx context.Context) (InboxStats, error) {
	return w.inbox.Stats(ctx)
}

// ForgetProcessed deletes the events processed more than Retention ago and
// says how many.
func (w *Webhooks) ForgetProcessed(ctx context.Context) (int, error) {
	return w.inbox.DeleteDoneBefore(ctx, w.clock.Now().Add(-w.cfg.Retention))
}
