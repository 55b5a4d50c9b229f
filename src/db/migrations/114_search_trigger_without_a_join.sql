-- 112's search trigger joined its two transition tables (old_rows, new_rows), and the
-- planner, which has no statistics for them, compared every pair: a nested loop, 2,000 ×
-- 2,000 rows for a batch of 2,000. Measured through the API, an undo binning 90,000
-- contacts in batches of 2,000 took 28–37 s against 12.35 s before 112, the trigger's
-- calls 18.7–22.9 s of it, each batch's 0.5 s (auto_explain: "Rows Removed by Join
-- Filter: 4000000"); planning it per statement (EXECUTE) chose the same loop. Now each
-- transition table is read on its own into arrays sorted by key, and the two are zipped
-- by position (unnest of several arrays): no join, linear in the rows (with a sort).
-- Both hold the same keys (an UPDATE here never changes a contact's key); a row whose
-- key or text differs from its partner's is indexed again.
CREATE OR REPLACE FUNCTION index_renamed_contacts() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  renamed record;
BEGIN
  FOR renamed IN
    WITH before AS (
      SELECT array_agg(o.workspace_id ORDER BY o.workspace_id, o.id) AS workspace_ids,
             array_agg(o.id ORDER BY o.workspace_id, o.id) AS ids,
             array_agg(contact_search_text(o.email, o.first_name, o.last_name) ORDER BY o.workspace_id, o.id) AS texts
      FROM old_rows o),
    after AS (
      SELECT array_agg(n.workspace_id ORDER BY n.workspace_id, n.id) AS workspace_ids,
             array_agg(n.id ORDER BY n.workspace_id, n.id) AS ids,
             array_agg(contact_search_text(n.email, n.first_name, n.last_name) ORDER BY n.workspace_id, n.id) AS texts
      FROM new_rows n)
    SELECT u.workspace_id, array_agg(u.id) AS ids, array_agg(u.search_text) AS texts
    FROM before, after,
         unnest(after.workspace_ids, after.ids, after.texts, before.workspace_ids, before.ids, before.texts)
           AS u(workspace_id, id, search_text, old_workspace_id, old_id, old_search_text)
    WHERE (u.workspace_id, u.id, u.search_text) IS DISTINCT FROM (u.old_workspace_id, u.old_id, u.old_search_text)
    GROUP BY u.workspace_id
  LOOP
    UPDATE contact_search s SET search_text = u.search_text
    FROM unnest(renamed.ids, renamed.texts) AS u(contact_id, search_text)
    WHERE s.workspace_id = renamed.workspace_id AND s.contact_id = u.contact_id;
  END LOOP;
  RETURN NULL;
END $$;
