DROP INDEX transactions_by_hold;
