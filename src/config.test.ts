import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readConfig } from './config.js';

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
});
