import type { z } from 'zod';
import { sql } from 'kysely';
import type { ChangeContext, Db, Tx } from '../db/database.js';
import { equalsIgnoringCase } from '../db/patterns.js';
import { inTransaction } from '../db/database.js';
import { hashToken, newToken } from '../http/auth.js';
import { AppError, invalidRequest, invalidState, notFound } from '../http/errors.js';
import { pageByTime, type Page, type PageRequest } from '../http/pagination.js';
import { recordAudit } from '../audit/service.js';
import { builtinRoles, permissions as allPermissions, type Permission } from './permissions.js';
import type { roleSchema, userSchema } from './routes.js';

/** A user of the workspace as the API answers it (routes.ts userSchema). */
export type User = z.output<typeof userSchema>;

/** A role with its permissions (routes.ts roleSchema). */
export type Role = z.output<typeof roleSchema>;

interface UserRow {
  id: string;
  email: string;
  name: string | null;
  role_name: string;
  created_at: Date;
  deactivated_at: Date | null;
}

const presentUser = (row: UserRow): User => ({
  id: row.id,
  email: row.email,
  name: row.name,
  role: row.role_name,
  createdAt: row.created_at.toISOString(),
  deactivatedAt: row.deactivated_at?.toISOString() ?? null,
});

/**
 * The workspace's users who are not deactivated and whose role holds `permission`
 * (id, email): whom a notification for that permission's holders goes to.
 */
export function activeUsersHolding(workspaceId: string, permission: string) {
  return sql`
    SELECT u.id, u.email FROM users u
    WHERE u.workspace_id = ${workspaceId} AND u.deactivated_at IS NULL
      AND EXISTS (SELECT 1 FROM roles r WHERE r.workspace_id = u.workspace_id AND r.id = u.role_id AND ${permission} = ANY (r.permissions))`;
}

export async function createBuiltinRoles(tx: Tx, workspaceId: string): Promise<Record<keyof typeof builtinRoles, string>> {
  const ids = {} as Record<keyof typeof builtinRoles, string>;
  for (const [name, perms] of Object.entries(builtinRoles) as [keyof typeof builtinRoles, readonly Permission[]][]) {
    const role = await tx.insertInto('roles').values({ workspace_id: workspaceId, name, permissions: [...perms], builtin: true }).returning('id').executeTakeFirstOrThrow();
    ids[name] = role.id;
  }
  return ids;
}

export async function createUserWithToken(
  tx: Tx,
  workspaceId: string,
  input: { email: string; name: string | null; roleId: string },
): Promise<{ user: User; token: string }> {
  const existing = await tx
    .selectFrom('users')
    .select((eb) => eb.lit(1).as('held'))
    .where('workspace_id', '=', workspaceId)
    .where(equalsIgnoringCase('email', input.email))
    .executeTakeFirst();
  if (existing) throw new AppError(409, 'invalid_state', 'A user with this email already exists', { email: input.email });
  const { id: userId } = await tx
    .insertInto('users')
    .values({ workspace_id: workspaceId, email: input.email, name: input.name, role_id: input.roleId })
    .returning('id')
    .executeTakeFirstOrThrow();
  const token = await issueToken(tx, workspaceId, userId);
  return { user: await getUser(tx, workspaceId, userId), token };
}

export async function issueToken(tx: Tx | Db, workspaceId: string, userId: string): Promise<string> {
  const token = newToken(workspaceId);
  await tx.insertInto('api_tokens').values({ workspace_id: workspaceId, user_id: userId, token_hash: hashToken(token) }).execute();
  return token;
}

export async function getUser(db: Db | Tx, workspaceId: string, userId: string): Promise<User> {
  const { rows } = await sql<UserRow>`
    SELECT u.id, u.email, u.name, r.name AS role_name, u.created_at, u.deactivated_at
    FROM users u JOIN roles r ON r.workspace_id = u.workspace_id AND r.id = u.role_id
    WHERE u.workspace_id = ${workspaceId} AND u.id = ${userId}`.execute(db);
  if (!rows[0]) throw notFound('User');
  return presentUser(rows[0]);
}

/** Who holds a token: the user, their role and its permissions (in the order of the permission table). */
export interface SignedInUser {
  user: { id: string; email: string; name: string | null };
  role: { id: string; name: string };
  permissions: Permission[];
}

