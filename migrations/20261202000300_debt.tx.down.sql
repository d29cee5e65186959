-- Refused while any clawback or debt exists: the old constraints cannot hold
-- for them, and the ledger is append-only.
ALTER TABLE transactions
    DROP CONSTRAINT transactions_type_known,
    ADD CONSTRAINT transactions_type_known CHECK (type IN ('GRANT', 'SPEND', 'CAPTURE', 'EXPIRATION'));

ALTER TABLE postings
    DROP CONSTRAINT postings_system_account_known,
    ADD CONSTRAINT postings_system_account_known CHECK (system_account IN ('promotions', 'purchases', 'consumption', 'breakage')),
    DROP CONSTRAINT postings_one_side,
    ADD CONSTRAINT postings_one_side CHECK (
        (wallet_id IS NOT NULL AND lot_id IS NOT NULL AND system_account IS NULL)
        OR (wallet_id IS NULL AND lot_id IS NULL AND system_account IS NOT NULL));

ALTER TABLE wallets
    DROP CONSTRAINT wallets_balance_not_negative,
    DROP CONSTRAINT wallets_held_within_balance,
    DROP COLUMN debt,
    ADD CONSTRAINT wallets_balance_not_negative CHECK (balance >= 0),
    ADD CONSTRAINT wallets_held_within_balance CHECK (held >= 0 AND held <= balance);
