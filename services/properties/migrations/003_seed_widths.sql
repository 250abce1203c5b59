-- properties.status is VARCHAR(50) in the seed (database-design.md §3.3); 001
-- made it VARCHAR(30). Widening a varchar keeps the rows, the status indexes,
-- the default 'ACTIVE' and properties_status_known as they are (PostgreSQL
-- re-checks that CHECK with one read of the table, no rewrite).
ALTER TABLE properties ALTER COLUMN status TYPE VARCHAR(50);
