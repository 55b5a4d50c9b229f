import rateLimit, { normalizeIP, type FastifyRateLimitStore, type FastifyRateLimitStoreCtor, type RateLimitOptions } from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Clock } from '../clock.js';
import { AppError } from './errors.js';

/** The most addresses (or form and address pairs) one limit keeps count of. */
const maxKeysCounted = 10_000;

/**
 * @fastify/rate-limit's counting, by the injected clock rather than Date.now(), so the
 * test clock moves its windows as it moves every other time rule. A fixed window per
 * key: the first request starts it, and `max` requests fit in it. In memory, per server
 * process: a restart forgives the clients that were limited, which is acceptable for
 * limits that keep out floods and guessing, not for quotas. At most maxKeysCounted keys
 * are kept: past that, windows that ended are forgotten, and then the oldest ones (whose
 * clients are forgiven early).
 */
function clockedWindows(clock: Clock): FastifyRateLimitStoreCtor {
  return class ClockedWindows implements FastifyRateLimitStore {
    private readonly windows = new Map<string, { count: number; startMs: number }>();

    incr(key: string, callback: (error: Error | null, result?: { current: number; ttl: number }) => void, timeWindow: number): void {
      const now = clock.now().getTime();
      const open = this.openWindow(key, now, timeWindow);
      const window = open ? { count: open.count + 1, startMs: open.startMs } : { count: 1, startMs: now };
      this.windows.delete(key);
      this.windows.set(key, window);
      if (this.windows.size > maxKeysCounted) this.forget(now, timeWindow);
      callback(null, { current: window.count, ttl: window.startMs + timeWindow - now });
    }

    /** The count so far, changing nothing (`createRateLimit(...)(request, { increment: false })`). */
    read(key: string, callback: (error: Error | null, result?: { current: number; ttl: number }) => void, timeWindow: number): void {
      const now = clock.now().getTime();
      const open = this.openWindow(key, now, timeWindow);
      callback(null, open ? { current: open.count, ttl: open.startMs + timeWindow - now } : { current: 0, ttl: 0 });
    }

    child(): FastifyRateLimitStore {
      return new ClockedWindows();
    }

    private openWindow(key: string, now: number, timeWindow: number) {
      const window = this.windows.get(key);
      return window && window.startMs + timeWindow > now ? window : undefined;
    }

    private forget(now: number, timeWindow: number): void {
      for (const [key, window] of this.windows) if (window.startMs + timeWindow <= now) this.windows.delete(key);
      for (const key of this.windows.keys()) {
        if (this.windows.size <= maxKeysCounted) break;
        this.windows.delete(key);
      }
    }
  };
}

/** The contract's 429: `rate_limited`, with the seconds to wait (also in `Retry-After`). */
export const rateLimited = (message: string, retryAfterSeconds: number) => new AppError(429, 'rate_limited', message, { retryAfterSeconds });

/** A client's address as limits count it: an IPv6 client by its /64, as @fastify/rate-limit does. */
const clientKey = (request: FastifyRequest) => normalizeIP(request.ip);

/**
 * Failed authentication, per client address: an address that sent `max` requests with
 * an Authorization header answered 401 within `windowSeconds` is answered 429 for the
 * rest of that window, before its token is looked up. Requests without the header are
 * not counted (they try no token), and the health check is never refused.
 */
export const authFailureLimit = { max: 20, windowSeconds: 60 } as const;

/** Public form submissions, per form and client address: `max` within `windowSeconds`. */
export const formSubmissionLimit = { max: 10, windowSeconds: 60 } as const;

/**
 * The rate limit of a route (RouteSpec.rateLimit): `max` requests per `windowSeconds`
 * for each key, the client's address with what `keyOf` adds (a form's id, say), counted
 * as the request arrives (before its body is read). Over it: 429 `rate_limited` with
 * `Retry-After`.
 */
export function routeRateLimit(
  limit: { max: number; windowSeconds: number },
  message: string,
  keyOf: (request: FastifyRequest) => string,
): RateLimitOptions {
  return {
    max: limit.max,
    timeWindow: limit.windowSeconds * 1000,
    hook: 'onRequest',
    keyGenerator: (request) => `${keyOf(request)}\u0000${clientKey(request)}`,
    errorResponseBuilder: (_request, context) => rateLimited(message, Math.ceil(context.ttl / 1000)),
  };
}

const withAuthorization = (request: FastifyRequest) => request.headers.authorization !== undefined && request.url.split('?')[0] !== '/api/v1/health';

/**
 * Registers @fastify/rate-limit (no global limit: routes name theirs, see
 * routeRateLimit) on the injected clock, and the limit on failed authentication.
 */
export async function registerRateLimits(app: FastifyInstance, clock: Clock): Promise<void> {
  await app.register(rateLimit, { global: false, store: clockedWindows(clock), addHeadersOnExceeding: { 'x-ratelimit-limit': false, 'x-ratelimit-remaining': false, 'x-ratelimit-reset': false } });
  const failures = app.createRateLimit({
    max: authFailureLimit.max,
    timeWindow: authFailureLimit.windowSeconds * 1000,
    keyGenerator: (request) => `auth\u0000${clientKey(request)}`,
  });
  app.addHook('onRequest', async (request, reply) => {
    if (!withAuthorization(request)) return;
    const counted = await failures(request, { increment: false });
    if (counted.isAllowed || counted.remaining > 0) return;
    reply.header('retry-after', counted.ttlInSeconds);
    throw rateLimited('Too many failed authentications from this address; try again later', counted.ttlInSeconds);
  });
  app.addHook('onSend', async (request, reply, payload) => {
    if (reply.statusCode === 401 && withAuthorization(request)) await failures(request);
    return payload;
  });
}
