DROP TABLE lot_expiry_notices;
ALTER TABLE tenants DROP COLUMN lots_expiring_notice;
ALTER TABLE tenants DROP COLUMN low_balance_threshold;
ALTER TABLE wallets DROP COLUMN low_balance_threshold;
DROP TABLE events;