/**
 * Who holds a token: the user it belongs to, and the role and permissions it acts with
 * (an integration's token: its own role).
 */
export async function signedInUser(
  db: Db,
  principal: { workspaceId: string; ownerId: string; roleId: string; roleName: string; permissions: ReadonlySet<Permission> },
): Promise<SignedInUser> {
  const row = await db
    .selectFrom('users')
    .select(['id', 'email', 'name'])
    .where('workspace_id', '=', principal.workspaceId)
    .where('id', '=', principal.ownerId)
    .executeTakeFirst();
  if (!row) throw notFound('User');
  return {
    user: { id: row.id, email: row.email, name: row.name },
    role: { id: principal.roleId, name: principal.roleName },
    permissions: allPermissions.filter((p) => principal.permissions.has(p)),
  };
}

export async function listUsers(db: Db, workspaceId: string, request: PageRequest): Promise<Page<User>> {
  const paging = pageByTime(request, 'u.created_at', 'u.id');
  const { rows } = await sql<UserRow & { page_time: string }>`
    SELECT u.id, u.email, u.name, r.name AS role_name, u.created_at, u.deactivated_at, ${paging.pageTime}
    FROM users u JOIN roles r ON r.workspace_id = u.workspace_id AND r.id = u.role_id
    WHERE u.workspace_id = ${workspaceId} AND ${paging.pastCursor} ORDER BY u.created_at, u.id LIMIT ${paging.fetch}`.execute(db);
  return paging.page(rows, (r) => r.id, presentUser);
}

/** What a role is answered with; its permissions are the Permission names the routes validate before they are written. */
const roleColumns = ['id', 'name', 'permissions', 'builtin'] as const;

/** A role by name (case-insensitive) or id; unknown roles are bad input. */
export async function findRole(tx: Tx, workspaceId: string, role: string): Promise<Role> {
  const found = await tx
    .selectFrom('roles')
    .select(roleColumns)
    .where('workspace_id', '=', workspaceId)
    .where((eb) => eb.or([equalsIgnoringCase('name', role), eb('id', '=', role)]))
    .$narrowType<{ permissions: Permission[] }>()
    .executeTakeFirst();
  if (!found) throw invalidRequest(`No role named ${role}`, { issues: [{ in: 'body', path: ['role'], message: 'unknown role' }] });
  return found;
}

/** Who grants: the caller's role and what it holds. */
export interface Grantor {
  roleName: string;
  permissions: ReadonlySet<Permission>;
}

const isAdminRole = (role: { name: string }) => role.name === 'admin';

/**
 * A caller may grant only what they hold (issue 19 point 3): a role (for a new user, a
 * token, or a custom role's permissions) whose permissions are not all the caller's is
 * refused with 403 `permission_not_held` naming the missing ones, and the built-in admin
 * role only an admin may give (403 `admin_required`), whatever else the caller holds. The
 * built-in admin role is the only one named `admin` (role names are unique, and the
 * built-in ones are made first).
 */
export function assertMayGrant(grantor: Grantor, role: { name: string; permissions: readonly Permission[] }): void {
  if (isAdminRole(role) && !isAdminRole({ name: grantor.roleName })) {
    throw new AppError(403, 'admin_required', 'Only an admin can make an admin', { role: role.name });
  }
  const missing = allPermissions.filter((p) => role.permissions.includes(p) && !grantor.permissions.has(p));
  if (missing.length > 0) {
    throw new AppError(403, 'permission_not_held', `You can grant only permissions you hold; you lack ${missing.join(', ')}`, { permissions: missing });
  }
}

export async function addUser(
  db: Db,
  change: ChangeContext,
  grantor: Grantor,
  input: { email: string; name?: string; role: string },
): Promise<{ user: User; token: string }> {
  return inTransaction(db, change, async (tx) => {
    const role = await findRole(tx, change.workspaceId, input.role);
    assertMayGrant(grantor, role);
    const roleId = role.id;
    const created = await createUserWithToken(tx, change.workspaceId, { email: input.email, name: input.name ?? null, roleId });
    await recordAudit(tx, change, { action: 'user.created', targetType: 'user', targetId: created.user.id, details: { role: created.user.role } });
    return created;
  });
}

