-- Every object comes back (issue 18, point 1): lists, accounts, deals, tags, forms and
-- automations go to a recycle bin of their own, GET /deleted-objects, and are restored
-- from it (src/deleted-objects).
--
-- Deletes stay soft, as lists, accounts, deals and tags already were: the row keeps its
-- association rows (memberships, account links, deal contacts, contact tags), so a
-- restore is the object's own UPDATE back (deleted_at cleared), set-based and exact,
-- never a replay of history. Forms and automations now delete the same way. deleted_by
-- says who, for the bin. IF NOT EXISTS: the migration tests apply later migrations again
-- on an older database.
ALTER TABLE lists ADD COLUMN IF NOT EXISTS deleted_by text;
ALTER TABLE accounts ADD COLUMN IF NOT EXISTS deleted_by text;
ALTER TABLE deals ADD COLUMN IF NOT EXISTS deleted_by text;
ALTER TABLE tags ADD COLUMN IF NOT EXISTS deleted_by text;
ALTER TABLE forms ADD COLUMN IF NOT EXISTS deleted_at timestamptz, ADD COLUMN IF NOT EXISTS deleted_by text;
ALTER TABLE automations ADD COLUMN IF NOT EXISTS deleted_at timestamptz, ADD COLUMN IF NOT EXISTS deleted_by text;

-- A paused automation (paused_at set) enrols nobody, sends nothing and advances no
-- enrollment; resumed, its enrollments continue at their saved step. A restored
-- automation comes back paused. A nullable time rather than a NOT NULL status: row images
-- written before this column (history, backups) read it as null, which is active.
ALTER TABLE automations ADD COLUMN IF NOT EXISTS paused_at timestamptz;

-- The bin's pages, newest deletion first, and the purge, oldest first: each kind read
-- down its own partial index.
CREATE INDEX IF NOT EXISTS lists_deleted ON lists (workspace_id, deleted_at, id) WHERE deleted_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS accounts_deleted ON accounts (workspace_id, deleted_at, id) WHERE deleted_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS deals_deleted ON deals (workspace_id, deleted_at, id) WHERE deleted_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS tags_deleted ON tags (workspace_id, deleted_at, id) WHERE deleted_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS forms_deleted ON forms (workspace_id, deleted_at, id) WHERE deleted_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS automations_deleted ON automations (workspace_id, deleted_at, id) WHERE deleted_at IS NOT NULL;
