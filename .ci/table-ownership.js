/**
 * Who owns which table, checked in the SQL itself on every `npm run lint` (the rule
 * `retrace/table-ownership`): a feature's `sql` templates and Kysely builder calls name
 * only its own tables. To read or write another feature's rows it calls that feature's
 * service.ts (or a fragment it exports on purpose, as contacts/guards.ts's
 * ofActiveContact: the SQL then lives with the owner). Core (the store: connections,
 * history, the job runner), the orchestrators (recovery works over every table's rows
 * and images) and wiring are not checked; which folders those are is .ci/layering.js.
 *
 * Where a feature still names another's table, the pair is listed in `exceptions` with
 * why: remove an entry when its SQL goes; never add one without saying why.
 */
import path from 'node:path';
import { core, orchestrators, wiring } from './layering.js';

/** Each table by the folder that owns it (its migrations, its service). */
export const owners = {
  contacts: 'contacts',
  contact_search: 'contacts',
  contact_tombstones: 'recycle-bin',
  lists: 'lists',
  list_memberships: 'lists',
  accounts: 'accounts',
  account_contacts: 'accounts',
  deals: 'deals',
  deal_contacts: 'deals',
  tags: 'tags',
  contact_tags: 'tags',
  users: 'users',
  roles: 'users',
  api_tokens: 'users',
  api_token_use: 'users',
  workspaces: 'workspaces',
  audit_log: 'audit',
  audit_heads: 'audit',
  automations: 'automations',
  enrollments: 'automations',
  messages: 'messages',
  outbox: 'outbox',
  forms: 'forms',
  notification_events: 'notifications',
  notification_deliveries: 'notifications',
  notification_attempts: 'notifications',
  webhooks: 'notifications',
  snapshots: 'snapshots',
  snapshot_settings: 'snapshots',
  history_compactions: 'snapshots',
  change_sets: 'changes',
  import_emails: 'imports',
  import_errors: 'imports',
  held_deletes: 'held-deletes',
  held_delete_requests: 'held-deletes',
  mass_delete_tallies: 'held-deletes',
  backups: 'backups',
  backup_keys: 'backups',
  backup_keyrings: 'backups',
  backup_destroyed_keys: 'backups',
  backup_schedules: 'backups',
  restore_jobs: 'recycle-bin',
  restore_job_contacts: 'recycle-bin',
  restore_job_skips: 'recycle-bin',
  rollback_jobs: 'rollbacks',
  rollback_targets: 'rollbacks',
  rollback_skips: 'rollbacks',
  undo_conflicts: 'undo',
  // The store's (core): history and the job runner's tables.
  contact_history: 'history',
  history_entries: 'history',
  history: 'history',
  jobs: 'jobs',
  migration_checksums: 'db',
};

/** `from`: the folder whose SQL names `table`, which another owns; why it still does. */
export const exceptions = [
  // History compaction (snapshots/service.ts) drops history no snapshot or recovery
  // window needs: it belongs in history/ (core), given the points snapshots pin.
  { from: 'snapshots', table: 'contact_history' },
  { from: 'snapshots', table: 'history_entries' },
  // The maintenance passes look across every workspace for those due (a snapshot
  // boundary, a compaction) with their retention settings, in one statement: workspaces'
  // service would hand the settings over.
  { from: 'snapshots', table: 'workspaces' },
];

const sqlWords = /\b(?:FROM|JOIN|UPDATE|INTO|TABLE)\s+([a-z_][a-z0-9_]*)/gi;
const builderCalls = new Set(['selectFrom', 'insertInto', 'updateTable', 'deleteFrom', 'mergeInto']);

const checked = new Set([...core, ...orchestrators, ...wiring]);

function folderOf(cwd, filename) {
  const parts = path.relative(cwd, filename).split(path.sep);
  return parts[0] === 'src' && parts.length > 2 ? parts[1] : null;
}

export const tableOwnership = {
  meta: { type: 'problem', schema: [], messages: { foreign: "{{folder}}'s SQL names {{table}}, which {{owner}} owns: call {{owner}}'s service.ts (or list the exception, with why, in .ci/table-ownership.js)" } },
  create(context) {
    const folder = folderOf(context.cwd, context.filename);
    if (!folder || checked.has(folder) || context.filename.endsWith('.test.ts')) return {};
    const check = (node, table) => {
      const owner = owners[table];
      if (!owner || owner === folder) return;
      if (exceptions.some((e) => e.from === folder && e.table === table)) return;
      context.report({ node, messageId: 'foreign', data: { folder, table, owner } });
    };
    return {
      TaggedTemplateExpression(node) {
        const tag = node.tag;
        if (tag.type !== 'Identifier' || tag.name !== 'sql') return;
        const text = node.quasi.quasis.map((q) => q.value.raw).join(' ');
        for (const match of text.matchAll(sqlWords)) check(node, match[1].toLowerCase());
      },
      CallExpression(node) {
        const callee = node.callee;
        const name = callee.type === 'MemberExpression' && callee.property.type === 'Identifier' ? callee.property.name : null;
        const first = node.arguments[0];
        if (!name || !builderCalls.has(name) || first?.type !== 'Literal' || typeof first.value !== 'string') return;
        check(node, first.value.split(/\s+/)[0]);
      },
    };
  },
};
