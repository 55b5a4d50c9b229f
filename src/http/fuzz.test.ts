import { beforeAll, describe, expect, it } from 'vitest';
import { testApp, type TestApp } from '../test-support/harness.js';
import { fuzzedRoutes, fuzzRoutes } from '../test-support/route-fuzz.js';

let app: TestApp;
beforeAll(async () => {
  app = await testApp();
});

/** A few runs a route with a fixed seed keep `npm test` quick; `npm run fuzz` runs many more (docs/RELIABILITY.md). */
const runsPerRoute = 4;

describe('every route of the route table, fuzzed', () => {
  it('never answers 5xx, answers every error in the contract’s shape, and changes nothing when it answers 4xx', async () => {
    const routes = await fuzzedRoutes(app.ctx);
    const report = await fuzzRoutes(app, { seed: 19, runsPerRoute, routes });
    expect(report.failures).toEqual([]);
    // Every route was reached, and answered.
    expect(Object.keys(report.statuses)).toEqual(routes.map((route) => `${route.method} ${route.url}`));
    expect(Object.entries(report.statuses).filter(([, counts]) => Object.values(counts).reduce((a, b) => a + b, 0) < runsPerRoute)).toEqual([]);
  }, 300_000);
});
