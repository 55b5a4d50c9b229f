/**
 * Who owns which table, checked in the SQL itself on every `npm run lint` (the rule
 * `retrace/table-ownership`): a feature's or an orchestrator's `sql` templates and Kysely
 * calls name only its own tables. To read or write another's rows it calls the owner's
 * service.ts (or a fragment it exports on purpose, as contacts/guards.ts's
 * ofActiveContact: the SQL then lives with the owner). Read are the tables of every
 * FROM, JOIN, USING, UPDATE, INTO and TABLE list (each item after a comma, `public.`
 * stripped; not aliases, columns, strings or comments), of Kysely's selectFrom,
 * insertInto, updateTable, deleteFrom, mergeInto and joins, and of `sql.table('t')`. A
 * table named by a variable is seen where its name is written as a call's first argument
 * (`lookUp('deals', …)`) or as a `table:` or `tableName:` property (the table catalogues'
 * convention: deleted-objects' binTables, db/associations' Association, rollbacks/tables.ts's
 * rolledBackTables, backups/file.ts's backupTables); a name that reaches SQL any other way
 * is not, so a catalogue of tables keeps to that convention. Core (the store:
 * connections, history, the job runner) and wiring are not checked; which folders those
 * are is .ci/layering.js.
 *
 * Where a folder still names another's table, the pairs are listed in `exceptions` with
 * why (an orchestrator's set-based work across every table's rows and images, mostly):
 * remove an entry when its SQL goes; never add one without saying why.
 */
import path from 'node:path';
import { core, wiring } from './layering.js';

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
  import_batch_parts: 'imports',
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

/** `from`: the folder whose SQL names `tables`, which others own; why it still does. */
export const exceptions = [
  // History compaction (snapshots/queries.ts) deletes, in one statement each, the history
  // no retained snapshot (its own table) or recovery window needs: moved to history/
  // (core), it would have to name snapshots'. Its passes look across every workspace for
  // those due, with their retention settings, in one statement.
  { from: 'snapshots', tables: ['contact_history', 'history_entries', 'workspaces'] },
  // The store's row-image work over every table a rollback writes back (rollbacks/tables.ts's
  // rolledBackTables): its plan reads history's images and each row as it is now, set-based
  // over all tables at once; apply writes each table's images back (upserts, deletes, soft
  // deletes by the catalogue's keys) joined to rollback_targets, marks email holders and
  // finds the deals of the contacts it wrote (for deals' mendDeals) in one pass.
  { from: 'rollbacks', tables: ['contact_history', 'history_entries', 'contacts', 'deals', 'deal_contacts', 'lists', 'list_memberships', 'accounts', 'account_contacts', 'tags', 'contact_tags'] },
  // An undo's plan (rollbacks/cause.ts) reads its cause's change sets and audit entries and
  // writes the undo's conflicts in the statements that plan it; a rollback's undo is found
  // by its job's status in the statement that reads it.
  { from: 'rollbacks', tables: ['change_sets', 'audit_log', 'undo_conflicts', 'jobs'] },
  // A backup is every table's rows as of a time (from history's images; backups/file.ts's
  // catalogue backupTables) with the audit chain and the snapshot schedule; its restore
  // writes each table's rows back in the catalogue's order, row images by the table's own
  // row type, and moves the sequences (deal_contacts', audit_log's) and the audit head past
  // them. A contact's data key is made only while the contact exists, in the statement that
  // makes it.
  {
    from: 'backups',
    tables: [
      'contact_history', 'history_entries', 'contacts', 'audit_log', 'audit_heads', 'deal_contacts', 'snapshot_settings', 'snapshots',
      'workspaces', 'roles', 'users', 'api_tokens', 'lists', 'accounts', 'deals', 'tags', 'forms', 'automations',
      'list_memberships', 'account_contacts', 'contact_tags', 'enrollments', 'messages',
    ],
  },
  // The report of causes counts each change set's writes across every table (history's
  // images, contacts' statuses) in one statement, names each cause (its user, token,
  // automation, form or import job) in one, and looks for workspaces with sets to count.
  { from: 'changes', tables: ['contact_history', 'history_entries', 'contacts', 'users', 'api_tokens', 'automations', 'forms', 'jobs', 'workspaces'] },
  // The bin of deleted objects (deleted-objects/queries.ts binTables) treats the six kinds
  // alike by their shared columns, as rollbacks/tables.ts does: a delete, a restore and a
  // purge are each one statement over the kind's table and the association rows it holds.
  { from: 'deleted-objects', tables: ['lists', 'list_memberships', 'accounts', 'account_contacts', 'deals', 'deal_contacts', 'tags', 'contact_tags', 'forms', 'automations', 'enrollments'] },
  // The bin's removed contacts by its filter (inSource) over contacts: listed and counted,
  // and written into a restore job's contacts (restore_job_contacts) in the same
  // set-based statement that selects them.
  { from: 'recycle-bin', tables: ['contacts'] },
];

