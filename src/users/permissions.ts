/** Every permission a role can hold (../shared/API.md, "Workspace, users, roles"). */
export const permissions = [
  'contacts.read',
  'contacts.write',
  'contacts.delete',
  'contacts.archive',
  'contacts.restore',
  'contacts.merge',
  'contacts.erase',
  'rollbacks.request',
  'rollbacks.approve',
  'snapshots.manage',
  'automations.manage',
  'users.manage',
  'audit.read',
] as const;

export type Permission = (typeof permissions)[number];

/** The roles every workspace starts with. Restores are admin-only by default (seed 002). */
export const builtinRoles: Record<'admin' | 'manager' | 'member', readonly Permission[]> = {
  admin: permissions,
  manager: ['contacts.read', 'contacts.write', 'contacts.delete', 'contacts.archive', 'contacts.merge'],
  member: ['contacts.read', 'contacts.write'],
};
