-- The recycle bin and the archive are read newest removal first, ties broken by id
-- (GET /deleted-contacts, GET /archived-contacts, their cursors). Their indexes held the
-- time alone, and the contacts a request or a job removes share one time (the
-- transaction's): a page then sorted every contact removed at that time or in the chosen
-- range, 24,000 rows read for 51 (13 ms at 200,000 deleted, 120–190 ms at 1,000,000).
-- With the id in the key the page is the index's first rows, read in order.
DROP INDEX IF EXISTS contacts_deleted;
CREATE INDEX contacts_deleted ON contacts (workspace_id, deleted_at, id) WHERE status = 'deleted';
DROP INDEX IF EXISTS contacts_archived;
CREATE INDEX contacts_archived ON contacts (workspace_id, archived_at, id) WHERE status = 'archived';
