-- Clawbacks and debt. A clawback takes back the credits a cancelled payment
-- funded; what the wallet no longer has is, by the tenant's shortfall policy,
-- either owed (debt, paid first by later grants) or recorded as a loss.

-- wallets.balance is now the NET balance: the open lots' remaining less the
-- debt. It is negative only while the wallet is in debt, and held is bounded
-- by what the lots still have (balance + debt), not by the net balance.
ALTER TABLE wallets
    ADD COLUMN debt numeric(30, 6) NOT NULL DEFAULT 0 CONSTRAINT wallets_debt_not_negative CHECK (debt >= 0),
    DROP CONSTRAINT wallets_balance_not_negative,
    DROP CONSTRAINT wallets_held_within_balance,
    ADD CONSTRAINT wallets_balance_not_negative CHECK (balance >= 0 OR debt > 0),
    ADD CONSTRAINT wallets_held_within_balance CHECK (held >= 0 AND held <= balance + debt);

-- The debt leg: a wallet posting without a lot (minus the wallet's debt is
-- the sum of them). A system posting still names neither wallet nor lot, and
-- a lot is always a wallet's.
ALTER TABLE postings
    DROP CONSTRAINT postings_one_side,
    ADD CONSTRAINT postings_one_side CHECK (
        (wallet_id IS NOT NULL AND system_account IS NULL)
        OR (wallet_id IS NULL AND lot_id IS NULL AND system_account IS NOT NULL)),
    DROP CONSTRAINT postings_system_account_known,
    ADD CONSTRAINT postings_system_account_known CHECK (system_account IN
        ('promotions', 'purchases', 'consumption', 'breakage', 'refunds', 'refund_losses'));

-- A clawback's amount is the credits asked back, always positive, also when
-- the whole shortfall was absorbed and the wallet did not change.
ALTER TABLE transactions
    DROP CONSTRAINT transactions_type_known,
    ADD CONSTRAINT transactions_type_known CHECK (type IN ('GRANT', 'SPEND', 'CAPTURE', 'EXPIRATION', 'CLAWBACK'));
