-- When each user came to hold their role (issue 19 point 3). Four eyes refuses an approver
-- who could not approve when the rollback was requested: one created since, and now one
-- whose role changed since (promoted by another admin for the purpose). Set by a trigger,
-- so a role changed by any path (PATCH /users/:id, a script's SQL) counts; null: the role
-- the user was created with. IF NOT EXISTS and OR REPLACE: the migration tests apply later
-- migrations again on an older database.
ALTER TABLE users ADD COLUMN IF NOT EXISTS role_since timestamptz;

CREATE OR REPLACE FUNCTION record_user_role_since() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.role_id IS DISTINCT FROM OLD.role_id THEN
    NEW.role_since := retrace_now();
  END IF;
  RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS users_role_since ON users;
CREATE TRIGGER users_role_since BEFORE UPDATE OF role_id ON users
  FOR EACH ROW EXECUTE FUNCTION record_user_role_since();
