package postgres

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// DeliveryStore moves outbox events into webhook_deliveries and keeps them
// there while workers deliver them. Each call is a transaction of its own.
type DeliveryStore struct{ db *bun.DB }

var _ application.DeliveryStore = (*DeliveryStore)(nil)

// NewDeliveryStore binds the delivery store to db.
func NewDeliveryStore(db *bun.DB) *DeliveryStore { return &DeliveryStore{db: db} }

// FanOutLockKey is the transaction-level advisory lock a fan-out takes, so
// that one replica at a time moves the outbox ("fanout!!" in ASCII).
const FanOutLockKey int64 = 0x66616e6f75742121

type deliveryRow struct {
	bun.BaseModel `bun:"table:webhook_deliveries"`

	TenantID      uuid.UUID  `bun:"tenant_id,pk,type:uuid"`
	EndpointID    uuid.UUID  `bun:"endpoint_id,pk,type:uuid"`
	EventID       uuid.UUID  `bun:"event_id,pk,type:uuid"`
	Seq           int64      `bun:"seq"`
	Type          string     `bun:"type"`
	AccountID     string     `bun:"account_id"`
	Data          []byte     `bun:"data,type:jsonb"`
	OccurredAt    time.Time  `bun:"occurred_at"`
	Status        string     `bun:"status"`
	RetryFrom     time.Time  `bun:"retry_from"`
	NextAttemptAt time.Time  `bun:"next_attempt_at"`
	LeasedUntil   *time.Time `bun:"leased_until"`
	Attempts      int        `bun:"attempts"`
	LastAttemptAt *time.Time `bun:"last_attempt_at"`
	LastStatus    *int       `bun:"last_status"`
	LastError     string     `bun:"last_error"`
	DeliveredAt   *time.Time `bun:"delivered_at"`
	FinishedAt    *time.Time `bun:"finished_at"`
}

func (r deliveryRow) toDomain() (application.Delivery, error) {
	account, err := domain.ParseAccountID(r.AccountID)
	if err != nil {
		return application.Delivery{}, fmt.Errorf("stored delivery %s: %w", r.EventID, err)
	}
	status, err := domain.DeliveryStatusFromString(r.Status)
	if err != nil {
		return application.Delivery{}, fmt.Errorf("stored delivery %s: %w", r.EventID, err)
	}
	d := application.Delivery{Tenant: domain.TenantID(r.TenantID), Endpoint: domain.WebhookEndpointID(r.EndpointID), EventID: r.EventID,
		Seq: r.Seq, Type: r.Type, Account: account, Data: r.Data, OccurredAt: r.OccurredAt.UTC(), Status: status,
		RetryFrom: r.RetryFrom.UTC(), NextAttemptAt: r.NextAttemptAt.UTC(), Attempts: r.Attempts, LastAttemptAt: utcPtr(r.LastAttemptAt),
		LastError: r.LastError, DeliveredAt: utcPtr(r.DeliveredAt), FinishedAt: utcPtr(r.FinishedAt)}
	if r.LastStatus != nil {
		d.LastStatus = *r.LastStatus
	}
	return d, nil
}

// fanOutSQL moves the oldest outbox events into a delivery per live
// endpoint of their tenant that receives their type, and deletes them, in
// one statement. An event no endpoint receives is deleted all the same.
const fanOutSQL = `WITH moved AS (
	DELETE FROM events WHERE seq IN (SELECT seq FROM events ORDER BY seq LIMIT ?)
	RETURNING seq, id, tenant_id, account_id, type, data, occurred_at
), made AS (
	INSERT INTO webhook_deliveries (tenant_id, endpoint_id, event_id, seq, type, account_id, data, occurred_at, status, retry_from, next_attempt_at)
	SELECT m.tenant_id, e.id, m.id, m.seq, m.type, m.account_id, m.data, m.occurred_at, 'pending', ?,
		-- Behind a pending delivery waiting for its retry, not due before it.
		GREATEST(?::timestamptz, (SELECT p.next_attempt_at FROM webhook_deliveries p
			WHERE p.endpoint_id = e.id AND p.account_id = m.account_id AND p.status = 'pending' ORDER BY p.seq LIMIT 1))
	FROM moved m JOIN webhook_endpoints e ON e.tenant_id = m.tenant_id AND e.deleted_at IS NULL
		AND (cardinality(e.events) = 0 OR m.type = ANY (e.events))
	ON CONFLICT DO NOTHING
	RETURNING 1
)
SELECT (SELECT count(*) FROM moved) AS events, (SELECT count(*) FROM made) AS deliveries`

