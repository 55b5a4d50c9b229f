-- Work data of a running import (issue 17): on the server a batch of the file is loaded
-- in parts, each in its own transaction on its own connection, so that the database's
-- cores share the work. A part notes here, in its own transaction, what it did; the
-- batch's checkpoint sums the notes and removes them. A crash between the two finds the
-- part noted and does not load it again.
CREATE TABLE IF NOT EXISTS import_batch_parts (
  workspace_id text NOT NULL,
  import_id text NOT NULL,
  -- The byte offset the batch starts at: the job's checkpoint when the part ran.
  batch_offset bigint NOT NULL,
  part integer NOT NULL,
  -- How many parts the batch was cut into (the parts of an email are all in one).
  parts integer NOT NULL,
  -- What the part did (ImportCounts, src/imports/load.ts), and where the batch ends.
  outcome jsonb NOT NULL,
  PRIMARY KEY (workspace_id, import_id, batch_offset, part)
);
