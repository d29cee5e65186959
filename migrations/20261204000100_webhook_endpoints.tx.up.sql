-- Tenants' webhook endpoints (domain.WebhookEndpoint). A deleted endpoint
-- keeps its row (deleted_at) until the janitor has forgotten its
-- deliveries, so the delivery log reads the same while they are kept.
CREATE TABLE webhook_endpoints (
    id         uuid NOT NULL,
    tenant_id  uuid NOT NULL REFERENCES tenants (id),
    url        text NOT NULL CONSTRAINT webhook_endpoints_url_length CHECK (length(url) BETWEEN 1 AND 2048),
    -- The event types it receives; empty: every type, those added later included.
    events     text[] NOT NULL CONSTRAINT webhook_endpoints_events_length CHECK (cardinality(events) <= 64),
    -- whsec_ and base64 of 32 random bytes: shown once, kept to sign deliveries.
    secret     text NOT NULL CONSTRAINT webhook_endpoints_secret_length CHECK (length(secret) BETWEEN 16 AND 128),
    created_at timestamptz NOT NULL,
    deleted_at timestamptz,
    PRIMARY KEY (tenant_id, id)
);

-- A tenant's live endpoints: the fan-out's join and the listing.
CREATE INDEX webhook_endpoints_live ON webhook_endpoints (tenant_id, created_at) WHERE deleted_at IS NULL;

-- One event to deliver to one endpoint. The fan-out moves events out of the
-- outbox (events) into a row per subscribed endpoint; the delivery worker
-- claims due rows, in seq order per (endpoint, account).
CREATE TABLE webhook_deliveries (
    tenant_id       uuid NOT NULL,
    endpoint_id     uuid NOT NULL,
    -- The event, as the outbox had it: seq orders an account's events.
    event_id        uuid NOT NULL,
    seq             bigint NOT NULL,
    type            text NOT NULL CONSTRAINT webhook_deliveries_type_length CHECK (length(type) BETWEEN 1 AND 64),
    account_id      text COLLATE "C" NOT NULL,
    data            jsonb NOT NULL,
    occurred_at     timestamptz NOT NULL,
    -- pending, delivered, failed (the retry window passed) or cancelled
    -- (the endpoint was deleted).
    status          text NOT NULL CONSTRAINT webhook_deliveries_status
                    CHECK (status IN ('pending', 'delivered', 'failed', 'cancelled')),
    -- When retries began: the fan-out, or the last redeliver. A pending
    -- delivery whose attempt fails past retry_from + the retry window fails.
    retry_from      timestamptz NOT NULL,
    -- When it is next attempted: the fan-out, or a retry's time. A pending
    -- delivery behind one of lower seq (same endpoint and account) waiting
    -- for a retry is moved to that retry's time too, so the claim's scan of
    -- due rows does not wade through deliveries that cannot go yet.
    next_attempt_at timestamptz NOT NULL,
    -- Set by a claim: until then no other claim takes the delivery.
    leased_until    timestamptz,
    -- Claims so far, each an attempt; a claim's outcome is recorded only
    -- while attempts is still what the claim made it.
    attempts        int NOT NULL DEFAULT 0,
    last_attempt_at timestamptz,
    last_status     int CONSTRAINT webhook_deliveries_last_status_range CHECK (last_status BETWEEN 100 AND 599),
    last_error      text NOT NULL DEFAULT '' CONSTRAINT webhook_deliveries_last_error_length CHECK (length(last_error) <= 1024),
    delivered_at    timestamptz,
    -- When it stopped being pending; the janitor forgets it a retention later.
    finished_at     timestamptz,
    PRIMARY KEY (tenant_id, endpoint_id, event_id),
    FOREIGN KEY (tenant_id, endpoint_id) REFERENCES webhook_endpoints (tenant_id, id),
    CONSTRAINT webhook_deliveries_finished CHECK ((status = 'pending') = (finished_at IS NULL))
);

-- The claim's scan: pending deliveries, the longest due first.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
-- The claim's order check: an earlier pending delivery of the same endpoint and account.
CREATE INDEX webhook_deliveries_pending_order ON webhook_deliveries (endpoint_id, account_id, seq) WHERE status = 'pending';
-- The delivery log: an endpoint's deliveries, newest first.
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (tenant_id, endpoint_id, seq);
-- The janitor's scan: finished deliveries, the oldest first.
CREATE INDEX webhook_deliveries_finished_at ON webhook_deliveries (finished_at) WHERE finished_at IS NOT NULL;
