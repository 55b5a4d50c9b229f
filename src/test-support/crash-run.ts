/**
 * `npm run crash -- --kills 200 [--engine pglite|server] [--contacts 3000] [--seed 1] [--batch 150]`:
 * the crash harness's long run (src/test-support/crash.ts). Each round kills a restore and
 * a full rollback `--per-round` times (default 10) each; rounds run until `--kills` kills
 * are done. Prints each round's figures and a summary; exits 1 if an invariant broke.
 * The server engine uses CRASH_SERVER_URL (default postgres://postgres@127.0.0.1:5432/test).
 */
import { crashRun, expectedInvariants, type Engine } from './crash.js';

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

const all = { kills: 0, duringJobs: 0, resume: [] as number[], start: [] as number[], broken: 0, rounds: 0 };
const started = Date.now();
while (all.kills < kills) {
  const { invariants, figures } = await crashRun({ engine, contacts, kills: perRound, seed, serverUrl: engine === 'server' ? serverUrl : undefined, batchSize });
  const expected = expectedInvariants(contacts);
  const broken = Object.entries(expected).filter(([key, value]) => invariants[key as keyof typeof invariants] !== value);
  all.rounds += 1;
  all.kills += figures.kills;
  all.duringJobs += figures.killsDuringJobs;
  all.resume.push(...figures.resumeMs);
  all.start.push(...figures.startMs);
  if (broken.length > 0) all.broken += 1;
  console.log(
    `round ${all.rounds} (seed ${seed}): ${figures.kills} kills (${figures.killsDuringJobs} during a job), restore ${(figures.restoreMs / 1000).toFixed(1)} s, ` +
      `rollback ${(figures.rollbackMs / 1000).toFixed(1)} s, resumed in p50 ${percentile(figures.resumeMs, 50)} ms / max ${Math.max(0, ...figures.resumeMs)} ms` +
      (broken.length > 0 ? `  BROKEN: ${JSON.stringify(Object.fromEntries(broken.map(([k]) => [k, { expected: expected[k as keyof typeof expected], got: invariants[k as keyof typeof invariants] }])))}` : '  invariants hold'),
  );
  seed += 1;
}
console.log(
  `${engine}, ${contacts} contacts: ${all.kills} SIGKILLs in ${all.rounds} rounds (${all.duringJobs} during a job) in ${Math.round((Date.now() - started) / 1000)} s; ` +
    `start p50 ${percentile(all.start, 50)} ms; resume after restart p50 ${percentile(all.resume, 50)} ms, p95 ${percentile(all.resume, 95)} ms, max ${Math.max(0, ...all.resume)} ms; ` +
    `rounds with a broken invariant: ${all.broken}`,
);
process.exitCode = all.broken > 0 ? 1 : 0;
