DROP INDEX lots_by_funding;
ALTER TABLE lots DROP CONSTRAINT lots_funding_whole, DROP COLUMN funding_ref, DROP COLUMN funding_kind;
