package memory

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// Webhooks keeps webhook endpoints and their deliveries in memory, with the
// PostgreSQL adapter's semantics, and fans out the events of a Store's
// outbox. It implements both application.WebhookEndpointStore and
// application.DeliveryStore.
type Webhooks struct {
	store *Store

	mu         sync.Mutex
	endpoints  map[endpointKey]*endpointRecord
	deliveries map[deliveryKey]*application.Delivery
	leases     map[deliveryKey]time.Time // claimed deliveries' leases
}

type endpointKey struct {
	tenant domain.TenantID
	id     domain.WebhookEndpointID
}

type deliveryKey struct {
	endpoint endpointKey
	event    [16]byte
}

type endpointRecord struct {
	endpoint  *domain.WebhookEndpoint
	deletedAt *time.Time
}

var (
	_ application.WebhookEndpointStore = (*Webhooks)(nil)
	_ application.DeliveryStore        = (*Webhooks)(nil)
	_ application.Subscriptions        = (*Webhooks)(nil)
)

// Subscribed reads which event types the tenant's live endpoints receive.
func (w *Webhooks) Subscribed(ctx context.Context, tenant domain.TenantID) (bool, []domain.EventType, error) {
	if err := ctx.Err(); err != nil {
		return false, nil, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	var types []domain.EventType
	for k, r := range w.endpoints {
		if k.tenant != tenant || r.deletedAt != nil {
			continue
		}
		events := r.endpoint.Events()
		if len(events) == 0 {
			return true, nil, nil
		}
		for _, t := range events {
			if !slices.Contains(types, t) {
				types = append(types, t)
			}
		}
	}
	return false, types, nil
}

// NewWebhooks keeps endpoints and deliveries of the events s's units of work append.
func NewWebhooks(s *Store) *Webhooks {
	return &Webhooks{store: s, endpoints: map[endpointKey]*endpointRecord{}, deliveries: map[deliveryKey]*application.Delivery{},
		leases: map[deliveryKey]time.Time{}}
}

func (w *Webhooks) Create(ctx context.Context, e *domain.WebhookEndpoint, max int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	live := 0
	for k, r := range w.endpoints {
		if k.tenant == e.Tenant() && r.deletedAt == nil {
			live++
		}
	}
	if live >= max {
		return fmt.Errorf("%w (%d)", domain.ErrWebhookEndpointLimit, max)
	}
	w.endpoints[endpointKey{e.Tenant(), e.ID()}] = &endpointRecord{endpoint: copyEndpoint(e)}
	return nil
}

func copyEndpoint(e *domain.WebhookEndpoint) *domain.WebhookEndpoint {
	return domain.RehydrateWebhookEndpoint(e.ID(), e.Tenant(), e.URL(), e.Events(), e.Secret(), e.CreatedAt())
}

func (w *Webhooks) Get(ctx context.Context, tenant domain.TenantID, id domain.WebhookEndpointID) (*domain.WebhookEndpoint, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	r, ok := w.endpoints[endpointKey{tenant, id}]
	if !ok || r.deletedAt != nil {
		return nil, fmt.Errorf("webhook endpoint %s: %w", id, domain.ErrNotFound)
	}
	return copyEndpoint(r.endpoint), nil
}

func (w *Webhooks) List(ctx context.Context, tenant domain.TenantID) ([]*domain.WebhookEndpoint, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	out := []*domain.WebhookEndpoint{}
	for k, r := range w.endpoints {
		if k.tenant == tenant && r.deletedAt == nil {
			out = append(out, copyEndpoint(r.endpoint))
		}
	}
	slices.SortFunc(out, func(a, b *domain.WebhookEndpoint) int {
		return cmp.Or(a.CreatedAt().Compare(b.CreatedAt()), compareBytes(a.ID(), b.ID()))
	})
	return out, nil
}

func compareBytes[T ~[16]byte](a, b T) int { return slices.Compare(a[:], b[:]) }

func (w *Webhooks) Delete(ctx context.Context, tenant domain.TenantID, id domain.WebhookEndpointID, now time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	k := endpointKey{tenant, id}
	r, ok := w.endpoints[k]
	if !ok || r.deletedAt != nil {
		return fmt.Errorf("webhook endpoint %s: %w", id, domain.ErrNotFound)
	}
	at := now
	r.deletedAt = &at
	for dk, d := range w.deliveries {
		if dk.endpoint == k && d.Status == domain.DeliveryPending {
			d.Status, d.FinishedAt, d.NextAttemptAt = domain.DeliveryCancelled, &at, now
		}
	}
	return nil
}

// FanOut takes the outbox's oldest events out of the store in one of its
// transactions.
func (w *Webhooks) FanOut(ctx context.Context, now time.Time, limit int) (application.FanOutRun, error) {
	var run application.FanOutRun
	if limit <= 0 {
		return run, nil
	}
	// w's lock makes fan-outs run one at a time; one never skips, as in
	// PostgreSQL it does while another runs (no test can tell).
	w.mu.Lock()
	defer w.mu.Unlock()
	var moved []eventRecord
	err := w.store.write(ctx, func(tx db) error {
		moved = moved[:0]
		for _, rec := range tx.events.all {
			moved = append(moved, rec)
		}
		slices.SortFunc(moved, func(a, b eventRecord) int { return cmp.Compare(a.seq, b.seq) })
		if len(moved) > limit {
			moved = moved[:limit]
		}
		for _, rec := range moved {
			tx.events.del(rec.event.ID)
		}
		return nil
	})
	if err != nil {
		return application.FanOutRun{}, err
	}
	for _, rec := range moved {
		run.Events++
		e := rec.event
		data, err := json.Marshal(e.Data)
		if err != nil {
			return run, fmt.Errorf("event %x: payload: %w", e.ID, err)
		}
		for k, r := range w.endpoints {
			if k.tenant != e.Tenant || r.deletedAt != nil || !r.endpoint.Receives(e.Type) {
				continue
			}
			dk := deliveryKey{k, e.ID}
			if _, dup := w.deliveries[dk]; dup {
				continue
			}
			next := now
			if head := w.head(k, e.Account); head != nil && head.NextAttemptAt.After(next) {
				next = head.NextAttemptAt // behind a delivery waiting for its retry
			}
			w.deliveries[dk] = &application.Delivery{Tenant: e.Tenant, Endpoint: k.id, EventID: e.ID, Seq: rec.seq, Type: e.Type.String(),
				Account: e.Account, Data: data, OccurredAt: e.OccurredAt.UTC(), Status: domain.DeliveryPending, RetryFrom: now,
				NextAttemptAt: next}
			run.Deliveries++
		}
	}
	return run, nil
}

// head is the lowest-seq pending delivery of an endpoint and account; nil when none.
func (w *Webhooks) head(endpoint endpointKey, account domain.AccountID) *application.Delivery {
	var h *application.Delivery
	for k, d := range w.deliveries {
		if k.endpoint == endpoint && d.Account == account && d.Status == domain.DeliveryPending && (h == nil || d.Seq < h.Seq) {
			h = d
		}
	}
	return h
}

// copyDelivery is a copy that shares nothing with the stored delivery.
func copyDelivery(d *application.Delivery) application.Delivery {
	c := *d
	c.Data = slices.Clone(d.Data)
	for _, p := range []**time.Time{&c.LastAttemptAt, &c.DeliveredAt, &c.FinishedAt} {
		if *p != nil {
			t := **p
			*p = &t
		}
	}
	return c
}

func (w *Webhooks) Claim(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]application.ClaimedDelivery, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	type lane struct {
		endpoint endpointKey
		account  domain.AccountID
	}
	first := map[lane]*application.Delivery{} // the lowest-seq pending delivery of each lane
	for k, d := range w.deliveries {
		if d.Status != domain.DeliveryPending {
			continue
		}
		l := lane{k.endpoint, d.Account}
		if f, ok := first[l]; !ok || d.Seq < f.Seq {
			first[l] = d
		}
	}
	var due []*application.Delivery
	for l, d := range first {
		lease, leased := w.leases[deliveryKey{l.endpoint, d.EventID}]
		if r := w.endpoints[l.endpoint]; r != nil && r.deletedAt == nil && !d.NextAttemptAt.After(now) && (!leased || !lease.After(now)) {
			due = append(due, d)
		}
	}
	slices.SortFunc(due, func(a, b *application.Delivery) int {
		return cmp.Or(a.NextAttemptAt.Compare(b.NextAttemptAt), cmp.Compare(a.Seq, b.Seq))
	})
	if len(due) > limit {
		due = due[:max(limit, 0)]
	}
	out := make([]application.ClaimedDelivery, 0, len(due))
	for _, d := range due {
		w.leases[deliveryKey{endpointKey{d.Tenant, d.Endpoint}, d.EventID}] = now.Add(lease)
		d.Attempts++
		r := w.endpoints[endpointKey{d.Tenant, d.Endpoint}]
		out = append(out, application.ClaimedDelivery{Delivery: copyDelivery(d), URL: r.endpoint.URL(), Secret: r.endpoint.Secret()})
	}
	return out, nil
}

