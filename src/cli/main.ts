import { Command, InvalidArgumentError } from 'commander';
import { sql } from 'kysely';
import { readConfig } from '../config.js';
import type { AppContext } from '../context.js';
import { createContext, openDatabase, processLogger } from '../app.js';
import { inTransaction } from '../db/database.js';
import { createWorkspace } from '../workspaces/service.js';
import { issueToken } from '../users/service.js';
import { seedWorkspace } from '../seed/workspace.js';
import { progressBar } from './progress.js';
import { serve } from './serve.js';
import { restoreFromCli } from './restore.js';
import { previewFromCli, rollbackFromCli, type RollbackCommand } from './rollback.js';
import { createBackupFromCli, restoreBackupFromCli, verifyBackupFromCli } from './backup.js';
import { exportFromCli, importFromCli } from './imports.js';
import { importModes, type ImportMode } from '../imports/mapping.js';
import { systemClock } from '../clock.js';

const positiveInt = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a whole number');
  return n;
};

const program = new Command('retrace').description('Retrace: a CRM contact store in which nothing is lost by mistake');

/**
 * Runs a command against the configured database and closes it afterwards, whatever
 * happens: once the job pass a queued job kicked off (if any) is over, since a pass cut
 * off by the close never ends and keeps the process alive.
 */
async function withContext(fn: (ctx: AppContext) => Promise<void>): Promise<void> {
  const config = readConfig();
  const database = await openDatabase(config);
  // The command's output is on stdout; its log (a job that failed) goes to stderr.
  const { ctx, worker } = await createContext(database, config, processLogger(config, 'stderr'));
  try {
    await fn(ctx);
  } finally {
    await worker.stop();
    await database.close();
  }
}

program
  .command('serve')
  .description('Start the API and web UI (embedded PGlite unless DATABASE_URL is set)')
  .option('--no-demo', 'do not create the demo workspace on first start')
  .action(async (options: { demo: boolean }) => {
    await serve(readConfig(), { demo: options.demo });
  });

program
  .command('seed')
  .description('Create a workspace filled with a realistic CRM of N contacts')
  .requiredOption('--contacts <n>', 'number of contacts', positiveInt)
  .option('--name <name>', 'workspace name', 'Seeded workspace')
  .action(async (options: { contacts: number; name: string }) => {
    await withContext(async (ctx) => {
      const { workspace, token } = await createWorkspace(ctx.db, ctx.clock, { name: options.name, adminEmail: 'admin@example.com' });
      const bar = progressBar('seeding', options.contacts);
      const summary = await seedWorkspace(ctx.db, { workspaceId: workspace.id, actorId: null, origin: 'import', at: ctx.clock.now() }, {
        contacts: options.contacts,
        onProgress: (done) => bar.update(done),
      });
      bar.stop();
      console.log(JSON.stringify({ workspaceId: workspace.id, adminToken: token, ...summary }, null, 2));
    });
  });

const token = program.command('token').description('API tokens');
token
  .command('create')
  .description('Issue a new API token for a user of a workspace (the first admin by default)')
  .requiredOption('--workspace <id>', 'workspace id')
  .option('--user <email>', 'the user’s email')
  .action(async (options: { workspace: string; user?: string }) => {
    await withContext(async (ctx) => {
      const { rows } = await sql<{ id: string }>`
        SELECT u.id FROM users u JOIN roles r ON r.workspace_id = u.workspace_id AND r.id = u.role_id
        WHERE u.workspace_id = ${options.workspace}
          AND (${options.user ?? null}::text IS NULL AND r.name = 'admin' OR lower(u.email) = lower(${options.user ?? ''}))
        ORDER BY u.created_at LIMIT 1`.execute(ctx.db);
      if (!rows[0]) {
        console.error('No such user in that workspace');
        process.exitCode = 1;
      } else {
        const change = { workspaceId: options.workspace, actorId: null, origin: 'system' as const, at: ctx.clock.now() };
        console.log(await inTransaction(ctx.db, change, (tx) => issueToken(tx, options.workspace, rows[0].id)));
      }
    });
  });

program
  .command('restore')
  .description('Restore deleted (or archived) contacts as one background job, with a progress bar')
  .requiredOption('--workspace <id>', 'workspace id')
  .option('--ids <ids>', 'comma-separated contact ids (up to 100)')
  .option('--all', 'every contact of the source matching --q', false)
  .option('--q <text>', 'name or email filter, with --all')
  .option('--source <source>', 'deleted or archived', 'deleted')
  .option('--confirm-overage', 'go over the active contact limit', false)
  .option('--resume-automations', 'resume paused enrollments at their saved step', false)
  .action(async (options: { workspace: string; ids?: string; all: boolean; q?: string; source: string; confirmOverage: boolean; resumeAutomations: boolean }) => {
    const { source } = options;
    if (!options.ids === !options.all || (source !== 'deleted' && source !== 'archived')) {
      console.error('Give either --ids or --all, and --source deleted|archived');
      process.exitCode = 2;
      return;
    }
    await withContext(async (ctx) => {
      await restoreFromCli(ctx, {
        workspace: options.workspace,
        source,
        ids: options.ids?.split(',').filter(Boolean),
        all: options.all,
        q: options.q,
        confirmOverage: options.confirmOverage,
        resumeAutomations: options.resumeAutomations,
      });
    });
  });

