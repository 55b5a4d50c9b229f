-- Contacts' history gets a store of its own (issue 6, BENCHMARKS.md "History capture").
-- Capturing a bulk change of contacts into `history` (both images turned into jsonb, five
-- b-tree indexes written at random places) tripled the change's cost. Here a version keeps
-- only the row as it was BEFORE the change, as the table's own row type (nothing is
-- converted, and only the OLD TABLE is read); an insert keeps none. The row after a
-- change is the next version's `before`, or the live row. So a contact's state at T is
-- the `before` of its first change after T, or, with no change after T, the live row.
-- Indexes: the primary key grows at its end; a hash index by contact id (contact ids are
-- random UUIDs, so the id alone finds a contact's versions; the workspace is checked on
-- the rows found); (workspace, at) grows at its end too. The other captured tables are
-- small beside contacts and stay in `history_entries`; `history` becomes a view of both in
-- the shape it had, so the contact history API and ad-hoc reads see one history.

CREATE TABLE IF NOT EXISTS contact_history (
  workspace_id text NOT NULL,
  -- one sequence with history_entries: versions order every change of a workspace
  version bigint NOT NULL DEFAULT nextval('history_version_seq'),
  id text NOT NULL,
  op text NOT NULL CHECK (op IN ('insert', 'update', 'delete')),
  at timestamptz NOT NULL,
  actor_id text,
  origin text NOT NULL,
  txid bigint NOT NULL DEFAULT txid_current(),
  -- the row before the change; null for an insert
  before contacts,
  PRIMARY KEY (workspace_id, version)
);
CREATE INDEX IF NOT EXISTS contact_history_contact ON contact_history USING hash (id);
CREATE INDEX IF NOT EXISTS contact_history_at ON contact_history (workspace_id, at);

DO $$
BEGIN
  IF (SELECT relkind FROM pg_class WHERE oid = to_regclass('history')) = 'r' THEN
    ALTER TABLE history RENAME TO history_entries;
  END IF;
END $$;

DROP TRIGGER IF EXISTS contact_history_append_only ON contact_history;
CREATE TRIGGER contact_history_append_only BEFORE UPDATE OR DELETE ON contact_history
  FOR EACH STATEMENT EXECUTE FUNCTION forbid_history_rewrite();

-- The other captured tables' capture, as in 001, into the renamed table.
CREATE OR REPLACE FUNCTION capture_history() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  key_expr text := TG_ARGV[0];
  contact_expr text := TG_ARGV[1];
  workspace_expr text := TG_ARGV[2];
