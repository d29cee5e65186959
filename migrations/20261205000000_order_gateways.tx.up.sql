-- An order is paid through PortOne V2 or V1 (iamport), and keeps that
-- gateway for life. transaction_id is the gateway's id of the attempt that
-- paid (V2 transactionId, V1 imp_uid): V1 refunds cancel that attempt.
ALTER TABLE orders
    ADD COLUMN gateway text NOT NULL DEFAULT 'v2' CONSTRAINT orders_gateway_known CHECK (gateway IN ('v2', 'v1')),
    ADD COLUMN transaction_id text;
