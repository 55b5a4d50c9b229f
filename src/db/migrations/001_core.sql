-- The contact store. Every table leads with workspace_id (tenant first: the schema can be
-- distributed by workspace), and every write to a captured table lands in `history`
-- through the statement-level triggers at the end of this file.

-- The injected clock: the application sets retrace.now in each transaction; raw SQL
-- without it falls back to the database clock.
CREATE FUNCTION retrace_now() RETURNS timestamptz LANGUAGE sql STABLE AS $$
  SELECT coalesce(nullif(current_setting('retrace.now', true), '')::timestamptz, now())
$$;

CREATE FUNCTION retrace_actor() RETURNS text LANGUAGE sql STABLE AS $$
  SELECT nullif(current_setting('retrace.actor', true), '')
$$;

CREATE FUNCTION retrace_origin() RETURNS text LANGUAGE sql STABLE AS $$
  SELECT coalesce(nullif(current_setting('retrace.origin', true), ''), 'sql')
$$;

CREATE TABLE workspaces (
  id text PRIMARY KEY DEFAULT gen_random_uuid()::text,
  name text NOT NULL,
  active_contact_limit integer,
  deleted_days integer NOT NULL DEFAULT 30,
  archive_freeze_days integer NOT NULL DEFAULT 30,
  archive_days integer NOT NULL DEFAULT 365,
  pitr_hours integer NOT NULL DEFAULT 72,
  created_at timestamptz NOT NULL DEFAULT retrace_now()
);

CREATE TABLE roles (
  workspace_id text NOT NULL REFERENCES workspaces (id),
  id text NOT NULL DEFAULT gen_random_uuid()::text,
  name text NOT NULL,
  permissions text[] NOT NULL,
  builtin boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT retrace_now(),
  PRIMARY KEY (workspace_id, id)
);
CREATE UNIQUE INDEX roles_name ON roles (workspace_id, lower(name));

CREATE TABLE users (
  workspace_id text NOT NULL REFERENCES workspaces (id),
  id text NOT NULL DEFAULT gen_random_uuid()::text,
  email text NOT NULL,
  name text,
  role_id text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT retrace_now(),
  PRIMARY KEY (workspace_id, id),
  FOREIGN KEY (workspace_id, role_id) REFERENCES roles (workspace_id, id)
);
CREATE UNIQUE INDEX users_email ON users (workspace_id, lower(email));

-- Tokens carry their workspace id in clear, so the lookup is tenant-scoped; only the
-- SHA-256 of the secret is stored.
CREATE TABLE api_tokens (
  workspace_id text NOT NULL REFERENCES workspaces (id),
  id text NOT NULL DEFAULT gen_random_uuid()::text,
  user_id text NOT NULL,
  token_hash text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT retrace_now(),
  PRIMARY KEY (workspace_id, id),
  FOREIGN KEY (workspace_id, user_id) REFERENCES users (workspace_id, id)
);
CREATE UNIQUE INDEX api_tokens_hash ON api_tokens (workspace_id, token_hash);

CREATE TABLE contacts (
  workspace_id text NOT NULL REFERENCES workspaces (id),
  id text NOT NULL DEFAULT gen_random_uuid()::text,
  email text NOT NULL,
  first_name text,
  last_name text,
  phone text,
  fields jsonb NOT NULL DEFAULT '{}',
  status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived', 'deleted', 'merged')),
  created_at timestamptz NOT NULL DEFAULT retrace_now(),
  updated_at timestamptz NOT NULL DEFAULT retrace_now(),
  deleted_at timestamptz,
  deleted_by text,
  archived_at timestamptz,
  archived_by text,
  merged_into text,
  merged_at timestamptz,
  PRIMARY KEY (workspace_id, id)
);
-- Email is unique among the contacts that hold it: active and archived ones.
CREATE UNIQUE INDEX contacts_email_held ON contacts (workspace_id, lower(email))
  WHERE status IN ('active', 'archived');
CREATE INDEX contacts_status ON contacts (workspace_id, status, created_at, id);
CREATE INDEX contacts_deleted ON contacts (workspace_id, deleted_at) WHERE status = 'deleted';
CREATE INDEX contacts_archived ON contacts (workspace_id, archived_at) WHERE status = 'archived';

