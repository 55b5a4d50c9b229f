-- The transaction id of history and change sets comes from the coordinator on Citus
-- (issue 20). A change set and its history rows are found together by (workspace_id,
-- txid), and the application reads the id of its own transaction (a rollback records the
-- txid of each batch, an audit entry and a merge name theirs). On Citus the capture
-- triggers run on the workers, where txid_current() is the worker's own transaction: it
-- differs from the coordinator's that the application reads, and after a workspace's
-- shards move to another worker, whose counter may be behind, a new transaction could
-- take an id the workspace has used already. So on Citus the change context carries the
-- coordinator's txid as the setting `retrace.txid` (retrace_share_txid, below, called by
-- applyChangeContext), SET LOCAL so that it reaches the workers; everything reads it
-- through retrace_txid(), which is txid_current() where it is not set (PGlite, one server,
-- raw SQL). Same values as before on one server.
CREATE OR REPLACE FUNCTION retrace_txid() RETURNS bigint LANGUAGE sql STABLE AS $$
  SELECT coalesce(nullif(current_setting('retrace.txid', true), '')::bigint, txid_current())
$$;

-- Puts this transaction's id into `retrace.txid` with SET LOCAL (a SET takes a literal
-- only, hence EXECUTE), which Citus sends on to every worker the transaction reaches.
CREATE OR REPLACE FUNCTION retrace_set_local_txid() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('SET LOCAL retrace.txid = %L', txid_current());
END $$;

-- Called with the change context on every engine: only on a Citus node set to propagate
-- SET LOCAL (the migrator's distributed mode) does it set anything. Elsewhere it is one
-- comparison, and the txid is txid_current() as it always was.
CREATE OR REPLACE FUNCTION retrace_share_txid() RETURNS void LANGUAGE sql VOLATILE AS $$
  SELECT retrace_set_local_txid() WHERE current_setting('citus.propagate_set_commands', true) = 'local'
$$;

CREATE OR REPLACE FUNCTION record_change_set(ws text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  tx bigint := retrace_txid();
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

ALTER TABLE history_entries ALTER COLUMN txid SET DEFAULT retrace_txid();
ALTER TABLE contact_history ALTER COLUMN txid SET DEFAULT retrace_txid();

-- The capture functions of 100, passing the txid read once a statement (as they pass the
-- rest of the change context) rather than by the column default once a row.
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
  change_txid bigint := retrace_txid();
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
  INSERT INTO history_entries (workspace_id, table_name, row_key, contact_id, op, at, actor_id, origin, txid, before, after)
  SELECT u.w, captured_table, u.k, u.c, change_op, change_at, change_actor, change_origin, change_txid, u.b, u.a
  FROM unnest(workspace_ids, keys, contact_ids, befores, afters) AS u(w, k, c, b, a);
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION capture_contact_inserts() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  change_at timestamptz := retrace_now();
  change_actor text := retrace_actor();
  change_origin text := retrace_origin();
  change_txid bigint := retrace_txid();
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
  INSERT INTO contact_history (workspace_id, id, op, at, actor_id, origin, txid)
  SELECT u.w, u.id, 'insert', change_at, change_actor, change_origin, change_txid FROM unnest(workspace_ids, ids) AS u(w, id);
  RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION capture_contact_changes() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  change_op text := lower(TG_OP);
  change_at timestamptz := retrace_now();
  change_actor text := retrace_actor();
  change_origin text := retrace_origin();
  change_txid bigint := retrace_txid();
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
  INSERT INTO contact_history (workspace_id, id, op, at, actor_id, origin, txid, before)
  SELECT b.workspace_id, b.id, change_op, change_at, change_actor, change_origin, change_txid, b FROM unnest(befores) b;
  RETURN NULL;
END $$;

-- A contact removed for good leaves the search index one workspace at a time: on a Citus
-- worker a DELETE whose workspace comes from the arrays reaches every shard, which a
-- statement on a shard may not do (`cannot execute a distributed query from a query on a
-- shard`); with the workspace a parameter it is one shard's, the one the trigger runs on.
CREATE OR REPLACE FUNCTION unindex_removed_contacts() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  removed record;
BEGIN
  FOR removed IN SELECT r.workspace_id, array_agg(r.id) AS ids FROM old_rows r GROUP BY r.workspace_id LOOP
    DELETE FROM contact_search s WHERE s.workspace_id = removed.workspace_id AND s.contact_id = ANY(removed.ids);
  END LOOP;
  RETURN NULL;
END $$;