/** Roles oldest first: the built-in ones, made with the workspace, come first. */
export async function listRoles(db: Db, workspaceId: string, request: PageRequest): Promise<Page<Role>> {
  const paging = pageByTime(request, 'created_at', 'name');
  const { rows } = await sql<Role & { page_time: string }>`
    SELECT id, name, permissions, builtin, ${paging.pageTime} FROM roles
    WHERE workspace_id = ${workspaceId} AND ${paging.pastCursor} ORDER BY created_at, name LIMIT ${paging.fetch}`.execute(db);
  return paging.page(rows, (r) => r.name, ({ id, name, permissions, builtin }) => ({ id, name, permissions, builtin }));
}

export async function createRole(db: Db, change: ChangeContext, grantor: Grantor, input: { name: string; permissions: Permission[] }): Promise<Role> {
  assertMayGrant(grantor, input);
  return inTransaction(db, change, async (tx) => {
    const taken = await tx
      .selectFrom('roles')
      .select((eb) => eb.lit(1).as('held'))
      .where('workspace_id', '=', change.workspaceId)
      .where(equalsIgnoringCase('name', input.name))
      .executeTakeFirst();
    if (taken) throw new AppError(409, 'invalid_state', `A role named ${input.name} already exists`, { name: input.name });
    const permissions = [...new Set(input.permissions)];
    const role = await tx
      .insertInto('roles')
      .values({ workspace_id: change.workspaceId, name: input.name, permissions })
      .returning(roleColumns)
      .$narrowType<{ permissions: Permission[] }>()
      .executeTakeFirstOrThrow();
    await recordAudit(tx, change, { action: 'role.created', targetType: 'role', targetId: role.id, details: { name: input.name, permissions } });
    return role;
  });
}

/**
 * The workspace's active admins, their rows locked in id order: what a change that could
 * leave no admin (a deactivation, a role change) locks first, so two of them at once
 * cannot both take the last one away.
 */
async function lockActiveAdmins(tx: Tx, ws: string): Promise<{ id: string }[]> {
  const { rows } = await sql<{ id: string }>`
    SELECT u.id FROM users u JOIN roles r ON r.workspace_id = u.workspace_id AND r.id = u.role_id
    WHERE u.workspace_id = ${ws} AND r.name = 'admin' AND r.builtin AND u.deactivated_at IS NULL
    ORDER BY u.id FOR UPDATE OF u`.execute(tx);
  return rows;
}

/** A user's row, locked, with their role and its permissions; undefined if there is none. */
async function lockUser(tx: Tx, ws: string, userId: string) {
  const { rows } = await sql<{ deactivated_at: Date | null; role_id: string; role_name: string; permissions: Permission[] }>`
    SELECT u.deactivated_at, u.role_id, r.name AS role_name, r.permissions
    FROM users u JOIN roles r ON r.workspace_id = u.workspace_id AND r.id = u.role_id
    WHERE u.workspace_id = ${ws} AND u.id = ${userId} FOR UPDATE OF u`.execute(tx);
  return rows[0];
}

/**
 * Deactivates a user (issue 17 point 2): from the commit on, their own tokens and the
 * integration tokens they created answer 401 (the tokens are revoked with them: the user
 * saw those secrets). Their history stays theirs: actor ids are not touched. A caller may
 * deactivate only a user whose role they could grant (assertMayGrant: an admin only by an
 * admin), never themselves (409 `cannot_deactivate_self`), and never the last active
 * admin (409 `last_admin`). The active admins' rows are locked first, so two admins
 * deactivating each other at once cannot both succeed.
 */
export async function deactivateUser(db: Db, change: ChangeContext, caller: Grantor & { ownerId: string }, userId: string): Promise<User> {
  return inTransaction(db, change, async (tx) => {
    const ws = change.workspaceId;
    const admins = await lockActiveAdmins(tx, ws);
    const target = await lockUser(tx, ws, userId);
    if (!target) throw notFound('User');
    if (userId === caller.ownerId) throw new AppError(409, 'cannot_deactivate_self', 'You cannot deactivate yourself: another admin can', { userId });
    if (target.deactivated_at) throw invalidState('This user is already deactivated', { deactivatedAt: target.deactivated_at.toISOString() });
    assertMayGrant(caller, { name: target.role_name, permissions: target.permissions });
    if (admins.some((a) => a.id === userId) && admins.length === 1) {
      throw new AppError(409, 'last_admin', 'This is the workspace’s last active admin: make another admin first', { userId });
    }
    await tx.updateTable('users').set({ deactivated_at: change.at, deactivated_by: change.actorId }).where('workspace_id', '=', ws).where('id', '=', userId).execute();
    const revoked = await revokeTokensOf(tx, change, userId);
    await recordAudit(tx, change, { action: 'user.deactivated', targetType: 'user', targetId: userId, details: { tokensRevoked: revoked } });
    return getUser(tx, ws, userId);
  });
}

