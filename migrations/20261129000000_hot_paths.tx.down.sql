ALTER TABLE wallets RESET (fillfactor);
ALTER TABLE lots RESET (fillfactor);
ALTER TABLE holds RESET (fillfactor);

DROP INDEX holds_due, holds_open_by_wallet;
ALTER TABLE holds DROP COLUMN open;
CREATE INDEX holds_due ON holds (expires_at) WHERE status IN ('ACTIVE', 'PARTIALLY_CAPTURED');
CREATE INDEX holds_open_by_wallet ON holds (wallet_id) WHERE status IN ('ACTIVE', 'PARTIALLY_CAPTURED');

DROP INDEX lots_open_by_wallet, lots_expiring;
ALTER TABLE lots DROP COLUMN open;
CREATE INDEX lots_open_by_wallet ON lots (wallet_id) WHERE remaining > 0;
CREATE INDEX lots_expiring ON lots (expires_at) WHERE remaining > held AND expires_at IS NOT NULL;

ALTER TABLE idempotency_records ALTER COLUMN key TYPE text COLLATE "default";
ALTER TABLE holds ALTER COLUMN account_id TYPE text COLLATE "default";
ALTER TABLE transactions ALTER COLUMN account_id TYPE text COLLATE "default";
ALTER TABLE wallets ALTER COLUMN account_id TYPE text COLLATE "default";