CREATE TABLE lists (
  workspace_id text NOT NULL REFERENCES workspaces (id),
  id text NOT NULL DEFAULT gen_random_uuid()::text,
  name text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT retrace_now(),
  deleted_at timestamptz,
  PRIMARY KEY (workspace_id, id)
);

CREATE TABLE list_memberships (
  workspace_id text NOT NULL,
  list_id text NOT NULL,
  contact_id text NOT NULL,
  status text NOT NULL CHECK (status IN ('subscribed', 'unsubscribed', 'bounced', 'unconfirmed')),
  created_at timestamptz NOT NULL DEFAULT retrace_now(),
  updated_at timestamptz NOT NULL DEFAULT retrace_now(),
  PRIMARY KEY (workspace_id, list_id, contact_id),
  FOREIGN KEY (workspace_id, list_id) REFERENCES lists (workspace_id, id),
  FOREIGN KEY (workspace_id, contact_id) REFERENCES contacts (workspace_id, id)
);
CREATE INDEX list_memberships_contact ON list_memberships (workspace_id, contact_id);

CREATE TABLE accounts (
  workspace_id text NOT NULL REFERENCES workspaces (id),
  id text NOT NULL DEFAULT gen_random_uuid()::text,
  name text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT retrace_now(),
  deleted_at timestamptz,
  PRIMARY KEY (workspace_id, id)
);

CREATE TABLE account_contacts (
  workspace_id text NOT NULL,
  account_id text NOT NULL,
  contact_id text NOT NULL,
  job_title text,
  created_at timestamptz NOT NULL DEFAULT retrace_now(),
  PRIMARY KEY (workspace_id, account_id, contact_id),
  FOREIGN KEY (workspace_id, account_id) REFERENCES accounts (workspace_id, id),
  FOREIGN KEY (workspace_id, contact_id) REFERENCES contacts (workspace_id, id)
);
CREATE INDEX account_contacts_contact ON account_contacts (workspace_id, contact_id);

CREATE TABLE deals (
  workspace_id text NOT NULL REFERENCES workspaces (id),
  id text NOT NULL DEFAULT gen_random_uuid()::text,
  title text NOT NULL,
  value numeric,
  stage text,
  primary_contact_id text,
  created_at timestamptz NOT NULL DEFAULT retrace_now(),
  updated_at timestamptz NOT NULL DEFAULT retrace_now(),
  deleted_at timestamptz,
  PRIMARY KEY (workspace_id, id)
);

-- added_seq orders a deal's contacts by when they were added: on delete of the primary,
-- the earliest-added remaining contact becomes primary.
CREATE SEQUENCE deal_contacts_added_seq;
CREATE TABLE deal_contacts (
  workspace_id text NOT NULL,
  deal_id text NOT NULL,
  contact_id text NOT NULL,
  added_seq bigint NOT NULL DEFAULT nextval('deal_contacts_added_seq'),
  added_at timestamptz NOT NULL DEFAULT retrace_now(),
  PRIMARY KEY (workspace_id, deal_id, contact_id),
  FOREIGN KEY (workspace_id, deal_id) REFERENCES deals (workspace_id, id),
  FOREIGN KEY (workspace_id, contact_id) REFERENCES contacts (workspace_id, id)
);
CREATE INDEX deal_contacts_contact ON deal_contacts (workspace_id, contact_id);

CREATE TABLE tags (
  workspace_id text NOT NULL REFERENCES workspaces (id),
  id text NOT NULL DEFAULT gen_random_uuid()::text,
  name text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT retrace_now(),
  deleted_at timestamptz,
  PRIMARY KEY (workspace_id, id)
);

CREATE TABLE contact_tags (
  workspace_id text NOT NULL,
  contact_id text NOT NULL,
  tag_id text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT retrace_now(),
  PRIMARY KEY (workspace_id, contact_id, tag_id),
  FOREIGN KEY (workspace_id, tag_id) REFERENCES tags (workspace_id, id),
  FOREIGN KEY (workspace_id, contact_id) REFERENCES contacts (workspace_id, id)
);

CREATE TABLE forms (
  workspace_id text NOT NULL REFERENCES workspaces (id),
  id text NOT NULL DEFAULT gen_random_uuid()::text,
  name text NOT NULL,
  list_id text,
  created_at timestamptz NOT NULL DEFAULT retrace_now(),
  PRIMARY KEY (workspace_id, id)
);

