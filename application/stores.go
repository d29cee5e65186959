package application

import (
	"context"
	"time"

	"github.com/creditd/creditd/domain"
)

// Ports of state kept outside units of work: nothing in them moves credits,
// so each call is a transaction of its own.

// ProductStore keeps tenants' credit packs.
type ProductStore interface {
	// Create stores a new product; domain.ErrAlreadyExists when the tenant has one with its id.
	Create(ctx context.Context, p *domain.Product) error
	// Change applies fn to the stored product under a lock and stores the
	// result, unless fn fails; domain.ErrNotFound when there is none.
	Change(ctx context.Context, tenant domain.TenantID, id domain.ProductID, fn func(p *domain.Product) error) (*domain.Product, error)
	// Get reads a product; domain.ErrNotFound when the tenant has none with that id.
	Get(ctx context.Context, tenant domain.TenantID, id domain.ProductID) (*domain.Product, error)
	// List returns the tenant's products in id order, only active ones when activeOnly.
	List(ctx context.Context, tenant domain.TenantID, activeOnly bool) ([]*domain.Product, error)
}

// WebhookInbox keeps verified webhook events until they are processed, so
// an event is acknowledged once stored and never lost after that.
type WebhookInbox interface {
	// Add stores the event unless one with its id is stored already, and
	// returns once the write is durable; it reports whether the event was new.
	Add(ctx context.Context, e WebhookEvent, receivedAt time.Time) (bool, error)
	// Claim leases up to limit events due at now (oldest first) for lease:
	// until it ends, no other claim (in this process or another replica)
	// returns them. Rows are claimed with FOR UPDATE SKIP LOCKED.
	Claim(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]InboxItem, error)
	// Done marks a claimed event processed, unless it was received again
	// (Rearm) since it was claimed: then what was read may predate the
	// change it announces, and it stays, to be claimed again.
	Done(ctx context.Context, claimed InboxItem, now time.Time) error
	// Retry makes a claimed event due again at at, remembering why it failed.
	Retry(ctx context.Context, id string, at time.Time, reason string) error
	// Rearm receives an event again at now, and reports whether that
	// changed anything: a processed one is due again at once, as if new; one
	// claimed (or waiting to be retried) is due again at once too, and its
	// claim's Done no longer ends it. An event that waits to be claimed, or
	// none, is left alone (false).
	Rearm(ctx context.Context, id string, now time.Time) (bool, error)
	// Stats reports the events not yet processed.
	Stats(ctx context.Context) (InboxStats, error)
	// DeleteDoneBefore forgets events processed before cutoff (their ids no
	// longer deduplicate deliveries after that) and says how many.
	DeleteDoneBefore(ctx context.Context, cutoff time.Time) (int, error)
}

// InboxItem is a claimed event.
type InboxItem struct {
	Event      WebhookEvent
	ReceivedAt time.Time
	Attempts   int // processing attempts before this one
}

// InboxStats describe the events not yet processed.
type InboxStats struct {
	Depth    int
	OldestAt *time.Time // when the oldest of them was received; nil when none
}

// PaymentSyncer converges creditd's order for a payment with what the
// gateway says about it now. domain.ErrNotFound when creditd has no order
// for that payment (a payment of another system on the same store).
type PaymentSyncer interface {
	Sync(ctx context.Context, id domain.PaymentID) error
}

// TenantSettingsStore keeps tenants' event settings.
type TenantSettingsStore interface {
	// Get reads a tenant's settings (the defaults until it changes them);
	// domain.ErrNotFound when there is no such tenant.
	Get(ctx context.Context, tenant domain.TenantID) (TenantSettings, error)
	// Put replaces them; domain.ErrNotFound when there is no such tenant.
	Put(ctx context.Context, tenant domain.TenantID, s TenantSettings) error
}