BEGIN
  IF TG_OP = 'INSERT' THEN
    EXECUTE format(
      'INSERT INTO history_entries (workspace_id, table_name, row_key, contact_id, op, at, actor_id, origin, before, after)
       SELECT %s, %L, %s, %s, ''insert'', retrace_now(), retrace_actor(), retrace_origin(), NULL, to_jsonb(r)
       FROM new_rows r', replace(workspace_expr, '$', 'r.'), TG_TABLE_NAME, replace(key_expr, '$', 'r.'), replace(contact_expr, '$', 'r.'));
  ELSIF TG_OP = 'DELETE' THEN
    EXECUTE format(
      'INSERT INTO history_entries (workspace_id, table_name, row_key, contact_id, op, at, actor_id, origin, before, after)
       SELECT %s, %L, %s, %s, ''delete'', retrace_now(), retrace_actor(), retrace_origin(), to_jsonb(r), NULL
       FROM old_rows r', replace(workspace_expr, '$', 'r.'), TG_TABLE_NAME, replace(key_expr, '$', 'r.'), replace(contact_expr, '$', 'r.'));
  ELSE
    EXECUTE format(
      'INSERT INTO history_entries (workspace_id, table_name, row_key, contact_id, op, at, actor_id, origin, before, after)
       SELECT %s, %L, %s, %s, ''update'', retrace_now(), retrace_actor(), retrace_origin(), to_jsonb(o), to_jsonb(n)
       FROM new_rows n JOIN old_rows o ON %s = %s AND %s = %s',
      replace(workspace_expr, '$', 'n.'), TG_TABLE_NAME, replace(key_expr, '$', 'n.'), replace(contact_expr, '$', 'n.'),
      replace(workspace_expr, '$', 'o.'), replace(workspace_expr, '$', 'n.'),
      replace(key_expr, '$', 'o.'), replace(key_expr, '$', 'n.'));
  END IF;
  RETURN NULL;
END $$;

-- Existing contact entries move over. A version's `before` is taken from the previous
-- entry's `after`, not its own `before`: the same while history is whole, and past a
-- compaction (which kept a row's latest entry at or before each retained point) the
-- first entry kept after a retained point then holds the row as of that point, as this
-- store's readers expect.
SELECT set_config('retrace.history_maintenance', 'on', true);
INSERT INTO contact_history (workspace_id, version, id, op, at, actor_id, origin, txid, before)
SELECT h.workspace_id, h.version, h.row_key, h.op, h.at, h.actor_id, h.origin, h.txid,
  jsonb_populate_record(NULL::contacts, lag(h.after) OVER (PARTITION BY h.workspace_id, h.row_key ORDER BY h.version))
FROM history_entries h
WHERE h.table_name = 'contacts'
ON CONFLICT DO NOTHING;
DELETE FROM history_entries WHERE table_name = 'contacts';
SELECT set_config('retrace.history_maintenance', 'off', true);
-- Compaction's rule for contacts changed with their store: the next pass examines all
-- history, not only what was written since the last one.
UPDATE history_compactions SET released = true, last_run_at = '-infinity';

-- What is the same for every row of a statement is worked out once, not per row.
CREATE OR REPLACE FUNCTION capture_contact_inserts() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  change_at timestamptz := retrace_now();
  change_actor text := retrace_actor();
  change_origin text := retrace_origin();
BEGIN
  INSERT INTO contact_history (workspace_id, id, op, at, actor_id, origin)
  SELECT r.workspace_id, r.id, 'insert', change_at, change_actor, change_origin FROM new_rows r;
  RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION capture_contact_changes() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  change_op text := lower(TG_OP);
  change_at timestamptz := retrace_now();
  change_actor text := retrace_actor();
  change_origin text := retrace_origin();
BEGIN
  INSERT INTO contact_history (workspace_id, id, op, at, actor_id, origin, before)
  SELECT r.workspace_id, r.id, change_op, change_at, change_actor, change_origin, ROW(r.*)::contacts FROM old_rows r;
  RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS contacts_history_insert ON contacts;
DROP TRIGGER IF EXISTS contacts_history_update ON contacts;
DROP TRIGGER IF EXISTS contacts_history_delete ON contacts;
CREATE TRIGGER contacts_history_insert AFTER INSERT ON contacts REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION capture_contact_inserts();
CREATE TRIGGER contacts_history_update AFTER UPDATE ON contacts REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION capture_contact_changes();
CREATE TRIGGER contacts_history_delete AFTER DELETE ON contacts REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION capture_contact_changes();

-- One history in the shape of 001. A contact version's `after` is the next version's
-- `before`, or the live row when none follows (none after a delete).
CREATE OR REPLACE VIEW history AS
SELECT workspace_id, version, table_name, row_key, contact_id, op, at, actor_id, origin, before, after, txid
FROM history_entries
UNION ALL
SELECT c.workspace_id, c.version, 'contacts'::text, c.id, c.id, c.op, c.at, c.actor_id, c.origin,
  to_jsonb(c.before),
  CASE WHEN c.op = 'delete' THEN NULL
       WHEN next.version IS NOT NULL THEN to_jsonb(next.before)
       ELSE (SELECT to_jsonb(l) FROM contacts l WHERE l.workspace_id = c.workspace_id AND l.id = c.id) END,
  c.txid
FROM contact_history c
LEFT JOIN LATERAL (
  SELECT n.version, n.before FROM contact_history n
  WHERE n.workspace_id = c.workspace_id AND n.id = c.id AND n.version > c.version
  ORDER BY n.version LIMIT 1) next ON true;
