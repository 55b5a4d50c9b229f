-- The audit chain is no longer extended inside every write (issue 15, point 6). Appending
-- locked the workspace's chain head until commit, so every write of a workspace waited
-- for the one before it to commit, fsync included. Now a write only inserts its entries
-- (hash, prev_hash and chain_seq empty), and the chain is extended after commit by one
-- chainer at a time (the head's lock): before any read of the audit log, and by the
-- maintenance pass. The chain's order is chain_seq — the order entries were chained, which
-- follows commits — not the id a transaction took before it committed.
ALTER TABLE audit_log ADD COLUMN IF NOT EXISTS chain_seq bigint;
ALTER TABLE audit_log ALTER COLUMN hash DROP NOT NULL;
ALTER TABLE audit_heads ADD COLUMN IF NOT EXISTS last_seq bigint NOT NULL DEFAULT 0;

-- Every entry chained so far was chained in id order. (Can run again: only entries chained
-- and not yet numbered are numbered, after those that are.)
UPDATE audit_log a SET chain_seq = n.seq
FROM (
  SELECT l.workspace_id, l.id,
    coalesce((SELECT max(x.chain_seq) FROM audit_log x WHERE x.workspace_id = l.workspace_id), 0)
      + row_number() OVER (PARTITION BY l.workspace_id ORDER BY l.id) AS seq
  FROM audit_log l WHERE l.chain_seq IS NULL AND l.hash IS NOT NULL) n
WHERE a.workspace_id = n.workspace_id AND a.id = n.id;
UPDATE audit_heads h SET last_seq = coalesce((SELECT max(a.chain_seq) FROM audit_log a WHERE a.workspace_id = h.workspace_id), 0);

CREATE UNIQUE INDEX IF NOT EXISTS audit_log_chain ON audit_log (workspace_id, chain_seq) WHERE chain_seq IS NOT NULL;
CREATE INDEX IF NOT EXISTS audit_log_unchained ON audit_log (workspace_id, id) WHERE chain_seq IS NULL;
