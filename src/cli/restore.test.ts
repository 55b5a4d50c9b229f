import { beforeAll, describe, expect, it } from 'vitest';
import { aContact, aWorkspace, testApp, type TestApp } from '../test-support/harness.js';
import { captureOutput, restoreConsoleAfterEach } from '../test-support/cli-output.js';
import { restoreFromCli } from './restore.js';

let app: TestApp;
beforeAll(async () => {
  app = await testApp();
});
restoreConsoleAfterEach();

const command = { source: 'deleted' as const, all: false, confirmOverage: false, resumeAutomations: false };

describe('retrace restore', () => {
  it('restores the picked contacts to completion and prints the finished job', async () => {
    const ws = await aWorkspace(app);
    const [a, b, kept] = [await aContact(ws), await aContact(ws), await aContact(ws)];
    for (const c of [a, b, kept]) await ws.api('DELETE', `/contacts/${c.id}`);
    const printed = captureOutput();
    await restoreFromCli(app.ctx, { ...command, workspace: ws.id, ids: [a.id, b.id] });
    expect(JSON.parse(printed.at(-1) ?? 'null')).toMatchObject({ status: 'succeeded', requested: 2, restored: 2, skipped: [] });
    expect(process.exitCode).toBeUndefined();
    expect((await ws.api('GET', `/contacts/${a.id}`)).body.status).toBe('active');
    expect((await ws.api('GET', `/contacts/${kept.id}`)).body.status).toBe('deleted');
  });

  it('restores all deleted contacts matching --q', async () => {
    const ws = await aWorkspace(app);
    const match = await aContact(ws, { email: 'clara@match.test' });
    const other = await aContact(ws, { email: 'olga@other.test' });
    for (const c of [match, other]) await ws.api('DELETE', `/contacts/${c.id}`);
    const printed = captureOutput();
    await restoreFromCli(app.ctx, { ...command, workspace: ws.id, all: true, q: 'match.test' });
    expect(JSON.parse(printed.at(-1) ?? 'null')).toMatchObject({ status: 'succeeded', requested: 1, restored: 1 });
    expect((await ws.api('GET', `/contacts/${other.id}`)).body.status).toBe('deleted');
  });

  it('prints the refusal and exits 1 when more than 100 contacts are picked', async () => {
    const ws = await aWorkspace(app);
    const printed = captureOutput();
    const ids = Array.from({ length: 101 }, () => crypto.randomUUID());
    await restoreFromCli(app.ctx, { ...command, workspace: ws.id, ids });
    expect(printed.at(-1)).toMatch(/^too_many_contacts: /);
    expect(process.exitCode).toBe(1);
  });
});
