-- Notifications (src/notifications): admins are told, by email and by webhook, when a
-- mass delete is held, a job finishes, a full rollback awaits approval, a backup is made
-- or fails verification. An event and its deliveries are written in the transaction of
-- the change they tell of (the module's own transactional outbox), so an event exists
-- exactly when its change committed; a background sender delivers them afterwards.
-- IF NOT EXISTS throughout: the migration tests apply later migrations again on an
-- older database.

-- A workspace's webhook endpoints. The secret is kept as it is, not hashed: the server
-- signs every delivery with it (HMAC-SHA256), so it must be able to read it.
CREATE TABLE IF NOT EXISTS webhooks (
  workspace_id text NOT NULL REFERENCES workspaces (id),
  id text NOT NULL DEFAULT gen_random_uuid()::text,
  url text NOT NULL,
  events text[] NOT NULL CHECK (cardinality(events) > 0),
  secret text NOT NULL,
  created_by text,
  created_at timestamptz NOT NULL DEFAULT retrace_now(),
  PRIMARY KEY (workspace_id, id)
);
CREATE INDEX IF NOT EXISTS webhooks_page ON webhooks (workspace_id, created_at, id);

-- One event, with the exact body every webhook delivery of it sends (and signs): a
-- retry sends the same bytes.
CREATE TABLE IF NOT EXISTS notification_events (
  workspace_id text NOT NULL REFERENCES workspaces (id),
  id text NOT NULL DEFAULT gen_random_uuid()::text,
  event text NOT NULL,
  origin text NOT NULL,
  actor_id text,
  at timestamptz NOT NULL,
  body text NOT NULL,
  -- an event told once however often its cause repeats (a scheduled backup the store
  -- refuses at every pass): a second one with the same key is not written
  once_key text,
  PRIMARY KEY (workspace_id, id)
);
CREATE INDEX IF NOT EXISTS notification_events_at ON notification_events (workspace_id, at);
CREATE UNIQUE INDEX IF NOT EXISTS notification_events_once ON notification_events (workspace_id, once_key) WHERE once_key IS NOT NULL;

-- One delivery of an event: to a webhook, or by email to one admin. Its id is the
-- x-retrace-delivery header (and the email's Message-ID), the same on every attempt, so
-- a receiver can tell a repeat. While pending, next_attempt_at is when it is due; a
-- sender that claims it pushes that past its lease and sets claim_token, so a sender
-- that died mid-send leaves it due again once the lease is over.
CREATE TABLE IF NOT EXISTS notification_deliveries (
  workspace_id text NOT NULL,
  id text NOT NULL DEFAULT gen_random_uuid()::text,
  event_id text NOT NULL,
  channel text NOT NULL CHECK (channel IN ('webhook', 'email')),
  webhook_id text,
  user_id text,
  email text,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz,
  claim_token text,
  delivered_at timestamptz,
  last_error text,
  created_at timestamptz NOT NULL,
  PRIMARY KEY (workspace_id, id),
  FOREIGN KEY (workspace_id, event_id) REFERENCES notification_events (workspace_id, id) ON DELETE CASCADE,
  -- a deleted webhook takes its deliveries (and their log) with it
  FOREIGN KEY (workspace_id, webhook_id) REFERENCES webhooks (workspace_id, id) ON DELETE CASCADE,
  CHECK ((channel = 'webhook') = (webhook_id IS NOT NULL)),
  CHECK ((channel = 'email') = (email IS NOT NULL)),
  CHECK ((status = 'pending') = (next_attempt_at IS NOT NULL))
);
-- The sender's one lookup: what is due, by workspace.
CREATE INDEX IF NOT EXISTS notification_deliveries_due ON notification_deliveries (workspace_id, next_attempt_at) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS notification_deliveries_of_webhook ON notification_deliveries (workspace_id, webhook_id, created_at, id) WHERE channel = 'webhook';
CREATE INDEX IF NOT EXISTS notification_deliveries_emails ON notification_deliveries (workspace_id, created_at, id) WHERE channel = 'email';
CREATE INDEX IF NOT EXISTS notification_deliveries_of_event ON notification_deliveries (workspace_id, event_id);

-- The delivery log: every attempt, numbered as claimed (an attempt whose sender died
-- before recording it leaves its number unused), with what came of it.
CREATE TABLE IF NOT EXISTS notification_attempts (
  workspace_id text NOT NULL,
  delivery_id text NOT NULL,
  attempt integer NOT NULL,
  at timestamptz NOT NULL,
  duration_ms integer NOT NULL,
  status_code integer,
  error text,
  outcome text NOT NULL CHECK (outcome IN ('delivered', 'retrying', 'failed')),
  next_attempt_at timestamptz,
  PRIMARY KEY (workspace_id, delivery_id, attempt),
  FOREIGN KEY (workspace_id, delivery_id) REFERENCES notification_deliveries (workspace_id, id) ON DELETE CASCADE
);
