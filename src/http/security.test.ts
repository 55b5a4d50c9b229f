import { beforeAll, describe, expect, it } from 'vitest';
import { aWorkspace, testApp, type TestApp } from '../test-support/harness.js';

let app: TestApp;
beforeAll(async () => {
  app = await testApp();
});

const policy =
  "default-src 'self';base-uri 'none';script-src 'self';style-src 'self';img-src 'self' data:;font-src 'self';connect-src 'self';object-src 'none';frame-ancestors 'none';form-action 'self'";

/** The security headers every answer carries, whatever it is. */
const securityHeaders = {
  'content-security-policy': policy,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

describe('security headers', () => {
  it('are on every API answer, successes and errors, and on the web UI and the OpenAPI document', async () => {
    const ws = await aWorkspace(app);
    const answers = await Promise.all([
      app.server.inject({ method: 'GET', url: '/api/v1/contacts', headers: { authorization: `Bearer ${ws.adminToken}` } }),
      app.server.inject({ method: 'GET', url: '/api/v1/contacts' }),
      app.server.inject({ method: 'POST', url: '/api/v1/contacts', headers: { authorization: `Bearer ${ws.adminToken}`, 'content-type': 'application/json' }, payload: '{' }),
      app.server.inject({ method: 'GET', url: '/api/v1/no-such-route' }),
      app.server.inject({ method: 'GET', url: '/api/v1/health' }),
      app.server.inject({ method: 'GET', url: '/' }),
      app.server.inject({ method: 'GET', url: '/contacts/some-page-of-the-ui' }),
      app.server.inject({ method: 'GET', url: '/api/docs/json' }),
    ]);
    expect(answers.map((a) => a.statusCode)).toEqual([200, 401, 400, 404, 200, 200, 200, 200]);
    for (const answer of answers) expect(answer.headers).toMatchObject(securityHeaders);
    expect(answers.map((a) => a.headers['strict-transport-security'])).toEqual(answers.map(() => undefined));
  });

  it('say no-store on every API answer but the health check, and leave the web UI cacheable', async () => {
    const ws = await aWorkspace(app);
    const auth = { authorization: `Bearer ${ws.adminToken}` };
    const cacheControl = async (url: string, headers: Record<string, string> = auth) => (await app.server.inject({ method: 'GET', url, headers })).headers['cache-control'];
    expect({
      contacts: await cacheControl('/api/v1/contacts?limit=1'),
      workspace: await cacheControl('/api/v1/workspace'),
      unauthenticated: await cacheControl('/api/v1/contacts', {}),
      notFound: await cacheControl('/api/v1/contacts/nobody'),
      health: await cacheControl('/api/v1/health', {}),
      ui: await cacheControl('/', {}),
    }).toEqual({ contacts: 'no-store', workspace: 'no-store', unauthenticated: 'no-store', notFound: 'no-store', health: undefined, ui: 'public, max-age=0' });
  });
});
