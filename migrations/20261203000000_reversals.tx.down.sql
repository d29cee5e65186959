-- Refused while any reversal exists: the old constraint cannot hold for it,
-- and the ledger is append-only.
DROP TABLE transaction_reversals;

ALTER TABLE transactions
    DROP CONSTRAINT transactions_type_known,
    ADD CONSTRAINT transactions_type_known CHECK (type IN ('GRANT', 'SPEND', 'CAPTURE', 'EXPIRATION', 'CLAWBACK'));
