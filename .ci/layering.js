/**
 * The layering of src/ (docs/ARCHITECTURE.md), checked by eslint-plugin-boundaries on
 * every `npm run lint`:
 *
 * - core (db, http, jobs, history, test-support; clock, config, logger, context): what
 *   everything stands on: connections, migrations and table types, transactions,
 *   history, the HTTP layer, the job runner, test harnesses. It imports no feature.
 * - features (contacts, lists, accounts, deals, tags, users, workspaces, snapshots,
 *   imports, automations, …): each owns its tables and exports set-based functions over
 *   them from its service.ts. A feature imports core, and of another feature only its
 *   service.ts or an api file listed in `apis` below, never its queries.ts or other
 *   inner files.
 * - orchestrators (recycle-bin, rollbacks, undo, merge, retention, backups, erasure,
 *   held-deletes, deleted-objects, imports, changes): flows across many features' tables
 *   (restore, rollback, undo, merge, purge, backup, import, the report of causes): they
 *   call the features' services and each other's. Their SQL, like a feature's, names only
 *   their own tables (.ci/table-ownership.js, which lists the exceptions).
 * - wiring (app.ts, cli, seed, maintenance): builds the server and the commands out of
 *   all of them.
 *
 * Tests may import anything. Where today's code breaks the layering, the import is
 * listed in `exceptions`, with why: remove an entry when its import goes; never add one
 * without saying why.
 */

export const core = ['db', 'http', 'jobs', 'history', 'test-support'];
// An import writes contacts with their lists, tags and accounts (by their services);
// changes reports every cause's writes across all tables, naming its user, token,
// automation, form or import.
export const orchestrators = ['recycle-bin', 'rollbacks', 'undo', 'merge', 'retention', 'backups', 'erasure', 'held-deletes', 'deleted-objects', 'imports', 'changes'];
export const wiring = ['cli', 'seed', 'maintenance'];

/** Files besides service.ts that a folder exports to the others, on purpose. */
const apis = [
  // The SQL fragment for "an active contact", which every query over contacts' links uses.
  { name: 'contacts', file: 'guards.ts' },
  // The permission catalogue: what roles hold and routes require.
  { name: 'users', file: 'permissions.ts' },
  // Pausing and resuming a contact's automations when it leaves and comes back.
  { name: 'automations', file: 'enrollments.ts' },
  // Reading the outbox, and sending messages, for automations' steps.
  { name: 'outbox', file: 'consumer.ts' },
  { name: 'messages', file: 'sender.ts' },
  // The bin every feature moves what it deletes into, with what it held (a store-layer primitive).
  { name: 'deleted-objects', file: 'bin.ts' },
  // A folder's routes.ts exports the zod schemas of its answers: the contract's shared pieces.
  { name: '*', file: 'routes.ts', from: 'routes.ts' },
];

/**
 * Imports that break the layering today. Each says why it is there and what would end it.
 * `from`/`to`: folder names; `file`: the file imported (in `to`); `type`: only a type import.
 */
const exceptions = [
  // http checks a route's permission and test-support lists them: the catalogue belongs in
  // core (http/permissions.ts). Type-only imports.
  { from: 'http', to: 'users', file: 'permissions.ts' },
  { from: 'test-support', to: 'users', file: 'permissions.ts' },
  // The registry of job kinds (jobs/handlers.ts) names the orchestrators' and imports'
  // handlers: wiring that belongs with app.ts.
  { from: 'jobs', to: 'recycle-bin', file: 'service.ts' },
  { from: 'jobs', to: 'rollbacks', file: 'service.ts' },
  { from: 'jobs', to: 'imports', file: 'service.ts' },
  { from: 'jobs', to: 'undo', file: 'service.ts' },
  // Seed 004: a form submission from an archived or deleted contact restores it; forms
  // calls the recycle bin's restore. A flow: forms' submission would be an orchestrator.
  { from: 'forms', to: 'recycle-bin', file: 'service.ts' },
  // GET /limits (workspaces' routes) names the recycle bin's pick limit, maxPickedContacts:
  // the limits would be gathered in wiring (app.ts) instead.
  { from: 'workspaces', to: 'recycle-bin', file: 'service.ts' },
  // The mass-delete guard holds contacts' deletes: contacts' routes ask it first.
  { from: 'contacts', to: 'held-deletes', file: 'service.ts' },
  // The import store is backups' generic directory store: it belongs in core.
  { from: 'imports', to: 'backups', file: 'store.ts' },
  // An undo by cause is planned by the rollback plan (rollbacks/plan.ts, cause.ts):
  // plan.ts is rollbacks' planning api.
  { from: 'undo', to: 'rollbacks', file: 'plan.ts' },
];

const folders = (names) => `src/@(${names.join('|')})`;
const element = (name, file) => ({ captured: { name }, ...(file ? { fileInternalPath: file } : {}) });

export const layering = (boundaries) => ({
  files: ['src/**/*.ts'],
  ignores: ['**/*.test.ts'],
  plugins: { boundaries },
  settings: {
    'import/resolver': { typescript: { project: './tsconfig.json' } },
    'boundaries/include': ['src/**/*.ts'],
    'boundaries/ignore': ['**/*.test.ts'],
    // The files at src/'s top: core ones, and app.ts, the server's wiring.
    'boundaries/files': [
      { category: 'core', pattern: 'src/@(clock|config|logger|context).ts' },
      { category: 'wiring', pattern: 'src/app.ts' },
    ],
    'boundaries/elements': [
      { type: 'core', pattern: folders(core), capture: ['name'] },
      { type: 'wiring', pattern: folders(wiring), capture: ['name'] },
      { type: 'orchestrator', pattern: folders(orchestrators), capture: ['name'] },
      { type: 'feature', pattern: 'src/*', capture: ['name'] },
    ],
  },
  rules: {
    'boundaries/dependencies': [
      2,
      {
        default: 'disallow',
        policies: [
          // Anything may import core: the core folders and the core files at src/'s top.
          { allow: { to: { element: { type: 'core' } } } },
          { allow: { to: { file: { categories: 'core' } } } },
          { from: { file: { categories: 'wiring' } }, allow: { to: { element: { type: '*' } } } },
          { from: { element: { type: 'feature' } }, allow: { to: { element: { type: 'feature', fileInternalPath: 'service.ts' } } } },
          { from: { element: { type: 'orchestrator' } }, allow: { to: { element: { types: ['feature', 'orchestrator'], fileInternalPath: 'service.ts' } } } },
          ...apis.map((api) => ({
            from: { element: { types: ['feature', 'orchestrator'], ...(api.from ? { fileInternalPath: api.from } : {}) } },
            allow: { to: { element: element(api.name, api.file) } },
          })),
          { from: { element: { type: 'wiring' } }, allow: { to: { element: { type: '*' } } } },
          { from: { element: { type: 'wiring' } }, allow: { to: { file: { categories: 'wiring' } } } },
          // The test harness builds the whole server (app.ts), as the commands do.
          { from: { element: element('test-support') }, allow: { to: { file: { categories: 'wiring' } } } },
          ...exceptions.map((e) => ({ from: { element: element(e.from) }, allow: { to: { element: element(e.to, e.file) } } })),
        ],
      },
    ],
  },
});
