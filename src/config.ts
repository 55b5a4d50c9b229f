import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { isLogLevel, logLevels, type LogLevel } from './logger.js';

/** Settings read from the environment once, at start. */
export interface Config {
  port: number;
  /** The interface the server listens on (HOST): 127.0.0.1 unless told otherwise. */
  host: string;
  /**
   * Which proxies' X-Forwarded-For to believe for the client's address (TRUST_PROXY), in
   * Fastify's terms: false (none, the default), true (any: only when every request comes
   * through the proxy), a number of hops, or the proxies' addresses and CIDR ranges.
   */
  trustProxy: TrustProxy;
  /** A PostgreSQL server; when absent, the embedded PGlite database in dataDir. */
  databaseUrl: string | undefined;
  dataDir: string;
  /**
   * Who runs this server's jobs (RETRACE_RUNNER_ID): by default this host and, on
   * PostgreSQL, the port it serves (on PGlite, its data directory). A new process with the
   * same id takes over the jobs a dead one left at once, without waiting out their lease.
   * Two servers sharing one database must have different ids (they do by default).
   */
  runnerId: string;
  /**
   * Contacts (rows) per batch (one transaction each) of restores, rollbacks, undos and
   * imports (RETRACE_JOB_BATCH_SIZE), when not their own default (5,000, 2,000, and 5,000
   * rows of a CSV file on PostgreSQL, 1,000 on PGlite): smaller batches
   * stop sooner at a SIGTERM; the crash harness uses them to kill jobs between many batches.
   */
  jobBatchSize?: number;
  /**
   * How many jobs of each lane run at once on PostgreSQL (RETRACE_JOB_CONCURRENCY, default
   * 4): restores, rollbacks and undos of that many workspaces side by side, one per
   * workspace. PGlite has one connection and runs one job at a time whatever this says.
   */
  jobConcurrency?: number;
  /**
   * Into how many parts an import cuts each batch on PostgreSQL, each loaded by its own
   * transaction on its own connection, side by side (RETRACE_IMPORT_PARTS, default 2: the
   * work of one batch is the database's, and this lets more of its cores do it). 1 loads
   * each batch in the job's one transaction. PGlite has one connection and always does.
   */
  importParts?: number;
  adminToken: string;
  /** Whether the operator token was generated (and so must be printed once). */
  adminTokenGenerated: boolean;
  testClock: boolean;
  smtpUrl: string | undefined;
  /** The backup store: a directory of exported backup files. */
  backupDir: string;
  /** The key store: a directory of keyrings, kept apart from the backups. */
  backupKeyDir: string;
  /** The import store: a directory of uploaded CSV files, kept until their import ends. */
  importDir: string;
  /** The largest CSV file an import takes, in bytes. */
  importMaxBytes: number;
  /** The least severe level logged (LOG_LEVEL): info by default. */
  logLevel: LogLevel;
}

export type TrustProxy = boolean | number | string[];

/**
 * TRUST_PROXY: unset, empty or `false` trusts no proxy; `true` trusts any; a whole number
 * trusts that many hops; anything else is a comma-separated list of addresses or CIDR
 * ranges (`127.0.0.1,10.0.0.0/8`), checked as the server starts.
 */
export function readTrustProxy(value: string | undefined): TrustProxy {
  const setting = (value ?? '').trim();
  if (setting === '' || setting === 'false') return false;
  if (setting === 'true') return true;
  if (/^\d+$/.test(setting)) return Number(setting);
  const addresses = setting.split(',').map((address) => address.trim());
  const malformed = addresses.filter((address) => !/^[0-9a-fA-F.:]+(\/\d{1,3})?$/.test(address));
  if (malformed.length > 0) {
    throw new Error(`TRUST_PROXY is false, true, a number of hops or proxy addresses (CIDR ranges) separated by commas; ${JSON.stringify(malformed[0])} is none of these`);
  }
  return addresses;
}

export function readConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const dataDir = path.resolve(env.RETRACE_DATA_DIR ?? './.retrace-data');
  const adminToken = env.RETRACE_ADMIN_TOKEN || `op_${randomBytes(24).toString('base64url')}`;
  const logLevel = env.LOG_LEVEL || 'info';
  if (!isLogLevel(logLevel)) throw new Error(`LOG_LEVEL must be one of ${logLevels.join(', ')}; it is ${JSON.stringify(logLevel)}`);
  return {
    port: Number(env.PORT ?? 3000),
    // Not every interface: the embedded demo prints an operator token. HOST=0.0.0.0 to open it.
    host: env.HOST || '127.0.0.1',
    trustProxy: readTrustProxy(env.TRUST_PROXY),
    databaseUrl: env.DATABASE_URL || undefined,
    dataDir,
    runnerId: env.RETRACE_RUNNER_ID || `${os.hostname()}:${env.DATABASE_URL ? `port ${Number(env.PORT ?? 3000)}` : dataDir}`,
    ...(env.RETRACE_JOB_BATCH_SIZE ? { jobBatchSize: wholeNumber('RETRACE_JOB_BATCH_SIZE', env.RETRACE_JOB_BATCH_SIZE, 'contacts') } : {}),
    ...(env.RETRACE_JOB_CONCURRENCY ? { jobConcurrency: wholeNumber('RETRACE_JOB_CONCURRENCY', env.RETRACE_JOB_CONCURRENCY, 'jobs') } : {}),
    ...(env.RETRACE_IMPORT_PARTS ? { importParts: wholeNumber('RETRACE_IMPORT_PARTS', env.RETRACE_IMPORT_PARTS, 'parts') } : {}),
    adminToken,
    adminTokenGenerated: !env.RETRACE_ADMIN_TOKEN,
    testClock: env.RETRACE_TEST_CLOCK === '1',
    smtpUrl: env.SMTP_URL || undefined,
    // Beside the embedded database's directory, not in it: that directory is PostgreSQL's.
    backupDir: path.resolve(env.RETRACE_BACKUP_DIR || `${dataDir}-backups`),
    backupKeyDir: path.resolve(env.RETRACE_BACKUP_KEY_DIR || `${dataDir}-backup-keys`),
    importDir: path.resolve(env.RETRACE_IMPORT_DIR || `${dataDir}-imports`),
    importMaxBytes: env.RETRACE_IMPORT_MAX_BYTES ? wholeNumber('RETRACE_IMPORT_MAX_BYTES', env.RETRACE_IMPORT_MAX_BYTES) : 1024 ** 3,
    logLevel,
  };
}

function wholeNumber(name: string, value: string, unit = 'bytes'): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`${name} must be a whole number of ${unit}, not ${JSON.stringify(value)}`);
  return n;
}
