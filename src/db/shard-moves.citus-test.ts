import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { aContact, aPoint, aWorkspace, testApp, type TestApp } from '../test-support/harness.js';

// Only a run against a Citus coordinator includes this file (vitest.config.ts): there are
// no nodes to move a workspace between on PGlite or one server.

let app: TestApp;
beforeAll(async () => {
  app = await testApp();
});

interface Node {
  nodename: string;
  nodeport: number;
}

/** The node that holds the workspace's shards, and the other workers. */
async function placement(workspaceId: string): Promise<{ holder: Node; others: Node[] }> {
  const { rows: holder } = await sql<Node>`
    SELECT n.nodename, n.nodeport FROM pg_dist_placement p JOIN pg_dist_node n ON n.groupid = p.groupid
    WHERE p.shardid = get_shard_id_for_distribution_column('workspaces', ${workspaceId}::text)`.execute(app.ctx.db);
  const { rows: others } = await sql<Node>`
    SELECT nodename, nodeport FROM pg_dist_node
    WHERE noderole = 'primary' AND groupid <> 0 AND NOT (nodename = ${holder[0].nodename} AND nodeport = ${holder[0].nodeport})
    ORDER BY nodeid`.execute(app.ctx.db);
  return { holder: holder[0], others };
}

async function moveWorkspace(workspaceId: string, to: Node): Promise<void> {
  await sql`SELECT retrace_move_workspace(${workspaceId}, ${to.nodename}, ${to.nodeport})`.execute(app.ctx.db);
}

/**
 * A contact edited before, between and after two moves of its workspace: to another
 * worker and back, so that one of the two goes to a node whose sequences started lower.
 */
async function aContactEditedAcrossMoves() {
  const ws = await aWorkspace(app);
  const ann = await aContact(ws, { email: 'ann@example.com', firstName: 'Ann' });
  const beforeMoves = aPoint(app);
  await ws.api('PATCH', `/contacts/${ann.id}`, { firstName: 'Annie' });
  const { holder, others } = await placement(ws.id);
  await moveWorkspace(ws.id, others[0]);
  expect((await placement(ws.id)).holder).toEqual(others[0]);
  await ws.api('PATCH', `/contacts/${ann.id}`, { firstName: 'Anna' });
  const betweenMoves = aPoint(app);
  await ws.api('PATCH', `/contacts/${ann.id}`, { firstName: 'Anya' });
  await moveWorkspace(ws.id, holder);
  expect((await placement(ws.id)).holder).toEqual(holder);
  await ws.api('PATCH', `/contacts/${ann.id}`, { firstName: 'Anne' });
  return { ws, ann, beforeMoves, betweenMoves };
}

describe('a workspace moved between Citus nodes', () => {
  it('keeps its history in the order it was written across moves there and back', async () => {
    const { ws, ann } = await aContactEditedAcrossMoves();
    const versions = (await ws.api('GET', `/contacts/${ann.id}/history`)).body.data;
    expect(versions.map((v: { op: string; changes: { firstName?: { to: string } } }) => [v.op, v.changes.firstName?.to])).toEqual([
      ['insert', 'Ann'],
      ['update', 'Annie'],
      ['update', 'Anna'],
      ['update', 'Anya'],
      ['update', 'Anne'],
    ]);
  });

  it('rolls back to a point between the moves and to one before them', async () => {
    const { ws, ann, beforeMoves, betweenMoves } = await aContactEditedAcrossMoves();
    const toBetween = await ws.api('POST', '/rollbacks', { at: betweenMoves, scope: { type: 'contacts', contactIds: [ann.id] } });
    expect(toBetween.status).toBe(202);
    await app.runJobs(ws.id);
    expect((await ws.api('GET', `/rollbacks/${toBetween.body.id}`)).body.status).toBe('succeeded');
    expect((await ws.api('GET', `/contacts/${ann.id}`)).body.firstName).toBe('Anna');

    const toBefore = await ws.api('POST', '/rollbacks', { at: beforeMoves, scope: { type: 'contacts', contactIds: [ann.id] } });
    expect(toBefore.status).toBe(202);
    await app.runJobs(ws.id);
    expect((await ws.api('GET', `/rollbacks/${toBefore.body.id}`)).body.status).toBe('succeeded');
    expect((await ws.api('GET', `/contacts/${ann.id}`)).body.firstName).toBe('Ann');
  });
});
