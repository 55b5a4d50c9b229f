import helmet, { type FastifyHelmetOptions } from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';

/**
 * The Content-Security-Policy of every answer. The web UI (web/dist, built by Vite) is
 * scripts and styles of its own origin only, with no inline script or style element
 * (React sets `style` through the DOM, which style-src does not govern) and a few
 * `data:` images (the favicon, the search field's icon); it talks to the API on its own
 * origin. Nothing may frame it, and no page may post a form elsewhere. No
 * `upgrade-insecure-requests`: the server speaks plain HTTP (TLS is a proxy's), and on a
 * LAN address that directive would send the UI's own requests to an https:// that is
 * not there.
 */
export const contentSecurityPolicy = {
  'default-src': ["'self'"],
  'base-uri': ["'none'"],
  'script-src': ["'self'"],
  'style-src': ["'self'"],
  'img-src': ["'self'", 'data:'],
  'font-src': ["'self'"],
  'connect-src': ["'self'"],
  'object-src': ["'none'"],
  'frame-ancestors': ["'none'"],
  'form-action': ["'self'"],
} as const;

/**
 * Helmet's headers on every answer, the API's and the web UI's: the policy above,
 * `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY` (frame-ancestors for old
 * browsers), and `Referrer-Policy: no-referrer`, since the sign-in link carries a token
 * in its fragment and no page should tell another where it came from. No
 * Strict-Transport-Security: it belongs to whoever terminates TLS, which this server
 * does not.
 */
const helmetOptions: FastifyHelmetOptions = {
  global: true,
  contentSecurityPolicy: { useDefaults: false, directives: { ...contentSecurityPolicy } },
  frameguard: { action: 'deny' },
  referrerPolicy: { policy: 'no-referrer' },
  strictTransportSecurity: false,
};

/** Answers that never carry personal data, and so may be cached. */
const cacheableApiPaths = new Set(['/api/v1/health']);

/**
 * Security headers on every answer, and `Cache-Control: no-store` on every API answer
 * (errors included) but the health check: nearly all of them carry contacts' or users'
 * data, which no browser or proxy cache should keep.
 */
export async function registerSecurityHeaders(app: FastifyInstance): Promise<void> {
  await app.register(helmet, helmetOptions);
  app.addHook('onSend', async (request, reply, payload) => {
    const pathname = request.url.split('?')[0];
    if (pathname.startsWith('/api/v1/') && !cacheableApiPaths.has(pathname)) reply.header('cache-control', 'no-store');
    return payload;
  });
}
