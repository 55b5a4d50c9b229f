import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { isLogLevel, logLevels, type LogLevel } from './logger.js';

/** Settings read from the environment once, at start. */
export interface Config {
  port: number;
  host: string;
  /** A PostgreSQL server; when absent, the embedded PGlite database in dataDir. */
  databaseUrl: string | undefined;
  dataDir: string;
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

export function readConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const dataDir = path.resolve(env.RETRACE_DATA_DIR ?? './.retrace-data');
  const adminToken = env.RETRACE_ADMIN_TOKEN || `op_${randomBytes(24).toString('base64url')}`;
  const logLevel = env.LOG_LEVEL || 'info';
  if (!isLogLevel(logLevel)) throw new Error(`LOG_LEVEL must be one of ${logLevels.join(', ')}; it is ${JSON.stringify(logLevel)}`);
  return {
    port: Number(env.PORT ?? 3000),
    host: env.HOST ?? '0.0.0.0',
    databaseUrl: env.DATABASE_URL || undefined,
    dataDir,
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

function wholeNumber(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`${name} must be a whole number of bytes, not ${JSON.stringify(value)}`);
  return n;
}
