ALTER TABLE orders DROP COLUMN pending_refund, DROP COLUMN last_refund_key;