/** The words after which SQL names a table, or a list of them: `FROM a x, b AS y`. */
const listWords = new Set(['from', 'join', 'using', 'update', 'into', 'table']);
/**
 * Words that are neither a table nor an alias where one could stand: the clause that
 * follows (`UPDATE t SET`, `FROM t WHERE`), or what makes the word before it no table
 * (`DO UPDATE SET`, `FOR UPDATE OF c`, `FOR UPDATE SKIP LOCKED`).
 */
const notNames = new Set([
  'select', 'values', 'default', 'set', 'of', 'skip', 'nowait', 'where', 'on', 'using', 'join', 'inner', 'left', 'right', 'full',
  'cross', 'natural', 'outer', 'group', 'order', 'having', 'window', 'limit', 'offset', 'fetch', 'for', 'union', 'intersect',
  'except', 'returning', 'with', 'overriding', 'tablesample', 'and', 'or', 'not', 'as', 'only', 'lateral', 'do', 'then', 'end',
]);
const builderCalls = new Set(['selectFrom', 'insertInto', 'updateTable', 'deleteFrom', 'mergeInto', 'innerJoin', 'leftJoin', 'rightJoin', 'fullJoin', 'crossJoin']);

/**
 * The SQL's tokens: words (lower-cased unless quoted), `(`, `)`, `,`, `.`, and `hole` for
 * each interpolation; string literals and comments are dropped, so nothing in them is read
 * as a table.
 */
function tokensOf(text) {
  const tokens = [];
  const pattern = /(\s+|--[^\n]*|\/\*[\s\S]*?\*\/|'(?:[^']|'')*')|"((?:[^"]|"")*)"|([a-z_][a-z0-9_$]*)|(\uE000)|([(),.])|(.)/giy;
  for (const m of text.matchAll(pattern)) {
    if (m[1] !== undefined || m[6] !== undefined) continue;
    if (m[2] !== undefined) tokens.push({ word: m[2].replaceAll('""', '"'), quoted: true });
    else if (m[3] !== undefined) tokens.push({ word: m[3].toLowerCase() });
    else if (m[4] !== undefined) tokens.push({ hole: true });
    else tokens.push({ punct: m[5] });
  }
  return tokens;
}

/** The index just past the parenthesis that closes the one at `i`. */
function pastParens(tokens, i) {
  let depth = 0;
  for (; i < tokens.length; i++) {
    if (tokens[i].punct === '(') depth++;
    else if (tokens[i].punct === ')' && --depth === 0) return i + 1;
  }
  return i;
}

const isName = (t) => t?.word !== undefined && (t.quoted || !notNames.has(t.word));

/**
 * The tables of the list that starts at `i` (after FROM, JOIN, …): each item, the first
 * and each after a comma at the same level, is a table (`public.` stripped), a subquery,
 * a function or an interpolation, with its optional alias and column aliases. A name
 * qualified by anything but `public` is a column (`EXTRACT(EPOCH FROM m.at)`), not a table.
 */
