-- The outbox: events (application.Event) written by the same transaction as
-- the change each describes, so none is lost and none is sent for a change
-- that rolled back. Rows are transient: delivery moves them out (to each
-- subscribed endpoint's deliveries) and deletes them. No foreign key: the
-- outbox is written on every spend, and the rows it would check are the
-- ones the same transaction locked.
CREATE TABLE events (
    -- Assigned when the row is inserted, that is while the transaction holds
    -- the locks of the change it describes: two events of one account whose
    -- changes took the same lock are numbered in commit order.
    seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id          uuid NOT NULL,
    tenant_id   uuid NOT NULL,
    account_id  text COLLATE "C" NOT NULL,
    type        text NOT NULL,
    data        jsonb NOT NULL,
    occurred_at timestamptz NOT NULL
);

-- balance.low: when an account's available credits fall below its own
-- threshold, or else its tenant's. NULL: no threshold.
ALTER TABLE wallets ADD COLUMN low_balance_threshold numeric(30, 6)
    CONSTRAINT wallets_low_balance_threshold_positive CHECK (low_balance_threshold > 0);
ALTER TABLE tenants ADD COLUMN low_balance_threshold numeric(30, 6)
    CONSTRAINT tenants_low_balance_threshold_positive CHECK (low_balance_threshold > 0);
-- lots.expiring: how long before a lot expires its account is told.
ALTER TABLE tenants ADD COLUMN lots_expiring_notice interval NOT NULL DEFAULT '7 days'
    CONSTRAINT tenants_lots_expiring_notice_range CHECK (lots_expiring_notice BETWEEN '1 hour' AND '366 days');

-- The lots a lots.expiring event told about: each at most once.
CREATE TABLE lot_expiry_notices (
    lot_id      uuid PRIMARY KEY REFERENCES lots (id),
    notified_at timestamptz NOT NULL
);
