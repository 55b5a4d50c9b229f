-- Exported backups (src/backups): each backup is one file in the backup store, the
-- workspace as of a retained snapshot's taken_at. This table records what was written and
-- whether it still reads back as written.
CREATE TABLE backups (
  workspace_id text NOT NULL REFERENCES workspaces (id),
  id text NOT NULL,
  -- the snapshot it was taken of; no foreign key: a backup outlives its snapshot's expiry
  snapshot_id text NOT NULL,
  taken_at timestamptz NOT NULL,
  file_name text NOT NULL,
  byte_size bigint NOT NULL CHECK (byte_size > 0),
  sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  -- rows written per table, e.g. {"contacts": 120, "list_memberships": 40}
  row_counts jsonb NOT NULL,
  status text NOT NULL CHECK (status IN ('exported', 'verified', 'failed')),
  verified_at timestamptz,
  error text,
  created_by text,
  created_at timestamptz NOT NULL DEFAULT retrace_now(),
  PRIMARY KEY (workspace_id, id)
);
CREATE INDEX backups_page ON backups (workspace_id, created_at, id);

-- Crypto-shredding: every row of a contact is written to backups encrypted with that
-- contact's own data key. Destroying the key (purge, erasure) makes the person unreadable
-- in every backup ever written. The foreign key makes it a database fact: a contact row
-- cannot go without its key going in the same transaction.
CREATE TABLE backup_keys (
  workspace_id text NOT NULL,
  contact_id text NOT NULL,
  key bytea NOT NULL CHECK (length(key) = 32),
  created_at timestamptz NOT NULL DEFAULT retrace_now(),
  PRIMARY KEY (workspace_id, contact_id),
  FOREIGN KEY (workspace_id, contact_id) REFERENCES contacts (workspace_id, id) ON DELETE CASCADE
);

-- The keyring file in the key store is a copy of a workspace's backup_keys. generation
-- grows with every change of its keys; written_generation is the one the file holds.
-- A keyring is stale while they differ: the maintenance pass rewrites it (a destroyed key
-- must not stay readable in the file because a rewrite failed once).
CREATE TABLE backup_keyrings (
  workspace_id text PRIMARY KEY REFERENCES workspaces (id),
  generation bigint NOT NULL DEFAULT 0,
  written_generation bigint,
  written_at timestamptz
);

-- Any change of a workspace's keys (made for a backup, destroyed by purge or erasure, by
-- whatever statement) marks its keyring stale, in the same transaction.
CREATE FUNCTION mark_backup_keyring_stale() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO backup_keyrings (workspace_id, generation)
    SELECT DISTINCT workspace_id, 1 FROM new_rows
    ON CONFLICT (workspace_id) DO UPDATE SET generation = backup_keyrings.generation + 1;
  ELSE
    INSERT INTO backup_keyrings (workspace_id, generation)
    SELECT DISTINCT workspace_id, 1 FROM old_rows
    ON CONFLICT (workspace_id) DO UPDATE SET generation = backup_keyrings.generation + 1;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER backup_keys_added AFTER INSERT ON backup_keys REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION mark_backup_keyring_stale();
CREATE TRIGGER backup_keys_destroyed AFTER DELETE ON backup_keys REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION mark_backup_keyring_stale();
