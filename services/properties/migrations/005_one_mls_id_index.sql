-- mls_id was indexed twice: by its UNIQUE constraint's own index and by the
-- seed's idx_properties_mls_id, and every listing written paid for both.
-- The constraint now uses the seed's index, made unique: mls_id stays
-- UNIQUE and idx_properties_mls_id keeps its name (a constraint built on an
-- index takes the index's name, so both are called idx_properties_mls_id).
CREATE UNIQUE INDEX idx_properties_mls_id_unique ON properties (mls_id);
ALTER TABLE properties DROP CONSTRAINT properties_mls_id_key;
DROP INDEX idx_properties_mls_id;
ALTER INDEX idx_properties_mls_id_unique RENAME TO idx_properties_mls_id;
ALTER TABLE properties ADD CONSTRAINT idx_properties_mls_id UNIQUE USING INDEX idx_properties_mls_id;