func (w *Webhooks) Record(ctx context.Context, d application.Delivery, o application.DeliveryOutcome) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	key := deliveryKey{endpointKey{d.Tenant, d.Endpoint}, d.EventID}
	s, ok := w.deliveries[key]
	if !ok || s.Status != domain.DeliveryPending || s.Attempts != d.Attempts {
		return false, nil
	}
	delete(w.leases, key)
	at := o.At
	s.LastAttemptAt, s.LastStatus, s.LastError, s.NextAttemptAt = &at, o.StatusCode, o.Error, at
	if o.StatusCode < 100 || o.StatusCode > 599 {
		s.LastStatus = 0
	}
	switch o.Status {
	case domain.DeliveryDelivered:
		s.Status, s.DeliveredAt, s.FinishedAt = o.Status, &at, &at
	case domain.DeliveryFailed:
		s.Status, s.FinishedAt = o.Status, &at
	case domain.DeliveryPending:
		s.NextAttemptAt = o.Next
		for k, f := range w.deliveries { // the deliveries behind it wait for it
			if k.endpoint == key.endpoint && f.Account == s.Account && f.Status == domain.DeliveryPending && f.Seq > s.Seq &&
				f.NextAttemptAt.Before(o.Next) {
				f.NextAttemptAt = o.Next
			}
		}
	default:
		return false, fmt.Errorf("record delivery: outcome %q", o.Status)
	}
	return true, nil
}

