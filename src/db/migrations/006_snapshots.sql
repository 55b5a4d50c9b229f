-- Snapshots (issue 6): retained points in time. A snapshot copies nothing: it pins the
-- history versions visible at taken_at, so history compaction keeps them.

CREATE TABLE snapshots (
  workspace_id text NOT NULL REFERENCES workspaces (id),
  id text NOT NULL DEFAULT gen_random_uuid()::text,
  taken_at timestamptz NOT NULL,
  kind text NOT NULL CHECK (kind IN ('hourly', 'weekly', 'monthly', 'manual')),
  label text,
  -- null: kept until deleted
  expires_at timestamptz,
  created_by text,
  created_at timestamptz NOT NULL DEFAULT retrace_now(),
  -- A deleted snapshot pins nothing and is never listed; its row stays until expires_at
  -- so the schedule does not take the same boundary again.
  deleted_at timestamptz,
  deleted_by text,
  PRIMARY KEY (workspace_id, id)
);
CREATE INDEX snapshots_taken ON snapshots (workspace_id, taken_at, id);
CREATE INDEX snapshots_expiry ON snapshots (workspace_id, expires_at) WHERE expires_at IS NOT NULL;
-- One scheduled snapshot per boundary and kind: "take the ones not taken yet" is
-- INSERT … ON CONFLICT DO NOTHING, safe when two maintenance passes run at once.
CREATE UNIQUE INDEX snapshots_scheduled ON snapshots (workspace_id, kind, taken_at) WHERE kind <> 'manual';

-- A workspace's schedule; no row means the defaults (seed 003: hourly kept 72 hours,
-- Saturdays kept 31 days, month ends kept 365 days), which live in snapshots/service.ts.
CREATE TABLE snapshot_settings (
  workspace_id text PRIMARY KEY REFERENCES workspaces (id),
  hourly_enabled boolean NOT NULL,
  hourly_keep_hours integer NOT NULL CHECK (hourly_keep_hours > 0),
  weekly_enabled boolean NOT NULL,
  weekly_keep_days integer NOT NULL CHECK (weekly_keep_days > 0),
  monthly_enabled boolean NOT NULL,
  monthly_keep_days integer NOT NULL CHECK (monthly_keep_days > 0),
  updated_at timestamptz NOT NULL DEFAULT retrace_now(),
  updated_by text
);

-- How far history compaction has gone. Before compacted_through, only the latest version
-- of each row and the versions retained snapshots pin are left, so no other point before
-- it is recoverable, even if pitr_hours grows later.
CREATE TABLE history_compactions (
  workspace_id text PRIMARY KEY REFERENCES workspaces (id),
  compacted_through timestamptz NOT NULL,
  last_run_at timestamptz NOT NULL,
  -- a retained snapshot was deleted or expired since the last run: what it pinned may go
  released boolean NOT NULL DEFAULT false
);
