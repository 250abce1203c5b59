-- The words' index moves out of `properties` into a table of its own. A
-- price or status change moves indexed columns, so its UPDATE is never HOT
-- and every index of the table takes a new entry for the row: for the GIN
-- index that was every word of the listing again, a third of what an MLS
-- feed of changed listings cost to import. Here a listing's words are
-- written when it is created and again only when its text changes.
CREATE TABLE property_words (
  property_id BIGINT PRIMARY KEY,
  words       TSVECTOR NOT NULL
);

INSERT INTO property_words (property_id, words)
SELECT id, to_tsvector('simple', search_text) FROM properties;

CREATE INDEX idx_property_words ON property_words USING gin (words);

-- Kept by the database on every write of `properties`, whoever makes it (the
-- service's statements, an import, an operator's psql), a statement at a
-- time: one set-based write for an import message's thousand rows, not a
-- function call per row. No foreign key: its check would lock each new
-- listing's row again as it is written. A deleted listing (soft) keeps its
-- words; searches read live listings only.
CREATE FUNCTION property_words_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO property_words (property_id, words)
  SELECT id, to_tsvector('simple', search_text) FROM inserted;
  RETURN NULL;
END
$$;

CREATE FUNCTION property_words_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO property_words (property_id, words)
  SELECT n.id, to_tsvector('simple', n.search_text)
  FROM updated n JOIN previous o ON o.id = n.id
  WHERE n.search_text IS DISTINCT FROM o.search_text
  ON CONFLICT (property_id) DO UPDATE SET words = EXCLUDED.words;
  RETURN NULL;
END
$$;

CREATE FUNCTION property_words_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM property_words w USING removed r WHERE w.property_id = r.id;
  RETURN NULL;
END
$$;

CREATE FUNCTION property_words_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE property_words;
  RETURN NULL;
END
$$;

CREATE TRIGGER property_words_insert AFTER INSERT ON properties
  REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION property_words_insert();
CREATE TRIGGER property_words_update AFTER UPDATE ON properties
  REFERENCING OLD TABLE AS previous NEW TABLE AS updated
  FOR EACH STATEMENT EXECUTE FUNCTION property_words_update();
CREATE TRIGGER property_words_delete AFTER DELETE ON properties
  REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION property_words_delete();
CREATE TRIGGER property_words_truncate AFTER TRUNCATE ON properties
  FOR EACH STATEMENT EXECUTE FUNCTION property_words_truncate();

DROP INDEX idx_properties_search_text;
