import type { Permission } from '../users/permissions.js';

/**
 * Who may call a route, as the contract and the docs say (issue 19: "the permission
 * matrix generated from the route table, expected outcomes as data"):
 * - a permission: a workspace token whose role holds it (others: 403 `forbidden` naming it);
 * - `'any user'`: any workspace token, whatever its role;
 * - `'operator'`: only the operator's token (workspace tokens: 403);
 * - `{ operatorOr }`: the operator, or a workspace token holding that permission;
 * - `'public'`: anyone, with or without a token.
 * Kept as data beside the code, never read from it: permission-matrix.test.ts calls every route
 * the server registers as every kind of caller and checks the answer against this table,
 * so a route missing here fails that test by name, and so does a route whose access
 * differs from what is written here. A new route is one line, `'METHOD /path': access`.
 */
export type RouteAccess = Permission | 'any user' | 'operator' | 'public' | { operatorOr: Permission };

export const routeAccess: Record<string, RouteAccess> = {
  // src/accounts
  'POST /accounts': 'contacts.write',
  'GET /accounts': 'contacts.read',
  'GET /accounts/:id': 'contacts.read',
  'DELETE /accounts/:id': 'contacts.delete',
  'PUT /accounts/:accountId/contacts/:contactId': 'contacts.write',
  'PATCH /accounts/:id': 'contacts.write',
  'DELETE /accounts/:accountId/contacts/:contactId': 'contacts.write',
  // src/audit
  'GET /audit-log': 'audit.read',
  'GET /audit-log/verify': 'audit.read',
  // src/automations
  'POST /automations': 'automations.manage',
  'GET /automations': 'contacts.read',
  'GET /automations/:id': 'contacts.read',
  'GET /automations/:id/enrollments': 'contacts.read',
  'POST /automations/:id/pause': 'automations.manage',
  'POST /automations/:id/resume': 'automations.manage',
  'DELETE /automations/:id': 'automations.manage',
  // src/backups
  'POST /backups': 'snapshots.manage',
  'GET /backups': 'snapshots.manage',
  'GET /backups/schedule': 'snapshots.manage',
  'PUT /backups/schedule': 'snapshots.manage',
  'GET /backups/:id': 'snapshots.manage',
  'POST /backups/:id/verify': 'snapshots.manage',
  'DELETE /backups/:id': 'snapshots.manage',
  // src/changes
  'GET /changes': 'audit.read',
  'GET /changes/activity': 'audit.read',
  // src/contacts
  'POST /contacts': 'contacts.write',
  'GET /contacts': 'contacts.read',
  'GET /contacts/:id': 'contacts.read',
  'PATCH /contacts/:id': 'contacts.write',
  'DELETE /contacts/:id': 'contacts.delete',
  'POST /contacts/delete': 'contacts.delete',
  'POST /contacts/:id/archive': 'contacts.archive',
  'POST /contacts/archive': 'contacts.archive',
  'GET /contacts/:id/history': 'contacts.read',
  'GET /contacts/:id/lists': 'contacts.read',
  'GET /contacts/:id/accounts': 'contacts.read',
  'GET /contacts/:id/deals': 'contacts.read',
  'POST /contacts/:id/tags': 'contacts.write',
  'DELETE /contacts/:id/tags/:tagId': 'contacts.write',
  // src/deals
  'POST /deals': 'contacts.write',
  'PATCH /deals/:id': 'contacts.write',
  'DELETE /deals/:id': 'contacts.delete',
  'GET /deals': 'contacts.read',
  'GET /deals/:id': 'contacts.read',
  // src/erasure
  'POST /contacts/:id/erase': 'contacts.erase',
  // src/forms
  'POST /forms': 'automations.manage',
  'DELETE /forms/:id': 'automations.manage',
  'GET /forms': 'contacts.read',
  'GET /forms/:id': 'contacts.read',
  'POST /forms/:id/submissions': 'public',
  // src/held-deletes
  'GET /held-deletes': 'users.manage',
  'GET /held-deletes/:id': 'users.manage',
  'POST /held-deletes/:id/release': 'users.manage',
  'POST /held-deletes/:id/reject': 'users.manage',
  // src/imports
  'GET /imports': 'contacts.read',
  'GET /imports/:id': 'contacts.read',
  'GET /imports/:id/errors': 'contacts.read',
  'GET /contacts/export': 'contacts.read',
  'POST /imports': 'contacts.write',
  // src/lists
  'POST /lists': 'contacts.write',
  'PATCH /lists/:id': 'contacts.write',
  'DELETE /lists/:listId/contacts/:contactId': 'contacts.write',
  'GET /lists/:id/contacts': 'contacts.read',
  'GET /lists': 'contacts.read',
  'GET /lists/:id': 'contacts.read',
  'DELETE /lists/:id': 'contacts.delete',
  'PUT /lists/:listId/contacts/:contactId': 'contacts.write',
  // src/maintenance
  'GET /health': 'public',
  'POST /maintenance/run': { operatorOr: 'users.manage' },
  // src/merge
  'POST /contacts/merge': 'contacts.merge',
  // src/messages
  'GET /messages': 'contacts.read',
  // src/notifications
  'POST /webhooks': 'users.manage',
  'GET /webhooks': 'users.manage',
  'GET /webhooks/:id': 'users.manage',
  'DELETE /webhooks/:id': 'users.manage',
  'GET /webhooks/:id/deliveries': 'users.manage',
  'GET /notification-emails': 'users.manage',
  // src/recycle-bin
  'GET /deleted-contacts': 'contacts.read',
  'GET /deleted-objects': 'contacts.read',
  'POST /deleted-objects/restore': 'contacts.restore',
  'GET /deleted-contacts/count': 'contacts.read',
  'GET /archived-contacts/count': 'contacts.read',
  'GET /archived-contacts': 'contacts.read',
  'GET /contacts/:id/restorable-associations': 'contacts.read',
  'POST /restore-jobs': 'contacts.restore',
  'GET /restore-jobs': 'contacts.read',
  'GET /restore-jobs/:id': 'contacts.read',
  'GET /restore-jobs/:id/skipped': 'contacts.read',
  // src/rollbacks
  'POST /rollbacks/preview': 'rollbacks.request',
  'POST /rollbacks': 'rollbacks.request',
  'GET /rollbacks': 'rollbacks.request',
  'GET /rollbacks/:id': 'rollbacks.request',
  'POST /rollbacks/:id/approve': 'rollbacks.approve',
  'POST /rollbacks/:id/reject': 'rollbacks.approve',
  'POST /rollbacks/:id/undo': 'rollbacks.request',
  // src/snapshots
  'GET /snapshots': 'contacts.read',
  'POST /snapshots': 'snapshots.manage',
  'GET /snapshots/settings': 'contacts.read',
  'PATCH /snapshots/settings': 'snapshots.manage',
  'GET /snapshots/recoverable': 'contacts.read',
  'GET /snapshots/:id': 'contacts.read',
  'DELETE /snapshots/:id': 'snapshots.manage',
  // src/tags
  'POST /tags': 'contacts.write',
  'GET /tags': 'contacts.read',
  'DELETE /tags/:id': 'contacts.delete',
  'PATCH /tags/:id': 'contacts.write',
  // src/undo
  'POST /undos/preview': 'rollbacks.request',
  'POST /undos': 'rollbacks.request',
  'GET /undos': 'rollbacks.request',
  'GET /undos/:id': 'rollbacks.request',
  'GET /undos/:id/skipped': 'rollbacks.request',
  'GET /rollbacks/:id/skipped': 'rollbacks.request',
  'GET /undos/:id/conflicts': 'rollbacks.request',
  // src/users
  'GET /me': 'any user',
  'POST /users': 'users.manage',
  'GET /users': 'users.manage',
  'GET /roles': 'any user',
  'POST /roles': 'users.manage',
  'POST /users/:id/deactivate': 'users.manage',
  'PATCH /users/:id': 'users.manage',
  'POST /tokens': 'users.manage',
  'GET /tokens': 'users.manage',
  'DELETE /tokens/:id': 'users.manage',
  // src/workspaces
  'POST /workspaces': 'operator',
  'PATCH /workspaces/:id': 'operator',
  'PATCH /workspace': 'users.manage',
  'GET /workspace': 'any user',
  'GET /limits': 'any user',
  'GET /test-clock': 'operator',
  'POST /test-clock': 'operator',
};
