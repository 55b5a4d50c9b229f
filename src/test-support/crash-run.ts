/**
 * `npm run crash -- --kills 200 [--engine pglite|server] [--contacts 3000] [--per-round 10] [--seed 1] [--batch 150]`:
 * the crash harness's long run (src/test-support/crash.ts). Each round kills an import,
 * its undo, a restore and a full rollback `--per-round` times each (default 10), and once
 * each the requests of a maintenance pass, the undo, the restore and the approval; rounds
 * run until `--kills` kills are done. Prints each round's figures and a summary; exits 1 if
 * an invariant broke. The server engine uses CRASH_SERVER_URL (default
 * postgres://postgres@127.0.0.1:5432/test).
 */
import { isDeepStrictEqual } from 'node:util';
import { crashRun, type Engine } from './crash.js';

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

const engine = option('engine', 'pglite') as Engine;
if (engine !== 'pglite' && engine !== 'server') throw new Error('--engine is pglite or server');
const kills = Number(option('kills', '200'));
const contacts = Number(option('contacts', '3000'));
const perRound = Number(option('per-round', '10'));
const batchSize = Number(option('batch', String(Math.max(50, Math.ceil(contacts / 20)))));
let seed = Number(option('seed', '1'));
const serverUrl = process.env.CRASH_SERVER_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
};

const all = { kills: 0, duringJobs: 0, resume: [] as number[], start: [] as number[], broken: 0, rounds: 0, sites: {} as Record<string, number> };
const started = Date.now();
while (all.kills < kills) {
  const { invariants, expected, figures } = await crashRun({ engine, contacts, kills: perRound, seed, serverUrl: engine === 'server' ? serverUrl : undefined, batchSize });
  const broken = Object.keys(expected).filter((key) => !isDeepStrictEqual(invariants[key as keyof typeof invariants], expected[key as keyof typeof expected]));
  all.rounds += 1;
  all.kills += figures.kills;
  all.duringJobs += figures.killsDuringJobs;
  all.resume.push(...figures.resumeMs);
  all.start.push(...figures.startMs);
  for (const [site, n] of Object.entries(figures.killSites)) all.sites[site] = (all.sites[site] ?? 0) + n;
  if (broken.length > 0) all.broken += 1;
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  console.log(
    `round ${all.rounds} (seed ${seed}): ${figures.kills} kills (${figures.killsDuringJobs} during a job), import ${s(figures.importMs)}, undo ${s(figures.undoMs)}, ` +
      `restore ${s(figures.restoreMs)}, rollback ${s(figures.rollbackMs)}, round ${s(figures.totalMs)}, resumed in p50 ${percentile(figures.resumeMs, 50)} ms / max ${Math.max(0, ...figures.resumeMs)} ms, ` +
      `${invariants.messagesMailed}/${invariants.messagesInLedger} welcome emails mailed` +
      (broken.length > 0
        ? `  BROKEN: ${JSON.stringify(Object.fromEntries(broken.map((k) => [k, { expected: expected[k as keyof typeof expected], got: invariants[k as keyof typeof invariants] }])))}`
        : '  invariants hold'),
  );
  seed += 1;
}
console.log(
  `${engine}, ${contacts} contacts: ${all.kills} SIGKILLs in ${all.rounds} rounds (${all.duringJobs} during a job) in ${Math.round((Date.now() - started) / 1000)} s; ` +
    `start p50 ${percentile(all.start, 50)} ms; resume after restart p50 ${percentile(all.resume, 50)} ms, p95 ${percentile(all.resume, 95)} ms, max ${Math.max(0, ...all.resume)} ms; ` +
    `kills by where they landed: ${JSON.stringify(all.sites)}; rounds with a broken invariant: ${all.broken}`,
);
process.exitCode = all.broken > 0 ? 1 : 0;
