-- Scheduled backups no longer pile up: a schedule may keep only its newest `keep_count`
-- backups (null: all), and a backup records whether the schedule made it, so the ones
-- made by hand are never removed on their own.
ALTER TABLE backup_schedules ADD COLUMN IF NOT EXISTS keep_count int CHECK (keep_count BETWEEN 1 AND 1000);
ALTER TABLE backups ADD COLUMN IF NOT EXISTS scheduled boolean NOT NULL DEFAULT false;
CREATE INDEX IF NOT EXISTS backups_scheduled ON backups (workspace_id, created_at, id) WHERE scheduled;
