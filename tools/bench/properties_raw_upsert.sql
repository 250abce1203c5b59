-- The raw side of `tools/crm bench properties`' import case: the same RESO
-- records, upserted by PostgreSQL alone the way ImportProperties does it (in
-- batches of :batch rows, a transaction each, matched by (originating
-- system, listing key), unchanged rows not written, each created row's
-- property.created and each changed row's property.updated and
-- property.price_changed in an outbox table), into a copy of `properties`
-- with every index and as many rows (and of `property_words`, with its
-- triggers). Run as crm_properties:
--
--   psql -v skip=ORIGINATING_SYSTEM -f this
--   psql -c "\copy bench_feed (doc) FROM 'FEED.ndjson' WITH (FORMAT csv, QUOTE E'\x01', DELIMITER E'\x02')"
--   psql -c "CALL bench_upsert(500)"      -- timed; TRUNCATE bench_feed RESTART IDENTITY for another feed
--
-- and DROP the bench_ tables, functions and procedure afterwards
-- (tools/bench/properties_bench.sh does all of this).
\set ON_ERROR_STOP on
SET client_min_messages = warning;
DROP TABLE IF EXISTS bench_feed, bench_properties, bench_outbox, bench_words;
DROP PROCEDURE IF EXISTS bench_upsert(int);
DROP FUNCTION IF EXISTS bench_words_insert(), bench_words_update(), bench_words_delete(),
  bench_words_truncate();

-- The feed's records, parsed when loaded (not timed: the service's side
-- parses protobuf, which costs it far less than JSON).
CREATE UNLOGGED TABLE bench_feed (n bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, doc jsonb NOT NULL);

CREATE TABLE bench_properties (LIKE properties INCLUDING ALL);
CREATE TABLE bench_outbox (LIKE outbox INCLUDING ALL);
-- As many listings as `properties` has, less the service side's import.
SELECT string_agg(quote_ident(column_name), ', ' ORDER BY ordinal_position) AS cols
FROM information_schema.columns
WHERE table_schema = current_schema() AND table_name = 'properties' AND is_generated = 'NEVER' \gset
INSERT INTO bench_properties (:cols) OVERRIDING SYSTEM VALUE
SELECT :cols FROM properties WHERE originating_system_name IS DISTINCT FROM :'skip';
SELECT setval(pg_get_serial_sequence('bench_properties', 'id'), (SELECT max(id) FROM properties));
VACUUM (ANALYZE) bench_properties;

-- The listings' words apart, kept as property_words is: the service's own
-- trigger functions and triggers, read from the catalog and pointed at the
-- copies (services/properties/migrations/006_words_apart.sql).
CREATE TABLE bench_words (LIKE property_words INCLUDING ALL);
INSERT INTO bench_words SELECT id, to_tsvector('simple', search_text) FROM bench_properties;
DO $$
DECLARE
  def text;
BEGIN
  FOR def IN SELECT pg_get_functiondef(p.oid) FROM pg_proc p
             WHERE p.proname LIKE 'property\_words\_%' AND pg_function_is_visible(p.oid) LOOP
    EXECUTE replace(def, 'property_words', 'bench_words');
  END LOOP;
  FOR def IN SELECT pg_get_triggerdef(t.oid) FROM pg_trigger t
             WHERE t.tgrelid = 'properties'::regclass AND t.tgname LIKE 'property\_words\_%' LOOP
    EXECUTE regexp_replace(replace(def, 'property_words', 'bench_words'),
                           ' ON (\S+\.)?properties ', ' ON bench_properties ');
  END LOOP;
END
$$;
VACUUM (ANALYZE) bench_words;

CREATE PROCEDURE bench_upsert(batch int) LANGUAGE plpgsql AS $proc$
DECLARE
  lo bigint := 0;
  hi bigint;
