import { readFile } from 'node:fs/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { oneConnectionDatabase } from '../test-support/harness.js';
import { tableTypesFile, tableTypesSource } from './table-types.js';

const releases: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const release of releases) await release();
});

describe('the checked-in table types (src/db/schema.ts)', () => {
  it('are what kysely-codegen writes for a freshly migrated database: run `npm run gen:db` after adding a migration', async () => {
    const { database, release } = await oneConnectionDatabase();
    releases.push(release);
    const fresh = await tableTypesSource(database);
    expect(await readFile(tableTypesFile, 'utf8'), 'src/db/schema.ts is out of date: run `npm run gen:db`').toBe(fresh);
  });
});
