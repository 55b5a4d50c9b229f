-- A rollback's plan: every row it will write, with its image as of the target point (NULL:
-- the row did not exist then), the row as it was when the plan was made, and why a row is
-- left alone. Work data of a job, not captured in history; removed when the job ends.
CREATE TABLE rollback_targets (
  workspace_id text NOT NULL REFERENCES workspaces (id),
  rollback_id text NOT NULL,
  table_name text NOT NULL,
  row_key text NOT NULL,
  contact_id text,
  image jsonb,
  live jsonb,
  skip_reason text,
  taken_by text,
  PRIMARY KEY (workspace_id, rollback_id, table_name, row_key)
);
CREATE INDEX rollback_targets_contact ON rollback_targets (workspace_id, rollback_id, contact_id);
