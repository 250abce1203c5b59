-- A ListLeads page with a created-time range is ordered by (created_at, id),
-- newest first, and continues from the last row's pair: this index serves
-- both the range and the order, and the row comparison of the keyset. It
-- replaces the single-column index of 002 under the same name.
DROP INDEX IF EXISTS idx_leads_created_at;
CREATE INDEX idx_leads_created_at ON leads (created_at, id) WHERE deleted_at IS NULL;
