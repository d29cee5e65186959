DROP INDEX lots_one_grant_per_order;
DROP TABLE orders;
DROP FUNCTION orders_refuse_backwards();
DROP FUNCTION order_status_rank(text);
