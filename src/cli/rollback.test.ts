import { beforeAll, describe, expect, it } from 'vitest';
import { aContact, aPoint, aWorkspace, testApp, type TestApp } from '../test-support/harness.js';
import { captureOutput, restoreConsoleAfterEach } from '../test-support/cli-output.js';
import { previewFromCli, rollbackFromCli } from './rollback.js';

let app: TestApp;
beforeAll(async () => {
  app = await testApp();
});
restoreConsoleAfterEach();

describe('retrace rollback', () => {
  it('previews, then runs a partial rollback to completion and prints the finished rollback', async () => {
    const ws = await aWorkspace(app);
    const ann = await aContact(ws, { firstName: 'Ann' });
    const at = aPoint(app);
    await ws.api('PATCH', `/contacts/${ann.id}`, { firstName: 'Annie' });
    const printed = captureOutput();
    const command = { workspace: ws.id, at, contacts: [ann.id], resumeAutomations: false };
    await previewFromCli(app.ctx, command);
    expect(JSON.parse(printed.at(-1) ?? 'null').counts.contacts).toEqual({ revive: 0, revert: 1, remove: 0 });
    await rollbackFromCli(app.ctx, command);
    expect(JSON.parse(printed.at(-1) ?? 'null')).toMatchObject({ status: 'succeeded', counts: { contacts: { revert: 1 } }, skipped: [] });
    expect(process.exitCode).toBeUndefined();
    expect((await ws.api('GET', `/contacts/${ann.id}`)).body.firstName).toBe('Ann');
  });

  it('leaves a full rollback awaiting a second admin’s approval', async () => {
    const ws = await aWorkspace(app);
    const printed = captureOutput();
    await rollbackFromCli(app.ctx, { workspace: ws.id, at: aPoint(app), resumeAutomations: false });
    expect(printed.at(-1)).toMatch(/^Rollback \S+ awaits approval/);
    expect((await ws.api('GET', '/rollbacks')).body.data).toEqual([expect.objectContaining({ status: 'awaiting_approval', requestedBy: null })]);
  });

  it('prints the refusal and exits 1 for a point outside the recoverable window', async () => {
    const ws = await aWorkspace(app);
    const printed = captureOutput();
    await rollbackFromCli(app.ctx, { workspace: ws.id, at: '2020-01-01T00:00:00.000Z', resumeAutomations: false });
    expect(printed.at(-1)).toMatch(/^point_not_recoverable: /);
    expect(process.exitCode).toBe(1);
  });
});
