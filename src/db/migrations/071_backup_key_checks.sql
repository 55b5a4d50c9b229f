-- Backups check their keyring (issue 19.5). A key destroyed by an erasure or a purge is
-- remembered by contact id only (no personal data), so a verification can tell a key that
-- was shredded from one that went missing, and the keyring file can mark the contacts
-- whose keys were shredded (a restore then leaves them out knowingly and refuses to leave
-- out anyone else). IF NOT EXISTS and OR REPLACE: the migration tests apply later
-- migrations again on an older database.
CREATE TABLE IF NOT EXISTS backup_destroyed_keys (
  workspace_id text NOT NULL,
  contact_id text NOT NULL,
  destroyed_at timestamptz NOT NULL DEFAULT retrace_now(),
  PRIMARY KEY (workspace_id, contact_id)
);

-- Whatever statement destroys keys (erasure, purge, a contact row deleted by any path and
-- its key with it by the foreign key), the destruction is recorded in its transaction.
CREATE OR REPLACE FUNCTION record_destroyed_backup_keys() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO backup_destroyed_keys (workspace_id, contact_id)
  SELECT workspace_id, contact_id FROM old_rows
  ON CONFLICT (workspace_id, contact_id) DO NOTHING;
  RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS backup_keys_destroyed_recorded ON backup_keys;
CREATE TRIGGER backup_keys_destroyed_recorded AFTER DELETE ON backup_keys REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION record_destroyed_backup_keys();

-- Keys destroyed before this migration: those of every contact purged or erased so far.
INSERT INTO backup_destroyed_keys (workspace_id, contact_id, destroyed_at)
SELECT workspace_id, contact_id, at FROM contact_tombstones
ON CONFLICT (workspace_id, contact_id) DO NOTHING;

-- The keyring file's digest as written (the content digest of src/backups/keyring.ts), so
-- a backup records which keyring it was made with without reading the file again. A
-- keyring written before this migration has none: it is rewritten (with its shredded
-- marks) at the next maintenance pass.
ALTER TABLE backup_keyrings ADD COLUMN IF NOT EXISTS written_sha256 text;
UPDATE backup_keyrings SET written_generation = NULL;

-- What a backup records of the keyring it was made with (format version 2 and later), and
-- what its last verification found of the keyring against it.
ALTER TABLE backups ADD COLUMN IF NOT EXISTS format_version integer NOT NULL DEFAULT 1;
ALTER TABLE backups ADD COLUMN IF NOT EXISTS keyring_generation bigint;
ALTER TABLE backups ADD COLUMN IF NOT EXISTS keyring_sha256 text;
ALTER TABLE backups ADD COLUMN IF NOT EXISTS verification jsonb;
