package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// WebhookInbox keeps verified webhook events in webhook_inbox. Like the API
// key store it works outside the unit of work. Add is group-committed on
// its own queue: the events of deliveries that arrive together are inserted
// by one prepared statement, one transaction and one commit (a commit per
// delivery capped intake at what the pool's connections could fsync), and
// each caller is answered only once that commit is done, so Add still
// returns once its event is durable. The other calls are one statement
// each, a transaction of their own.
type WebhookInbox struct {
	db   *bun.DB
	adds *groupQueue[*inboxAdd]
}

var _ application.WebhookInbox = (*WebhookInbox)(nil)

// The intake queue: up to inboxLanes inserts at once, each of up to
// maxBatch events; a second starts beside a running one once spillBatch
// deliveries wait (as for the unit of work: bigger groups cost less per event).
const inboxLanes = 2

// NewWebhookInbox binds the inbox to db.
func NewWebhookInbox(db *bun.DB) *WebhookInbox {
	b := &WebhookInbox{db: db}
	b.adds = newGroupQueue(maxBatch, inboxLanes, spillBatch, b.addGroup, nil)
	return b
}

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

// inboxAdd is one call of Add, in a group.
type inboxAdd struct {
	row    inboxRow
	stored bool // the event is new
	err    error
}

// Add stores the event unless the inbox has its webhook-id already, and
// says whether it did; either way it returns once the event is durable. A
// caller whose ctx ends first gets ctx's error, and its event may or may
// not be stored (the sender's retry then finds it, or stores it).
func (b *WebhookInbox) Add(ctx context.Context, e application.WebhookEvent, receivedAt time.Time) (bool, error) {
	a := &inboxAdd{row: inboxRow{WebhookID: e.ID, Type: e.Type, PaymentID: e.Payment.String(), StoreID: e.StoreID,
		CancellationID: e.CancellationID, ReceivedAt: receivedAt, DueAt: receivedAt}}
	if !e.OccurredAt.IsZero() {
		a.row.OccurredAt = &e.OccurredAt
	}
	if err := b.adds.do(ctx, a); err != nil {
		return false, translate(err, "store webhook event")
	}
	return a.stored, a.err
}

// addSQL inserts a group's events, one array parameter per column, and
// returns the webhook-ids it stored: the others were stored before.
const addSQL = `INSERT INTO webhook_inbox (webhook_id, type, payment_id, store_id, cancellation_id, occurred_at, received_at, due_at)
SELECT k.webhook_id, k.type, k.payment_id, k.store_id, k.cancellation_id, k.occurred_at, k.received_at, k.received_at
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::timestamptz[])
	AS k(webhook_id, type, payment_id, store_id, cancellation_id, occurred_at, received_at)
ON CONFLICT (webhook_id) DO NOTHING
RETURNING webhook_id`

// addGroup stores a group of events in one statement. A webhook-id sent
// twice in one group (a resend racing its first delivery) is inserted once:
// its first Add is told it stored the event, the others that it was a
// duplicate. Rows go in in webhook-id order, so two groups inserting the
// same ids at once (two replicas, or two lanes) wait for each other rather
// than deadlock; a deadlock or serialization failure all the same is
// retried. When the statement fails otherwise, each event is tried alone,
// so that one bad event fails only its own delivery.
func (b *WebhookInbox) addGroup(group []*inboxAdd) {
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	first := make(map[string]*inboxAdd, len(group))
	unique := make([]*inboxAdd, 0, len(group))
	for _, a := range group {
		if _, seen := first[a.row.WebhookID]; !seen {
			first[a.row.WebhookID] = a
			unique = append(unique, a)
		}
	}
	slices.SortFunc(unique, func(x, y *inboxAdd) int { return strings.Compare(x.row.WebhookID, y.row.WebhookID) })
	err := b.insert(ctx, unique)
	for attempt := 1; errors.Is(err, errRetryable) && attempt < maxAttempts; attempt++ {
		err = b.insert(ctx, unique)
	}
	if err != nil && len(unique) > 1 && !errors.Is(err, application.ErrUnavailable) {
		for _, a := range unique {
			a.err = b.insert(ctx, []*inboxAdd{a})
		}
	} else {
		for _, a := range unique {
			a.err = err
		}
	}
	for _, a := range group {
		if f := first[a.row.WebhookID]; f != a {
			a.err = f.err // a duplicate within the group: stored by its first, or failed with it
		}
	}
}

// insert stores rows in one statement, setting stored on the ones that were new.
func (b *WebhookInbox) insert(ctx context.Context, rows []*inboxAdd) error {
	n := len(rows)
	ids, types, payments, stores, cancellations := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	occurred, received := make([]*time.Time, n), make([]time.Time, n)
	for i, a := range rows {
		r := a.row
		ids[i], types[i], payments[i], stores[i], cancellations[i] = r.WebhookID, r.Type, r.PaymentID, r.StoreID, r.CancellationID
		occurred[i], received[i] = r.OccurredAt, r.ReceivedAt
	}
	var stored []struct {
		WebhookID string `bun:"webhook_id"`
	}
	if err := queryPrepared(ctx, b.db, &stored, addSQL, ids, types, payments, stores, cancellations, occurred, received); err != nil {
		return translate(err, "store webhook events")
	}
	isNew := make(map[string]bool, len(stored))
	for _, s := range stored {
		isNew[s.WebhookID] = true
	}
	for _, a := range rows {
		a.stored = isNew[a.row.WebhookID]
	}
	return nil
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

func (b *WebhookInbox) Done(ctx context.Context, claimed application.InboxItem, now time.Time) error {
	_, err := b.db.NewUpdate().Model((*inboxRow)(nil)).Set("done_at = ?", now).
		Where("webhook_id = ? AND done_at IS NULL AND received_at = ?", claimed.Event.ID, claimed.ReceivedAt).Exec(ctx)
	return translate(err, "mark webhook event done")
}

func (b *WebhookInbox) Retry(ctx context.Context, id string, at time.Time, reason string) error {
	_, err := b.db.NewUpdate().Model((*inboxRow)(nil)).Set("due_at = ?, last_error = ?", at, reason).
		Where("webhook_id = ? AND done_at IS NULL", id).Exec(ctx)
	return translate(err, "schedule webhook event retry")
}

func (b *WebhookInbox) Rearm(ctx context.Context, id string, now time.Time) (bool, error) {
	// A processed event is due again, as if new; a claimed one is due again
	// too, and its new received_at keeps its claim's Done from ending it.
	res, err := b.db.NewUpdate().Model((*inboxRow)(nil)).Set("received_at = ?0, due_at = ?0", now).
		Set("attempts = CASE WHEN done_at IS NULL THEN attempts ELSE 0 END").
		Set("last_error = CASE WHEN done_at IS NULL THEN last_error ELSE '' END, done_at = NULL").
		Where("webhook_id = ? AND (done_at IS NOT NULL OR due_at > ?)", id, now).Exec(ctx)
	if err != nil {
		return false, translate(err, "rearm webhook event")
	}
	n, err := res.RowsAffected()
	return n == 1, err
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
