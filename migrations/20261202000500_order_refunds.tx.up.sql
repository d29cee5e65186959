-- A refund in progress on an order (at most one): what was asked of the
-- payment gateway, and the hold that reserves the credits it takes back.
-- last_refund_key is the idempotency key of the last refund seen done, so a
-- retry of it after a crash finds it done instead of refunding again.
ALTER TABLE orders
    ADD COLUMN pending_refund jsonb,
    ADD COLUMN last_refund_key text;
