-- Rollbacks get typed columns of their own (issue 16), as restore jobs did (015): what a
-- rollback was asked and its checkpoint lived in the generic `jobs.params`/`progress`
-- jsonb. Now one row per rollback beside its `jobs` row (status, lease and times stay
-- there). An undo by cause is written back as a rollback (src/undo) and has one too;
-- what only an undo has (the cause it undoes, how it meets later changes) stays in its
-- jobs.params.
CREATE TABLE IF NOT EXISTS rollback_jobs (
  workspace_id text NOT NULL,
  job_id text NOT NULL,
  -- the point rolled back to; an undo's: when what it undoes began
  at timestamptz NOT NULL,
  scope_type text NOT NULL CHECK (scope_type IN ('workspace', 'contacts')),
  -- a partial rollback's contacts, in the order asked
  scope_contact_ids text[],
  resume_automations boolean NOT NULL,
  -- an undo of a rollback: the rollback, and the transactions that wrote its rows
  undo_of text,
  undo_txids text[],
  -- an undo by cause: the cause's transactions, and how the plan treats later changes
  cause_txids text[],
  cause_undo_anyway boolean,
  cause_merge boolean,
  -- contacts per transaction; the default unless set (tests use small batches)
  batch_size integer CHECK (batch_size > 0),
  -- the checkpoint: plan, parents, release, contacts, done
  phase text NOT NULL DEFAULT 'plan',
  -- the last contact of the phase done (contacts are worked in id order)
  last_done_id text NOT NULL DEFAULT '',
  contacts_total integer NOT NULL DEFAULT 0 CHECK (contacts_total >= 0),
  contacts_done integer NOT NULL DEFAULT 0 CHECK (contacts_done >= 0),
  -- what it does by table ({add, change, remove}), and what it skips; the plan's own
  -- counts apart (counts adds the deals a partial rollback mends)
  counts jsonb,
  plan_counts jsonb,
  -- the first skipped contacts, as shown with the rollback (all: rollback_skips)
  skipped jsonb NOT NULL DEFAULT '[]',
  -- every transaction that wrote rows: what an undo puts back
  txids text[] NOT NULL DEFAULT '{}',
  -- the chunks of the plan committed so far, while the phase is plan
  planned text[] NOT NULL DEFAULT '{}',
  CONSTRAINT rollback_jobs_pkey PRIMARY KEY (workspace_id, job_id),
  CONSTRAINT rollback_jobs_job_fkey FOREIGN KEY (workspace_id, job_id) REFERENCES jobs (workspace_id, id),
  CONSTRAINT rollback_jobs_scope_contacts CHECK ((scope_type = 'contacts') = (scope_contact_ids IS NOT NULL))
);

-- Whether a rollback was undone, and by which undo.
CREATE INDEX IF NOT EXISTS rollback_jobs_undo_of ON rollback_jobs (workspace_id, undo_of) WHERE undo_of IS NOT NULL;

-- Existing rollbacks and undos move over. (Every statement here can run again: the
-- migration tests apply later migrations twice; a moved job's params no longer have `at`.)
INSERT INTO rollback_jobs (workspace_id, job_id, at, scope_type, scope_contact_ids, resume_automations, undo_of, undo_txids,
                           cause_txids, cause_undo_anyway, cause_merge, batch_size, phase, last_done_id, contacts_total,
                           contacts_done, counts, plan_counts, skipped, txids, planned)
SELECT j.workspace_id, j.id, (j.params->>'at')::timestamptz, j.params->'scope'->>'type',
       CASE WHEN j.params->'scope'->>'type' = 'contacts'
            THEN ARRAY(SELECT jsonb_array_elements_text(coalesce(j.params->'scope'->'contactIds', '[]'))) END,
       coalesce((j.params->>'resumeAutomations')::boolean, false),
       j.params->>'undoOf',
       CASE WHEN j.params ? 'undoTxids' THEN ARRAY(SELECT jsonb_array_elements_text(j.params->'undoTxids')) END,
       CASE WHEN j.params ? 'cause' THEN ARRAY(SELECT jsonb_array_elements_text(j.params->'cause'->'txids')) END,
       (j.params->'cause'->>'undoAnyway')::boolean, (j.params->'cause'->>'merge')::boolean,
       (j.params->>'batchSize')::integer,
       coalesce(j.progress->>'phase', 'plan'), coalesce(j.progress->>'cursor', ''),
       coalesce((j.progress->>'contactsTotal')::integer, 0), coalesce((j.progress->>'contactsDone')::integer, 0),
       nullif(j.progress->'counts', 'null'::jsonb), nullif(j.progress->'planCounts', 'null'::jsonb),
       coalesce(j.progress->'skipped', '[]'),
       ARRAY(SELECT jsonb_array_elements_text(coalesce(j.progress->'txids', '[]'))),
       ARRAY(SELECT jsonb_array_elements_text(coalesce(j.progress->'planned', '[]')))
FROM jobs j
WHERE j.kind IN ('rollback', 'undo') AND j.params ? 'at'
ON CONFLICT DO NOTHING;

UPDATE jobs
SET params = CASE WHEN kind = 'undo' THEN jsonb_build_object('undoCause', params->'undoCause', 'onConflict', params->'onConflict') ELSE '{}' END,
    progress = '{}'
WHERE kind IN ('rollback', 'undo') AND params ? 'at';
