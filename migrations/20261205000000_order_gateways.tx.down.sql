ALTER TABLE orders DROP COLUMN transaction_id, DROP COLUMN gateway;
