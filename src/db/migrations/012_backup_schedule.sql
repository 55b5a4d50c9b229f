-- Scheduled backups: a workspace can have each new scheduled snapshot of one kind
-- exported to the backup store by the maintenance pass. exported_through is the takenAt
-- of the last one exported: only newer ones are, so a backup deleted by hand stays gone.
CREATE TABLE IF NOT EXISTS backup_schedules (
  workspace_id text PRIMARY KEY REFERENCES workspaces (id),
  export_kind text CHECK (export_kind IN ('hourly', 'weekly', 'monthly')),
  exported_through timestamptz,
  updated_at timestamptz NOT NULL DEFAULT retrace_now(),
  updated_by text
);
