package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// WebhookInbox keeps verified webhook events in webhook_inbox. Like the API
// key store it works outside the group-commit unit of work: each call is one
// statement, a transaction of its own, committed with the server's
// synchronous_commit (on by default), so Add returns once the event is durable.
type WebhookInbox struct{ db *bun.DB }

var _ application.WebhookInbox = (*WebhookInbox)(nil)

// NewWebhookInbox binds the inbox to db.
func NewWebhookInbox(db *bun.DB) *WebhookInbox { return &WebhookInbox{db: db} }

type inboxRow struct {
	bun.BaseModel `bun:"table:webhook_inbox"`

	WebhookID      string     `bun:"webhook_id,pk"`
	Type           string     `bun:"type"`
	PaymentID      string     `bun:"payment_id"`
	StoreID        string     `bun:"store_id"`
	CancellationID string     `bun:"cancellation_id"`
	OccurredAt     *time.Time `bun:"occurred_at"`
	ReceivedAt     time.Time  `bun:"received_at"`
	DueAt          time.Time  `bun:"due_at"`
	Attempts       int        `bun:"attempts"`
	LastError      string     `bun:"last_error"`
	DoneAt         *time.Time `bun:"done_at"`
}

func (b *WebhookInbox) Add(ctx context.Context, e application.WebhookEvent, receivedAt time.Time) (bool, error) {
	row := inboxRow{WebhookID: e.ID, Type: e.Type, PaymentID: e.Payment.String(), StoreID: e.StoreID,
		CancellationID: e.CancellationID, ReceivedAt: receivedAt, DueAt: receivedAt}
	if !e.OccurredAt.IsZero() {
		row.OccurredAt = &e.OccurredAt
	}
	res, err := b.db.NewInsert().Model(&row).
		Column("webhook_id", "type", "payment_id", "store_id", "cancellation_id", "occurred_at", "received_at", "due_at").
		On("CONFLICT (webhook_id) DO NOTHING").Exec(ctx)
	if err != nil {
		return false, translate(err, "store webhook event")
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, translate(err, "store webhook event")
	}
	return n == 1, nil
}

// claimSQL leases due events in one statement. The CTE locks them,
// skipping rows another claim holds locked; a row that another claim
// leased meanwhile is re-checked against its new due_at and left out. The
// lease is the new due_at: a claimer that dies leaves the event to be
// claimed again once it passes. RETURNING has no order, so the rows come
// with the due_at they were claimed at, to be sorted.
const claimSQL = `WITH due AS MATERIALIZED (
	SELECT webhook_id, due_at FROM webhook_inbox
	WHERE done_at IS NULL AND due_at <= ?
	ORDER BY due_at
	LIMIT ?
	FOR UPDATE SKIP LOCKED)
UPDATE webhook_inbox AS w SET due_at = ?, attempts = w.attempts + 1
FROM due WHERE w.webhook_id = due.webhook_id
RETURNING w.webhook_id, w.type, w.payment_id, w.store_id, w.cancellation_id, w.occurred_at, w.received_at, w.attempts,
	due.due_at AS was_due`

// claimedRow is a claimed event with the due_at it was claimed at.
type claimedRow struct {
	inboxRow `bun:",extend"`
	WasDue   time.Time `bun:"was_due"`
}

func (b *WebhookInbox) Claim(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]application.InboxItem, error) {
	if limit <= 0 {
		return []application.InboxItem{}, nil
	}
	var rows []claimedRow
	if err := b.db.NewRaw(claimSQL, now, limit, now.Add(lease)).Scan(ctx, &rows); err != nil {
		return nil, translate(err, "claim webhook events")
	}
	slices.SortFunc(rows, func(a, b claimedRow) int {
		return cmp.Or(a.WasDue.Compare(b.WasDue), strings.Compare(a.WebhookID, b.WebhookID))
	})
	items := make([]application.InboxItem, 0, len(rows))
	for _, r := range rows {
		payment, err := domain.ParsePaymentID(r.PaymentID)
		if err != nil {
			return nil, fmt.Errorf("webhook event %q: %w", r.WebhookID, err)
		}
		e := application.WebhookEvent{ID: r.WebhookID, Type: r.Type, Payment: payment, StoreID: r.StoreID,
			CancellationID: r.CancellationID}
		if r.OccurredAt != nil {
			e.OccurredAt = r.OccurredAt.UTC()
		}
		items = append(items, application.InboxItem{Event: e, ReceivedAt: r.ReceivedAt.UTC(), Attempts: r.Attempts - 1})
	}
	return items, nil
}

// Done and Retry change only a pending event: a claimer whose lease ended
// may record its outcome after another claimer recorded one, and must not
// undo it.

func (b *WebhookInbox) Done(ctx context.Context, id string, now time.Time) error {
	_, err := b.db.NewUpdate().Model((*inboxRow)(nil)).Set("done_at = ?", now).
		Where("webhook_id = ? AND done_at IS NULL", id).Exec(ctx)
	return translate(err, "mark webhook event done")
}

func (b *WebhookInbox) Retry(ctx context.Context, id string, at time.Time, reason string) error {
	_, err := b.db.NewUpdate().Model((*inboxRow)(nil)).Set("due_at = ?, last_error = ?", at, reason).
		Where("webhook_id = ? AND done_at IS NULL", id).Exec(ctx)
	return translate(err, "schedule webhook event retry")
}

func (b *WebhookInbox) Stats(ctx context.Context) (application.InboxStats, error) {
	var out struct {
		Depth    int        `bun:"depth"`
		OldestAt *time.Time `bun:"oldest_at"`
	}
	err := b.db.NewRaw(`SELECT count(*) AS depth, min(received_at) AS oldest_at FROM webhook_inbox WHERE done_at IS NULL`).
		Scan(ctx, &out)
	if err != nil {
		return application.InboxStats{}, translate(err, "webhook inbox stats")
	}
	s := application.InboxStats{Depth: out.Depth}
	if out.OldestAt != nil {
		t := out.OldestAt.UTC()
		s.OldestAt = &t
	}
	return s, nil
}

func (b *WebhookInbox) DeleteDoneBefore(ctx context.Context, cutoff time.Time) (int, error) {
	res, err := b.db.NewDelete().Model((*inboxRow)(nil)).Where("done_at < ?", cutoff).Exec(ctx)
	if err != nil {
		return 0, translate(err, "forget processed webhook events")
	}
	n, err := res.RowsAffected()
	return int(n), translate(err, "forget processed webhook events")
}
