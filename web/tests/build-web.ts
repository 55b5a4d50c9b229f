import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const web = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const builtIndex = path.join(web, 'dist', 'index.html');

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(full) : statSync(full).mtimeMs);
  }
  return newest;
}

/**
 * Vitest global setup: builds the web UI (web/dist) when it is missing or older than its
 * sources, once per run and before any worker starts a server, since the server serves
 * web/dist only if it exists when the server is built.
 */
export default function buildWeb(): void {
  const sources = Math.max(newestSource(path.join(web, 'src')), statSync(path.join(web, 'index.html')).mtimeMs, statSync(path.join(web, 'vite.config.ts')).mtimeMs);
  if (existsSync(builtIndex) && statSync(builtIndex).mtimeMs >= sources) return;
  const vite = path.resolve(web, '../node_modules/vite/bin/vite.js');
  execFileSync(process.execPath, [vite, 'build', '--config', path.join(web, 'vite.config.ts'), '--logLevel', 'warn'], {
    stdio: 'inherit',
    // Vitest sets NODE_ENV=test, which would make Vite bundle React's development build.
    env: { ...process.env, NODE_ENV: 'production' },
  });
}
