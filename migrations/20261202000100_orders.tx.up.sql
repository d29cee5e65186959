-- Purchase orders: one per payment, named by the payment id creditd
-- generates (globally unique, so a webhook that names only the payment finds
-- its order). An order keeps the pack as it was sold.
CREATE TABLE orders (
    payment_id           text COLLATE "C" PRIMARY KEY,
    tenant_id            uuid NOT NULL,
    account_id           text NOT NULL,
    product_id           text NOT NULL,
    order_name           text NOT NULL,
    price_amount         bigint NOT NULL CONSTRAINT orders_price_positive CHECK (price_amount > 0),
    currency             text NOT NULL CONSTRAINT orders_currency_known CHECK (currency IN ('KRW', 'USD', 'JPY')),
    credits              numeric(30, 6) NOT NULL CONSTRAINT orders_credits_positive CHECK (credits > 0),
    bonus_credits        numeric(30, 6) NOT NULL CONSTRAINT orders_bonus_not_negative CHECK (bonus_credits >= 0),
    credit_validity_days integer,
    custom_data          text NOT NULL,
    status               text NOT NULL CONSTRAINT orders_status_known CHECK (status IN
        ('PENDING', 'AWAITING_DEPOSIT', 'FAILED', 'PAID', 'PARTIALLY_REFUNDED', 'REFUNDED', 'REJECTED')),
    virtual_account      jsonb,
    -- money the ledger has taken credits back for, in minor units
    cancelled_amount     bigint NOT NULL CONSTRAINT orders_cancelled_within_price CHECK (cancelled_amount BETWEEN 0 AND price_amount),
    rejection            text,
    paid_at              timestamptz,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL
);
CREATE INDEX orders_by_tenant ON orders (tenant_id, updated_at, payment_id);
CREATE INDEX orders_by_account ON orders (tenant_id, account_id, updated_at, payment_id);

-- An order's status only moves forward (the ranks of domain.OrderStatus),
-- whatever code writes it.
CREATE FUNCTION order_status_rank(status text) RETURNS integer LANGUAGE sql IMMUTABLE AS $$
    SELECT array_position(ARRAY['PENDING', 'AWAITING_DEPOSIT', 'FAILED', 'PAID', 'PARTIALLY_REFUNDED', 'REFUNDED', 'REJECTED'], status)
$$;

CREATE FUNCTION orders_refuse_backwards() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF order_status_rank(NEW.status) < order_status_rank(OLD.status) OR NEW.cancelled_amount < OLD.cancelled_amount THEN
        RAISE EXCEPTION 'creditd: order % may not move from % to %', OLD.payment_id, OLD.status, NEW.status
            USING ERRCODE = 'check_violation', CONSTRAINT = 'orders_forward_only';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER orders_forward_only BEFORE UPDATE ON orders
    FOR EACH ROW EXECUTE FUNCTION orders_refuse_backwards();

-- A paid order grants one lot of each source, ever: a second grant for the
-- same order fails here, however it came about.
CREATE UNIQUE INDEX lots_one_grant_per_order ON lots (funding_ref, source) WHERE funding_kind = 'order';
