-- Undo by cause (issue 17): an undo reverts what one cause did, field by field, and keeps
-- what others changed since. Each field it leaves as someone later set it (or, told to
-- undo anyway, overrides) is a conflict, kept here with the undo: what the cause wrote,
-- what is there now, and who changed it when. The plan's rows themselves are
-- rollback_targets rows, as a rollback's are: an undo is written back the same way.
CREATE TABLE IF NOT EXISTS undo_conflicts (
  workspace_id text NOT NULL,
  undo_id text NOT NULL,
  -- in the order of the plan's rows, then fields
  position integer NOT NULL,
  table_name text NOT NULL,
  row_key text NOT NULL,
  contact_id text,
  -- a column, or '*' for a row the cause made or removed that someone changed since
  field text NOT NULL,
  cause_value jsonb,
  later_value jsonb,
  later_by text,
  later_at timestamptz,
  -- undone all the same (onConflict undo_anyway)
  overridden boolean NOT NULL,
  CONSTRAINT undo_conflicts_pkey PRIMARY KEY (workspace_id, undo_id, position)
);
