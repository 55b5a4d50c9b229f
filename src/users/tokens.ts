import type { z } from 'zod';
import { sql } from 'kysely';
import type { ChangeContext, Db, Tx } from '../db/database.js';
import { equalsIgnoringCase } from '../db/patterns.js';
import { inTransaction, violatesUniqueIndex } from '../db/database.js';
import { hashToken, newToken } from '../http/auth.js';
import { invalidState, notFound } from '../http/errors.js';
import { pageByTime, type Page, type PageRequest } from '../http/pagination.js';
import { recordAudit } from '../audit/service.js';
import { assertMayGrant, findRole, type Grantor } from './service.js';
import type { tokenSchema } from './routes.js';

/**
 * An integration's API token (issue 17 point 2): named, with a role of its own, acting as
 * itself (its changes carry its id as their actor and as their token), until revoked.
 * `createdBy` is the user it belongs to: deactivating them revokes it.
 */
export type IntegrationToken = z.output<typeof tokenSchema>;

interface TokenRow {
  id: string;
  name: string;
  role_name: string;
  created_at: Date;
  user_id: string;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

const presentToken = (row: TokenRow): IntegrationToken => ({
  id: row.id,
  name: row.name,
  role: row.role_name,
  createdAt: row.created_at.toISOString(),
  createdBy: row.user_id,
  lastUsedAt: row.last_used_at?.toISOString() ?? null,
  revokedAt: row.revoked_at?.toISOString() ?? null,
});

const tokenColumns = sql`t.id, t.name, r.name AS role_name, t.created_at, t.user_id, use.last_used_at, t.revoked_at`;
const tokenSource = sql`
  api_tokens t
  JOIN roles r ON r.workspace_id = t.workspace_id AND r.id = t.role_id
  LEFT JOIN api_token_use use ON use.workspace_id = t.workspace_id AND use.token_id = t.id`;

async function findToken(db: Db | Tx, workspaceId: string, tokenId: string): Promise<IntegrationToken> {
  const { rows } = await sql<TokenRow>`
    SELECT ${tokenColumns} FROM ${tokenSource}
    WHERE t.workspace_id = ${workspaceId} AND t.id = ${tokenId} AND t.name IS NOT NULL`.execute(db);
  if (!rows[0]) throw notFound('Token');
  return presentToken(rows[0]);
}

const nameTaken = (name: string) => invalidState(`A working token named ${name} already exists`, { name });

/**
 * Makes an integration's token with a role the caller may grant (assertMayGrant). It
 * belongs to the user the caller's token belongs to. The secret is answered here only;
 * only its SHA-256 is kept.
 */
export async function createIntegrationToken(
  db: Db,
  change: ChangeContext,
  caller: Grantor & { ownerId: string },
  input: { name: string; role: string },
): Promise<{ token: IntegrationToken; secret: string }> {
  try {
    return await inTransaction(db, change, async (tx) => {
      const ws = change.workspaceId;
      const role = await findRole(tx, ws, input.role);
      assertMayGrant(caller, role);
      const taken = await tx
        .selectFrom('api_tokens')
        .select((eb) => eb.lit(1).as('held'))
        .where('workspace_id', '=', ws)
        .where(equalsIgnoringCase('name', input.name))
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      if (taken) throw nameTaken(input.name);
      const secret = newToken(ws);
      const { id } = await tx
        .insertInto('api_tokens')
        .values({ workspace_id: ws, user_id: caller.ownerId, token_hash: hashToken(secret), name: input.name, role_id: role.id })
        .returning('id')
        .executeTakeFirstOrThrow();
      await recordAudit(tx, change, { action: 'token.created', targetType: 'token', targetId: id, details: { name: input.name, role: role.name } });
      return { token: await findToken(tx, ws, id), secret };
    });
  } catch (error) {
    if (violatesUniqueIndex(error, 'api_tokens_live_name')) throw nameTaken(input.name);
    throw error;
  }
}

/** The workspace's integration tokens, oldest first, revoked ones with revokedAt; never a secret. */
export async function listIntegrationTokens(db: Db, workspaceId: string, request: PageRequest): Promise<Page<IntegrationToken>> {
  const paging = pageByTime(request, 't.created_at', 't.id');
  const { rows } = await sql<TokenRow & { page_time: string }>`
    SELECT ${tokenColumns}, ${paging.pageTime} FROM ${tokenSource}
    WHERE t.workspace_id = ${workspaceId} AND t.name IS NOT NULL AND ${paging.pastCursor}
    ORDER BY t.created_at, t.id LIMIT ${paging.fetch}`.execute(db);
  return paging.page(rows, (r) => r.id, presentToken);
}

/**
 * Revokes an integration's token: from the commit on, every request with it answers 401,
 * and a job it requested that has not started will not run. Its changes keep its id.
 */
export async function revokeIntegrationToken(db: Db, change: ChangeContext, tokenId: string): Promise<IntegrationToken> {
  return inTransaction(db, change, async (tx) => {
    const ws = change.workspaceId;
    const current = await findToken(tx, ws, tokenId);
    const revoked = await tx
      .updateTable('api_tokens')
      .set({ revoked_at: change.at, revoked_by: change.actorId })
      .where('workspace_id', '=', ws)
      .where('id', '=', tokenId)
      .where('revoked_at', 'is', null)
      .returning('id')
      .executeTakeFirst();
    if (!revoked) throw invalidState('This token is already revoked', { revokedAt: current.revokedAt });
    await recordAudit(tx, change, { action: 'token.revoked', targetType: 'token', targetId: tokenId, details: { name: current.name } });
    return findToken(tx, ws, tokenId);
  });
}