function tablesOfList(tokens, i) {
  const tables = [];
  for (;;) {
    while (tokens[i]?.word === 'only' || tokens[i]?.word === 'lateral') i++;
    const t = tokens[i];
    if (t?.punct === '(') i = pastParens(tokens, i);
    else if (t?.hole) i++;
    else if (isName(t)) {
      const parts = [t.word];
      for (i++; tokens[i]?.punct === '.' && tokens[i + 1]?.word !== undefined; i += 2) parts.push(tokens[i + 1].word);
      if (parts.length === 1) tables.push(parts[0]);
      else if (parts.length === 2 && parts[0] === 'public') tables.push(parts[1]);
      // A function's arguments, or an INSERT's columns.
      if (tokens[i]?.punct === '(') i = pastParens(tokens, i);
    } else return tables;
    if (tokens[i]?.word === 'with' && tokens[i + 1]?.word === 'ordinality') i += 2;
    if (tokens[i]?.word === 'as') i++;
    if (isName(tokens[i])) i++;
    if (tokens[i]?.punct === '(') i = pastParens(tokens, i);
    if (tokens[i]?.punct !== ',') return tables;
    i++;
  }
}

/** Every table the SQL text names (interpolations marked by U+E000, a private-use character no SQL holds). */
export function tablesNamedIn(text) {
  const tokens = tokensOf(text);
  const tables = new Set();
  tokens.forEach((t, i) => {
    if (!t.quoted && listWords.has(t.word)) for (const table of tablesOfList(tokens, i + 1)) tables.add(table);
  });
  return tables;
}

/** The table a Kysely builder's or sql.table's argument names: `'public.contacts as c'` is contacts. */
const tableOfArgument = (value) => value.trim().split(/\s+/)[0].replace(/^public\./, '');

/** The store (core) and wiring name any table; features and orchestrators only their own. */
const unchecked = new Set([...core, ...wiring]);

function folderOf(cwd, filename) {
  const parts = path.relative(cwd, filename).split(path.sep);
  return parts[0] === 'src' && parts.length > 2 ? parts[1] : null;
}

export const tableOwnership = {
  meta: { type: 'problem', schema: [], messages: { foreign: "{{folder}}'s SQL names {{table}}, which {{owner}} owns: call {{owner}}'s service.ts (or list the exception, with why, in .ci/table-ownership.js)" } },
  create(context) {
    const folder = folderOf(context.cwd, context.filename);
    if (!folder || unchecked.has(folder) || context.filename.endsWith('.test.ts')) return {};
    const check = (node, table) => {
      const owner = owners[table];
      if (!owner || owner === folder) return;
      if (exceptions.some((e) => e.from === folder && e.tables.includes(table))) return;
      context.report({ node, messageId: 'foreign', data: { folder, table, owner } });
    };
    return {
      TaggedTemplateExpression(node) {
        const tag = node.tag;
        if (tag.type !== 'Identifier' || tag.name !== 'sql') return;
        const text = node.quasi.quasis.map((q) => q.value.raw).join(' \uE000 ');
        for (const table of tablesNamedIn(text)) check(node, table);
      },
      CallExpression(node) {
        const first = node.arguments[0];
        if (first?.type !== 'Literal' || typeof first.value !== 'string') return;
        const callee = node.callee;
        if (callee.type === 'Identifier') {
          // A helper given a table to look up or write (db/keys.ts lookUp): a name only
          // where the whole string is one, as a message or a label is not.
          if (owners[first.value]) check(node, first.value);
          return;
        }
        if (callee.type !== 'MemberExpression' || callee.property.type !== 'Identifier') return;
        const name = callee.property.name;
        const sqlTable = name === 'table' && callee.object.type === 'Identifier' && callee.object.name === 'sql';
        if (sqlTable || builderCalls.has(name)) check(node, tableOfArgument(first.value));
      },
      Property(node) {
        const key = node.key.type === 'Identifier' ? node.key.name : node.key.value;
        if ((key === 'table' || key === 'tableName') && node.value.type === 'Literal' && typeof node.value.value === 'string') check(node, node.value.value);
      },
    };
  },
};
