-- Searching contacts by text without reading them all (issue 15, point 5). A search
-- (`q`: a substring of the email or name) of the recycle bin read every deleted contact
-- in deletion order until it had a page: 1.4 s for a rare match at 1,000,000 deleted.
--
-- Each contact's search text (email, first and last name) is kept in a table of its own
-- with a trigram index (pg_trgm). Its own table, not an index on `contacts`, because
-- sending a contact to the bin or back rewrites its row: an index on contacts would be
-- written again by every delete and restore (twice the cost of a bulk delete, measured),
-- while this table changes only when a contact is created, renamed, given another email,
-- or removed for good. The triggers below keep it exact in the same transaction as the
-- write; it has no history (it is derived from contacts, whose own history is kept) and
-- is not in backups (a restored backup inserts contacts, which fills it again).
--
-- The trigram index holds the text alone. With the workspace in it too (btree_gin), a
-- rare match at 1,000,000 contacts took 34 ms instead of 20: every search intersected the
-- workspace's posting list of a million entries. A search reads the index without its
-- workspace and keeps its own workspace's matches (src/contacts/search.ts).
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE IF NOT EXISTS contact_search (
  workspace_id text NOT NULL,
  contact_id text NOT NULL,
  search_text text NOT NULL,
  CONSTRAINT contact_search_pkey PRIMARY KEY (workspace_id, contact_id)
);

-- Every string the contacts' `q` matches (the email, either name, "first last") is a
-- substring of this one, so a trigram match on it finds a superset of the matches.
CREATE OR REPLACE FUNCTION contact_search_text(email text, first_name text, last_name text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(email, '') || ' ' || coalesce(first_name, '') || ' ' || coalesce(last_name, '')
$$;

INSERT INTO contact_search (workspace_id, contact_id, search_text)
SELECT c.workspace_id, c.id, contact_search_text(c.email, c.first_name, c.last_name) FROM contacts c
ON CONFLICT (workspace_id, contact_id) DO NOTHING;

CREATE INDEX IF NOT EXISTS contact_search_trigrams ON contact_search USING gin (search_text gin_trgm_ops);

-- New contacts, once a statement (an import's batch is one insert).
CREATE OR REPLACE FUNCTION index_new_contacts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO contact_search (workspace_id, contact_id, search_text)
  SELECT r.workspace_id, r.id, contact_search_text(r.email, r.first_name, r.last_name) FROM new_rows r;
  RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS contacts_search_insert ON contacts;
CREATE TRIGGER contacts_search_insert AFTER INSERT ON contacts REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION index_new_contacts();

-- A changed email or name, row by row: an UPDATE that sets none of these columns (a
-- delete, a restore, an archive) fires nothing, and one that sets them to what they were
-- (a rollback writing whole images) fires only for the rows whose text changed.
CREATE OR REPLACE FUNCTION index_renamed_contact() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE contact_search SET search_text = contact_search_text(NEW.email, NEW.first_name, NEW.last_name)
  WHERE workspace_id = NEW.workspace_id AND contact_id = NEW.id;
  RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS contacts_search_update ON contacts;
CREATE TRIGGER contacts_search_update AFTER UPDATE OF email, first_name, last_name ON contacts
  FOR EACH ROW
  WHEN (OLD.email IS DISTINCT FROM NEW.email OR OLD.first_name IS DISTINCT FROM NEW.first_name OR OLD.last_name IS DISTINCT FROM NEW.last_name)
  EXECUTE FUNCTION index_renamed_contact();

-- Contacts removed for good (purge, erasure) take their text with them.
CREATE OR REPLACE FUNCTION unindex_removed_contacts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM contact_search s USING old_rows r WHERE s.workspace_id = r.workspace_id AND s.contact_id = r.id;
  RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS contacts_search_delete ON contacts;
CREATE TRIGGER contacts_search_delete AFTER DELETE ON contacts REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION unindex_removed_contacts();
