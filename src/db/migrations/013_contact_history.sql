-- Contacts' history gets a store of its own row type. Capturing a bulk change of contacts
-- into `history` (both images turned into jsonb, five b-tree indexes) tripled the change's
-- cost. Here each version keeps its row as it is (`image contacts`, nothing converted) and
-- only the row after the change (a version's `before` is the contact's previous version).
-- What is left of the cost is mostly indexes written at random places: the only one here
-- is a hash index by contact id (a fifth the size of a b-tree by workspace, id and
-- version); the primary key grows at its end and a BRIN index serves reads by time and
-- transaction (BENCHMARKS.md, "A typed log of after images"). The other captured tables
-- are small beside contacts and stay in `history_entries`. `history` becomes a view of
-- both, shaped as before, so every reader sees one history.

CREATE TABLE IF NOT EXISTS contact_history (
  workspace_id text NOT NULL,
  id text NOT NULL,
  -- one sequence with history_entries: versions order every change of a workspace
  version bigint NOT NULL DEFAULT nextval('history_version_seq'),
  op text NOT NULL CHECK (op IN ('insert', 'update', 'delete')),
  at timestamptz NOT NULL,
  actor_id text,
  origin text NOT NULL,
  txid bigint NOT NULL DEFAULT txid_current(),
  -- the row after the change; of a delete, the row it removed. Because this column has
  -- contacts' row type, PostgreSQL lets a later migration add a nullable column to
  -- contacts (older images read it as NULL) or drop one, but refuses to change a column's
  -- type or add one with a default: such a migration adds the column nullable, fills it,
  -- then sets its default and NOT NULL, or converts `image` itself.
  image contacts NOT NULL,
  PRIMARY KEY (workspace_id, version)
);
-- Contact ids are random UUIDs, so the id alone finds a contact's versions; the workspace
-- is checked on the rows found.
CREATE INDEX IF NOT EXISTS contact_history_contact ON contact_history USING hash (id);
CREATE INDEX IF NOT EXISTS contact_history_written ON contact_history USING brin (at, txid);
-- Hard deletes are rare (raw SQL; a purge removes the history with the row): the keys of
-- contacts that exist only in history.
CREATE INDEX IF NOT EXISTS contact_history_deleted ON contact_history (workspace_id, id) WHERE op = 'delete';

DO $$
BEGIN
  IF (SELECT relkind FROM pg_class WHERE oid = to_regclass('history')) = 'r' THEN
    ALTER TABLE history RENAME TO history_entries;
  END IF;
END $$;

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

DROP TRIGGER IF EXISTS contact_history_append_only ON contact_history;
CREATE TRIGGER contact_history_append_only BEFORE UPDATE OR DELETE ON contact_history
  FOR EACH STATEMENT EXECUTE FUNCTION forbid_history_rewrite();

SELECT set_config('retrace.history_maintenance', 'on', true);
INSERT INTO contact_history (workspace_id, id, version, op, at, actor_id, origin, txid, image)
SELECT h.workspace_id, h.row_key, h.version, h.op, h.at, h.actor_id, h.origin, h.txid,
  jsonb_populate_record(NULL::contacts, CASE WHEN h.op = 'delete' THEN h.before ELSE h.after END)
FROM history_entries h
WHERE h.table_name = 'contacts'
ON CONFLICT DO NOTHING;
DELETE FROM history_entries WHERE table_name = 'contacts';
SELECT set_config('retrace.history_maintenance', 'off', true);

-- Static statements (planned once per session), one function per transition table; what
-- is the same for every row of the statement is worked out once, not per row.
CREATE OR REPLACE FUNCTION capture_contact_writes() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  change_op text := lower(TG_OP);
  change_at timestamptz := retrace_now();
  change_actor text := retrace_actor();
  change_origin text := retrace_origin();
  change_txid bigint := txid_current();
BEGIN
  INSERT INTO contact_history (workspace_id, id, op, at, actor_id, origin, txid, image)
  SELECT r.workspace_id, r.id, change_op, change_at, change_actor, change_origin, change_txid, ROW(r.*)::contacts
  FROM new_rows r;
  RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION capture_contact_deletes() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  change_at timestamptz := retrace_now();
  change_actor text := retrace_actor();
  change_origin text := retrace_origin();
  change_txid bigint := txid_current();
BEGIN
  INSERT INTO contact_history (workspace_id, id, op, at, actor_id, origin, txid, image)
  SELECT r.workspace_id, r.id, 'delete', change_at, change_actor, change_origin, change_txid, ROW(r.*)::contacts
  FROM old_rows r;
  RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS contacts_history_insert ON contacts;
DROP TRIGGER IF EXISTS contacts_history_update ON contacts;
DROP TRIGGER IF EXISTS contacts_history_delete ON contacts;
CREATE TRIGGER contacts_history_insert AFTER INSERT ON contacts REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION capture_contact_writes();
CREATE TRIGGER contacts_history_update AFTER UPDATE ON contacts REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION capture_contact_writes();
CREATE TRIGGER contacts_history_delete AFTER DELETE ON contacts REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION capture_contact_deletes();

-- A contact version's `before` is the contact's previous version: the row before the
-- change while history holds every change; past a compaction, the previous one kept.
CREATE OR REPLACE VIEW history AS
SELECT workspace_id, version, table_name, row_key, contact_id, op, at, actor_id, origin, before, after, txid
FROM history_entries
UNION ALL
SELECT c.workspace_id, c.version, 'contacts'::text, c.id, c.id, c.op, c.at, c.actor_id, c.origin,
  CASE c.op
    WHEN 'insert' THEN NULL
    WHEN 'delete' THEN to_jsonb(c.image)
    ELSE (SELECT to_jsonb(p.image) FROM contact_history p
          WHERE p.workspace_id = c.workspace_id AND p.id = c.id AND p.version < c.version
          ORDER BY p.version DESC LIMIT 1)
  END,
  CASE WHEN c.op = 'delete' THEN NULL ELSE to_jsonb(c.image) END,
  c.txid
FROM contact_history c;
