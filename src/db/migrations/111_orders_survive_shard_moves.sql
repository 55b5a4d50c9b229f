-- Moving a workspace between Citus nodes keeps the order of its history (issue 20).
-- History versions (and the other sequences' ids: audit entries, outbox events, a deal's
-- contacts in the order they were added) are taken where the row is written: on Citus,
-- from the node's own copy of the sequence, which Citus starts in a range of its own
-- (group << 48). Within one node they grow, so a workspace's versions are in order while
-- it stays there; moved to a node whose sequence is behind, its next version would be
-- lower than its earlier ones, and "the first version after T" and "the last version"
-- would be wrong for it. Only the order within a workspace matters (every key leads with
-- workspace_id, and nothing compares versions of two workspaces), so the invariant kept
-- is: on every node, each sequence is ahead of every value of every workspace it holds.
-- A move keeps it by raising the sequences of every node, before the move, past the
-- highest value on any node, with room for what is written before the move starts to
-- block writes; and again after it. Raising is forward only, and a
-- sequence is never set back.
--
-- Move a workspace with retrace_move_workspace, not with citus_move_shard_placement alone;
-- after a rebalance (citus_rebalance_start), which moves shards on its own, workspaces it
-- moved may have gone behind: run retrace_raise_sequences() before starting one, as
-- retrace_move_workspace does. On PGlite and one server there are no nodes to move
-- between; both functions refuse there.

-- Raises every node's copy of every sequence of the schema to at least the highest value
-- any node has given out, plus `room`.
CREATE OR REPLACE FUNCTION retrace_raise_sequences(room bigint DEFAULT 0) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  seq text;
  highest bigint;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
    RAISE EXCEPTION 'retrace_raise_sequences: this database is not on Citus';
  END IF;
  -- From pg_class, not pg_sequences, which locks each sequence it reads until the end of
  -- this transaction, and the ALTER SEQUENCE sent to this node would wait for it.
  FOR seq IN SELECT c.relname FROM pg_class c WHERE c.relkind = 'S' AND c.relnamespace = current_schema()::regnamespace ORDER BY c.relname LOOP
    IF EXISTS (SELECT 1 FROM run_command_on_all_nodes(format('SELECT last_value FROM %I', seq)) r WHERE NOT r.success) THEN
      RAISE EXCEPTION 'retrace_raise_sequences: a node could not read sequence %', seq;
    END IF;
    SELECT max(r.result::bigint) INTO highest
    FROM run_command_on_all_nodes(format('SELECT last_value FROM %I', seq)) r;
    -- Citus bounds each worker's copy to its own range (MAXVALUE), and refuses to alter a
    -- distributed sequence unless the change is made on that node alone. Forward only: a
    -- node already past the mark is left as it is.
    IF EXISTS (SELECT 1 FROM run_command_on_all_nodes(format(
         'SET LOCAL citus.enable_ddl_propagation = off; ALTER SEQUENCE %I NO MAXVALUE; SELECT setval(%L, %s) FROM %I WHERE last_value < %s',
         seq, seq, highest + room, seq, highest + room)) r WHERE NOT r.success) THEN
      RAISE EXCEPTION 'retrace_raise_sequences: a node could not raise sequence %', seq;
    END IF;
  END LOOP;
END $$;

-- Moves the shards of `ws` (and every shard colocated with them: the workspaces that share
-- its shard group) to the node at target_host:target_port, keeping their orders.
CREATE OR REPLACE FUNCTION retrace_move_workspace(ws text, target_host text, target_port int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  shard bigint;
  source record;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
    RAISE EXCEPTION 'retrace_move_workspace: this database is not on Citus';
  END IF;
  shard := get_shard_id_for_distribution_column('workspaces', ws);
  SELECT n.nodename, n.nodeport INTO source
  FROM pg_dist_placement p JOIN pg_dist_node n ON n.groupid = p.groupid
  WHERE p.shardid = shard;
  IF source.nodename = target_host AND source.nodeport = target_port THEN
    RETURN;
  END IF;
  -- Room for 2^32 values written on the source until the move blocks writes.
  PERFORM retrace_raise_sequences(4294967296);
  -- block_writes: the shard group takes no writes while it is copied, and the move can
  -- run inside this function's transaction (a logical-replication move cannot reliably).
  PERFORM citus_move_shard_placement(shard, source.nodename, source.nodeport, target_host, target_port, shard_transfer_mode => 'block_writes');
  PERFORM retrace_raise_sequences(0);
END $$;
