import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const eslint = new ESLint({ cwd: root });

/** The layering rule's complaints (eslint.config.js, .ci/layering.js) about `code` as the file `file`. */
async function layeringErrors(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(root, file) });
  return result.messages.filter((m) => m.ruleId === 'boundaries/dependencies').map((m) => m.message);
}

/** The table-ownership rule's complaints (.ci/table-ownership.js) about `code` as the file `file`. */
async function ownershipErrors(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(root, file) });
  return result.messages.filter((m) => m.ruleId === 'retrace/table-ownership').map((m) => m.message);
}

/** The tables, sorted, that the rule says `code` as src/lists/probe.ts names though others own them. */
async function foreignTables(code: string): Promise<string[]> {
  return (await ownershipErrors('src/lists/probe.ts', code)).map((m) => m.split(' ')[3].replace(',', '')).sort();
}

const probe = (query: string) => `import { sql } from 'kysely';\nexport const q = sql\`${query}\`;\n`;

describe('who owns which table, in the SQL (npm run lint)', () => {
  it("refuses a feature's SQL or Kysely builder naming another feature's table, and names the owner", async () => {
    expect(await ownershipErrors('src/lists/probe.ts', probe('SELECT d.id FROM list_memberships m JOIN deals d ON d.id = m.list_id'))).toEqual([
      "lists's SQL names deals, which deals owns: call deals's service.ts (or list the exception, with why, in .ci/table-ownership.js)",
    ]);
    expect(await ownershipErrors('src/tags/probe.ts', probe('UPDATE contacts SET email = NULL'))).toHaveLength(1);
    expect(await ownershipErrors('src/tags/probe.ts', "import type { Db } from '../db/database.js';\nexport const q = (db: Db) => db.selectFrom('users').selectAll().execute();\n")).toHaveLength(1);
  });

  it('finds every table of a comma-separated list, after USING, with a public. prefix, and after an interpolation', async () => {
    const names = (query: string) => foreignTables(probe(query));
    expect(await names('SELECT 1 FROM lists l, list_memberships AS m, contacts c, deals')).toEqual(['contacts', 'deals']);
    expect(await names('SELECT 1 FROM (SELECT 1) x, tags t JOIN list_memberships USING (list_id), users')).toEqual(['tags', 'users']);
    expect(await names('DELETE FROM list_memberships m USING contacts c WHERE c.id = m.contact_id')).toEqual(['contacts']);
    expect(await names('UPDATE public.contacts SET status = 1')).toEqual(['contacts']);
    expect(await names('SELECT 1 FROM unnest(${[]}::text[]) WITH ORDINALITY AS u(id, n), public.accounts a')).toEqual(['accounts']);
    expect(await names('SELECT 1 FROM ${sql`x`} JOIN contacts c ON c.id = k.key')).toEqual(['contacts']);
  });

  it("finds the tables of Kysely's joins and of sql.table", async () => {
    const code = [
      "import { sql } from 'kysely';",
      "import type { Db } from '../db/database.js';",
      "export const q = (db: Db) => db.selectFrom('lists as l')",
      "  .innerJoin('contacts as c', 'c.id', 'l.id').leftJoin('public.deals as d', 'd.id', 'l.id')",
      "  .rightJoin('tags', 'tags.id', 'l.id').fullJoin('accounts as a', 'a.id', 'l.id').selectAll().execute();",
      "export const t = sql`SELECT 1 FROM ${sql.table('users')}`;",
    ].join('\n');
    expect(await foreignTables(code)).toEqual(['accounts', 'contacts', 'deals', 'tags', 'users']);
  });

  it("finds a table given by name to a helper or written as a catalogue's table: or tableName: property", async () => {
    const code = [
      "import { sql } from 'kysely';",
      "import { lookUp } from '../db/keys.js';",
      "export const q = sql`SELECT 1 FROM k ${lookUp('contacts', 'c', sql`c.id = k.key`)}`;",
      "export const catalogue = { deal: { table: 'deals', held: [{ table: 'deal_contacts', key: 'deal_id' }] }, own: { table: 'lists' } };",
      "export const rolledBack = [{ tableName: 'account_contacts', keyColumns: ['account_id'] }];",
      "export const labels = [lookUp('Contacts are kept', 'x', sql``), { name: 'tags', label: 'accounts' }];",
    ].join('\n');
    expect(await foreignTables(code)).toEqual(['account_contacts', 'contacts', 'deal_contacts', 'deals']);
  });

  it('reads no alias, column, string or comment as a table', async () => {
    const own = (query: string) => foreignTables(probe(query));
    expect(await own('SELECT EXTRACT(EPOCH FROM m.created_at) FROM lists deals, list_memberships AS tags WHERE l.id IS DISTINCT FROM contacts.id')).toEqual([]);
    expect(await own("INSERT INTO lists (id, tags) VALUES ('FROM contacts', 1) ON CONFLICT (id) DO UPDATE SET tags = 1, deals = 2 -- JOIN users")).toEqual([]);
    expect(await own('SELECT 1 FROM lists l /* FROM deals */ ORDER BY l.id FOR UPDATE OF l SKIP LOCKED')).toEqual([]);
  });

  it("refuses an orchestrator's SQL naming a feature's table, unless the pair is a listed exception", async () => {
    expect(await ownershipErrors('src/merge/probe.ts', probe('INSERT INTO list_memberships (list_id) SELECT 1'))).toEqual([
      "merge's SQL names list_memberships, which lists owns: call lists's service.ts (or list the exception, with why, in .ci/table-ownership.js)",
    ]);
    expect(await ownershipErrors('src/retention/probe.ts', probe('DELETE FROM contact_history h USING contacts c'))).toHaveLength(2);
    expect(await ownershipErrors('src/rollbacks/probe.ts', probe('UPDATE contacts SET status = 1 FROM deals'))).toEqual([]);
  });

  it('lets a feature name its own tables, and core and wiring name any', async () => {
    expect(await ownershipErrors('src/lists/probe.ts', probe('SELECT 1 FROM lists l JOIN list_memberships m ON m.list_id = l.id'))).toEqual([]);
    expect(await ownershipErrors('src/history/probe.ts', probe('SELECT 1 FROM contacts'))).toEqual([]);
    expect(await ownershipErrors('src/seed/probe.ts', probe('INSERT INTO deals SELECT 1 FROM contacts'))).toEqual([]);
  });
});

