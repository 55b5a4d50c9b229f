-- Restore jobs get typed columns of their own (issues 15 and 16). Their figures lived in
-- the generic `jobs.params`/`progress` jsonb, and the skipped contacts were a jsonb list
-- that every batch read and wrote again whole. Now: one row per restore job beside its
-- `jobs` row (status, lease and times stay there), and one row per skipped contact,
-- read a page at a time.
CREATE TABLE IF NOT EXISTS restore_jobs (
  workspace_id text NOT NULL,
  job_id text NOT NULL,
  source text NOT NULL CHECK (source IN ('deleted', 'archived')),
  resume_automations boolean NOT NULL,
  -- "Restore all matching": the filter. The job's first step writes the matching
  -- contacts into restore_job_contacts, those removed at or before removed_until (the
  -- request's time), so the request answers at once whatever their number.
  match_all boolean NOT NULL,
  filter_q text,
  filter_from timestamptz,
  filter_to timestamptz,
  removed_until timestamptz,
  -- whether restore_job_contacts holds the job's contacts yet
  contacts_fixed boolean NOT NULL,
  requested integer NOT NULL CHECK (requested >= 0),
  next_position integer NOT NULL DEFAULT 0,
  restored integer NOT NULL DEFAULT 0,
  skipped integer NOT NULL DEFAULT 0,
  -- contacts per transaction; the default unless set (tests use small batches)
  batch_size integer CHECK (batch_size > 0),
  CONSTRAINT restore_jobs_pkey PRIMARY KEY (workspace_id, job_id),
  CONSTRAINT restore_jobs_job_fkey FOREIGN KEY (workspace_id, job_id) REFERENCES jobs (workspace_id, id)
);

CREATE TABLE IF NOT EXISTS restore_job_skips (
  workspace_id text NOT NULL,
  job_id text NOT NULL,
  -- in the order the job met them
  position integer NOT NULL,
  contact_id text NOT NULL,
  reason text NOT NULL,
  taken_by text,
  CONSTRAINT restore_job_skips_pkey PRIMARY KEY (workspace_id, job_id, position)
);

-- Existing restore jobs move over: their figures, and the skips they met so far. (Every
-- statement here can run again: the migration tests apply later migrations twice.)
INSERT INTO restore_jobs (workspace_id, job_id, source, resume_automations, match_all, contacts_fixed, requested,
                          next_position, restored, skipped, batch_size)
SELECT j.workspace_id, j.id, j.params->>'source', coalesce((j.params->>'resumeAutomations')::boolean, false), false, true,
       coalesce((j.params->>'requested')::integer, 0), coalesce((j.progress->>'offset')::integer, 0),
       coalesce((j.progress->>'restored')::integer, 0), coalesce(jsonb_array_length(j.progress->'skipped'), 0),
       (j.params->>'batchSize')::integer
FROM jobs j
WHERE j.kind = 'restore' AND j.params ? 'source'
ON CONFLICT DO NOTHING;

INSERT INTO restore_job_skips (workspace_id, job_id, position, contact_id, reason, taken_by)
SELECT j.workspace_id, j.id, (s.n - 1)::integer, s.skip->>'contactId', s.skip->>'reason', s.skip->>'takenBy'
FROM jobs j CROSS JOIN LATERAL jsonb_array_elements(coalesce(j.progress->'skipped', '[]'::jsonb)) WITH ORDINALITY AS s(skip, n)
WHERE j.kind = 'restore'
ON CONFLICT DO NOTHING;

UPDATE jobs SET params = '{}', progress = '{}' WHERE kind = 'restore';

-- Deals by their primary contact: a contact removed for good (purge, erasure, a backup
-- restore that leaves it out) is looked up there, which scanned every deal of the
-- workspace for each batch.
CREATE INDEX IF NOT EXISTS deals_primary_contact ON deals (workspace_id, primary_contact_id) WHERE primary_contact_id IS NOT NULL;
