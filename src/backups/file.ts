import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';

/**
 * The backup file: gzip-compressed NDJSON, one JSON value a line.
 *
 *   {"format":"retrace-backup","version":2,"backupId":…,"workspaceId":…,"snapshotId":…,"takenAt":…,"createdAt":…,"tables":[…]}
 *   {"t":"lists","r":{…the row…}}                                     a row of a table that is no one's
 *   {"t":"contacts","c":"<contact id>","k":"<check>","e":"<base64>"}  a contact's row, sealed with its key
 *   …
 *   {"end":true,"counts":{"workspaces":1,…},"keyring":{"generation":7,"sha256":…}}
 *
 * Tables come in `backupTables` order (parents before children), so a restore loads the
 * file as it reads it. A contact's row (the contact itself, its list memberships, account
 * and deal links, tags, enrollments, messages) is AES-256-GCM with the contact's own data
 * key: a random 12-byte IV, then the ciphertext, then the 16-byte tag; the associated data
 * binds it to its workspace, table and contact. Without the key the row is noise: that is
 * how erasure reaches backups already written (crypto-shredding).
 *
 * Version 2 (issue 19.5) adds `k`, the check value of the key that sealed the row
 * (keyCheck: never the key itself), and in the trailer the generation and digest of the
 * keyring written with the backup, so a keyring can be checked against the backup: a key
 * missing, swapped or filed under another contact is found, not taken for an erasure.
 * Version 1 files are still read, without those checks.
 */
export const backupFormat = 'retrace-backup';
export const backupFormatVersion = 2;
const readableVersions: readonly number[] = [1, 2];

export interface BackupTable {
  tableName: string;
  /** Rows belong to one contact and are sealed with its key. */
  person: boolean;
}

/** Every table a backup holds, in the order it is written and loaded (foreign keys first). */
export const backupTables: readonly BackupTable[] = [
  { tableName: 'workspaces', person: false },
  { tableName: 'roles', person: false },
  { tableName: 'users', person: false },
  { tableName: 'api_tokens', person: false },
  { tableName: 'lists', person: false },
  { tableName: 'accounts', person: false },
  { tableName: 'deals', person: false },
  { tableName: 'tags', person: false },
  { tableName: 'forms', person: false },
  { tableName: 'automations', person: false },
  { tableName: 'contacts', person: true },
  { tableName: 'list_memberships', person: true },
  { tableName: 'account_contacts', person: true },
  { tableName: 'deal_contacts', person: true },
  { tableName: 'contact_tags', person: true },
  { tableName: 'enrollments', person: true },
  { tableName: 'messages', person: true },
  // Not captured by history: the schedule as it is at export, and the audit chain up to T.
  { tableName: 'snapshot_settings', person: false },
  { tableName: 'audit_log', person: false },
];

const tableIndex = new Map(backupTables.map((t, i) => [t.tableName, i]));

export type RowCounts = Record<string, number>;

export const zeroCounts = (): RowCounts => Object.fromEntries(backupTables.map((t) => [t.tableName, 0]));

export interface BackupHeader {
  format: typeof backupFormat;
  /** 1: no key check values, no keyring in the trailer. */
  version: number;
  backupId: string;
  workspaceId: string;
  snapshotId: string;
  takenAt: string;
  createdAt: string;
  tables: string[];
}

/** A backup file that cannot be trusted, and why: verification fails with it, a restore refuses. */
export class UnreadableBackup extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnreadableBackup';
  }
}

// ---------------------------------------------------------------- sealing

/** A contact's data key: 32 random bytes. */
export const newDataKey = (): Buffer => randomBytes(32);

const associatedData = (workspaceId: string, table: string, contactId: string) => Buffer.from(`${workspaceId}\n${table}\n${contactId}`);

/**
 * A key's check value: SHA-256 over a fixed label, the workspace, the contact and the key,
 * base64url. It tells whether a keyring's key is the one that sealed a contact's rows
 * without holding anything that opens them.
 */
export function keyCheck(workspaceId: string, contactId: string, key: Buffer): string {
  return createHash('sha256').update(`retrace-backup-key-check\n${workspaceId}\n${contactId}\n`).update(key).digest('base64url');
}

export function sealRow(key: Buffer, workspaceId: string, table: string, contactId: string, row: unknown): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(associatedData(workspaceId, table, contactId));
  const body = Buffer.concat([cipher.update(JSON.stringify(row), 'utf8'), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64');
}

/** The row sealed by sealRow; throws when the key, the context or a single bit differs. */
export function openRow(key: Buffer, workspaceId: string, table: string, contactId: string, sealed: string): unknown {
  const bytes = Buffer.from(sealed, 'base64');
  if (bytes.length < 12 + 16) throw new Error('too short');
  const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, 12));
  decipher.setAAD(associatedData(workspaceId, table, contactId));
  decipher.setAuthTag(bytes.subarray(bytes.length - 16));
  const plain = Buffer.concat([decipher.update(bytes.subarray(12, bytes.length - 16)), decipher.final()]);
  return JSON.parse(plain.toString('utf8'));
}

// ---------------------------------------------------------------- writing

