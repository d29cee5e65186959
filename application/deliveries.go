package application

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/creditd/creditd/domain"
)

// Delivery is one outbox event on its way to one webhook endpoint.
type Delivery struct {
	Tenant   domain.TenantID
	Endpoint domain.WebhookEndpointID
	EventID  [16]byte // the webhook-id receivers deduplicate on; a delivery's id within its endpoint
	Seq      int64    // the outbox's order: an account's deliveries go out in it
	// Type is the event's type as stored (a newer replica may know types
	// this one does not).
	Type       string
	Account    domain.AccountID
	Data       []byte // the payload's JSON, as the outbox stored it
	OccurredAt time.Time
	Status     domain.DeliveryStatus
	// RetryFrom is when retries began: the fan-out, or the last redeliver.
	RetryFrom time.Time
	// NextAttemptAt is, while pending, when it is next attempted. A
	// delivery behind another of its endpoint and account waiting for a
	// retry is not due before that retry (the order is kept regardless:
	// see Claim).
	NextAttemptAt time.Time
	Attempts      int
	LastAttemptAt *time.Time
	LastStatus    int // the last attempt's HTTP status; 0 when none came back
	LastError     string
	DeliveredAt   *time.Time
	FinishedAt    *time.Time // when it stopped being pending
}

// ClaimedDelivery is a delivery leased to one worker, with where it goes.
type ClaimedDelivery struct {
	Delivery
	URL    string
	Secret string
}

// DeliveryFilter selects an endpoint's deliveries.
type DeliveryFilter struct {
	Tenant   domain.TenantID
	Endpoint domain.WebhookEndpointID
	Status   *domain.DeliveryStatus
	// BeforeSeq, when set, keeps deliveries of lower seq: the next page.
	BeforeSeq *int64
}

// DeliveryOutcome is what a claimed delivery's attempt came to.
type DeliveryOutcome struct {
	// Status is DeliveryDelivered, DeliveryFailed (given up) or DeliveryPending (retry at Next).
	Status     domain.DeliveryStatus
	At         time.Time // when the attempt ended
	StatusCode int       // 0 when no response came back
	Error      string
	Next       time.Time // the retry's time, when pending
}

// DeliveryStats describe the pending deliveries.
type DeliveryStats struct {
	Pending  int
	OldestAt *time.Time // the oldest pending delivery's RetryFrom; nil when none
}

// FanOutRun is what one FanOut did.
type FanOutRun struct {
	Events     int  // outbox events moved out (delivered to no endpoint or to some)
	Deliveries int  // deliveries made of them
	Skipped    bool // another replica was fanning out: nothing was done
}

// DeliveryStore keeps deliveries, outside any unit of work.
type DeliveryStore interface {
	// FanOut moves up to limit of the oldest outbox events (by seq) into a
	// pending delivery per live endpoint of their tenant that receives their
	// type, due at now, and deletes them from the outbox, in one
	// transaction. Events no endpoint receives are dropped. Only one FanOut
	// runs at a time across replicas: one called while another runs does
	// nothing and says it Skipped.
	FanOut(ctx context.Context, now time.Time, limit int) (FanOutRun, error)
	// Claim leases up to limit due pending deliveries for lease, the longest
	// due first, with FOR UPDATE SKIP LOCKED, counting an attempt on each
	// (a leased delivery is not due until its lease ends). A
	// delivery is due when its time has come and no delivery of lower seq
	// for the same endpoint and account is pending (leased or not), so one
	// claim returns at most one delivery per endpoint and account, and an
	// account's deliveries are attempted one at a time, in seq order.
	Claim(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]ClaimedDelivery, error)
	// Record stores a claimed delivery's outcome, only if it is still
	// pending with the attempts its claim gave it (no later claim took it
	// over after the lease ended), and ends its lease; it reports whether it
	// did. A retry's time also becomes the earliest next attempt of the
	// pending deliveries behind it (same endpoint and account).
	Record(ctx context.Context, d Delivery, o DeliveryOutcome) (bool, error)
	// ListDeliveries reads the filter's deliveries, newest (highest seq) first.
	ListDeliveries(ctx context.Context, f DeliveryFilter, limit int) ([]Delivery, error)
	// Redeliver makes a delivered or failed delivery pending, due at now,
	// retrying from now; a pending one is returned as it is.
	// domain.ErrNotFound when the endpoint has no delivery of the event, or
	// its delivery was cancelled.
	Redeliver(ctx context.Context, tenant domain.TenantID, endpoint domain.WebhookEndpointID, event [16]byte, now time.Time) (Delivery, error)
	// Stats reports the pending deliveries.
	Stats(ctx context.Context) (DeliveryStats, error)
	// DeleteFinishedBefore forgets deliveries finished before cutoff, and
	// endpoints deleted before it that have no delivery left; it says how
	// many deliveries it forgot.
	DeleteFinishedBefore(ctx context.Context, cutoff time.Time) (int, error)
}

