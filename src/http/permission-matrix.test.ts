import { beforeAll, describe, expect, it } from 'vitest';
import { permissions, builtinRoles, type Permission } from '../users/permissions.js';
import { routeAccess, type RouteAccess } from '../test-support/route-access.js';
import { aWorkspace, routeTable, testApp, type TestApp } from '../test-support/harness.js';

/**
 * The permission matrix (issue 19): every route the server registers, called as each kind
 * of caller, answers as the table in route-access.ts says. Callers: the built-in roles, a
 * custom role, another workspace's admin, no token, a revoked token. A caller allowed in
 * may meet a 400 or 404 (the body is `{}`, path ids match nothing, so nothing is
 * changed); what is checked exactly is who gets 401 and 403 and with which code.
 */

interface Caller {
  name: string;
  token: string | null;
  /** What the caller's role holds; null: no workspace token that works. */
  holds: ReadonlySet<Permission> | null;
  /** Of another workspace: a route that names an id must not succeed for it. */
  foreign?: boolean;
}

type Expected = { allowed: true } | { status: 401; code: 'unauthenticated' } | { status: 403; code: 'forbidden'; permission?: Permission };

/** What a caller must get from a route of the given access. */
export function expectedOutcome(access: RouteAccess, holds: ReadonlySet<Permission> | null): Expected {
  if (access === 'public') return { allowed: true };
  if (holds === null) return { status: 401, code: 'unauthenticated' };
  if (access === 'operator') return { status: 403, code: 'forbidden' };
  if (access === 'any user') return { allowed: true };
  const needed = typeof access === 'string' ? access : access.operatorOr;
  return holds.has(needed) ? { allowed: true } : { status: 403, code: 'forbidden', permission: needed };
}

const customPermissions: Permission[] = ['contacts.read', 'audit.read', 'snapshots.manage'];
const noSuchId = 'matrix-no-such-id';

let app: TestApp;
let callers: Caller[];
let registered: { method: string; url: string }[];

beforeAll(async () => {
  app = await testApp();
  const [ws, other] = [await aWorkspace(app), await aWorkspace(app)];
  await ws.api('POST', '/roles', { name: 'matrix-custom', permissions: customPermissions });
  const role = async (name: string) => (await ws.userWithRole(name)).token;
  const revoked = (await ws.api('POST', '/tokens', { name: 'revoked integration', role: 'admin' })).body;
  await ws.api('DELETE', `/tokens/${revoked.token.id}`);
  callers = [
    { name: 'admin', token: ws.adminToken, holds: new Set(builtinRoles.admin) },
    { name: 'manager', token: await role('manager'), holds: new Set(builtinRoles.manager) },
    { name: 'member', token: await role('member'), holds: new Set(builtinRoles.member) },
    { name: 'custom role', token: await role('matrix-custom'), holds: new Set(customPermissions) },
    { name: 'another workspace’s admin', token: other.adminToken, holds: new Set(permissions), foreign: true },
    { name: 'no token', token: null, holds: null },
    { name: 'a revoked token', token: revoked.secret, holds: null },
  ];
  registered = (await routeTable(app.ctx))
    .filter((route) => route.url.startsWith('/api/v1/') && route.method !== 'HEAD')
    .map((route) => ({ method: String(route.method), url: route.url.slice('/api/v1'.length) }));
});

let addresses = 0;

/** One request, from an address of its own (failed authentications are rate-limited per address). */
async function callAs(caller: Caller, method: string, url: string) {
  addresses += 1;
  const res = await app.server.inject({
    method: method as 'GET',
    url: `/api/v1${url.replace(/:[A-Za-z]+/g, noSuchId)}`,
    remoteAddress: `10.${(addresses >> 16) & 255}.${(addresses >> 8) & 255}.${addresses & 255}`,
    headers: caller.token ? { authorization: `Bearer ${caller.token}` } : {},
    ...(['POST', 'PUT', 'PATCH'].includes(method) ? { payload: {} } : {}),
  });
  const body = res.headers['content-type']?.toString().includes('application/json') && res.body ? JSON.parse(res.body) : null;
  return { status: res.statusCode, error: body?.error as { code: string; details: Record<string, unknown> } | undefined };
}

/** Why an answer is not the expected one, or null. */
function mismatch(expected: Expected, got: { status: number; error?: { code: string; details: Record<string, unknown> } }, foreign: boolean, hasIds: boolean): string | null {
  if (got.status >= 500) return `got ${got.status}`;
  if ('allowed' in expected) {
    if (got.status === 401 || got.status === 403) return `expected to be let in, got ${got.status} ${got.error?.code}`;
    if (foreign && hasIds && got.status < 300) return `expected not to find another workspace’s id, got ${got.status}`;
    return null;
  }
  if (got.status !== expected.status || got.error?.code !== expected.code) return `expected ${expected.status} ${expected.code}, got ${got.status} ${got.error?.code ?? ''}`;
  if (expected.status === 403 && got.error?.details.permission !== expected.permission) {
    return `expected details.permission ${expected.permission ?? '(none)'}, got ${String(got.error?.details.permission)}`;
  }
  return null;
}

describe('the permission matrix', () => {
  it('names every route the server registers, and only those', () => {
    const keys = new Set(registered.map((r) => `${r.method} ${r.url}`));
    const missing = [...keys].filter((key) => !(key in routeAccess));
    const stale = Object.keys(routeAccess).filter((key) => !keys.has(key));
    expect(missing, `routes missing from src/test-support/route-access.ts (add a line each: who may call it): ${missing.join(', ')}`).toEqual([]);
    expect(stale, `rows of src/test-support/route-access.ts that name no route: ${stale.join(', ')}`).toEqual([]);
  });

  // One test a row, so a failure names its route; the test above finds rows missing.
  for (const [key, access] of Object.entries(routeAccess)) {
    const [method, url] = key.split(' ');
    it(`${key}: answers every caller as the table says (${typeof access === 'string' ? access : `operator or ${access.operatorOr}`})`, async () => {
      const answers = await Promise.all(callers.map((caller) => callAs(caller, method, url)));
      const failures = callers.flatMap((caller, i) => {
        const why = mismatch(expectedOutcome(access, caller.holds), answers[i], caller.foreign === true, url.includes(':'));
        return why ? [`${key} as ${caller.name}: ${why}`] : [];
      });
      expect(failures, failures.join('\n')).toEqual([]);
    });
  }
});
