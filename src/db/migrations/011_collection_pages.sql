-- Every collection pages in (created_at, id) order: users, and the live lists, accounts,
-- tags and deals. A page is then a short walk of one of these indexes, not a sort of the
-- workspace's rows (a workspace of 1,000,000 contacts has some 250,000 deals).
CREATE INDEX IF NOT EXISTS users_page ON users (workspace_id, created_at, id);
CREATE INDEX IF NOT EXISTS lists_page ON lists (workspace_id, created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX IF NOT EXISTS accounts_page ON accounts (workspace_id, created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX IF NOT EXISTS tags_page ON tags (workspace_id, created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX IF NOT EXISTS deals_page ON deals (workspace_id, created_at, id) WHERE deleted_at IS NULL;