// WebhookMessage is one signed POST of an event to an endpoint.
type WebhookMessage struct {
	URL       string
	Secret    string    // the endpoint's whsec_ secret
	ID        string    // webhook-id: the event's id
	Timestamp time.Time // webhook-timestamp: when it is sent
	Body      []byte
}

// SendResult is what an endpoint answered.
type SendResult struct {
	StatusCode int   // 0 when no response came back
	Err        error // why no response came back (timeout, refused, a forbidden address)
}

// Delivered reports whether the endpoint took the event (a 2xx answer).
func (r SendResult) Delivered() bool {
	return r.Err == nil && r.StatusCode >= 200 && r.StatusCode < 300
}

// WebhookSender POSTs signed messages to endpoints (Standard Webhooks).
type WebhookSender interface {
	Send(ctx context.Context, m WebhookMessage) SendResult
}

// DeliveryBody is the body POSTed for a delivery: the same bytes on every attempt.
func DeliveryBody(d Delivery) []byte {
	body, err := json.Marshal(struct {
		ID        string          `json:"id"`
		Type      string          `json:"type"`
		Timestamp string          `json:"timestamp"`
		Data      json.RawMessage `json:"data"`
	}{domain.EventID(d.EventID).String(), d.Type, d.OccurredAt.UTC().Format(time.RFC3339Nano), json.RawMessage(d.Data)})
	if err != nil { // Data is JSON the outbox stored
		panic(fmt.Sprintf("delivery body: %v", err))
	}
	return body
}

// DeliveriesConfig tunes delivery; zero fields take the defaults below.
type DeliveriesConfig struct {
	// Timeout bounds one attempt, connection included.
	Timeout time.Duration
	// Lease is how long a claimed delivery is left to its claimer; it must
	// exceed Timeout, and the defaults make it several times longer.
	Lease time.Duration
	// RetryWindow is how long a delivery is retried before it fails: an
	// attempt that fails at or past RetryFrom + RetryWindow is the last.
	RetryWindow time.Duration
	// BackoffBase and BackoffCap bound the wait between attempts (DeliveryBackoff).
	BackoffBase, BackoffCap time.Duration
	// Retention is how long finished deliveries stay in the log.
	Retention time.Duration
	// Concurrency is how many deliveries one DeliverDue sends at once.
	Concurrency int
	// Random returns a number in [0, 1) for the backoff's jitter; nil uses math/rand/v2.
	Random func() float64
}

// Defaults of DeliveriesConfig.
const (
	DefaultDeliveryTimeout     = 10 * time.Second
	DefaultDeliveryRetryWindow = 72 * time.Hour
	DefaultDeliveryBackoffBase = 30 * time.Second
	DefaultDeliveryBackoffCap  = 6 * time.Hour
	DefaultDeliveryRetention   = 30 * 24 * time.Hour
	DefaultDeliveryConcurrency = 8
)

func (c DeliveriesConfig) withDefaults() DeliveriesConfig {
	if c.Timeout <= 0 {
		c.Timeout = DefaultDeliveryTimeout
	}
	if c.Lease <= c.Timeout {
		c.Lease = 3*c.Timeout + 5*time.Second
	}
	if c.RetryWindow <= 0 {
		c.RetryWindow = DefaultDeliveryRetryWindow
	}
	if c.BackoffBase <= 0 {
		c.BackoffBase = DefaultDeliveryBackoffBase
	}
	if c.BackoffCap <= 0 {
		c.BackoffCap = DefaultDeliveryBackoffCap
	}
	if c.Retention <= 0 {
		c.Retention = DefaultDeliveryRetention
	}
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultDeliveryConcurrency
	}
	if c.Random == nil {
		c.Random = rand.Float64
	}
	return c
}

// Deliveries moves events from the outbox to webhook endpoints. Several
// replicas may run it at once: FanOut runs in one of them at a time, and
// each delivery is claimed with a lease, so one replica at a time attempts it.
type Deliveries struct {
	store  DeliveryStore
	sender WebhookSender
	clock  Clock
	cfg    DeliveriesConfig
}

// NewDeliveries builds the delivery use cases.
func NewDeliveries(store DeliveryStore, sender WebhookSender, clock Clock, cfg DeliveriesConfig) *Deliveries {
	return &Deliveries{store: store, sender: sender, clock: clock, cfg: cfg.withDefaults()}
}

// Config is the configuration in effect, defaults applied.
func (d *Deliveries) Config() DeliveriesConfig { return d.cfg }

// FanOut moves up to limit outbox events into deliveries (DeliveryStore.FanOut).
func (d *Deliveries) FanOut(ctx context.Context, limit int) (FanOutRun, error) {
	return d.store.FanOut(ctx, d.clock.Now(), limit)
}