export const headerLine = (header: BackupHeader): string => `${JSON.stringify(header)}\n`;
export const rowLine = (table: string, row: unknown): string => `${JSON.stringify({ t: table, r: row })}\n`;
export const sealedLine = (table: string, contactId: string, check: string, sealed: string): string => `${JSON.stringify({ t: table, c: contactId, k: check, e: sealed })}\n`;
export const trailerLine = (counts: RowCounts, keyring: KeyringRecord): string => `${JSON.stringify({ end: true, counts, keyring })}\n`;

/** The keyring a backup was made with, as its trailer records it. */
export interface KeyringRecord {
  generation: number;
  sha256: string;
}

/** The lines, gzip-compressed, as they are produced: an error of the producer ends the stream with it. */
export function gzipped(lines: AsyncIterable<string>): Readable {
  const gzip = createGzip();
  // pipeline destroys gzip with the producer's error, so whoever reads gzip gets it.
  pipeline(Readable.from(lines), gzip).catch(() => undefined);
  return gzip;
}

// ---------------------------------------------------------------- reading

/** The longest line a reader accepts: a row is at most a few MiB even sealed. */
const maxLineChars = 32 * 1024 * 1024;

/**
 * The text lines of a stream (UTF-8). A stream that fails, a line that never ends or a last
 * line without its newline is UnreadableBackup, with `what` naming the file.
 */
export async function* textLines(source: Readable, what: string): AsyncGenerator<string> {
  source.setEncoding('utf8');
  let pending = '';
  try {
    for await (const chunk of source as AsyncIterable<string>) {
      pending += chunk;
      let newline = pending.indexOf('\n');
      while (newline >= 0) {
        yield pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        newline = pending.indexOf('\n');
      }
      if (pending.length > maxLineChars) throw new UnreadableBackup(`${what}: a line is longer than ${maxLineChars} characters`);
    }
  } catch (error) {
    if (error instanceof UnreadableBackup) throw error;
    throw new UnreadableBackup(`${what} cannot be read: ${(error as Error).message}`);
  } finally {
    source.destroy();
  }
  if (pending.length > 0) throw new UnreadableBackup(`${what} ends in the middle of a line (truncated)`);
}

/** The text lines of a gzip stream: one that is not gzip, or is cut short, is UnreadableBackup. */
export function gunzippedLines(source: Readable): AsyncGenerator<string> {
  const gunzip = createGunzip();
  // pipeline destroys gunzip with the source's error (a missing file, say), so the reader gets it.
  pipeline(source, gunzip).catch(() => undefined);
  return textLines(gunzip, 'the backup file');
}

/** Keys by contact id, of one workspace: what opens its contacts' rows. */
export interface Keyring {
  workspaceId: string;
  keys: Map<string, Buffer>;
  /** Contacts whose keys an erasure or a purge destroyed (the keyring's shredded marks). */
  shredded: Set<string>;
  /** False for a version 1 keyring, which has no shredded marks. */
  marksShredded: boolean;
  /** The keys' generation it holds, and its digest (keyringDigest); null in a file without a generation. */
  generation: number | null;
  digest: string | null;
}

export type BackupEntry =
  | { kind: 'row'; table: BackupTable; contactId: string | null; row: Record<string, unknown> }
  /** A contact's row whose key the keyring marks destroyed (the contact was purged or erased): it can never be read. */
  | { kind: 'shredded'; table: BackupTable; contactId: string }
  /**
   * A contact's row the keyring has no key for and no shredded mark (`missing`), or a key
   * whose check value is not the one that sealed the row (`mismatch`, version 2 files).
   */
  | { kind: 'keyless'; table: BackupTable; contactId: string; why: 'missing' | 'mismatch' };

export interface BackupReading {
  header: BackupHeader;
  /** Every row, in file order; at the end, checks that the file was complete and its counts add up. */
  entries: AsyncGenerator<BackupEntry>;
  /** Rows per table read so far (all of them once entries is done), shredded ones included. */
  counts: RowCounts;
  /** The keyring the backup was made with, once entries is done (null: a version 1 file). */
  keyring: KeyringRecord | null;
  /** Stops reading (the file is closed); nothing happens when it was read to the end. */
  close(): Promise<void>;
}

const isRecord = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);

function parseLine(line: string, lineNo: number): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new UnreadableBackup(`line ${lineNo} is not JSON`);
  }
  if (!isRecord(value)) throw new UnreadableBackup(`line ${lineNo} is not a JSON object`);
  return value;
}

function parseHeader(line: string | undefined): BackupHeader {
  if (line === undefined) throw new UnreadableBackup('the file is empty');
  const h = parseLine(line, 1);
  if (h.format !== backupFormat) throw new UnreadableBackup('the file is not a Retrace backup');
  if (typeof h.version !== 'number' || !readableVersions.includes(h.version)) throw new UnreadableBackup(`backup format version ${String(h.version)} is not one this server reads`);
  const text = (field: string): string => {
    const value = h[field];
    if (typeof value !== 'string' || value === '') throw new UnreadableBackup(`the header has no ${field}`);
    return value;
  };
  const tables = h.tables;
  if (!Array.isArray(tables) || !tables.every((t): t is string => typeof t === 'string')) throw new UnreadableBackup('the header has no list of tables');
  return {
    format: backupFormat,
    version: h.version,
    backupId: text('backupId'),
    workspaceId: text('workspaceId'),
    snapshotId: text('snapshotId'),
    takenAt: text('takenAt'),
    createdAt: text('createdAt'),
    tables,
  };
}

