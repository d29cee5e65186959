-- GET /v1/accounts/{id}/holds lists a wallet's holds newest first, closed
-- ones included; without this, the only index by wallet covers open holds,
-- and listing a wallet's holds scanned the whole table.
CREATE INDEX holds_by_wallet ON holds (wallet_id, id);
