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
