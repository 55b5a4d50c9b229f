import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { sql } from 'kysely';
import type { Db } from '../db/database.js';
import type { Permission } from '../users/permissions.js';

/** Who is calling: the operator, or one user of one workspace with their role's permissions. */
export type Principal =
  | { kind: 'operator' }
  | { kind: 'user'; workspaceId: string; userId: string; roleName: string; permissions: ReadonlySet<Permission> };

export type UserPrincipal = Extract<Principal, { kind: 'user' }>;

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/**
 * A new API token. Its workspace id is in clear, so authenticating it is a lookup scoped
 * by workspace like every other query; only the hash is stored.
 */
export function newToken(workspaceId: string): string {
  return `rt.${workspaceId}.${randomBytes(24).toString('base64url')}`;
}

function sameSecret(a: string, b: string): boolean {
  const left = Buffer.from(hashToken(a));
  const right = Buffer.from(hashToken(b));
  return timingSafeEqual(left, right);
}

export async function resolvePrincipal(db: Db, operatorToken: string, header: string | undefined): Promise<Principal | null> {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  if (!match) return null;
  const token = match[1];
  if (sameSecret(token, operatorToken)) return { kind: 'operator' };
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== 'rt') return null;
  const workspaceId = parts[1];
  const { rows } = await sql<{ user_id: string; role_name: string; permissions: Permission[] }>`
    SELECT u.id AS user_id, r.name AS role_name, r.permissions
    FROM api_tokens t
    JOIN users u ON u.workspace_id = t.workspace_id AND u.id = t.user_id
    JOIN roles r ON r.workspace_id = u.workspace_id AND r.id = u.role_id
    WHERE t.workspace_id = ${workspaceId} AND t.token_hash = ${hashToken(token)}`.execute(db);
  const row = rows[0];
  if (!row) return null;
  return {
    kind: 'user',
    workspaceId,
    userId: row.user_id,
    roleName: row.role_name,
    permissions: new Set(row.permissions),
  };
}