func (w *Webhooks) ListDeliveries(ctx context.Context, f application.DeliveryFilter, limit int) ([]application.Delivery, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	out := []application.Delivery{}
	for k, d := range w.deliveries {
		if k.endpoint != (endpointKey{f.Tenant, f.Endpoint}) || (f.Status != nil && d.Status != *f.Status) ||
			(f.BeforeSeq != nil && d.Seq >= *f.BeforeSeq) {
			continue
		}
		out = append(out, copyDelivery(d))
	}
	slices.SortFunc(out, func(a, b application.Delivery) int { return cmp.Compare(b.Seq, a.Seq) })
	if len(out) > limit {
		out = out[:max(limit, 0)]
	}
	return out, nil
}

func (w *Webhooks) Redeliver(ctx context.Context, tenant domain.TenantID, endpoint domain.WebhookEndpointID, event [16]byte,
	now time.Time) (application.Delivery, error) {
	if err := ctx.Err(); err != nil {
		return application.Delivery{}, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	d, ok := w.deliveries[deliveryKey{endpointKey{tenant, endpoint}, event}]
	if !ok || d.Status == domain.DeliveryCancelled {
		return application.Delivery{}, fmt.Errorf("delivery: %w", domain.ErrNotFound)
	}
	if d.Status != domain.DeliveryPending {
		d.Status, d.RetryFrom, d.NextAttemptAt, d.FinishedAt = domain.DeliveryPending, now, now, nil
		delete(w.leases, deliveryKey{endpointKey{tenant, endpoint}, event})
	}
	return copyDelivery(d), nil
}

func (w *Webhooks) Stats(ctx context.Context) (application.DeliveryStats, error) {
	if err := ctx.Err(); err != nil {
		return application.DeliveryStats{}, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	var s application.DeliveryStats
	for _, d := range w.deliveries {
		if d.Status != domain.DeliveryPending {
			continue
		}
		s.Pending++
		if s.OldestAt == nil || d.RetryFrom.Before(*s.OldestAt) {
			t := d.RetryFrom
			s.OldestAt = &t
		}
	}
	return s, nil
}

func (w *Webhooks) DeleteFinishedBefore(ctx context.Context, cutoff time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	used := map[endpointKey]bool{}
	for k, d := range w.deliveries {
		if d.FinishedAt != nil && d.FinishedAt.Before(cutoff) {
			delete(w.deliveries, k)
			n++
		} else {
			used[k.endpoint] = true
		}
	}
	for k, r := range w.endpoints {
		if r.deletedAt != nil && r.deletedAt.Before(cutoff) && !used[k] {
			delete(w.endpoints, k)
		}
	}
	return n, nil
}
