import { sql } from 'kysely';
import type { ChangeContext, Db, Tx } from '../db/database.js';
import { inTransaction } from '../db/database.js';
import { hashToken, newToken } from '../http/auth.js';
import { AppError, invalidRequest, notFound } from '../http/errors.js';
import { pageByTime, type Page, type PageRequest } from '../http/pagination.js';
import { recordAudit } from '../audit/service.js';
import { builtinRoles, permissions as allPermissions, type Permission } from './permissions.js';

export interface User {
  id: string;
  email: string;
  name: string | null;
  role: string;
  createdAt: string;
}

export interface Role {
  id: string;
  name: string;
  permissions: Permission[];
  builtin: boolean;
}

interface UserRow {
  id: string;
  email: string;
  name: string | null;
  role_name: string;
  created_at: Date;
}

const presentUser = (row: UserRow): User => ({
  id: row.id,
  email: row.email,
  name: row.name,
  role: row.role_name,
  createdAt: row.created_at.toISOString(),
});

export async function createBuiltinRoles(tx: Tx, workspaceId: string): Promise<Record<keyof typeof builtinRoles, string>> {
  const ids = {} as Record<keyof typeof builtinRoles, string>;
  for (const [name, perms] of Object.entries(builtinRoles) as [keyof typeof builtinRoles, readonly Permission[]][]) {
    const { rows } = await sql<{ id: string }>`
      INSERT INTO roles (workspace_id, name, permissions, builtin)
      VALUES (${workspaceId}, ${name}, ${sql.val([...perms])}::text[], true) RETURNING id`.execute(tx);
    ids[name] = rows[0].id;
  }
  return ids;
}

export async function createUserWithToken(
  tx: Tx,
  workspaceId: string,
  input: { email: string; name: string | null; roleId: string },
): Promise<{ user: User; token: string }> {
  const existing = await sql`SELECT 1 FROM users WHERE workspace_id = ${workspaceId} AND lower(email) = lower(${input.email})`.execute(tx);
  if (existing.rows.length > 0) throw new AppError(409, 'invalid_state', 'A user with this email already exists', { email: input.email });
  const { rows } = await sql<{ id: string }>`
    INSERT INTO users (workspace_id, email, name, role_id) VALUES (${workspaceId}, ${input.email}, ${input.name}, ${input.roleId})
    RETURNING id`.execute(tx);
  const userId = rows[0].id;
  const token = await issueToken(tx, workspaceId, userId);
  return { user: await getUser(tx, workspaceId, userId), token };
}

export async function issueToken(tx: Tx | Db, workspaceId: string, userId: string): Promise<string> {
  const token = newToken(workspaceId);
  await sql`INSERT INTO api_tokens (workspace_id, user_id, token_hash) VALUES (${workspaceId}, ${userId}, ${hashToken(token)})`.execute(tx);
  return token;
}

export async function getUser(db: Db | Tx, workspaceId: string, userId: string): Promise<User> {
  const { rows } = await sql<UserRow>`
    SELECT u.id, u.email, u.name, r.name AS role_name, u.created_at
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

export async function signedInUser(db: Db, workspaceId: string, userId: string): Promise<SignedInUser> {
  const { rows } = await sql<{ id: string; email: string; name: string | null; role_id: string; role_name: string; permissions: Permission[] }>`
    SELECT u.id, u.email, u.name, r.id AS role_id, r.name AS role_name, r.permissions
    FROM users u JOIN roles r ON r.workspace_id = u.workspace_id AND r.id = u.role_id
    WHERE u.workspace_id = ${workspaceId} AND u.id = ${userId}`.execute(db);
  const row = rows[0];
  if (!row) throw notFound('User');
  const held = new Set(row.permissions);
  return {
    user: { id: row.id, email: row.email, name: row.name },
    role: { id: row.role_id, name: row.role_name },
    permissions: allPermissions.filter((p) => held.has(p)),
  };
}

export async function listUsers(db: Db, workspaceId: string, request: PageRequest): Promise<Page<User>> {
  const paging = pageByTime(request, 'u.created_at', 'u.id');
  const { rows } = await sql<UserRow & { page_time: string }>`
    SELECT u.id, u.email, u.name, r.name AS role_name, u.created_at, ${paging.pageTime}
    FROM users u JOIN roles r ON r.workspace_id = u.workspace_id AND r.id = u.role_id
    WHERE u.workspace_id = ${workspaceId} AND ${paging.pastCursor} ORDER BY u.created_at, u.id LIMIT ${paging.fetch}`.execute(db);
  return paging.page(rows, (r) => r.id, presentUser);
}

/** A role by name (case-insensitive) or id; unknown roles are bad input. */
async function findRoleId(tx: Tx, workspaceId: string, role: string): Promise<string> {
  const { rows } = await sql<{ id: string }>`
    SELECT id FROM roles WHERE workspace_id = ${workspaceId} AND (lower(name) = lower(${role}) OR id = ${role})`.execute(tx);
  if (!rows[0]) throw invalidRequest(`No role named ${role}`, { issues: [{ in: 'body', path: ['role'], message: 'unknown role' }] });
  return rows[0].id;
}

export async function addUser(
  db: Db,
  change: ChangeContext,
  input: { email: string; name?: string; role: string },
): Promise<{ user: User; token: string }> {
  return inTransaction(db, change, async (tx) => {
    const roleId = await findRoleId(tx, change.workspaceId, input.role);
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

export async function createRole(db: Db, change: ChangeContext, input: { name: string; permissions: Permission[] }): Promise<Role> {
  return inTransaction(db, change, async (tx) => {
    const taken = await sql`SELECT 1 FROM roles WHERE workspace_id = ${change.workspaceId} AND lower(name) = lower(${input.name})`.execute(tx);
    if (taken.rows.length > 0) throw new AppError(409, 'invalid_state', `A role named ${input.name} already exists`, { name: input.name });
    const permissions = [...new Set(input.permissions)];
    const { rows } = await sql<Role>`
      INSERT INTO roles (workspace_id, name, permissions) VALUES (${change.workspaceId}, ${input.name}, ${sql.val(permissions)}::text[])
      RETURNING id, name, permissions, builtin`.execute(tx);
    await recordAudit(tx, change, { action: 'role.created', targetType: 'role', targetId: rows[0].id, details: { name: input.name, permissions } });
    return rows[0];
  });
}
