-- The operator's limits on a workspace's retention (PATCH /workspaces/:id {maxRetention};
-- issue 18, point 2): a workspace's admins choose deletedDays, archiveDays and pitrHours
-- (PATCH /workspace {retention}) up to these, where they are set; null leaves only the
-- server's own ranges (src/workspaces/service.ts, retentionRanges). IF NOT EXISTS: the
-- migration tests apply later migrations again on an older database.
ALTER TABLE workspaces ADD COLUMN IF NOT EXISTS max_deleted_days integer
  CHECK (max_deleted_days BETWEEN 1 AND 365);
ALTER TABLE workspaces ADD COLUMN IF NOT EXISTS max_archive_days integer
  CHECK (max_archive_days BETWEEN 1 AND 3650);
ALTER TABLE workspaces ADD COLUMN IF NOT EXISTS max_pitr_hours integer
  CHECK (max_pitr_hours BETWEEN 1 AND 168);