/**
 * Gives a user another role (issue 19 point 3), with the rules of granting: the caller
 * may give only a role they could grant (assertMayGrant: every permission held, the admin
 * role only by an admin), and may take away only a role they could grant, so nobody
 * demotes someone who holds more than they do. Nobody changes their own role
 * (409 `cannot_change_own_role`: another admin can), a deactivated user's
 * (409 `invalid_state`), or the last active admin's to another (409 `last_admin`; the
 * active admins are locked first, as for a deactivation). The user's `role_since` is then
 * the change's time (a trigger sets it), so four eyes refuses their approval of a full
 * rollback requested before it. The same role again changes nothing and is not audited.
 * Audit: `user.role_changed` with the roles from and to.
 */
export async function changeUserRole(
  db: Db,
  change: ChangeContext,
  caller: Grantor & { ownerId: string },
  userId: string,
  input: { role: string },
): Promise<User> {
  return inTransaction(db, change, async (tx) => {
    const ws = change.workspaceId;
    const admins = await lockActiveAdmins(tx, ws);
    const target = await lockUser(tx, ws, userId);
    if (!target) throw notFound('User');
    const role = await findRole(tx, ws, input.role);
    if (userId === caller.ownerId) throw new AppError(409, 'cannot_change_own_role', 'You cannot change your own role: another admin can', { userId });
    if (target.deactivated_at) throw invalidState('This user is deactivated', { deactivatedAt: target.deactivated_at.toISOString() });
    assertMayGrant(caller, { name: target.role_name, permissions: target.permissions });
    assertMayGrant(caller, role);
    if (role.id === target.role_id) return getUser(tx, ws, userId);
    // The role differs: an admin's is being taken away.
    if (admins.some((a) => a.id === userId) && admins.length === 1) {
      throw new AppError(409, 'last_admin', 'This is the workspace’s last active admin: make another admin first', { userId });
    }
    await tx.updateTable('users').set({ role_id: role.id }).where('workspace_id', '=', ws).where('id', '=', userId).execute();
    await recordAudit(tx, change, { action: 'user.role_changed', targetType: 'user', targetId: userId, details: { from: target.role_name, to: role.name } });
    return getUser(tx, ws, userId);
  });
}

/** Revokes every live token a user holds or created; answers how many. */
async function revokeTokensOf(tx: Tx, change: ChangeContext, userId: string): Promise<number> {
  const revoked = await tx
    .updateTable('api_tokens')
    .set({ revoked_at: change.at, revoked_by: change.actorId })
    .where('workspace_id', '=', change.workspaceId)
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .returning('id')
    .execute();
  return revoked.length;
}

/**
 * The person behind an actor, for four eyes (issue 19 point 3): a user is themselves; an
 * integration's token is the user who created it. `since` is when the actor came to hold
 * what it holds: a user's creation or their latest role change (role_since), a token's
 * creation (or its creator's, if later). An actor that
 * is neither (a job's or a script's) is its own person, since an unknown time (null).
 */
export async function personBehind(db: Db | Tx, workspaceId: string, actorId: string): Promise<{ personId: string; since: Date | null }> {
  const { rows } = await sql<{ person_id: string; since: Date }>`
    SELECT p.id AS person_id, greatest(p.created_at, p.role_since, t.created_at) AS since
    FROM users p LEFT JOIN api_tokens t ON t.workspace_id = p.workspace_id AND t.id = ${actorId} AND t.name IS NOT NULL
    WHERE p.workspace_id = ${workspaceId} AND (p.id = ${actorId} OR p.id = t.user_id)`.execute(db);
  const row = rows[0];
  return row ? { personId: row.person_id, since: row.since } : { personId: actorId, since: null };
}
