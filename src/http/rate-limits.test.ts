import { beforeAll, describe, expect, it } from 'vitest';
import { aWorkspace, operatorToken, testApp, type TestApp } from '../test-support/harness.js';
import { authFailureLimit } from './rate-limits.js';

let app: TestApp;
beforeAll(async () => {
  app = await testApp();
});

let addressCounter = 0;
/** A client address of its own, so one test's failures never count against another's. */
const aClientAddress = () => `198.18.0.${(addressCounter += 1)}`;

const get = (url: string, remoteAddress: string, token?: string) =>
  app.server.inject({ method: 'GET', url: `/api/v1${url}`, remoteAddress, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });

describe('failed authentication', () => {
  it('refuses an address that failed too often with 429 and Retry-After before looking at its token, and forgives it when the window ends', async () => {
    const ws = await aWorkspace(app);
    const address = aClientAddress();
    for (let i = 0; i < authFailureLimit.max; i += 1) expect((await get('/contacts', address, `rt.${ws.id}.guess${i}`)).statusCode).toBe(401);
    app.clock.advance(10);

    const wait = authFailureLimit.windowSeconds - 10;
    for (const token of [`rt.${ws.id}.one-more-guess`, ws.adminToken, operatorToken]) {
      const refused = await get('/workspace', address, token);
      expect(refused.statusCode).toBe(429);
      expect(refused.headers['retry-after']).toBe(String(wait));
      expect(JSON.parse(refused.body).error).toEqual({
        code: 'rate_limited',
        message: 'Too many failed authentications from this address; try again later',
        details: { retryAfterSeconds: wait },
      });
    }
    // Another address is not held back, nor is the health check.
    expect((await get('/workspace', aClientAddress(), ws.adminToken)).statusCode).toBe(200);
    expect((await get('/health', address)).statusCode).toBe(200);

    app.clock.advance(wait);
    expect((await get('/workspace', address, ws.adminToken)).statusCode).toBe(200);
    expect((await get('/workspace', address, 'nonsense')).statusCode).toBe(401);
  });

  it('counts only failures: requests with a good token, and requests with no token at all, never fill the window', async () => {
    const ws = await aWorkspace(app);
    const address = aClientAddress();
    for (let i = 0; i < authFailureLimit.max * 2; i += 1) {
      expect((await get('/workspace', address, ws.adminToken)).statusCode).toBe(200);
      expect((await get('/workspace', address)).statusCode).toBe(401);
    }
    for (let i = 0; i < authFailureLimit.max - 1; i += 1) await get('/workspace', address, 'wrong');
    expect((await get('/workspace', address, ws.adminToken)).statusCode).toBe(200);
    expect((await get('/workspace', address, 'wrong')).statusCode).toBe(401);
    expect((await get('/workspace', address, ws.adminToken)).statusCode).toBe(429);
  });

  it('counts an IPv6 client by its /64, so hopping addresses within it does not help', async () => {
    for (let i = 0; i < authFailureLimit.max; i += 1) await get('/workspace', `2001:db8:0:1::${(i + 1).toString(16)}`, 'wrong');
    expect((await get('/workspace', '2001:db8:0:1:ffff::1', 'wrong')).statusCode).toBe(429);
    expect((await get('/workspace', '2001:db8:0:2::1', 'wrong')).statusCode).toBe(401);
  });
});
