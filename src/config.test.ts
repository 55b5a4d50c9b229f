import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readConfig, readTrustProxy } from './config.js';

describe('configuration', () => {
  it('keeps the backup and key stores beside the embedded database directory, not inside it', () => {
    const config = readConfig({ RETRACE_DATA_DIR: '/var/lib/retrace/db' });
    expect(config.dataDir).toBe('/var/lib/retrace/db');
    expect(config.backupDir).toBe('/var/lib/retrace/db-backups');
    expect(config.backupKeyDir).toBe('/var/lib/retrace/db-backup-keys');
  });

  it('takes the backup and key stores from RETRACE_BACKUP_DIR and RETRACE_BACKUP_KEY_DIR, resolved', () => {
    const config = readConfig({ RETRACE_BACKUP_DIR: 'store', RETRACE_BACKUP_KEY_DIR: '/keys' });
    expect(config.backupDir).toBe(path.resolve('store'));
    expect(config.backupKeyDir).toBe('/keys');
  });

  it('logs at info unless LOG_LEVEL names another of pino’s levels', () => {
    expect(readConfig({}).logLevel).toBe('info');
    expect(readConfig({ LOG_LEVEL: 'warn' }).logLevel).toBe('warn');
    expect(() => readConfig({ LOG_LEVEL: 'loud' })).toThrow('LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent; it is "loud"');
  });

  it('runs the default number of jobs at once unless RETRACE_JOB_CONCURRENCY names a whole number of them', () => {
    expect(readConfig({}).jobConcurrency).toBeUndefined();
    expect(readConfig({ RETRACE_JOB_CONCURRENCY: '8' }).jobConcurrency).toBe(8);
    expect(() => readConfig({ RETRACE_JOB_CONCURRENCY: '0' })).toThrow('RETRACE_JOB_CONCURRENCY must be a whole number of jobs, not "0"');
    expect(() => readConfig({ RETRACE_JOB_CONCURRENCY: 'many' })).toThrow('RETRACE_JOB_CONCURRENCY must be a whole number of jobs, not "many"');
  });

  it('listens on 127.0.0.1 unless HOST names another interface', () => {
    expect(readConfig({}).host).toBe('127.0.0.1');
    expect(readConfig({ HOST: '' }).host).toBe('127.0.0.1');
    expect(readConfig({ HOST: '0.0.0.0' }).host).toBe('0.0.0.0');
  });

  it('trusts no proxy unless TRUST_PROXY says true, a number of hops or the proxies’ addresses', () => {
    expect(readConfig({}).trustProxy).toBe(false);
    expect(['', 'false', 'true', '2', '127.0.0.1', ' 10.0.0.0/8, ::1 '].map(readTrustProxy)).toEqual([false, false, true, 2, ['127.0.0.1'], ['10.0.0.0/8', '::1']]);
    expect(() => readTrustProxy('yes')).toThrow('TRUST_PROXY is false, true, a number of hops or proxy addresses (CIDR ranges) separated by commas; "yes" is none of these');
  });
});
