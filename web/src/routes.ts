import type { ComponentType } from 'react';
import type { Permission } from './api';
import { ContactsPage } from './pages/ContactsPage';
import { ContactPage } from './pages/ContactPage';
import { DeletedContactsPage, ArchivedContactsPage } from './pages/RemovedContactsPage';
import { AuditLogPage } from './pages/AuditLogPage';
import { RollbackPage } from './pages/RollbackPage';
import { SnapshotsPage } from './pages/SnapshotsPage';
import { BackupsPage } from './pages/BackupsPage';
import { HeldDeletesPage } from './pages/HeldDeletesPage';
import { SettingsPage } from './pages/SettingsPage';
import { ActivityPage } from './pages/ActivityPage';
import { ImportsPage } from './pages/ImportsPage';
import { DeletedObjectsPage } from './pages/DeletedObjectsPage';
import { TokensPage } from './pages/TokensPage';

export interface PageProps {
  params: Record<string, string>;
}

/** One page of the UI: its path pattern, and the permission without which it is not shown. */
export interface PageRoute {
  path: string;
  page: ComponentType<PageProps>;
  permission: Permission;
}

export interface NavItem extends PageRoute {
  label: string;
}

/**
 * The sidebar, by section. A new page is one entry here; the layout and router read this
 * table.
 */
export const navSections: { title: string; items: NavItem[] }[] = [
  {
    title: 'Contacts',
    items: [
      { path: '/contacts', label: 'Contacts', page: ContactsPage, permission: 'contacts.read' },
      { path: '/imports', label: 'Imports', page: ImportsPage, permission: 'contacts.read' },
    ],
  },
  {
    title: 'Recovery',
    items: [
      // What changed and who did it, each cause with its undo (GET /changes needs audit.read).
      { path: '/activity', label: 'Activity', page: ActivityPage, permission: 'audit.read' },
      { path: '/restore/deleted', label: 'Restore contacts', page: DeletedContactsPage, permission: 'contacts.read' },
      { path: '/restore/archived', label: 'Archived contacts', page: ArchivedContactsPage, permission: 'contacts.read' },
      { path: '/restore/objects', label: 'Deleted objects', page: DeletedObjectsPage, permission: 'contacts.read' },
      { path: '/rollback', label: 'Rollback', page: RollbackPage, permission: 'rollbacks.request' },
      { path: '/snapshots', label: 'Snapshots', page: SnapshotsPage, permission: 'contacts.read' },
      // Reading backups needs snapshots.manage too: a backup holds the whole workspace.
      { path: '/backups', label: 'Backups', page: BackupsPage, permission: 'snapshots.manage' },
    ],
  },
  {
    title: 'Workspace',
    items: [
      // Admins decide on what the mass-delete guard held (users.manage, as the server asks).
      { path: '/held-deletes', label: 'Held deletes', page: HeldDeletesPage, permission: 'users.manage' },
      { path: '/audit-log', label: 'Audit log', page: AuditLogPage, permission: 'audit.read' },
      // Retention and the mass-delete guard: PATCH /workspace needs users.manage.
      { path: '/settings', label: 'Settings', page: SettingsPage, permission: 'users.manage' },
      { path: '/tokens', label: 'API tokens', page: TokensPage, permission: 'users.manage' },
    ],
  },
];

/** Pages reached from another page rather than the sidebar; `section` is the nav entry they belong to. */
export const innerRoutes: (PageRoute & { section: string })[] = [
  { path: '/contacts/:id', page: ContactPage, permission: 'contacts.read', section: '/contacts' },
];