BEGIN
  SELECT max(n) INTO hi FROM bench_feed;
  WHILE lo < hi LOOP
    WITH src AS (
      SELECT d->>'ListingId' AS mls_id,
             d->>'UnparsedAddress' AS address,
             (d->>'ListPrice')::numeric AS price,
             upper(replace(d->>'StandardStatus', ' ', '_')) AS status,
             split_part(d->>'UnparsedAddress', ',', 1) AS street,
             coalesce(d->>'UnitNumber', '') AS unit,
             d->>'City' AS city,
             d->>'StateOrProvince' AS state_or_province,
             d->>'PostalCode' AS postal_code,
             coalesce(d->>'Country', 'US') AS country,
             upper(replace(d->>'PropertyType', ' ', '_')) AS property_type,
             coalesce((d->>'BedroomsTotal')::int, 0) AS bedrooms,
             coalesce((d->>'BathroomsFull')::int, 0) AS bathrooms_full,
             coalesce((d->>'BathroomsHalf')::int, 0) AS bathrooms_half,
             coalesce((d->>'BathroomsTotalInteger')::int, 0) AS bathrooms_total_integer,
             coalesce(round((d->>'LivingArea')::numeric)::int, 0) AS living_area_sqft,
             coalesce(round((d->>'LotSizeSquareFeet')::numeric)::int8, 0) AS lot_size_sqft,
             coalesce((d->>'YearBuilt')::int, 0) AS year_built,
             coalesce(d->>'PublicRemarks', '') AS description,
             (d->>'ListingContractDate')::date AS list_date,
             d->>'ListingKey' AS listing_key,
             d->>'OriginatingSystemName' AS originating_system_name,
             (d->>'Latitude')::float8 AS latitude,
             (d->>'Longitude')::float8 AS longitude,
             d->>'MlsStatus' AS mls_status,
             (d->>'ModificationTimestamp')::timestamptz AS modification_timestamp,
             (d->>'StatusChangeTimestamp')::timestamptz AS status_change_timestamp,
             (d->>'PriceChangeTimestamp')::timestamptz AS price_change_timestamp,
             (d->>'OnMarketDate')::date AS on_market_date,
             (d->>'ClosePrice')::numeric AS close_price,
             (d->>'CloseDate')::date AS close_date
      FROM bench_feed AS f (n, d) WHERE f.n > lo AND f.n <= lo + batch
    ), up AS (
      INSERT INTO bench_properties AS p (mls_id, address, price, status, street, unit, city,
        state_or_province, postal_code, country, property_type, bedrooms, bathrooms_full,
        bathrooms_half, bathrooms_total_integer, living_area_sqft, lot_size_sqft, year_built,
        description, list_date, listing_key, originating_system_name, latitude, longitude,
        mls_status, modification_timestamp, status_change_timestamp, price_change_timestamp,
        on_market_date, close_price, close_date)
      SELECT * FROM src
      ON CONFLICT (originating_system_name, listing_key)
        WHERE listing_key IS NOT NULL AND originating_system_name IS NOT NULL
      DO UPDATE SET (mls_id, address, price, status, street, unit, city, state_or_province,
        postal_code, country, property_type, bedrooms, bathrooms_full, bathrooms_half,
        bathrooms_total_integer, living_area_sqft, lot_size_sqft, year_built, description,
        list_date, latitude, longitude, mls_status, modification_timestamp,
        status_change_timestamp, price_change_timestamp, on_market_date, close_price,
        close_date, version, updated_at) =
        (excluded.mls_id, excluded.address, excluded.price, excluded.status, excluded.street,
         excluded.unit, excluded.city, excluded.state_or_province, excluded.postal_code,
         excluded.country, excluded.property_type, excluded.bedrooms, excluded.bathrooms_full,
         excluded.bathrooms_half, excluded.bathrooms_total_integer, excluded.living_area_sqft,
         excluded.lot_size_sqft, excluded.year_built, excluded.description, excluded.list_date,
         excluded.latitude, excluded.longitude, excluded.mls_status,
         excluded.modification_timestamp, excluded.status_change_timestamp,
         excluded.price_change_timestamp, excluded.on_market_date, excluded.close_price,
         excluded.close_date, p.version + 1, now())
      WHERE (p.mls_id, p.address, p.price, p.status, p.street, p.unit, p.city,
             p.state_or_province, p.postal_code, p.country, p.property_type, p.bedrooms,
             p.bathrooms_full, p.bathrooms_half, p.bathrooms_total_integer, p.living_area_sqft,
             p.lot_size_sqft, p.year_built, p.description, p.list_date, p.latitude, p.longitude,
             p.mls_status, p.modification_timestamp, p.status_change_timestamp,
             p.price_change_timestamp, p.on_market_date, p.close_price, p.close_date)
        IS DISTINCT FROM
            (excluded.mls_id, excluded.address, excluded.price, excluded.status, excluded.street,
             excluded.unit, excluded.city, excluded.state_or_province, excluded.postal_code,
             excluded.country, excluded.property_type, excluded.bedrooms,
             excluded.bathrooms_full, excluded.bathrooms_half, excluded.bathrooms_total_integer,
             excluded.living_area_sqft, excluded.lot_size_sqft, excluded.year_built,
             excluded.description, excluded.list_date, excluded.latitude, excluded.longitude,
             excluded.mls_status, excluded.modification_timestamp,
             excluded.status_change_timestamp, excluded.price_change_timestamp,
             excluded.on_market_date, excluded.close_price, excluded.close_date)
      RETURNING p.id, p.mls_id, p.address, p.price, p.status, p.agent_id, p.xmax = 0 AS created
    )
    INSERT INTO bench_outbox (event_id, service, actor_user_id, action, entity_type, entity_id,
                              details)
    SELECT gen_random_uuid(), 'properties', 1, a.action, 'property', up.id,
           jsonb_build_object('mls_id', up.mls_id, 'address', up.address, 'price_cents',
                              (up.price * 100)::int8, 'status', up.status, 'agent_id',
                              coalesce(up.agent_id, 0))
    FROM up CROSS JOIN LATERAL (
      SELECT 'property.created' AS action WHERE up.created
      UNION ALL SELECT 'property.updated' WHERE NOT up.created
      UNION ALL SELECT 'property.price_changed' WHERE NOT up.created) AS a;
    COMMIT;
    lo := lo + batch;
  END LOOP;
END
$proc$;
