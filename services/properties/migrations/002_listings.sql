-- What listings, search and MLS imports need beyond the seed's properties
-- table, whose columns (the composed `address` included) and
-- idx_properties_mls_id stay as they are. Statuses and property types are the
-- proto's value names without prefix ('ACTIVE', 'ACTIVE_UNDER_CONTRACT',
-- 'RESIDENTIAL'), matching the seed's default. Optional feed values are NULL
-- when unknown, so the partial indexes below hold only listings that have
-- them.
ALTER TABLE properties
  -- The structured address; `address` keeps the one-line form of it.
  ADD COLUMN street                  TEXT        NOT NULL DEFAULT '',
  ADD COLUMN unit                    TEXT        NOT NULL DEFAULT '',
  ADD COLUMN city                    TEXT        NOT NULL DEFAULT '',
  ADD COLUMN state_or_province       TEXT        NOT NULL DEFAULT '',
  ADD COLUMN postal_code             TEXT        NOT NULL DEFAULT '',
  ADD COLUMN country                 CHAR(2)     NOT NULL DEFAULT 'US',
  ADD COLUMN property_type           VARCHAR(30),
  ADD COLUMN bedrooms                INTEGER     NOT NULL DEFAULT 0,
  ADD COLUMN bathrooms_full          INTEGER     NOT NULL DEFAULT 0,
  ADD COLUMN bathrooms_half          INTEGER     NOT NULL DEFAULT 0,
  ADD COLUMN bathrooms_total_integer INTEGER     NOT NULL DEFAULT 0,
  ADD COLUMN living_area_sqft        INTEGER     NOT NULL DEFAULT 0,
  ADD COLUMN lot_size_sqft           BIGINT      NOT NULL DEFAULT 0,
  ADD COLUMN year_built              INTEGER     NOT NULL DEFAULT 0,
  ADD COLUMN description             TEXT        NOT NULL DEFAULT '',
  ADD COLUMN list_date               DATE,
  -- RESO: the record's key in its MLS, and which MLS.
  ADD COLUMN listing_key             VARCHAR(255),
  ADD COLUMN originating_system_name VARCHAR(255),
  ADD COLUMN latitude                DOUBLE PRECISION,
  ADD COLUMN longitude               DOUBLE PRECISION,
  ADD COLUMN mls_status              TEXT,
  ADD COLUMN modification_timestamp  TIMESTAMPTZ,
  ADD COLUMN status_change_timestamp TIMESTAMPTZ,
  ADD COLUMN price_change_timestamp  TIMESTAMPTZ,
  ADD COLUMN on_market_date          DATE,
  ADD COLUMN close_price             NUMERIC(14,2),
  ADD COLUMN close_date              DATE,
  ADD COLUMN version                 BIGINT      NOT NULL DEFAULT 1,
  ADD COLUMN deleted_at              TIMESTAMPTZ,
  -- What the free-text filter searches, lower-cased once: the MLS id, the
  -- address and the remarks.
  ADD COLUMN search_text TEXT GENERATED ALWAYS AS (
    lower(mls_id || ' ' || address || ' ' || postal_code || ' ' || description)) STORED,
  ADD CONSTRAINT properties_status_known CHECK (status IN ('ACTIVE', 'ACTIVE_UNDER_CONTRACT',
    'COMING_SOON', 'PENDING', 'CLOSED', 'CANCELED', 'EXPIRED', 'WITHDRAWN', 'HOLD',
    'INCOMPLETE')),
  ADD CONSTRAINT properties_type_known CHECK (property_type IN ('RESIDENTIAL',
    'RESIDENTIAL_INCOME', 'RESIDENTIAL_LEASE', 'LAND', 'FARM', 'COMMERCIAL_SALE',
    'COMMERCIAL_LEASE', 'BUSINESS_OPPORTUNITY', 'MANUFACTURED_IN_PARK')),
  ADD CONSTRAINT properties_latitude_range CHECK (latitude BETWEEN -90 AND 90),
  ADD CONSTRAINT properties_longitude_range CHECK (longitude BETWEEN -180 AND 180),
  ADD CONSTRAINT properties_coordinates_paired CHECK ((latitude IS NULL) = (longitude IS NULL)),
  ADD CONSTRAINT properties_close_price_nonnegative CHECK (close_price >= 0),
  ADD CONSTRAINT properties_counts_nonnegative CHECK (bedrooms >= 0 AND bathrooms_full >= 0 AND
    bathrooms_half >= 0 AND bathrooms_total_integer >= 0 AND living_area_sqft >= 0 AND
    lot_size_sqft >= 0 AND year_built >= 0);

-- A feed record's identity across MLSs (a ListingId is unique only within
-- one): unique, deleted listings included, like mls_id.
CREATE UNIQUE INDEX idx_properties_listing_key ON properties (originating_system_name, listing_key)
  WHERE listing_key IS NOT NULL AND originating_system_name IS NOT NULL;

-- Search, all on live listings. Each order has its index, alone and under a
-- status (the filter every client search has), so a page reads page_size + 1
-- entries in order; the other filters have (…, id) indexes for the newest
-- order; the bounding box a GiST index on the point; free text its words.
CREATE INDEX idx_properties_status_id ON properties (status, id) WHERE deleted_at IS NULL;
CREATE INDEX idx_properties_price_id ON properties (price, id) WHERE deleted_at IS NULL;
CREATE INDEX idx_properties_status_price_id ON properties (status, price, id)
  WHERE deleted_at IS NULL;
CREATE INDEX idx_properties_updated_id ON properties (updated_at, id) WHERE deleted_at IS NULL;
CREATE INDEX idx_properties_status_updated_id ON properties (status, updated_at, id)
  WHERE deleted_at IS NULL;
CREATE INDEX idx_properties_agent_id ON properties (agent_id, id) WHERE deleted_at IS NULL;
CREATE INDEX idx_properties_city_id ON properties (lower(city), id) WHERE deleted_at IS NULL;
CREATE INDEX idx_properties_postal_code_id ON properties (postal_code, id)
  WHERE deleted_at IS NULL;
CREATE INDEX idx_properties_type_id ON properties (property_type, id) WHERE deleted_at IS NULL;
CREATE INDEX idx_properties_bedrooms_id ON properties (bedrooms, id) WHERE deleted_at IS NULL;
CREATE INDEX idx_properties_location ON properties USING gist (point(longitude, latitude))
  WHERE deleted_at IS NULL AND latitude IS NOT NULL;
-- Free text is full-text search with the 'simple' configuration (no
-- stemming, no stop words: MLS ids, street numbers and postal codes are words
-- like any other), each word of a query matched as a prefix ('mapl' finds
-- Maple St, 'dm1000' the MLS id DM1000123). Keeping it up costs an import about
-- half what a trigram index does (services/properties/README.md).
CREATE INDEX idx_properties_search_text ON properties
  USING gin (to_tsvector('simple', search_text)) WHERE deleted_at IS NULL;
