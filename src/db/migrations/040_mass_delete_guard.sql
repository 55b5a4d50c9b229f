-- The mass-delete guard (src/held-deletes; issue 18, point 3; seed 003's emergency of an
-- API integration deleting a large volume of records). A user's or token's deletes and
-- archives are counted within a window; past the workspace's limit its further ones are
-- held, stored here until an admin releases or rejects them.
-- IF NOT EXISTS throughout: the migration tests apply later migrations again on an
-- older database.

-- The workspace's limits (API.md: massDelete {maxContacts, maxPercent, windowMinutes}).
ALTER TABLE workspaces ADD COLUMN IF NOT EXISTS mass_delete_max_contacts integer NOT NULL DEFAULT 1000
  CHECK (mass_delete_max_contacts >= 1);
ALTER TABLE workspaces ADD COLUMN IF NOT EXISTS mass_delete_max_percent numeric NOT NULL DEFAULT 5
  CHECK (mass_delete_max_percent > 0 AND mass_delete_max_percent <= 100);
ALTER TABLE workspaces ADD COLUMN IF NOT EXISTS mass_delete_window_minutes integer NOT NULL DEFAULT 10
  CHECK (mass_delete_window_minutes >= 1);

-- What each actor (a user, or an integration token's id) deleted or archived, one row per
-- request applied: the guard sums `removed` over the actor's rows in the window, and a
-- rejection with undo restores the `contact_ids` of those rows. `base` is the workspace's
-- active and archived contacts counted when the actor's window began (what maxPercent is
-- a percentage of), kept so that later requests in the window need not count again. A release forgets the
-- actor's rows (its window starts again); rows older than a day (or the window, if
-- longer) go when the workspace's next removal is applied.
CREATE TABLE IF NOT EXISTS mass_delete_tallies (
  workspace_id text NOT NULL REFERENCES workspaces (id),
  id text NOT NULL DEFAULT gen_random_uuid()::text,
  actor_id text NOT NULL,
  token_id text,
  removal text NOT NULL CHECK (removal IN ('delete', 'archive')),
  at timestamptz NOT NULL,
  contact_ids text[] NOT NULL,
  removed integer NOT NULL CHECK (removed > 0),
  base integer,
  PRIMARY KEY (workspace_id, id)
);
CREATE INDEX IF NOT EXISTS mass_delete_tallies_actor ON mass_delete_tallies (workspace_id, actor_id, at);
CREATE INDEX IF NOT EXISTS mass_delete_tallies_at ON mass_delete_tallies (workspace_id, at);

-- A held request: an actor's deletes and archives from the one that went over its limit
-- on, kept until an admin decides. The figures are those of the moment it was held.
CREATE TABLE IF NOT EXISTS held_deletes (
  workspace_id text NOT NULL REFERENCES workspaces (id),
  id text NOT NULL DEFAULT gen_random_uuid()::text,
  actor_id text NOT NULL,
  token_id text,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'released', 'rejected')),
  held_at timestamptz NOT NULL,
  removed_in_window integer NOT NULL,
  limit_contacts integer NOT NULL,
  limit_by text NOT NULL CHECK (limit_by IN ('maxContacts', 'maxPercent')),
  window_minutes integer NOT NULL,
  -- the start of the window counted when it was held: a rejection with undo restores
  -- what the actor removed from then on
  window_from timestamptz NOT NULL,
  decided_by text,
  decided_at timestamptz,
  undo boolean,
  -- a release: {deleted, archived, skipped}; a rejection with undo: {restored, skipped}
  outcome jsonb,
  PRIMARY KEY (workspace_id, id),
  CHECK ((status = 'pending') = (decided_at IS NULL))
);
-- While an actor has a pending held request its further removals join it: never two.
CREATE UNIQUE INDEX IF NOT EXISTS held_deletes_one_pending ON held_deletes (workspace_id, actor_id) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS held_deletes_page ON held_deletes (workspace_id, held_at, id);
CREATE INDEX IF NOT EXISTS held_deletes_pending_page ON held_deletes (workspace_id, held_at, id) WHERE status = 'pending';

-- The requests a held request holds, in the order they came: each as it was asked
-- (its ids once each), run in this order when released.
CREATE TABLE IF NOT EXISTS held_delete_requests (
  workspace_id text NOT NULL,
  held_id text NOT NULL,
  position integer NOT NULL,
  removal text NOT NULL CHECK (removal IN ('delete', 'archive')),
  contact_ids text[] NOT NULL,
  -- how many of them were active (or archived, for a delete) when it was held
  removable integer NOT NULL,
  requested_at timestamptz NOT NULL,
  PRIMARY KEY (workspace_id, held_id, position),
  FOREIGN KEY (workspace_id, held_id) REFERENCES held_deletes (workspace_id, id)
);
