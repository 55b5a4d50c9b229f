-- Durable background jobs (restores, rollbacks). A job commits its work in batches, and
-- each batch's checkpoint (progress) in the same transaction, so a crash loses nothing
-- and repeats nothing.
CREATE TABLE jobs (
  workspace_id text NOT NULL REFERENCES workspaces (id),
  id text NOT NULL DEFAULT gen_random_uuid()::text,
  kind text NOT NULL,
  status text NOT NULL CHECK (status IN ('awaiting_approval', 'queued', 'running', 'succeeded', 'failed')),
  params jsonb NOT NULL,
  progress jsonb NOT NULL DEFAULT '{}',
  result jsonb,
  error text,
  created_by text,
  approved_by text,
  created_at timestamptz NOT NULL DEFAULT retrace_now(),
  started_at timestamptz,
  finished_at timestamptz,
  -- which runner holds the job, until when (wall-clock: about process liveness, not
  -- business time); an expired lease is how a crashed runner's job gets resumed
  lease_owner text,
  lease_until timestamptz,
  PRIMARY KEY (workspace_id, id)
);
-- One restore or rollback at a time per workspace, kept by the database, not a lock in memory.
CREATE UNIQUE INDEX jobs_one_active_per_workspace ON jobs (workspace_id) WHERE status IN ('queued', 'running');
CREATE INDEX jobs_by_kind ON jobs (workspace_id, kind, created_at);

-- What remains of a contact purged for good or erased: no personal data, only that it
-- existed, so a restore can say "purged" instead of "not found".
CREATE TABLE contact_tombstones (
  workspace_id text NOT NULL REFERENCES workspaces (id),
  contact_id text NOT NULL,
  reason text NOT NULL CHECK (reason IN ('purged', 'erased')),
  at timestamptz NOT NULL,
  PRIMARY KEY (workspace_id, contact_id)
);