func (s *DeliveryStore) FanOut(ctx context.Context, now time.Time, limit int) (application.FanOutRun, error) {
	var run application.FanOutRun
	if limit <= 0 {
		return run, nil
	}
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		run = application.FanOutRun{}
		var locked bool
		if err := tx.NewRaw("SELECT pg_try_advisory_xact_lock(?)", FanOutLockKey).Scan(ctx, &locked); err != nil {
			return err
		}
		if !locked {
			run.Skipped = true
			return nil
		}
		var counts struct {
			Events     int `bun:"events"`
			Deliveries int `bun:"deliveries"`
		}
		if err := tx.NewRaw(fanOutSQL, limit, now, now).Scan(ctx, &counts); err != nil {
			return err
		}
		run.Events, run.Deliveries = counts.Events, counts.Deliveries
		return nil
	})
	if err != nil {
		return application.FanOutRun{}, translate(err, "fan out events")
	}
	return run, nil
}

// claimDeliveriesSQL leases due deliveries in one statement, as the webhook
// inbox's claim does (see claimSQL), with one more condition: no delivery
// of lower seq for the same endpoint and account is pending, leased or not.
// The lease is leased_until, so next_attempt_at keeps the attempt's time;
// a row another claim holds locked is skipped, and one it leased
// meanwhile is re-checked against its new leased_until and left out.
const claimDeliveriesSQL = `WITH due AS MATERIALIZED (
	SELECT d.tenant_id, d.endpoint_id, d.event_id, d.next_attempt_at FROM webhook_deliveries d
	WHERE d.status = 'pending' AND d.next_attempt_at <= $1::timestamptz AND (d.leased_until IS NULL OR d.leased_until <= $1::timestamptz)
		AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p
			WHERE p.endpoint_id = d.endpoint_id AND p.account_id = d.account_id AND p.status = 'pending' AND p.seq < d.seq)
	ORDER BY d.next_attempt_at
	LIMIT $2::int
	FOR UPDATE OF d SKIP LOCKED)
UPDATE webhook_deliveries AS w SET leased_until = $3::timestamptz, attempts = w.attempts + 1
FROM due, webhook_endpoints AS e
WHERE w.tenant_id = due.tenant_id AND w.endpoint_id = due.endpoint_id AND w.event_id = due.event_id
	AND e.tenant_id = w.tenant_id AND e.id = w.endpoint_id AND e.deleted_at IS NULL
RETURNING w.*, e.url AS endpoint_url, e.secret AS endpoint_secret, due.next_attempt_at AS was_due`

type claimedDeliveryRow struct {
	deliveryRow `bun:",extend"`
	URL         string    `bun:"endpoint_url"`
	Secret      string    `bun:"endpoint_secret"`
	WasDue      time.Time `bun:"was_due"`
}

func (s *DeliveryStore) Claim(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]application.ClaimedDelivery, error) {
	if limit <= 0 {
		return []application.ClaimedDelivery{}, nil
	}
	var rows []claimedDeliveryRow
	// Prepared, like the ledger's hot statements: with events on, every
	// change is claimed and recorded once.
	if err := queryPrepared(ctx, s.db, &rows, claimDeliveriesSQL, now, limit, now.Add(lease)); err != nil {
		return nil, translate(err, "claim webhook deliveries")
	}
	slices.SortFunc(rows, func(a, b claimedDeliveryRow) int {
		return cmp.Or(a.WasDue.Compare(b.WasDue), cmp.Compare(a.Seq, b.Seq))
	})
	out := make([]application.ClaimedDelivery, 0, len(rows))
	for _, r := range rows {
		d, err := r.toDomain()
		if err != nil {
			return nil, err
		}
		out = append(out, application.ClaimedDelivery{Delivery: d, URL: r.URL, Secret: r.Secret})
	}
	return out, nil
}

// recordSQL stores a claim's outcome, if the delivery is still pending with
// the attempts the claim gave it, and moves the pending deliveries behind
// one that waits for a retry to that retry's time (see next_attempt_at).
const recordSQL = `WITH rec AS (
	UPDATE webhook_deliveries SET status = $1::text, leased_until = NULL, last_attempt_at = $2::timestamptz, last_status = $3::int,
		last_error = $4::text, next_attempt_at = $5::timestamptz, delivered_at = COALESCE($6::timestamptz, delivered_at),
		finished_at = $7::timestamptz
	WHERE tenant_id = $8::uuid AND endpoint_id = $9::uuid AND event_id = $10::uuid AND status = 'pending' AND attempts = $11::int
	RETURNING endpoint_id, account_id, seq, status, next_attempt_at
), behind AS (
	UPDATE webhook_deliveries f SET next_attempt_at = rec.next_attempt_at FROM rec
	WHERE rec.status = 'pending' AND f.endpoint_id = rec.endpoint_id AND f.account_id = rec.account_id
		AND f.status = 'pending' AND f.seq > rec.seq AND f.next_attempt_at < rec.next_attempt_at
	RETURNING 1
)
SELECT count(*) AS recorded FROM rec`

