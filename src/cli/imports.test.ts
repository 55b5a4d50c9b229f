import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { parse } from 'csv-parse/sync';
import { beforeAll, describe, expect, it } from 'vitest';
import { aContact, aWorkspace, testApp, type TestApp } from '../test-support/harness.js';
import { captureOutput, restoreConsoleAfterEach } from '../test-support/cli-output.js';
import { columnsOfMapOption, exportFromCli, importFromCli } from './imports.js';

let app: TestApp;
beforeAll(async () => {
  app = await testApp();
});
restoreConsoleAfterEach();

const dir = mkdtempSync(path.join(tmpdir(), 'retrace-cli-import-'));
function aCsvFile(name: string, text: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

describe('retrace import', () => {
  it('imports the file to completion and prints the finished import', async () => {
    const ws = await aWorkspace(app);
    const file = aCsvFile('people.csv', 'Email,First name,Tags\nada@cli.test,Ada,VIP;Early\ngrace@cli.test,Grace,\nnot-an-email,X,\n');
    const printed = captureOutput();
    await importFromCli(app.ctx, { file, workspace: ws.id, map: 'Email=email,First name=firstName,Tags=tag', mode: 'create', confirmOverage: false });
    const done = JSON.parse(printed.find((line) => line.startsWith('{')) ?? 'null');
    expect(done).toMatchObject({ status: 'succeeded', rows: 3, created: 2, failed: 1, fileName: 'people.csv', createdBy: null, tagsCreated: 2 });
    expect(printed.at(-1)).toBe(`1 rows were not loaded: GET /api/v1/imports/${done.id}/errors?format=csv lists them`);
    expect(process.exitCode).toBeUndefined();
    const contacts = (await ws.api('GET', '/contacts')).body.data;
    expect(contacts.map((c: { email: string; firstName: string }) => [c.email, c.firstName]).sort()).toEqual([
      ['ada@cli.test', 'Ada'],
      ['grace@cli.test', 'Grace'],
    ]);
  });

  it('prints the refusal and exits 1 for a mapping naming a header the file does not have, importing nothing', async () => {
    const ws = await aWorkspace(app);
    const file = aCsvFile('mismatch.csv', 'Email\nada@cli.test\n');
    const printed = captureOutput();
    await importFromCli(app.ctx, { file, workspace: ws.id, map: 'Mail=email', mode: 'upsert', confirmOverage: false });
    expect(printed.at(-1)).toMatch(/^invalid_request: The mapping does not fit the file .*"Mail"/);
    expect(process.exitCode).toBe(1);
    expect((await ws.api('GET', '/imports')).body.data).toEqual([]);
  });

  it('says so and exits 1 when the file cannot be read', async () => {
    const ws = await aWorkspace(app);
    const printed = captureOutput();
    await importFromCli(app.ctx, { file: path.join(dir, 'missing.csv'), workspace: ws.id, map: 'Email=email', mode: 'create', confirmOverage: false });
    expect(printed.at(-1)).toMatch(/^the file cannot be read: ENOENT/);
    expect(process.exitCode).toBe(1);
  });

  it('reads --map as Header=target pairs, or as the columns in JSON for headers with commas', () => {
    expect(columnsOfMapOption('Email=email, First = firstName,News=list:abc')).toEqual({ Email: 'email', First: 'firstName', News: 'list:abc' });
    expect(columnsOfMapOption('{"Name, first":"firstName","E":"email"}')).toEqual({ 'Name, first': 'firstName', E: 'email' });
    expect(() => columnsOfMapOption('Email')).toThrow('--map: "Email" is not Header=target');
  });
});

describe('retrace export', () => {
  it('writes the matching contacts as CSV, header row first', async () => {
    const ws = await aWorkspace(app);
    const ada = await aContact(ws, { email: 'ada@cli.test', firstName: 'Ada', lastName: 'Lovelace' });
    const away = await aContact(ws, { email: 'away@cli.test' });
    await ws.api('POST', `/contacts/${away.id}/archive`);
    captureOutput();
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (chunk: Buffer) => chunks.push(chunk));
    await exportFromCli(app.ctx, { workspace: ws.id, status: 'active' }, out);
    const rows = parse(Buffer.concat(chunks).toString('utf8')) as string[][];
    expect(rows.map((r) => r.slice(0, 4))).toEqual([
      ['id', 'email', 'firstName', 'lastName'],
      [ada.id, 'ada@cli.test', 'Ada', 'Lovelace'],
    ]);
  });
});