describe('the layering of src/ (npm run lint)', () => {
  it("refuses a feature importing another feature's queries.ts, a core folder importing a feature, and a feature calling an orchestrator", async () => {
    expect(await layeringErrors('src/lists/probe.ts', "import { errorsPage } from '../imports/queries.js';\nexport const x = errorsPage;\n")).toHaveLength(1);
    expect(await layeringErrors('src/db/probe.ts', "import { getDeal } from '../deals/service.js';\nexport const x = getDeal;\n")).toHaveLength(1);
    expect(await layeringErrors('src/clock.ts', "import { getDeal } from './deals/service.js';\nexport const x = getDeal;\n")).toHaveLength(1);
    expect(await layeringErrors('src/tags/probe.ts', "import { restoreContactsNow } from '../recycle-bin/service.js';\nexport const x = restoreContactsNow;\n")).toHaveLength(1);
  });

  it("lets a feature call another's service.ts, an orchestrator call features' services, and anything use core", async () => {
    expect(await layeringErrors('src/lists/probe.ts', "import { getDeal } from '../deals/service.js';\nimport { inTransaction } from '../db/database.js';\nexport const x = [getDeal, inTransaction];\n")).toEqual([]);
    expect(await layeringErrors('src/merge/probe.ts', "import { getDeal } from '../deals/service.js';\nimport { restoreContactsNow } from '../recycle-bin/service.js';\nexport const x = [getDeal, restoreContactsNow];\n")).toEqual([]);
  });
});
