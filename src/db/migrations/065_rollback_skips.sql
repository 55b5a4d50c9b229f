-- What a rollback (or an undo by cause) left alone, kept after the job ends so it can be
-- paged (GET /rollbacks/:id/skipped, GET /undos/:id/skipped): the plan's skips (merged,
-- email_taken) and the rows changed after the plan was made (changed_since_plan, issue 19
-- point 1), with who changed them and when. In the order the job met them (position).
-- Only ids and reasons: no personal data (an erased contact's rows go with it).
CREATE TABLE IF NOT EXISTS rollback_skips (
  workspace_id text NOT NULL REFERENCES workspaces (id),
  rollback_id text NOT NULL,
  position integer NOT NULL,
  table_name text NOT NULL,
  row_key text NOT NULL,
  contact_id text,
  reason text NOT NULL,
  taken_by text,
  changed_at timestamptz,
  changed_by text,
  changed_origin text,
  PRIMARY KEY (workspace_id, rollback_id, position)
);
CREATE INDEX IF NOT EXISTS rollback_skips_contact ON rollback_skips (workspace_id, contact_id);
