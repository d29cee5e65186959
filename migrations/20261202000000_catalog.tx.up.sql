-- Each tenant's credit packs. Prices are integers in the currency's minor
-- unit (domain.Money; 10^15 at most); credits are NUMERIC(30,6) like every
-- amount of credits. Packs are archived (active = false), never deleted:
-- orders name the pack they sold, so a trigger refuses DELETE and TRUNCATE.
CREATE TABLE products (
    tenant_id            uuid NOT NULL REFERENCES tenants (id),
    id                   text COLLATE "C" NOT NULL CONSTRAINT products_id_format CHECK (id ~ '^[A-Za-z0-9._-]{1,64}$'),
    name                 text NOT NULL CONSTRAINT products_name_length CHECK (char_length(name) BETWEEN 1 AND 100),
    price_amount         bigint NOT NULL CONSTRAINT products_price_positive CHECK (price_amount > 0 AND price_amount <= 1000000000000000),
    currency             text NOT NULL CONSTRAINT products_currency_known CHECK (currency IN ('KRW', 'USD', 'JPY')),
    credits              numeric(30, 6) NOT NULL CONSTRAINT products_credits_positive CHECK (credits > 0),
    bonus_credits        numeric(30, 6) NOT NULL CONSTRAINT products_bonus_credits_not_negative CHECK (bonus_credits >= 0),
    -- NULL: the credits of the pack never expire
    credit_validity_days integer CONSTRAINT products_credit_validity_days_range CHECK (credit_validity_days BETWEEN 1 AND 3650),
    active               boolean NOT NULL,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    CONSTRAINT products_pkey PRIMARY KEY (tenant_id, id)
);

CREATE FUNCTION products_refuse_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'creditd: % on % refused: credit packs are archived (active = false), never deleted', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END $$;

CREATE TRIGGER products_no_delete BEFORE DELETE ON products
    FOR EACH ROW EXECUTE FUNCTION products_refuse_delete();
CREATE TRIGGER products_no_truncate BEFORE TRUNCATE ON products
    FOR EACH STATEMENT EXECUTE FUNCTION products_refuse_delete();