// DeliveryRun is what one DeliverDue did.
type DeliveryRun struct {
	Claimed   int // a full batch means more may be due
	Delivered int
	Retried   int // failed attempts to be tried again
	Failed    int // failed attempts past the retry window: given up
	// Failures say why each failed attempt failed, for the logs.
	Failures []DeliveryFailure
}

// DeliveryFailure is a failed attempt.
type DeliveryFailure struct {
	Delivery   Delivery
	StatusCode int
	Err        string
	RetryAt    *time.Time // nil: given up
}

// DeliverDue claims up to limit due deliveries and sends them, up to
// Concurrency at once, each within Timeout, then records each outcome. An
// attempt that ctx cut short is not recorded: its delivery is claimed again
// once its lease ends, with the same webhook-id.
func (d *Deliveries) DeliverDue(ctx context.Context, limit int) (DeliveryRun, error) {
	claimed, err := d.store.Claim(ctx, d.clock.Now(), d.cfg.Lease, limit)
	if err != nil {
		return DeliveryRun{}, err
	}
	run := DeliveryRun{Claimed: len(claimed)}
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
		sem  = make(chan struct{}, d.cfg.Concurrency)
	)
	for _, c := range claimed {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			outcome, recorded, err := d.attempt(ctx, c)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			}
			if !recorded {
				return
			}
			switch outcome.Status {
			case domain.DeliveryDelivered:
				run.Delivered++
				return
			case domain.DeliveryFailed:
				run.Failed++
				run.Failures = append(run.Failures, DeliveryFailure{Delivery: c.Delivery, StatusCode: outcome.StatusCode, Err: outcome.Error})
			default:
				run.Retried++
				next := outcome.Next
				run.Failures = append(run.Failures, DeliveryFailure{Delivery: c.Delivery, StatusCode: outcome.StatusCode, Err: outcome.Error, RetryAt: &next})
			}
		})
	}
	wg.Wait()
	return run, errors.Join(errs...)
}

// attempt sends one claimed delivery and records its outcome.
func (d *Deliveries) attempt(ctx context.Context, c ClaimedDelivery) (DeliveryOutcome, bool, error) {
	sctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	res := d.sender.Send(sctx, WebhookMessage{URL: c.URL, Secret: c.Secret, ID: domain.EventID(c.EventID).String(),
		Timestamp: d.clock.Now(), Body: DeliveryBody(c.Delivery)})
	cancel()
	if !res.Delivered() && ctx.Err() != nil {
		return DeliveryOutcome{}, false, nil // cut short (shutdown): left to the lease
	}
	now := d.clock.Now()
	o := DeliveryOutcome{At: now, StatusCode: res.StatusCode}
	switch {
	case res.Delivered():
		o.Status = domain.DeliveryDelivered
	default:
		if res.Err != nil {
			o.Error = lastError(res.Err)
		} else {
			o.Error = fmt.Sprintf("the endpoint answered %d", res.StatusCode)
		}
		end := c.RetryFrom.Add(d.cfg.RetryWindow)
		if !now.Before(end) {
			o.Status = domain.DeliveryFailed
			break
		}
		o.Status = domain.DeliveryPending
		o.Next = now.Add(DeliveryBackoff(c.Attempts, d.cfg.BackoffBase, d.cfg.BackoffCap, d.cfg.Random))
		if o.Next.After(end) {
			o.Next = end // the last attempt comes at the window's end, not before it
		}
	}
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer rcancel()
	recorded, err := d.store.Record(rctx, c.Delivery, o)
	if err != nil {
		return o, false, fmt.Errorf("delivery %s to endpoint %s: record: %w", domain.EventID(c.EventID).String(), c.Endpoint, err)
	}
	return o, recorded, nil
}

// DeliveryBackoff is how long to wait before attempting a delivery again
// after its attempts-th failed attempt (1 for the first): "equal jitter",
// half of min(cap, base·2^(attempts−1)) plus a random share (random() in
// [0, 1]) of the other half. Unlike full jitter, the wait grows with every
// failure, so a receiver that is down is not hammered; the jitter spreads
// deliveries that failed together.
func DeliveryBackoff(attempts int, base, cap time.Duration, random func() float64) time.Duration {
	ceiling := WebhookBackoff(attempts, base, cap, func() float64 { return 1 })
	r := min(max(random(), 0), 1)
	return ceiling/2 + time.Duration(r*float64(ceiling/2))
}

// Stats reports the pending deliveries.
func (d *Deliveries) Stats(ctx context.Context) (DeliveryStats, error) { return d.store.Stats(ctx) }

// ForgetFinished deletes deliveries finished more than Retention ago and says how many.
func (d *Deliveries) ForgetFinished(ctx context.Context) (int, error) {
	return d.store.DeleteFinishedBefore(ctx, d.clock.Now().Add(-d.cfg.Retention))
}
