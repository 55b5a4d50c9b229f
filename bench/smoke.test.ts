import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

/**
 * The benchmarks' smoke run (`npm run bench -- --smoke`) on the suite's engine: every
 * benchmark to its end at a few hundred contacts, so that none of them rots between the
 * runs at full size (issue 15). Its figures prove only that each benchmark measures.
 */
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const onServer = Boolean(process.env.RETRACE_TEST_DATABASE);
const engine = onServer ? 'server' : 'pglite';
// pgdump and load compare with the PostgreSQL server's own tools and connections: the server only.
const expected = onServer
  ? ['restore', 'history', 'imports', 'undo', 'rollback', 'e2e', 'pgdump', 'search', 'load', 'storage']
  : ['restore', 'history', 'imports', 'undo', 'rollback', 'e2e', 'search', 'storage'];

interface Run {
  figures: { benchmark: string; engine: string; figures: Record<string, any> }[];
}

describe(`the benchmarks' smoke run on ${engine}`, () => {
  it('runs every benchmark to its end at small sizes, each reporting its figures', { timeout: 600_000 }, async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'retrace-bench-smoke-'));
    try {
      const figuresFile = path.join(dir, 'figures.json');
      await promisify(execFile)(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--smoke'], {
        cwd: root,
        env: {
          ...process.env,
          BENCH_ENGINES: engine,
          BENCH_FIGURES: figuresFile,
          ...(process.env.RETRACE_TEST_SERVER ? { BENCH_SERVER_URL: process.env.RETRACE_TEST_SERVER } : {}),
        },
        maxBuffer: 16 * 2 ** 20,
      });
      const run = JSON.parse(await readFile(figuresFile, 'utf8')) as Run;
      expect(run.figures.map((f) => f.benchmark)).toEqual(expected);
      expect(run.figures.every((f) => f.engine === engine)).toBe(true);
      const of = (name: string) => run.figures.find((f) => f.benchmark === name)?.figures ?? {};
      expect(of('restore').restoreMs).toBeGreaterThan(0);
      expect(of('history').capturedMedianMs).toBeGreaterThan(0);
      expect(of('history').captureOffMedianMs).toBeGreaterThan(0);
      expect(of('imports').created).toBe(200);
      expect(of('undo').binned).toBe(180);
      expect(of('rollback').rowsWritten).toBeGreaterThan(0);
      expect(of('e2e')).toMatchObject({ contacts: 40 });
      expect(of('e2e').totalMs).toBeGreaterThan(0);
      expect(of('e2e').archiveRate).toBeGreaterThan(0);
      for (const kind of ['emailPrefix', 'name', 'deletedRange']) expect(of('search').kinds[kind].p95).toBeGreaterThan(0);
      expect(of('storage').perChangedContactBefore).toBeGreaterThan(0);
      expect(of('storage').backupBytesPer1000Contacts).toBeGreaterThan(0);
      if (onServer) {
        expect(of('pgdump').ratio).toBeGreaterThan(0);
        expect(of('load').mixed).toMatchObject({ errors: 0, non2xx: 0, timeouts: 0 });
        expect(of('load').mixed.requests).toBeGreaterThan(0);
        expect(of('load').writes.errors).toBe(0);
        expect(of('load').writes.plainInsertPerSecond).toBeGreaterThan(0);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
