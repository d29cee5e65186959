-- Reversals: a REVERSAL transaction undoes part or all of an earlier spend,
-- capture or grant. Transactions stay append-only, so what was reversed of
-- a transaction is never written on it: each reversal's link to what it
-- reverses is a row of its own here, inserted with the reversal, and "how
-- much was reversed" is the sum of these rows. A separate table (not a
-- column of transactions) keeps spends, which never reverse anything, from
-- writing or indexing anything more.
ALTER TABLE transactions
    DROP CONSTRAINT transactions_type_known,
    ADD CONSTRAINT transactions_type_known CHECK (type IN ('GRANT', 'SPEND', 'CAPTURE', 'EXPIRATION', 'CLAWBACK', 'REVERSAL'));

-- amount repeats the reversal's own, so the sum of a transaction's reversals
-- is read from this table's index alone; creditd verify checks they agree.
CREATE TABLE transaction_reversals (
    transaction_id uuid PRIMARY KEY REFERENCES transactions (id),
    original_id    uuid NOT NULL REFERENCES transactions (id),
    tenant_id      uuid NOT NULL,
    amount         numeric(30, 6) NOT NULL CONSTRAINT transaction_reversals_amount_positive CHECK (amount > 0),
    CONSTRAINT transaction_reversals_not_itself CHECK (transaction_id <> original_id)
);
CREATE INDEX transaction_reversals_by_original ON transaction_reversals (original_id) INCLUDE (amount);

CREATE TRIGGER transaction_reversals_append_only BEFORE UPDATE OR DELETE ON transaction_reversals
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER transaction_reversals_no_truncate BEFORE TRUNCATE ON transaction_reversals
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
