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

const probe = (query: string) => `import { sql } from 'kysely';\nexport const q = sql\`${query}\`;\n`;

describe('who owns which table, in the SQL (npm run lint)', () => {
  it("refuses a feature's SQL or Kysely builder naming another feature's table, and names the owner", async () => {
    expect(await ownershipErrors('src/lists/probe.ts', probe('SELECT d.id FROM list_memberships m JOIN deals d ON d.id = m.list_id'))).toEqual([
      "lists's SQL names deals, which deals owns: call deals's service.ts (or list the exception, with why, in .ci/table-ownership.js)",
    ]);
    expect(await ownershipErrors('src/tags/probe.ts', probe('UPDATE contacts SET email = NULL'))).toHaveLength(1);
    expect(await ownershipErrors('src/tags/probe.ts', "import type { Db } from '../db/database.js';\nexport const q = (db: Db) => db.selectFrom('users').selectAll().execute();\n")).toHaveLength(1);
  });

  it("lets a feature name its own tables and an orchestrator or core name any", async () => {
    expect(await ownershipErrors('src/lists/probe.ts', probe('SELECT 1 FROM lists l JOIN list_memberships m ON m.list_id = l.id'))).toEqual([]);
    expect(await ownershipErrors('src/rollbacks/probe.ts', probe('UPDATE contacts SET status = 1 FROM deals'))).toEqual([]);
    expect(await ownershipErrors('src/history/probe.ts', probe('SELECT 1 FROM contacts'))).toEqual([]);
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
