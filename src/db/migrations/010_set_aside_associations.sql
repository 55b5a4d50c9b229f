-- Deleted and archived contacts now keep their association rows, set aside (reads show
-- only active contacts' rows), and a restore brings them back by reactivating the
-- contact. Contacts that left before had those rows deleted by the transaction that took
-- them from active to deleted or archived (found from the contact's own history entry),
-- as had contacts a rollback sent to the recycle bin: put those rows back, set aside, so
-- every contact away is alike and a restore needs no history. Rows of lists, accounts,
-- deals and tags deleted since are left out (they would not come back); a deal row keeps
-- its place (added_seq).
CREATE TEMPORARY TABLE departed ON COMMIT DROP AS
SELECT c.workspace_id, c.id, (
  SELECT h.txid FROM history h
  WHERE h.workspace_id = c.workspace_id AND h.contact_id = c.id AND h.table_name = 'contacts' AND h.op = 'update'
    AND h.before->>'status' = 'active' AND h.after->>'status' <> 'active'
  ORDER BY h.version DESC LIMIT 1) AS txid
FROM contacts c
WHERE c.status IN ('deleted', 'archived')
  AND NOT EXISTS (SELECT 1 FROM list_memberships a WHERE a.workspace_id = c.workspace_id AND a.contact_id = c.id)
  AND NOT EXISTS (SELECT 1 FROM account_contacts a WHERE a.workspace_id = c.workspace_id AND a.contact_id = c.id)
  AND NOT EXISTS (SELECT 1 FROM deal_contacts a WHERE a.workspace_id = c.workspace_id AND a.contact_id = c.id)
  AND NOT EXISTS (SELECT 1 FROM contact_tags a WHERE a.workspace_id = c.workspace_id AND a.contact_id = c.id);

CREATE TEMPORARY TABLE removed ON COMMIT DROP AS
SELECT DISTINCT ON (h.workspace_id, h.table_name, h.row_key) h.table_name, h.op, h.before
FROM departed d
JOIN history h ON h.workspace_id = d.workspace_id AND h.contact_id = d.id AND h.txid = d.txid
WHERE h.table_name IN ('list_memberships', 'account_contacts', 'deal_contacts', 'contact_tags')
ORDER BY h.workspace_id, h.table_name, h.row_key, h.version DESC;

INSERT INTO list_memberships (workspace_id, list_id, contact_id, status, created_at, updated_at)
SELECT r.workspace_id, r.list_id, r.contact_id, r.status, r.created_at, r.updated_at
FROM removed l CROSS JOIN LATERAL jsonb_populate_record(NULL::list_memberships, l.before) r
JOIN lists x ON x.workspace_id = r.workspace_id AND x.id = r.list_id AND x.deleted_at IS NULL
WHERE l.table_name = 'list_memberships' AND l.op = 'delete'
ON CONFLICT DO NOTHING;

INSERT INTO account_contacts (workspace_id, account_id, contact_id, job_title, created_at)
SELECT r.workspace_id, r.account_id, r.contact_id, r.job_title, r.created_at
FROM removed l CROSS JOIN LATERAL jsonb_populate_record(NULL::account_contacts, l.before) r
JOIN accounts x ON x.workspace_id = r.workspace_id AND x.id = r.account_id AND x.deleted_at IS NULL
WHERE l.table_name = 'account_contacts' AND l.op = 'delete'
ON CONFLICT DO NOTHING;

INSERT INTO deal_contacts (workspace_id, deal_id, contact_id, added_seq, added_at)
SELECT r.workspace_id, r.deal_id, r.contact_id, r.added_seq, r.added_at
FROM removed l CROSS JOIN LATERAL jsonb_populate_record(NULL::deal_contacts, l.before) r
JOIN deals x ON x.workspace_id = r.workspace_id AND x.id = r.deal_id AND x.deleted_at IS NULL
WHERE l.table_name = 'deal_contacts' AND l.op = 'delete'
ON CONFLICT DO NOTHING;

INSERT INTO contact_tags (workspace_id, contact_id, tag_id, created_at)
SELECT r.workspace_id, r.contact_id, r.tag_id, r.created_at
FROM removed l CROSS JOIN LATERAL jsonb_populate_record(NULL::contact_tags, l.before) r
JOIN tags x ON x.workspace_id = r.workspace_id AND x.id = r.tag_id AND x.deleted_at IS NULL
WHERE l.table_name = 'contact_tags' AND l.op = 'delete'
ON CONFLICT DO NOTHING;
