-- Verified PortOne webhook events, stored before they are acknowledged and
-- processed afterwards by the worker (application.Webhooks). An event names
-- only a payment (never a tenant), so the table carries no tenant. Rows are
-- kept for a while after they are processed, so that their webhook_id still
-- deduplicates resent deliveries.
CREATE TABLE webhook_inbox (
    webhook_id      text COLLATE "C" PRIMARY KEY
                    CONSTRAINT webhook_inbox_id_length CHECK (length(webhook_id) BETWEEN 1 AND 256),
    type            text NOT NULL CONSTRAINT webhook_inbox_type_length CHECK (length(type) <= 256),
    payment_id      text COLLATE "C" NOT NULL CONSTRAINT webhook_inbox_payment_length CHECK (length(payment_id) BETWEEN 1 AND 64),
    store_id        text NOT NULL CONSTRAINT webhook_inbox_store_length CHECK (length(store_id) <= 256),
    cancellation_id text NOT NULL CONSTRAINT webhook_inbox_cancellation_length CHECK (length(cancellation_id) <= 256),
    occurred_at     timestamptz,
    received_at     timestamptz NOT NULL,
    -- When a worker may next claim the event: its receipt, the end of a
    -- claim's lease, or the time of a retry.
    due_at          timestamptz NOT NULL,
    -- Claims so far, each a processing attempt.
    attempts        int NOT NULL DEFAULT 0,
    last_error      text NOT NULL DEFAULT '' CONSTRAINT webhook_inbox_last_error_length CHECK (length(last_error) <= 1024),
    done_at         timestamptz
);

-- The claim's scan: pending events, the longest due first.
CREATE INDEX webhook_inbox_due ON webhook_inbox (due_at) WHERE done_at IS NULL;
-- The janitor's scan: processed events, the oldest first.
CREATE INDEX webhook_inbox_done ON webhook_inbox (done_at) WHERE done_at IS NOT NULL;