/**
 * Reads a backup file: its header at once, then its rows through `entries`, each checked
 * as it comes: a known table, in order, of the header's workspace, a contact's row opened
 * with its key from the keyring. A key the keyring marks shredded, or one it lacks, or
 * (version 2) one whose check value is not the row's, is reported as such (shredded,
 * keyless), not an error: whoever reads decides what that means. A key that passes its
 * check and still does not open the row is an error. After the last row it checks the
 * trailer and that its counts are the rows read. Anything wrong throws UnreadableBackup.
 *
 * @example
 * const reading = await readBackup(store.read(name), keyring);
 * for await (const entry of reading.entries) if (entry.kind === 'row') load(entry.table, entry.row);
 */
export async function readBackup(source: Readable, keyring: Keyring): Promise<BackupReading> {
  const lines = gunzippedLines(source);
  const first = await lines.next();
  const header = parseHeader(first.done ? undefined : first.value);
  if (header.workspaceId !== keyring.workspaceId) {
    await lines.return(undefined);
    throw new UnreadableBackup(`the keyring is workspace ${keyring.workspaceId}'s, the backup workspace ${header.workspaceId}'s`);
  }
  const counts = zeroCounts();
  const checked = header.version >= 2;
  const reading: BackupReading = {
    header,
    entries: entries(),
    counts,
    keyring: null,
    close: async () => void (await lines.return(undefined)),
  };
  async function* entries(): AsyncGenerator<BackupEntry> {
    let lineNo = 1;
    let position = 0;
    let trailer: Record<string, unknown> | undefined;
    for await (const line of lines) {
      lineNo += 1;
      if (trailer) throw new UnreadableBackup(`line ${lineNo} comes after the end of the backup`);
      const value = parseLine(line, lineNo);
      if (value.end === true) {
        trailer = value;
        continue;
      }
      const index = typeof value.t === 'string' ? tableIndex.get(value.t) : undefined;
      if (index === undefined) throw new UnreadableBackup(`line ${lineNo} names no table a backup holds`);
      if (index < position) throw new UnreadableBackup(`line ${lineNo}: ${String(value.t)} comes after a table loaded later`);
      position = index;
      const table = backupTables[index];
      counts[table.tableName] += 1;
      if (table.person) {
        if (typeof value.c !== 'string' || typeof value.e !== 'string') throw new UnreadableBackup(`line ${lineNo}: a ${table.tableName} row is not sealed`);
        if (checked && typeof value.k !== 'string') throw new UnreadableBackup(`line ${lineNo}: a ${table.tableName} row has no key check value`);
        const key = keyring.keys.get(value.c);
        if (!key) {
          yield keyring.shredded.has(value.c) ? { kind: 'shredded', table, contactId: value.c } : { kind: 'keyless', table, contactId: value.c, why: 'missing' };
          continue;
        }
        if (checked && keyCheck(header.workspaceId, value.c, key) !== value.k) {
          yield { kind: 'keyless', table, contactId: value.c, why: 'mismatch' };
          continue;
        }
        let row: unknown;
        try {
          row = openRow(key, header.workspaceId, table.tableName, value.c, value.e);
        } catch {
          throw new UnreadableBackup(`line ${lineNo}: a ${table.tableName} row of contact ${value.c} does not decrypt with its key`);
        }
        if (!isRecord(row) || row.workspace_id !== header.workspaceId) throw new UnreadableBackup(`line ${lineNo}: the row is not of this workspace`);
        yield { kind: 'row', table, contactId: value.c, row };
      } else {
        if (!isRecord(value.r)) throw new UnreadableBackup(`line ${lineNo}: a ${table.tableName} row is not an object`);
        const owner = table.tableName === 'workspaces' ? value.r.id : value.r.workspace_id;
        if (owner !== header.workspaceId) throw new UnreadableBackup(`line ${lineNo}: the row is not of this workspace`);
        yield { kind: 'row', table, contactId: null, row: value.r };
      }
    }
    if (!trailer) throw new UnreadableBackup('the file ends before the end of the backup (truncated)');
    const declared = isRecord(trailer.counts) ? trailer.counts : {};
    for (const table of backupTables) {
      if (declared[table.tableName] !== counts[table.tableName]) {
        throw new UnreadableBackup(`the file holds ${counts[table.tableName]} ${table.tableName} rows, its end says ${String(declared[table.tableName])}`);
      }
    }
    if (checked) {
      const ring = trailer.keyring;
      if (!isRecord(ring) || typeof ring.generation !== 'number' || typeof ring.sha256 !== 'string') throw new UnreadableBackup('the end of the backup does not record its keyring');
      reading.keyring = { generation: ring.generation, sha256: ring.sha256 };
    }
  }
  return reading;
}
