DROP INDEX holds_by_wallet;