CREATE TABLE automations (
  workspace_id text NOT NULL REFERENCES workspaces (id),
  id text NOT NULL DEFAULT gen_random_uuid()::text,
  name text NOT NULL,
  trigger jsonb NOT NULL,
  steps jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT retrace_now(),
  PRIMARY KEY (workspace_id, id)
);

CREATE TABLE enrollments (
  workspace_id text NOT NULL,
  automation_id text NOT NULL,
  contact_id text NOT NULL,
  step_index integer NOT NULL DEFAULT 0,
  status text NOT NULL CHECK (status IN ('active', 'waiting', 'completed', 'paused')),
  -- the status to return to when a paused enrollment resumes
  resume_status text,
  run_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT retrace_now(),
  updated_at timestamptz NOT NULL DEFAULT retrace_now(),
  PRIMARY KEY (workspace_id, automation_id, contact_id),
  FOREIGN KEY (workspace_id, automation_id) REFERENCES automations (workspace_id, id),
  FOREIGN KEY (workspace_id, contact_id) REFERENCES contacts (workspace_id, id)
);
CREATE INDEX enrollments_contact ON enrollments (workspace_id, contact_id);
CREATE INDEX enrollments_due ON enrollments (workspace_id, run_at) WHERE status IN ('active', 'waiting');

-- The message ledger: the unique key is what makes "sent at most once" a database fact.
CREATE TABLE messages (
  workspace_id text NOT NULL,
  id text NOT NULL DEFAULT gen_random_uuid()::text,
  automation_id text NOT NULL,
  step_index integer NOT NULL,
  contact_id text NOT NULL,
  subject text NOT NULL,
  sent_at timestamptz NOT NULL DEFAULT retrace_now(),
  PRIMARY KEY (workspace_id, id),
  UNIQUE (workspace_id, automation_id, step_index, contact_id)
);
CREATE INDEX messages_contact ON messages (workspace_id, contact_id, sent_at);

-- Domain events, written in the same transaction as the change they describe.
CREATE TABLE outbox (
  workspace_id text NOT NULL,
  id bigserial NOT NULL,
  type text NOT NULL,
  origin text NOT NULL,
  payload jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT retrace_now(),
  processed_at timestamptz,
  PRIMARY KEY (workspace_id, id)
);
CREATE INDEX outbox_pending ON outbox (workspace_id, id) WHERE processed_at IS NULL;

-- Append-only history of every captured row. version is global and increasing; a row's
-- versions are its entries ordered by version.
CREATE TABLE history (
  workspace_id text NOT NULL,
  version bigserial NOT NULL,
  table_name text NOT NULL,
  row_key text NOT NULL,
  contact_id text,
  op text NOT NULL CHECK (op IN ('insert', 'update', 'delete')),
  at timestamptz NOT NULL,
  actor_id text,
  origin text NOT NULL,
  before jsonb,
  after jsonb,
  -- the writing transaction: ties together what one change did (a delete and the
  -- associations it removed), so it can be re-applied or undone as one
  txid bigint NOT NULL DEFAULT txid_current(),
  PRIMARY KEY (workspace_id, version)
);
CREATE INDEX history_contact ON history (workspace_id, contact_id, version) WHERE contact_id IS NOT NULL;
CREATE INDEX history_row ON history (workspace_id, table_name, row_key, version);
CREATE INDEX history_at ON history (workspace_id, at);
CREATE INDEX history_txid ON history (workspace_id, txid);

CREATE FUNCTION forbid_history_rewrite() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('retrace.history_maintenance', true) = 'on' THEN
    RETURN NULL;
  END IF;
  RAISE EXCEPTION 'history is append-only';
END $$;
CREATE TRIGGER history_append_only BEFORE UPDATE OR DELETE ON history
  FOR EACH STATEMENT EXECUTE FUNCTION forbid_history_rewrite();

-- Statement-level capture with transition tables: one INSERT … SELECT per statement,
-- so bulk writes pay one extra set-based insert instead of a trigger call per row.
-- TG_ARGV holds SQL expressions over the row ($ stands for it): its key, its contact id
-- and its workspace id.
CREATE FUNCTION capture_history() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  key_expr text := TG_ARGV[0];
  contact_expr text := TG_ARGV[1];
  workspace_expr text := TG_ARGV[2];
