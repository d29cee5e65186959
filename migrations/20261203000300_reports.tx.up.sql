-- The finance summary reads one tenant's transactions before a time. Without
-- this index it scanned every tenant's transactions and postings: ~650 ms on
-- 1M transactions / 2M postings whatever the tenant's size; with it, a small
-- tenant's summary takes under a millisecond (a large one still scans, as it must).
CREATE INDEX transactions_by_tenant_time ON transactions (tenant_id, created_at);