program
  .command('import')
  .description('Import contacts from a CSV file as one background job, with a progress bar; bad rows are reported, not fatal')
  .argument('<file>', 'the CSV file (UTF-8, header row first)')
  .requiredOption('--workspace <id>', 'workspace id')
  .requiredOption('--map <columns>', "header=target pairs, e.g. 'Email=email,First=firstName,Tags=tag,News=list:<listId>' (or the columns as JSON)")
  .option('--mode <mode>', 'create, update or upsert (create or update by email)', 'create')
  .option('--list-status <status>', 'the status of a list cell that holds none (e.g. "yes")')
  .option('--confirm-overage', 'create contacts past the active contact limit', false)
  .action(async (file: string, options: { workspace: string; map: string; mode: string; listStatus?: string; confirmOverage: boolean }) => {
    if (!(importModes as readonly string[]).includes(options.mode)) {
      console.error(`--mode must be one of ${importModes.join(', ')}`);
      process.exitCode = 2;
      return;
    }
    await withContext((ctx) => importFromCli(ctx, { file, ...options, mode: options.mode as ImportMode }));
  });

program
  .command('export')
  .description('Write the contacts as CSV to stdout (the same as GET /contacts/export), with a progress bar on stderr')
  .requiredOption('--workspace <id>', 'workspace id')
  .option('--status <status>', 'active, archived, deleted or merged', 'active')
  .option('--q <text>', 'name or email filter')
  .action(async (options: { workspace: string; status: string; q?: string }) => {
    const { status } = options;
    if (status !== 'active' && status !== 'archived' && status !== 'deleted' && status !== 'merged') {
      console.error('--status must be active, archived, deleted or merged');
      process.exitCode = 2;
      return;
    }
    await withContext((ctx) => exportFromCli(ctx, { workspace: options.workspace, status, q: options.q }));
  });

const rollback = program.command('rollback').description('Point-in-time rollback of contacts or of a whole workspace');

for (const [name, description, run] of [
  ['preview', 'Show what a rollback to --at would change, changing nothing', previewFromCli],
  ['run', 'Roll back to --at: --contacts at once with a progress bar; the whole workspace after a second admin approves', rollbackFromCli],
] as const) {
  rollback
    .command(name)
    .description(description)
    .requiredOption('--workspace <id>', 'workspace id')
    .requiredOption('--at <time>', 'the point in time, ISO 8601 with offset (e.g. 2026-11-24T09:30:00Z)')
    .option('--contacts <ids>', 'comma-separated contact ids (a partial rollback); without it, the whole workspace')
    .option('--resume-automations', 'resume paused enrollments of revived contacts at their saved step', false)
    .action(async (options: { workspace: string; at: string; contacts?: string; resumeAutomations: boolean }) => {
      if (Number.isNaN(Date.parse(options.at))) {
        console.error('--at must be an ISO 8601 time, e.g. 2026-11-24T09:30:00Z');
        process.exitCode = 2;
        return;
      }
      await withContext(async (ctx) => {
        const command: RollbackCommand = {
          workspace: options.workspace,
          at: new Date(options.at).toISOString(),
          contacts: options.contacts?.split(',').filter(Boolean),
          resumeAutomations: options.resumeAutomations,
        };
        await run(ctx, command);
      });
    });
}

const backup = program.command('backup').description('Exported backups: create and verify them, restore one into an empty database');

backup
  .command('create')
  .description('Export the workspace as of a snapshot (a new manual one by default) to the backup store, and verify it')
  .requiredOption('--workspace <id>', 'workspace id')
  .option('--snapshot <id>', 'a retained snapshot of the workspace')
  .action(async (options: { workspace: string; snapshot?: string }) => {
    await withContext((ctx) => createBackupFromCli(ctx, options));
  });

backup
  .command('verify')
  .description('Re-read a backup from the store and check it (checksum, every row, counts)')
  .requiredOption('--workspace <id>', 'workspace id')
  .requiredOption('--id <id>', 'backup id')
  .action(async (options: { workspace: string; id: string }) => {
    await withContext((ctx) => verifyBackupFromCli(ctx, options));
  });

backup
  .command('restore')
  .description('Restore a backup file into an empty database (migrated first); contacts the keyring marks shredded stay out, and a contact of the backup that has no key and is not marked refuses the restore (exit 2)')
  .requiredOption('--file <path>', 'the backup file (.ndjson.gz)')
  .requiredOption('--keyring <path>', "the workspace's keyring file from the key store")
  .option('--database-url <url>', 'the target: a PostgreSQL database')
  .option('--data-dir <dir>', 'the target: an embedded (PGlite) database directory')
  .option('--allow-missing-keys', 'restore everyone else when contacts that were not erased have no key; they are named in the summary')
  .action(async (options: { file: string; keyring: string; databaseUrl?: string; dataDir?: string; allowMissingKeys?: boolean }) => {
    if (!options.databaseUrl === !options.dataDir) {
      console.error('Give the target: either --database-url or --data-dir');
      process.exitCode = 2;
      return;
    }
    await restoreBackupFromCli(systemClock, options);
  });

await program.parseAsync(process.argv);
