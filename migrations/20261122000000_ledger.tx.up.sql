-- creditd's ledger. Amounts are NUMERIC(30,6): at most 6 decimal places
-- (domain.CreditScale) and below 10^18 in the domain, with room for sums.

CREATE TABLE tenants (
    id         uuid PRIMARY KEY,
    name       text NOT NULL CONSTRAINT tenants_name_key UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    id         uuid PRIMARY KEY,
    tenant_id  uuid NOT NULL REFERENCES tenants (id),
    hash       bytea NOT NULL CONSTRAINT api_keys_hash_key UNIQUE,
    scopes     text[] NOT NULL,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz
);

-- A user wallet. balance and held are caches of the postings and open holds,
-- updated in the same transaction; `creditd verify` recomputes them.
CREATE TABLE wallets (
    id         uuid PRIMARY KEY,
    tenant_id  uuid NOT NULL REFERENCES tenants (id),
    account_id text NOT NULL,
    balance    numeric(30, 6) NOT NULL CONSTRAINT wallets_balance_not_negative CHECK (balance >= 0),
    held       numeric(30, 6) NOT NULL CONSTRAINT wallets_held_within_balance CHECK (held >= 0 AND held <= balance),
    -- no open hold of the wallet expires before this; NULL when none is open
    holds_due_at timestamptz,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    CONSTRAINT wallets_tenant_account_key UNIQUE (tenant_id, account_id)
);

-- One grant's credits. Rows change only under their wallet's lock.
CREATE TABLE lots (
    id         uuid PRIMARY KEY,
    wallet_id  uuid NOT NULL REFERENCES wallets (id),
    source     text NOT NULL CONSTRAINT lots_source_known CHECK (source IN ('paid', 'bonus')),
    amount     numeric(30, 6) NOT NULL CONSTRAINT lots_amount_positive CHECK (amount > 0),
    remaining  numeric(30, 6) NOT NULL CONSTRAINT lots_remaining_within_amount CHECK (remaining >= 0 AND remaining <= amount),
    held       numeric(30, 6) NOT NULL CONSTRAINT lots_held_within_remaining CHECK (held >= 0 AND held <= remaining),
    priority   integer NOT NULL,
    expires_at timestamptz,
    created_at timestamptz NOT NULL
);
CREATE INDEX lots_open_by_wallet ON lots (wallet_id) WHERE remaining > 0;
CREATE INDEX lots_expiring ON lots (expires_at) WHERE remaining > held AND expires_at IS NOT NULL;

-- Ledger transactions and their postings are append-only (triggers below).
-- tenant_id carries no foreign key here or on holds: the wallet already pins
-- the tenant, and a key check would share-lock the tenant row from every
-- transaction, turning it into the hot row the ledger must not have.
CREATE TABLE transactions (
    id            uuid PRIMARY KEY, -- UUIDv7: sorts by creation
    tenant_id     uuid NOT NULL,
    wallet_id     uuid NOT NULL REFERENCES wallets (id),
    account_id    text NOT NULL,
    type          text NOT NULL CONSTRAINT transactions_type_known CHECK (type IN ('GRANT', 'SPEND', 'CAPTURE', 'EXPIRATION')),
    amount        numeric(30, 6) NOT NULL CONSTRAINT transactions_amount_positive CHECK (amount > 0),
    balance_after numeric(30, 6) NOT NULL,
    hold_id       uuid,
    reason        text NOT NULL,
    metadata      jsonb NOT NULL,
    created_at    timestamptz NOT NULL
);
CREATE INDEX transactions_wallet_history ON transactions (wallet_id, id DESC);

-- A posting is on a wallet's lot or on a system account, never both. System
-- accounts have no row: their balance is the sum of their postings, so no
-- transaction locks or updates a shared row.
CREATE TABLE postings (
    transaction_id uuid NOT NULL REFERENCES transactions (id),
    seq            smallint NOT NULL,
    tenant_id      uuid NOT NULL,
    wallet_id      uuid REFERENCES wallets (id),
    lot_id         uuid REFERENCES lots (id),
    system_account text CONSTRAINT postings_system_account_known CHECK (system_account IN ('promotions', 'purchases', 'consumption', 'breakage')),
    amount         numeric(30, 6) NOT NULL CONSTRAINT postings_amount_not_zero CHECK (amount <> 0),
    PRIMARY KEY (transaction_id, seq),
    CONSTRAINT postings_one_side CHECK (
        (wallet_id IS NOT NULL AND lot_id IS NOT NULL AND system_account IS NULL)
        OR (wallet_id IS NULL AND lot_id IS NULL AND system_account IS NOT NULL))
);
CREATE INDEX postings_by_lot ON postings (lot_id) WHERE lot_id IS NOT NULL;

CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'creditd: % on % refused: the ledger is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END $$;

CREATE TRIGGER transactions_append_only BEFORE UPDATE OR DELETE ON transactions
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER transactions_no_truncate BEFORE TRUNCATE ON transactions
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER postings_append_only BEFORE UPDATE OR DELETE ON postings
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER postings_no_truncate BEFORE TRUNCATE ON postings
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();

-- Every transaction's postings are inserted by one statement, so checking the
-- sum per transaction once per statement proves each one balances.
CREATE FUNCTION postings_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    unbalanced uuid;
BEGIN
    SELECT transaction_id INTO unbalanced
    FROM inserted GROUP BY transaction_id HAVING sum(amount) <> 0 OR count(*) < 2 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'creditd: postings of transaction % do not balance', unbalanced
            USING ERRCODE = 'check_violation', CONSTRAINT = 'postings_balanced';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER postings_balanced AFTER INSERT ON postings
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION postings_check_balanced();

-- A hold and what it still reserves, as [{"lot": uuid, "amount": "1.5"}].
-- Holds change only under their wallet's lock.
CREATE TABLE holds (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL,
    wallet_id   uuid NOT NULL REFERENCES wallets (id),
    account_id  text NOT NULL,
    amount      numeric(30, 6) NOT NULL CONSTRAINT holds_amount_positive CHECK (amount > 0),
    captured    numeric(30, 6) NOT NULL CONSTRAINT holds_captured_within_amount CHECK (captured >= 0 AND captured <= amount),
    status      text NOT NULL CONSTRAINT holds_status_known CHECK (status IN ('ACTIVE', 'PARTIALLY_CAPTURED', 'CAPTURED', 'RELEASED', 'EXPIRED')),
    reason      text NOT NULL,
    metadata    jsonb NOT NULL,
    allocations jsonb NOT NULL,
    expires_at  timestamptz NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE INDEX holds_due ON holds (expires_at) WHERE status IN ('ACTIVE', 'PARTIALLY_CAPTURED');
CREATE INDEX holds_open_by_wallet ON holds (wallet_id) WHERE status IN ('ACTIVE', 'PARTIALLY_CAPTURED');

-- Outcomes of idempotent requests, kept for the retention period (30 days by default).
CREATE TABLE idempotency_records (
    tenant_id   uuid NOT NULL,
    key         text NOT NULL,
    fingerprint bytea NOT NULL,
    status      integer NOT NULL,
    body        bytea NOT NULL,
    created_at  timestamptz NOT NULL,
    CONSTRAINT idempotency_records_pkey PRIMARY KEY (tenant_id, key)
);
CREATE INDEX idempotency_records_created ON idempotency_records (created_at);
