-- Integrations are first-class (issue 17 point 2, issue 19 point 4): an API token can be
-- named and given a role of its own (an integration's token), and revoked; a user can be
-- deactivated. Written to run again on a database that has it (as the migration tests do).

-- A token with a name is an integration's: it acts as its own principal with its own
-- role (its changes carry the token's id as their actor). user_id is who created it: when
-- that user is deactivated, the token stops working too (they saw its secret). A token
-- without a name is a user's own and has the user's role.
ALTER TABLE api_tokens ADD COLUMN IF NOT EXISTS name text;
ALTER TABLE api_tokens ADD COLUMN IF NOT EXISTS role_id text;
ALTER TABLE api_tokens ADD COLUMN IF NOT EXISTS revoked_at timestamptz;
ALTER TABLE api_tokens ADD COLUMN IF NOT EXISTS revoked_by text;
DO $$ BEGIN
  ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_role FOREIGN KEY (workspace_id, role_id) REFERENCES roles (workspace_id, id);
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;
DO $$ BEGIN
  ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_integration_has_role CHECK ((name IS NULL) = (role_id IS NULL));
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;
CREATE INDEX IF NOT EXISTS api_tokens_integrations ON api_tokens (workspace_id, created_at) WHERE name IS NOT NULL;

-- When a token was last used, at most once a minute. Its own table, not a column of
-- api_tokens: that table's history is captured, and a use is no change of anyone's.
CREATE TABLE IF NOT EXISTS api_token_use (
  workspace_id text NOT NULL,
  token_id text NOT NULL,
  last_used_at timestamptz NOT NULL,
  PRIMARY KEY (workspace_id, token_id)
);

ALTER TABLE users ADD COLUMN IF NOT EXISTS deactivated_at timestamptz;
ALTER TABLE users ADD COLUMN IF NOT EXISTS deactivated_by text;

-- The token a job was requested through: a job whose token was revoked (or whose user
-- was deactivated) before it started never runs.
ALTER TABLE jobs ADD COLUMN IF NOT EXISTS token_id text;

-- An integration's name is how people know its changes ("Token 'Zapier sync' deleted
-- 12,408 contacts"): unique among the workspace's working integration tokens.
CREATE UNIQUE INDEX IF NOT EXISTS api_tokens_live_name ON api_tokens (workspace_id, lower(name)) WHERE name IS NOT NULL AND revoked_at IS NULL;
