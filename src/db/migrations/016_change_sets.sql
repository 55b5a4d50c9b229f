-- Change sets (issue 17): every write transaction names its cause, so that one cause — an
-- import, an integration's token, a person, an automation, a merge, a job — can be found
-- and undone exactly, keeping everyone else's later work. The capture triggers record one
-- change set per workspace and transaction, from the change context `inTransaction` sets;
-- history rows belong to theirs by (workspace_id, txid), and share its `at`. Raw SQL gets
-- one too (cause `sql`), so no write goes unaccounted.
CREATE TABLE IF NOT EXISTS change_sets (
  workspace_id text NOT NULL,
  txid bigint NOT NULL,
  at timestamptz NOT NULL,
  actor_id text,
  token_id text,
  origin text NOT NULL,
  cause_kind text NOT NULL,
  cause_id text,
  -- What it did, by kind of record and change ({"contacts": {"created": 3}, …}): counted
  -- from history once the transaction has committed (null until then; src/changes).
  counts jsonb,
  CONSTRAINT change_sets_pkey PRIMARY KEY (workspace_id, txid)
);
CREATE INDEX IF NOT EXISTS change_sets_at ON change_sets (workspace_id, at);
CREATE INDEX IF NOT EXISTS change_sets_cause ON change_sets (workspace_id, cause_kind, cause_id, at);
CREATE INDEX IF NOT EXISTS change_sets_uncounted ON change_sets (workspace_id, at) WHERE counts IS NULL;

-- The audit entries of a transaction, found from its change set (a merge is undone by the
-- id of its contact.merged entry).
ALTER TABLE audit_log ADD COLUMN IF NOT EXISTS txid bigint;

-- The change set of this transaction, made on its first captured write (a transaction-local
-- setting remembers it was made: one insert a transaction, not one a statement). The
-- workspace comes from the change context; without one (raw SQL), from the rows written.
CREATE OR REPLACE FUNCTION record_change_set(ws text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  tx bigint := txid_current();
BEGIN
  IF current_setting('retrace.change_set', true) = ws || ':' || tx THEN
    RETURN;
  END IF;
  INSERT INTO change_sets (workspace_id, txid, at, actor_id, token_id, origin, cause_kind, cause_id)
  VALUES (ws, tx, retrace_now(), retrace_actor(), nullif(current_setting('retrace.token', true), ''), retrace_origin(),
          coalesce(nullif(current_setting('retrace.cause_kind', true), ''), 'sql'), nullif(current_setting('retrace.cause_id', true), ''))
  ON CONFLICT (workspace_id, txid) DO NOTHING;
  PERFORM set_config('retrace.change_set', ws || ':' || tx, true);
END $$;

-- The workspace of the change context, or null outside one.
CREATE OR REPLACE FUNCTION retrace_workspace() RETURNS text LANGUAGE sql STABLE AS $$
  SELECT nullif(current_setting('retrace.workspace', true), '')
$$;

-- Every table but contacts, as in 014, with its change set first.
CREATE OR REPLACE FUNCTION capture_history() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  key_expr text := TG_ARGV[0];
  contact_expr text := TG_ARGV[1];
  workspace_expr text := TG_ARGV[2];
  rows_name text := CASE WHEN TG_OP = 'DELETE' THEN 'old_rows' ELSE 'new_rows' END;
  ws text := retrace_workspace();
  wrote boolean;
BEGIN
  -- A statement that wrote no row (its trigger fires all the same) makes no change set.
  EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I)', rows_name) INTO wrote;
  IF NOT wrote THEN
    RETURN NULL;
  END IF;
  IF ws IS NOT NULL THEN
    PERFORM record_change_set(ws);
  ELSE
    EXECUTE format('SELECT record_change_set(w) FROM (SELECT DISTINCT %s AS w FROM %I r) s', replace(workspace_expr, '$', 'r.'), rows_name);
  END IF;
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

-- Contacts, as in 014, with their change set first.
CREATE OR REPLACE FUNCTION capture_contact_inserts() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  change_at timestamptz := retrace_now();
  change_actor text := retrace_actor();
  change_origin text := retrace_origin();
  ws text := retrace_workspace();
BEGIN
  IF NOT EXISTS (SELECT 1 FROM new_rows) THEN
    RETURN NULL;
  END IF;
  IF ws IS NOT NULL THEN
    PERFORM record_change_set(ws);
  ELSE
    PERFORM record_change_set(w) FROM (SELECT DISTINCT r.workspace_id AS w FROM new_rows r) s;
  END IF;
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
  ws text := retrace_workspace();
BEGIN
  IF NOT EXISTS (SELECT 1 FROM old_rows) THEN
    RETURN NULL;
  END IF;
  IF ws IS NOT NULL THEN
    PERFORM record_change_set(ws);
  ELSE
    PERFORM record_change_set(w) FROM (SELECT DISTINCT r.workspace_id AS w FROM old_rows r) s;
  END IF;
  INSERT INTO contact_history (workspace_id, id, op, at, actor_id, origin, before)
  SELECT r.workspace_id, r.id, change_op, change_at, change_actor, change_origin, ROW(r.*)::contacts FROM old_rows r;
  RETURN NULL;
END $$;
