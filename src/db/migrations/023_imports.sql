-- CSV imports (issue 17): what an import job keeps beside its jobs row.
-- Written to run again on a database that has it (as the migration tests do).

-- The rows of an import that were not loaded, by line of the file (line 1 is the header),
-- with why: a code and a sentence.
CREATE TABLE IF NOT EXISTS import_errors (
  workspace_id text NOT NULL,
  import_id text NOT NULL,
  line integer NOT NULL,
  reason text NOT NULL,
  message text NOT NULL,
  PRIMARY KEY (workspace_id, import_id, line),
  FOREIGN KEY (workspace_id, import_id) REFERENCES jobs (workspace_id, id)
);

-- Work data of a running import: each email (lower case) the file has had so far on a
-- loadable row, and that row's line, so a later row with the same email is reported as a
-- duplicate, also after a crash. Committed with each batch; emptied when the import ends.
CREATE TABLE IF NOT EXISTS import_emails (
  workspace_id text NOT NULL,
  import_id text NOT NULL,
  email text NOT NULL,
  line integer NOT NULL,
  PRIMARY KEY (workspace_id, import_id, email)
);
