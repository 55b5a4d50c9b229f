-- A rollback's plan is work data of its job, written by the job for its own workspace and
-- removed when the job ends, like restore_job_contacts (which never had one). Its foreign
-- key to workspaces was checked row by row: 100,000 trigger calls, 1.2 s of the 6.8 s
-- the plan's contacts chunk took on PGlite at 100,000 contacts (docs/benchmark-log.md).
ALTER TABLE rollback_targets DROP CONSTRAINT IF EXISTS rollback_targets_workspace_id_fkey;
