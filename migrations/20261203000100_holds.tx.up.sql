-- A hold's captures are its CAPTURE transactions (hold_id), read back for
-- every response that shows the hold: one index probe per hold. Spends and
-- grants have no hold_id and add no entry.
CREATE INDEX transactions_by_hold ON transactions (hold_id) WHERE hold_id IS NOT NULL;
