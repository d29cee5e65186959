package application

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/creditd/creditd/domain"
)

// V1Webhooks receives PortOne V1's (iamport's) webhooks. V1 signs nothing,
// so anyone can send one: a body is taken only as a hint that the payment
// of one of creditd's V1 orders changed. It goes into the inbox V2's events
// use, whose worker reads the payment again from PortOne (Webhooks
// ProcessDue, then Orders.SyncOrder); nothing in the body is ever trusted.
//
// A body naming no V1 order of creditd's is acknowledged and forgotten, so a
// flood of made-up payments stores nothing. For an order, one event is kept
// per status and V1WebhookWindow: deliveries while it waits add nothing;
// one arriving after it was processed makes it due again, and one arriving
// while it is being synced has it synced again after (that sync may have
// read the payment before the change). So no change is deduplicated away,
// and an order's rows stay bounded whatever is sent.
type V1Webhooks struct {
	inbox  WebhookInbox
	orders OrderQueries
	clock  Clock
}

// NewV1Webhooks builds the V1 webhook use case.
func NewV1Webhooks(inbox WebhookInbox, queries Queries, clock Clock) *V1Webhooks {
	return &V1Webhooks{inbox: inbox, orders: queries.Orders, clock: clock}
}

// V1Notice is a V1 webhook's body, as sent.
type V1Notice struct {
	IMPUID         string // the attempt (imp_uid)
	MerchantUID    string // the order's id
	Status         string // ready, paid, cancelled, failed (others are kept as "other")
	CancellationID string // for cancels
}

// V1WebhookWindow is how long one event of an order and status takes in
// the deliveries that repeat it.
const V1WebhookWindow = time.Minute

// v1Statuses are the statuses V1 sends; another one is a hint all the same.
var v1Statuses = []string{"ready", "paid", "cancelled", "failed"}

// Outcomes of a V1 delivery, beside WebhookStored and WebhookDuplicate.
const (
	// WebhookRearmed: the event was processed (or is being processed), and will be again.
	WebhookRearmed WebhookReceipt = "rearmed"
	// WebhookUnknownOrder: the body names no V1 order of creditd's; nothing is stored.
	WebhookUnknownOrder WebhookReceipt = "unknown_order"
)

// V1WebhookReceipts lists every receipt V1Webhooks.Receive gives, for metrics.
func V1WebhookReceipts() []WebhookReceipt {
	return []WebhookReceipt{WebhookStored, WebhookDuplicate, WebhookRearmed, WebhookUnknownOrder}
}

// WebhookMalformedNotice rejects a V1 body whose ids are missing or not
// short printable tokens.
const WebhookMalformedNotice WebhookRejection = "MALFORMED_V1_NOTICE"

// maxV1IDLength bounds imp_uid and cancellation_id: PortOne's are short tokens.
const maxV1IDLength = 64

// Receive takes a V1 delivery. A malformed one fails with an
// *InvalidWebhookError (WebhookMalformedNotice), and nothing is stored. When
// it returns nil, what the delivery calls for is durable.
func (w *V1Webhooks) Receive(ctx context.Context, n V1Notice) (WebhookReceipt, error) {
	id, status, err := n.check()
	if err != nil {
		return "", err
	}
	order, err := w.orders.Get(ctx, id)
	if errors.Is(err, domain.ErrNotFound) || err == nil && order.Gateway() != domain.GatewayPortOneV1 {
		return WebhookUnknownOrder, nil
	} else if err != nil {
		return "", err
	}
	now := w.clock.Now()
	window := now.Unix() / int64(V1WebhookWindow/time.Second)
	e := WebhookEvent{ID: fmt.Sprintf("v1:%s:%s:%d", id, status, window), Type: "v1." + status, Payment: id,
		CancellationID: n.CancellationID}
	if stored, err := w.inbox.Add(ctx, e, now); err != nil || stored {
		return WebhookStored, err
	}
	if rearmed, err := w.inbox.Rearm(ctx, e.ID, now); err != nil || rearmed {
		return WebhookRearmed, err
	}
	return WebhookDuplicate, nil
}

// check validates the ids and folds the status into the closed set.
func (n V1Notice) check() (domain.PaymentID, string, error) {
	malformed := &InvalidWebhookError{Reason: WebhookMalformedNotice}
	id, err := domain.ParsePaymentID(n.MerchantUID)
	if err != nil || !validName(n.IMPUID) || len(n.IMPUID) > maxV1IDLength ||
		n.CancellationID != "" && (!validName(n.CancellationID) || len(n.CancellationID) > maxV1IDLength) {
		return domain.PaymentID{}, "", malformed
	}
	status := "other"
	if slices.Contains(v1Statuses, n.Status) {
		status = n.Status
	}
	return id, status, nil
}
