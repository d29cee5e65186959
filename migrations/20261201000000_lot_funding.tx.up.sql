-- What paid for a lot: a purchase order, by its payment id, or a reference of
-- the tenant's own. "How much of this payment is still unspent" is then the
-- remaining of the lots it funded; postings name their lot, so "which payment
-- funded this spend" is a join.
ALTER TABLE lots
    ADD COLUMN funding_kind text CONSTRAINT lots_funding_kind_known CHECK (funding_kind IN ('order', 'external')),
    ADD COLUMN funding_ref text COLLATE "C",
    ADD CONSTRAINT lots_funding_whole CHECK ((funding_kind IS NULL) = (funding_ref IS NULL));
CREATE INDEX lots_by_funding ON lots (funding_kind, funding_ref) WHERE funding_ref IS NOT NULL;