func (s *DeliveryStore) Record(ctx context.Context, d application.Delivery, o application.DeliveryOutcome) (bool, error) {
	var lastStatus *int
	if o.StatusCode >= 100 && o.StatusCode <= 599 {
		lastStatus = &o.StatusCode
	}
	var deliveredAt, finishedAt *time.Time
	next := o.At
	switch o.Status {
	case domain.DeliveryDelivered:
		deliveredAt, finishedAt = &o.At, &o.At
	case domain.DeliveryFailed:
		finishedAt = &o.At
	case domain.DeliveryPending:
		next = o.Next
	default:
		return false, fmt.Errorf("record delivery: outcome %q", o.Status)
	}
	var recorded []int
	err := queryPrepared(ctx, s.db, &recorded, recordSQL, o.Status.String(), o.At, lastStatus, o.Error, next, deliveredAt, finishedAt,
		[16]byte(d.Tenant), [16]byte(d.Endpoint), [16]byte(d.EventID), d.Attempts)
	if err != nil {
		return false, translate(err, "record webhook delivery")
	}
	return len(recorded) == 1 && recorded[0] == 1, nil
}

func (s *DeliveryStore) ListDeliveries(ctx context.Context, f application.DeliveryFilter, limit int) ([]application.Delivery, error) {
	var rows []deliveryRow
	q := s.db.NewSelect().Model(&rows).Where("tenant_id = ? AND endpoint_id = ?", uuid.UUID(f.Tenant), uuid.UUID(f.Endpoint))
	if f.Status != nil {
		q = q.Where("status = ?", f.Status.String())
	}
	if f.BeforeSeq != nil {
		q = q.Where("seq < ?", *f.BeforeSeq)
	}
	if err := q.Order("seq DESC").Limit(int64(limit)).Scan(ctx); err != nil {
		return nil, translate(err, "list webhook deliveries")
	}
	out := make([]application.Delivery, 0, len(rows))
	for _, r := range rows {
		d, err := r.toDomain()
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

func (s *DeliveryStore) Redeliver(ctx context.Context, tenant domain.TenantID, endpoint domain.WebhookEndpointID, event [16]byte,
	now time.Time) (application.Delivery, error) {
	var row deliveryRow
	key := "tenant_id = ? AND endpoint_id = ? AND event_id = ?"
	args := []any{uuid.UUID(tenant), uuid.UUID(endpoint), uuid.UUID(event)}
	err := s.db.NewUpdate().Model(&row).Set("status = 'pending', retry_from = ?, next_attempt_at = ?, leased_until = NULL, finished_at = NULL", now, now).
		Where(key, args...).Where("status IN ('delivered', 'failed')").Returning("*").Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) { // pending already, cancelled, or none
		err = s.db.NewSelect().Model(&row).Where(key, args...).Where("status = 'pending'").Scan(ctx)
	}
	if err != nil {
		return application.Delivery{}, translate(err, "redeliver webhook delivery")
	}
	return row.toDomain()
}

func (s *DeliveryStore) Stats(ctx context.Context) (application.DeliveryStats, error) {
	var out struct {
		Pending  int        `bun:"pending"`
		OldestAt *time.Time `bun:"oldest_at"`
	}
	err := s.db.NewRaw(`SELECT count(*) AS pending, min(retry_from) AS oldest_at FROM webhook_deliveries WHERE status = 'pending'`).
		Scan(ctx, &out)
	if err != nil {
		return application.DeliveryStats{}, translate(err, "webhook delivery stats")
	}
	return application.DeliveryStats{Pending: out.Pending, OldestAt: utcPtr(out.OldestAt)}, nil
}

func (s *DeliveryStore) DeleteFinishedBefore(ctx context.Context, cutoff time.Time) (int, error) {
	res, err := s.db.NewDelete().Model((*deliveryRow)(nil)).Where("finished_at < ?", cutoff).Exec(ctx)
	if err != nil {
		return 0, translate(err, "forget webhook deliveries")
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, translate(err, "forget webhook deliveries")
	}
	// Deleted endpoints go once nothing refers to them.
	_, err = s.db.NewDelete().Model((*webhookEndpointRow)(nil)).
		Where("deleted_at < ? AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.tenant_id = webhook_endpoint_row.tenant_id AND d.endpoint_id = webhook_endpoint_row.id)", cutoff).
		Exec(ctx)
	return int(n), translate(err, "forget deleted webhook endpoints")
}
