-- History capture reads its change context once a statement, not once a row. 016's
-- capture_history called retrace_now(), retrace_actor() and retrace_origin() in the
-- SELECT list of its INSERT … SELECT: each is a call of current_setting() (and a cast of
-- the clock's text to timestamptz) for every row captured, 3–4 µs a row, about a sixth
-- of the trigger's cost when an import writes its list memberships and tags (BENCHMARKS.md,
-- docs/benchmark-log.md, 2026-12-03). They are now read into variables and passed as
-- parameters, as the contacts' capture (014, 016) already does. Same rows, same values.
CREATE OR REPLACE FUNCTION capture_history() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  key_expr text := TG_ARGV[0];
  contact_expr text := TG_ARGV[1];
  workspace_expr text := TG_ARGV[2];
  rows_name text := CASE WHEN TG_OP = 'DELETE' THEN 'old_rows' ELSE 'new_rows' END;
  ws text := retrace_workspace();
  change_at timestamptz := retrace_now();
  change_actor text := retrace_actor();
  change_origin text := retrace_origin();
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
       SELECT %s, %L, %s, %s, ''insert'', $1, $2, $3, NULL, to_jsonb(r)
       FROM new_rows r', replace(workspace_expr, '$', 'r.'), TG_TABLE_NAME, replace(key_expr, '$', 'r.'), replace(contact_expr, '$', 'r.'))
    USING change_at, change_actor, change_origin;
  ELSIF TG_OP = 'DELETE' THEN
    EXECUTE format(
      'INSERT INTO history_entries (workspace_id, table_name, row_key, contact_id, op, at, actor_id, origin, before, after)
       SELECT %s, %L, %s, %s, ''delete'', $1, $2, $3, to_jsonb(r), NULL
       FROM old_rows r', replace(workspace_expr, '$', 'r.'), TG_TABLE_NAME, replace(key_expr, '$', 'r.'), replace(contact_expr, '$', 'r.'))
    USING change_at, change_actor, change_origin;
  ELSE
    EXECUTE format(
      'INSERT INTO history_entries (workspace_id, table_name, row_key, contact_id, op, at, actor_id, origin, before, after)
       SELECT %s, %L, %s, %s, ''update'', $1, $2, $3, to_jsonb(o), to_jsonb(n)
       FROM new_rows n JOIN old_rows o ON %s = %s AND %s = %s',
      replace(workspace_expr, '$', 'n.'), TG_TABLE_NAME, replace(key_expr, '$', 'n.'), replace(contact_expr, '$', 'n.'),
      replace(workspace_expr, '$', 'o.'), replace(workspace_expr, '$', 'n.'),
      replace(key_expr, '$', 'o.'), replace(key_expr, '$', 'n.'))
    USING change_at, change_actor, change_origin;
  END IF;
  RETURN NULL;
END $$;
