import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { sql } from 'kysely';
import { prepared } from '../db/prepared.js';
import type { Db, Tx } from '../db/database.js';
import type { Permission } from '../users/permissions.js';

/**
 * Who is calling: the operator, or a token of one workspace with its role's permissions.
 * A user's own token acts as that user; an integration's token (named, with a role of its
 * own, POST /tokens) acts as itself: `userId`, the actor its changes carry, is then the
 * token's id, and `ownerId` the user who created it.
 */
export type Principal =
  | { kind: 'operator' }
  | {
      kind: 'user';
      workspaceId: string;
      /** The actor of the caller's changes: the user, or the integration token's own id. */
      userId: string;
      /** The token the request came through. */
      tokenId: string;
      /** The user the token belongs to: the user themselves, or who created the integration's token. */
      ownerId: string;
      /** Whether the token is an integration's (named, acting as itself). */
      integration: boolean;
      roleId: string;
      roleName: string;
      permissions: ReadonlySet<Permission>;
    };

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

/** A token's last use is recorded at most this often, so a busy integration writes once a minute, not every request. */
const lastUseResolutionMs = 60_000;

interface TokenRow {
  token_id: string;
  integration: boolean;
  owner_id: string;
  role_id: string;
  role_name: string;
  permissions: Permission[];
  last_used_at: Date | null;
}

/**
 * The caller of a request by its Authorization header, or null. Looked up afresh on every
 * request (nothing is cached), so a revoked token or a deactivated user's answers 401 on
 * the very next request. A workspace token is found by the SHA-256 of its secret within
 * its workspace: the comparison is the index's, of a digest the caller cannot steer, so
 * its timing tells nothing about the secret; the operator's secret is compared in
 * constant time. `now` (the injected clock) is when the token was used.
 */
export async function resolvePrincipal(db: Db, operatorToken: string, header: string | undefined, now: Date): Promise<Principal | null> {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  if (!match) return null;
  const token = match[1];
  if (sameSecret(token, operatorToken)) return { kind: 'operator' };
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== 'rt') return null;
  const workspaceId = parts[1];
  const { rows } = await sql<TokenRow>`${prepared}
    SELECT t.id AS token_id, t.name IS NOT NULL AS integration, u.id AS owner_id,
           coalesce(tr.id, r.id) AS role_id, coalesce(tr.name, r.name) AS role_name, coalesce(tr.permissions, r.permissions) AS permissions,
           use.last_used_at
    FROM api_tokens t
    JOIN users u ON u.workspace_id = t.workspace_id AND u.id = t.user_id
    JOIN roles r ON r.workspace_id = u.workspace_id AND r.id = u.role_id
    LEFT JOIN roles tr ON tr.workspace_id = t.workspace_id AND tr.id = t.role_id
    LEFT JOIN api_token_use use ON use.workspace_id = t.workspace_id AND use.token_id = t.id
    WHERE t.workspace_id = ${workspaceId} AND t.token_hash = ${hashToken(token)}
      AND t.revoked_at IS NULL AND u.deactivated_at IS NULL`.execute(db);
  const row = rows[0];
  if (!row) return null;
  if (row.last_used_at === null || now.getTime() - row.last_used_at.getTime() >= lastUseResolutionMs) {
    await recordTokenUse(db, workspaceId, row.token_id, now);
  }
  return {
    kind: 'user',
    workspaceId,
    userId: row.integration ? row.token_id : row.owner_id,
    tokenId: row.token_id,
    ownerId: row.owner_id,
    integration: row.integration,
    roleId: row.role_id,
    roleName: row.role_name,
    permissions: new Set(row.permissions),
  };
}

/**
 * Records a token's use; of two requests in the same minute, one writes. The minute's
 * start is a value, not `excluded.last_used_at - interval`: Citus refuses a function that
 * is not IMMUTABLE (timestamptz minus interval is STABLE) in ON CONFLICT's WHERE.
 */
async function recordTokenUse(db: Db, workspaceId: string, tokenId: string, now: Date): Promise<void> {
  await sql`
    INSERT INTO api_token_use AS u (workspace_id, token_id, last_used_at) VALUES (${workspaceId}, ${tokenId}, ${now})
    ON CONFLICT (workspace_id, token_id) DO UPDATE SET last_used_at = excluded.last_used_at
    WHERE u.last_used_at <= ${new Date(now.getTime() - lastUseResolutionMs)}`.execute(db);
}

/**
 * Whether a token still works: not revoked, and its user not deactivated. A job checks
 * the token it was requested through before it starts.
 */
export async function tokenStillWorks(db: Db | Tx, workspaceId: string, tokenId: string): Promise<boolean> {
  const { rows } = await sql`
    SELECT 1 FROM api_tokens t JOIN users u ON u.workspace_id = t.workspace_id AND u.id = t.user_id
    WHERE t.workspace_id = ${workspaceId} AND t.id = ${tokenId} AND t.revoked_at IS NULL AND u.deactivated_at IS NULL`.execute(db);
  return rows.length === 1;
}
