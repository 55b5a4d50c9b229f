-- Automations, the outbox consumer, the message ledger's delivery state and forms
-- (issue 4). The tables themselves are in 001_core.sql.

-- The ledger row is written (claimed) in the transaction that advances the step; the
-- transport is called after it commits. Its outcome is recorded here, never retried:
-- a message is sent at most once per (automation, step, contact), ever.
ALTER TABLE messages
  ADD COLUMN delivery_status text NOT NULL DEFAULT 'pending' CHECK (delivery_status IN ('pending', 'delivered', 'failed')),
  ADD COLUMN delivered_at timestamptz,
  ADD COLUMN delivery_error text;
CREATE INDEX messages_page ON messages (workspace_id, sent_at, id);

-- Pages of automations and forms, oldest first.
CREATE INDEX automations_page ON automations (workspace_id, created_at, id);
CREATE INDEX forms_page ON forms (workspace_id, created_at, id);

-- Public form submissions name only the form: the one lookup that starts from an id
-- rather than a workspace.
CREATE INDEX forms_by_id ON forms (id);