BEGIN
  IF TG_OP = 'INSERT' THEN
    EXECUTE format(
      'INSERT INTO history (workspace_id, table_name, row_key, contact_id, op, at, actor_id, origin, before, after)
       SELECT %s, %L, %s, %s, ''insert'', retrace_now(), retrace_actor(), retrace_origin(), NULL, to_jsonb(r)
       FROM new_rows r', replace(workspace_expr, '$', 'r.'), TG_TABLE_NAME, replace(key_expr, '$', 'r.'), replace(contact_expr, '$', 'r.'));
  ELSIF TG_OP = 'DELETE' THEN
    EXECUTE format(
      'INSERT INTO history (workspace_id, table_name, row_key, contact_id, op, at, actor_id, origin, before, after)
       SELECT %s, %L, %s, %s, ''delete'', retrace_now(), retrace_actor(), retrace_origin(), to_jsonb(r), NULL
       FROM old_rows r', replace(workspace_expr, '$', 'r.'), TG_TABLE_NAME, replace(key_expr, '$', 'r.'), replace(contact_expr, '$', 'r.'));
  ELSE
    EXECUTE format(
      'INSERT INTO history (workspace_id, table_name, row_key, contact_id, op, at, actor_id, origin, before, after)
       SELECT %s, %L, %s, %s, ''update'', retrace_now(), retrace_actor(), retrace_origin(), to_jsonb(o), to_jsonb(n)
       FROM new_rows n JOIN old_rows o ON %s = %s AND %s = %s',
      replace(workspace_expr, '$', 'n.'), TG_TABLE_NAME, replace(key_expr, '$', 'n.'), replace(contact_expr, '$', 'n.'),
      replace(workspace_expr, '$', 'o.'), replace(workspace_expr, '$', 'n.'),
      replace(key_expr, '$', 'o.'), replace(key_expr, '$', 'n.'));
  END IF;
  RETURN NULL;
END $$;

CREATE FUNCTION capture_history_on(tbl text, key_expr text, contact_expr text, workspace_expr text DEFAULT '$workspace_id') RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %I REFERENCING NEW TABLE AS new_rows
                  FOR EACH STATEMENT EXECUTE FUNCTION capture_history(%L, %L, %L)', tbl || '_history_insert', tbl, key_expr, contact_expr, workspace_expr);
  EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %I REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
                  FOR EACH STATEMENT EXECUTE FUNCTION capture_history(%L, %L, %L)', tbl || '_history_update', tbl, key_expr, contact_expr, workspace_expr);
  EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON %I REFERENCING OLD TABLE AS old_rows
                  FOR EACH STATEMENT EXECUTE FUNCTION capture_history(%L, %L, %L)', tbl || '_history_delete', tbl, key_expr, contact_expr, workspace_expr);
END $$;

SELECT capture_history_on('workspaces', '$id', 'NULL::text', '$id');
SELECT capture_history_on('roles', '$id', 'NULL::text');
SELECT capture_history_on('users', '$id', 'NULL::text');
SELECT capture_history_on('api_tokens', '$id', 'NULL::text');
SELECT capture_history_on('contacts', '$id', '$id');
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

CREATE TABLE audit_log (
  workspace_id text NOT NULL REFERENCES workspaces (id),
  id bigserial NOT NULL,
  at timestamptz NOT NULL,
  actor_id text,
  action text NOT NULL,
  target_type text,
  target_id text,
  details jsonb NOT NULL DEFAULT '{}',
  prev_hash text,
  hash text NOT NULL,
  PRIMARY KEY (workspace_id, id)
);
CREATE INDEX audit_log_at ON audit_log (workspace_id, at);
CREATE INDEX audit_log_actor ON audit_log (workspace_id, actor_id);

-- The chain's head per workspace; locking this row serializes appends to the chain.
CREATE TABLE audit_heads (
  workspace_id text PRIMARY KEY REFERENCES workspaces (id),
  last_id bigint,
  hash text
);
CREATE INDEX audit_log_target ON audit_log (workspace_id, target_id);
