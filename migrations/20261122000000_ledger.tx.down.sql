DROP TABLE idempotency_records, holds, postings, transactions, lots, wallets, api_keys, tenants;
DROP FUNCTION postings_check_balanced(), ledger_refuse_change();
