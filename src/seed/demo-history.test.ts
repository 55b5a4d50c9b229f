import { describe, expect, it } from 'vitest';
import { aWorkspace, testApp } from '../test-support/harness.js';
import { seedDemoHistory } from './demo-history.js';
import { seedWorkspace } from './workspace.js';

const hour = 3_600_000;

describe('the demo workspace’s recent history', () => {
  it('holds a bad import two hours ago, a token’s 500 deletes an hour ago and people’s edits after, each a cause that can be undone', async () => {
    const app = await testApp();
    const ws = await aWorkspace(app);
    await seedWorkspace(app.ctx.db, { workspaceId: ws.id, actorId: null, origin: 'import', at: app.clock.now() }, { contacts: 1500 });
    // The workspace was filled four hours before its history, as `serve` makes it.
    app.clock.advance(4 * 3600);
    const now = app.clock.now().getTime();
    const history = await seedDemoHistory(app.ctx, ws.id, ws.adminId);

    const causes = (await ws.api('GET', `/changes?from=${new Date(now - 3 * hour).toISOString()}&limit=20`)).body.data as {
      cause: { kind: string; id: string; name?: string };
      from: string;
      to: string;
      counts: Record<string, Record<string, number>>;
    }[];
    const byName = (name: string) => causes.find((c) => c.cause.name === name);
    const imported = byName('webinar-leads.csv');
    expect(imported?.cause).toMatchObject({ kind: 'import', id: history.importId });
    expect(imported?.counts.contacts).toEqual({ created: 0, updated: history.renamed, deleted: 0, archived: 0 });
    expect(imported?.counts.listMemberships).toEqual({ updated: history.renamed });
    expect(Math.abs(Date.parse(imported?.from ?? '') - (now - 2 * hour))).toBeLessThan(60_000);
    const token = byName('Zapier sync');
    expect(token?.cause).toMatchObject({ kind: 'integration', id: history.tokenId });
    expect(token?.counts.contacts).toEqual({ created: 0, updated: 0, deleted: 500, archived: 0 });
    expect(Math.abs(Date.parse(token?.from ?? '') - (now - hour))).toBeLessThan(60_000);
    expect(byName('Ann Smith')?.counts.contacts).toEqual({ created: 0, updated: 12, deleted: 0, archived: 0 });
    expect(byName('Ben Okafor')?.counts.contacts).toEqual({ created: 0, updated: 13, deleted: 0, archived: 0 });

    const job = (await ws.api('GET', `/imports/${history.importId}`)).body;
    expect(job).toMatchObject({ status: 'succeeded', rows: history.renamed + 2, updated: history.renamed, failed: 2, fileName: 'webinar-leads.csv' });
    const bad = (await ws.api('GET', `/imports/${history.importId}/errors`)).body.data as { line: number }[];
    expect(bad.map((b) => b.line)).toEqual([history.renamed + 2, history.renamed + 3]);

    // Ann's five later first names are the import's undo's conflicts; the token's undo has none.
    const importUndo = (await ws.api('POST', '/undos/preview', { cause: { importId: history.importId } })).body;
    expect(importUndo.conflictCount).toBe(5);
    expect(importUndo.conflicts.map((c: { field: string; laterBy: string }) => [c.field, c.laterBy])).toEqual(Array(5).fill(['firstName', history.editors[0]]));
    expect(importUndo.counts.contacts).toEqual({ revive: 0, revert: history.renamed - 5, remove: 0 });
    const tokenUndo = (await ws.api('POST', '/undos/preview', { cause: { tokenId: history.tokenId, from: token?.from, to: token?.to } })).body;
    expect(tokenUndo.conflictCount).toBe(0);
    expect(tokenUndo.counts.contacts).toEqual({ revive: 500, revert: 0, remove: 0 });
  });
});
