-- Job lanes (issue 17). A CSV import is a durable job that must neither wait for a
-- restore or rollback nor hold one up, so jobs get lanes: a job without one
-- takes the workspace's one job slot as before (restore_job_running); a job in a lane
-- queues there, and a lane runs one job of a workspace at a time, oldest first.
-- Written to run again on a database that has it (as the migration tests do).
ALTER TABLE jobs ADD COLUMN IF NOT EXISTS lane text;
DROP INDEX IF EXISTS jobs_one_active_per_workspace;
CREATE UNIQUE INDEX jobs_one_active_per_workspace ON jobs (workspace_id) WHERE status IN ('queued', 'running') AND lane IS NULL;
CREATE UNIQUE INDEX IF NOT EXISTS jobs_one_running_per_lane ON jobs (workspace_id, lane) WHERE status = 'running' AND lane IS NOT NULL;
