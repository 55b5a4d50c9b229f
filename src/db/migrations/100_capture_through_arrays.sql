-- History capture that also runs on a Citus worker (issue 20). On a worker the triggers
-- fire on a shard: a statement that reads a transition table and writes a distributed
-- table (`INSERT … SELECT … FROM new_rows`) is planned by Citus, which loses the
-- transition tables (`executor could not find named tuplestore "new_rows"`), and
-- TG_TABLE_NAME is the shard's name (`contacts_102039`). So every trigger that reads a
-- transition table now reads it into arrays first, by a query that touches nothing but
-- the transition table (planned by PostgreSQL alone), and writes `FROM unnest(…)` of the
-- arrays; capture_history takes its table's name as its first argument. Same rows, same
-- values, on PGlite and one server as before.

-- The captured tables but contacts (001, 092). TG_ARGV: the table's name, then SQL
-- expressions over the row ($ stands for it) for its key, its contact id and its
-- workspace id.
CREATE OR REPLACE FUNCTION capture_history() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  captured_table text := TG_ARGV[0];
  key_expr text := TG_ARGV[1];
  contact_expr text := TG_ARGV[2];
  workspace_expr text := TG_ARGV[3];
  ws text := retrace_workspace();
  change_op text := lower(TG_OP);
  change_at timestamptz := retrace_now();
  change_actor text := retrace_actor();
  change_origin text := retrace_origin();
  workspace_ids text[];
  keys text[];
  contact_ids text[];
  befores jsonb[];
  afters jsonb[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    EXECUTE format('SELECT array_agg(%s), array_agg(%s), array_agg(%s), array_agg(to_jsonb(r)) FROM new_rows r',
      replace(workspace_expr, '$', 'r.'), replace(key_expr, '$', 'r.'), replace(contact_expr, '$', 'r.'))
    INTO workspace_ids, keys, contact_ids, afters;
  ELSIF TG_OP = 'DELETE' THEN
    EXECUTE format('SELECT array_agg(%s), array_agg(%s), array_agg(%s), array_agg(to_jsonb(r)) FROM old_rows r',
      replace(workspace_expr, '$', 'r.'), replace(key_expr, '$', 'r.'), replace(contact_expr, '$', 'r.'))
    INTO workspace_ids, keys, contact_ids, befores;
  ELSE
    EXECUTE format(
      'SELECT array_agg(%s), array_agg(%s), array_agg(%s), array_agg(to_jsonb(o)), array_agg(to_jsonb(n))
       FROM new_rows n JOIN old_rows o ON %s = %s AND %s = %s',
      replace(workspace_expr, '$', 'n.'), replace(key_expr, '$', 'n.'), replace(contact_expr, '$', 'n.'),
      replace(workspace_expr, '$', 'o.'), replace(workspace_expr, '$', 'n.'),
      replace(key_expr, '$', 'o.'), replace(key_expr, '$', 'n.'))
    INTO workspace_ids, keys, contact_ids, befores, afters;
  END IF;
  -- A statement that wrote no row (its trigger fires all the same) makes no change set.
  IF workspace_ids IS NULL THEN
    RETURN NULL;
  END IF;
  IF ws IS NOT NULL THEN
    PERFORM record_change_set(ws);
  ELSE
    PERFORM record_change_set(w) FROM (SELECT DISTINCT w FROM unnest(workspace_ids) w) s;
  END IF;
  -- unnest pads the array an operation has none of (befores of an insert) with nulls.
  INSERT INTO history_entries (workspace_id, table_name, row_key, contact_id, op, at, actor_id, origin, before, after)
  SELECT u.w, captured_table, u.k, u.c, change_op, change_at, change_actor, change_origin, u.b, u.a
  FROM unnest(workspace_ids, keys, contact_ids, befores, afters) AS u(w, k, c, b, a);
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION capture_history_on(tbl text, key_expr text, contact_expr text, workspace_expr text DEFAULT '$workspace_id') RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('DROP TRIGGER IF EXISTS %I ON %I', tbl || '_history_insert', tbl);
  EXECUTE format('DROP TRIGGER IF EXISTS %I ON %I', tbl || '_history_update', tbl);
  EXECUTE format('DROP TRIGGER IF EXISTS %I ON %I', tbl || '_history_delete', tbl);
  EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %I REFERENCING NEW TABLE AS new_rows
                  FOR EACH STATEMENT EXECUTE FUNCTION capture_history(%L, %L, %L, %L)', tbl || '_history_insert', tbl, tbl, key_expr, contact_expr, workspace_expr);
  EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %I REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
                  FOR EACH STATEMENT EXECUTE FUNCTION capture_history(%L, %L, %L, %L)', tbl || '_history_update', tbl, tbl, key_expr, contact_expr, workspace_expr);
  EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON %I REFERENCING OLD TABLE AS old_rows
                  FOR EACH STATEMENT EXECUTE FUNCTION capture_history(%L, %L, %L, %L)', tbl || '_history_delete', tbl, tbl, key_expr, contact_expr, workspace_expr);
END $$;

-- The tables and expressions of 001, whose triggers pass no table name.
SELECT capture_history_on('workspaces', '$id', 'NULL::text', '$id');
SELECT capture_history_on('roles', '$id', 'NULL::text');
SELECT capture_history_on('users', '$id', 'NULL::text');
SELECT capture_history_on('api_tokens', '$id', 'NULL::text');
SELECT capture_history_on('lists', '$id', 'NULL::text');
SELECT capture_history_on('list_memberships', '$list_id || '':'' || $contact_id', '$contact_id');
SELECT capture_history_on('accounts', '$id', 'NULL::text');
SELECT capture_history_on('account_contacts', '$account_id || '':'' || $contact_id', '$contact_id');
SELECT capture_history_on('deals', '$id', 'NULL::text');
SELECT capture_history_on('deal_contacts', '$deal_id || '':'' || $contact_id', '$contact_id');
SELECT capture_history_on('tags', '$id', 'NULL::text');
SELECT capture_history_on('contact_tags', '$tag_id || '':'' || $contact_id', '$contact_id');
SELECT capture_history_on('forms', '$id', 'NULL::text');
SELECT capture_history_on('automations', '$id', 'NULL::text');
SELECT capture_history_on('enrollments', '$automation_id || '':'' || $contact_id', '$contact_id');
SELECT capture_history_on('messages', '$id', '$contact_id');

-- Contacts (014, 016): their versions keep the row before the change as the table's row
-- type. ROW(r.*)::contacts: on a shard the transition table's rows are the shard's type.
CREATE OR REPLACE FUNCTION capture_contact_inserts() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  change_at timestamptz := retrace_now();
  change_actor text := retrace_actor();
  change_origin text := retrace_origin();
  ws text := retrace_workspace();
  workspace_ids text[];
  ids text[];
BEGIN
  SELECT array_agg(r.workspace_id), array_agg(r.id) INTO workspace_ids, ids FROM new_rows r;
  IF workspace_ids IS NULL THEN
    RETURN NULL;
  END IF;
  IF ws IS NOT NULL THEN
    PERFORM record_change_set(ws);
  ELSE
    PERFORM record_change_set(w) FROM (SELECT DISTINCT w FROM unnest(workspace_ids) w) s;
  END IF;
  INSERT INTO contact_history (workspace_id, id, op, at, actor_id, origin)
  SELECT u.w, u.id, 'insert', change_at, change_actor, change_origin FROM unnest(workspace_ids, ids) AS u(w, id);
  RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION capture_contact_changes() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  change_op text := lower(TG_OP);
  change_at timestamptz := retrace_now();
  change_actor text := retrace_actor();
  change_origin text := retrace_origin();
  ws text := retrace_workspace();
  befores contacts[];
BEGIN
  SELECT array_agg(ROW(r.*)::contacts) INTO befores FROM old_rows r;
  IF befores IS NULL THEN
    RETURN NULL;
  END IF;
  IF ws IS NOT NULL THEN
    PERFORM record_change_set(ws);
  ELSE
    PERFORM record_change_set(w) FROM (SELECT DISTINCT b.workspace_id AS w FROM unnest(befores) b) s;
  END IF;
  INSERT INTO contact_history (workspace_id, id, op, at, actor_id, origin, before)
  SELECT b.workspace_id, b.id, change_op, change_at, change_actor, change_origin, b FROM unnest(befores) b;
  RETURN NULL;
END $$;

-- The contacts' search text (093).
CREATE OR REPLACE FUNCTION index_new_contacts() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  workspace_ids text[];
  ids text[];
  texts text[];
BEGIN
  SELECT array_agg(r.workspace_id), array_agg(r.id), array_agg(contact_search_text(r.email, r.first_name, r.last_name))
  INTO workspace_ids, ids, texts FROM new_rows r;
  INSERT INTO contact_search (workspace_id, contact_id, search_text)
  SELECT u.w, u.id, u.t FROM unnest(workspace_ids, ids, texts) AS u(w, id, t);
  RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION unindex_removed_contacts() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  workspace_ids text[];
  ids text[];
BEGIN
  SELECT array_agg(r.workspace_id), array_agg(r.id) INTO workspace_ids, ids FROM old_rows r;
  DELETE FROM contact_search s USING unnest(workspace_ids, ids) AS u(w, id) WHERE s.workspace_id = u.w AND s.contact_id = u.id;
  RETURN NULL;
END $$;

-- The backup keys' triggers (007, 071).
CREATE OR REPLACE FUNCTION mark_backup_keyring_stale() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  workspace_ids text[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT array_agg(DISTINCT workspace_id) INTO workspace_ids FROM new_rows;
  ELSE
    SELECT array_agg(DISTINCT workspace_id) INTO workspace_ids FROM old_rows;
  END IF;
  INSERT INTO backup_keyrings (workspace_id, generation)
  SELECT w, 1 FROM unnest(workspace_ids) w
  ON CONFLICT (workspace_id) DO UPDATE SET generation = backup_keyrings.generation + 1;
  RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION record_destroyed_backup_keys() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  workspace_ids text[];
  ids text[];
BEGIN
  SELECT array_agg(workspace_id), array_agg(contact_id) INTO workspace_ids, ids FROM old_rows;
  INSERT INTO backup_destroyed_keys (workspace_id, contact_id)
  SELECT u.w, u.id FROM unnest(workspace_ids, ids) AS u(w, id)
  ON CONFLICT (workspace_id, contact_id) DO NOTHING;
  RETURN NULL;
END $$;
