-- The planner's estimate of a free-text match comes from search_text's
-- statistics; the default sample (100) misjudged common words at 1M leads
-- and chose a sort of 20k rows over the trigram index's few pages.
ALTER TABLE leads ALTER COLUMN search_text SET STATISTICS 1000;

-- The pond (unassigned_only), newest first: `assigned_to IS NULL` gives no
-- order on (assigned_to, id), so its own index, as small as the pond.
CREATE INDEX idx_leads_pond_id ON leads (id) WHERE assigned_to IS NULL AND deleted_at IS NULL;
