/**
 * `npm run fuzz -- [--runs N] [--seed S] [--route TEXT]`: the route fuzzing of
 * src/http/fuzz.test.ts at length (N requests a route, 200 by default), on PGlite in
 * memory, or on the PostgreSQL database of RETRACE_FUZZ_DATABASE_URL (migrated, and left
 * with the run's workspace). Prints each route's answers by status and every rule broken,
 * and exits 1 if one was. Figures of runs are in docs/RELIABILITY.md.
 */
import { parseArgs } from 'node:util';
import { connectPGlite, connectPostgres, migrate } from '../db/database.js';
import { testApp } from './harness.js';
import { fuzzedRoutes, fuzzRoutes } from './route-fuzz.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '200' }, seed: { type: 'string', default: '19' }, route: { type: 'string', default: '' } } });
const runsPerRoute = Number(values.runs);
const seed = Number(values.seed);
if (!Number.isInteger(runsPerRoute) || runsPerRoute < 1 || !Number.isInteger(seed)) throw new Error('--runs is a whole number of requests a route (1 or more), --seed a whole number');

const url = process.env.RETRACE_FUZZ_DATABASE_URL;
const database = url ? await connectPostgres(url) : await connectPGlite(undefined);
await migrate(database);
try {
  const app = await testApp({ database });
  const routes = (await fuzzedRoutes(app.ctx)).filter((route) => `${route.method} ${route.url}`.includes(values.route));
  const report = await fuzzRoutes(app, { seed, runsPerRoute, routes, onRoute: (route) => process.stderr.write(`${route}\n`) });
  const totals: Record<string, number> = {};
  for (const counts of Object.values(report.statuses)) for (const [status, n] of Object.entries(counts)) totals[status] = (totals[status] ?? 0) + n;
  console.log(`${report.requests} requests to ${routes.length} routes (${runsPerRoute} a route, seed ${seed}) on ${url ? 'PostgreSQL' : 'PGlite'} in ${report.seconds.toFixed(1)} s`);
  console.log(`answers by status: ${JSON.stringify(totals)}`);
  for (const [route, counts] of Object.entries(report.statuses)) console.log(`  ${route.padEnd(56)} ${JSON.stringify(counts)}`);
  for (const failure of report.failures) console.log(`BROKEN ${failure.route}: ${failure.problem}\n  request: ${JSON.stringify(failure.request)}`);
  console.log(report.failures.length === 0 ? 'no rule broken' : `${report.failures.length} routes broke a rule`);
  await app.server.close();
  process.exitCode = report.failures.length === 0 ? 0 : 1;
} finally {
  await database.close();
}
