-- (bedrooms, id) served no search: a minimum-bedrooms filter is a range, so
-- the index cannot give a page in id order, and the planner reads the newest
-- listings from the primary key and filters them instead (most listings match
-- any minimum a search uses). Every import paid to keep it up.
DROP INDEX IF EXISTS idx_properties_bedrooms_id;
