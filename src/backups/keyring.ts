import { createHash, type Hash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { textLines, UnreadableBackup, type Keyring } from './file.js';

/**
 * The keyring file: a workspace's data keys, kept in the key store (a directory apart
 * from the backups), NDJSON:
 *
 *   {"format":"retrace-keyring","version":2,"workspaceId":…,"generation":7,"writtenAt":…}
 *   {"c":"<contact id>","k":"<base64 key>"}          a live contact's key
 *   …
 *   {"c":"<contact id>","shredded":true}             a contact whose key an erasure or purge destroyed
 *   …
 *   {"end":true,"keys":1234,"shredded":5}
 *
 * It is rewritten whole (atomically) after every backup and whenever keys are destroyed,
 * so a destroyed key stays in no keyring, and every backup of the workspace opens with
 * the newest one. The shredded marks (ids only, no personal data) let a restore tell a
 * person who was erased from one whose key went missing. Version 1 files have no marks.
 *
 * Its digest (keyringDigest) is SHA-256 over the format, workspace and generation and
 * every line after the header: the file's content without `writtenAt`, so the same
 * generation written again (the file lost, say) has the same digest.
 */
export const keyringFormat = 'retrace-keyring';
export const keyringFormatVersion = 2;

export const keyringFileName = (workspaceId: string): string => `${workspaceId}.keyring.ndjson`;

export interface KeyringHeader {
  workspaceId: string;
  generation: number;
  writtenAt: string;
}

function digestStart(workspaceId: string, generation: number): Hash {
  return createHash('sha256').update(`${keyringFormat}\n${workspaceId}\n${generation}\n`);
}

/**
 * The keyring's lines, from pages of keys and then pages of shredded contact ids as they
 * are read; `digest` receives the keyring's digest once the last line is produced.
 */
export async function* keyringLines(
  header: KeyringHeader,
  pages: AsyncIterable<{ contact_id: string; key: Buffer }[]>,
  shreddedPages: AsyncIterable<string[]>,
  digest: (sha256: string) => void,
): AsyncGenerator<string> {
  yield `${JSON.stringify({ format: keyringFormat, version: keyringFormatVersion, ...header })}\n`;
  const hash = digestStart(header.workspaceId, header.generation);
  const emit = (text: string) => {
    hash.update(text);
    return text;
  };
  let keys = 0;
  for await (const page of pages) {
    keys += page.length;
    yield emit(page.map((k) => `${JSON.stringify({ c: k.contact_id, k: k.key.toString('base64') })}\n`).join(''));
  }
  let shredded = 0;
  for await (const page of shreddedPages) {
    shredded += page.length;
    yield emit(page.map((c) => `${JSON.stringify({ c, shredded: true })}\n`).join(''));
  }
  yield emit(`${JSON.stringify({ end: true, keys, shredded })}\n`);
  digest(hash.digest('hex'));
}

/**
 * Reads a keyring file; one cut short, of another format, with a malformed key or with a
 * contact both keyed and shredded is UnreadableBackup.
 */
export async function readKeyring(source: Readable): Promise<Keyring> {
  let header: Record<string, unknown> | undefined;
  let hash: Hash | undefined;
  let ended = false;
  const keys = new Map<string, Buffer>();
  const shredded = new Set<string>();
  let lineNo = 0;
  for await (const line of textLines(source, 'the keyring')) {
    lineNo += 1;
    let value: Record<string, unknown>;
    try {
      value = JSON.parse(line) as Record<string, unknown>;
    } catch {
      throw new UnreadableBackup(`the keyring's line ${lineNo} is not JSON`);
    }
    if (ended) throw new UnreadableBackup(`the keyring has lines after its end`);
    if (!header) {
      if (value?.format !== keyringFormat || typeof value.workspaceId !== 'string') throw new UnreadableBackup('the keyring file is not a Retrace keyring');
      if (value.version !== 1 && value.version !== keyringFormatVersion) throw new UnreadableBackup(`keyring format version ${String(value.version)} is not one this server reads`);
      header = value;
      if (typeof value.generation === 'number') hash = digestStart(value.workspaceId, value.generation);
      continue;
    }
    hash?.update(`${line}\n`);
    if (value?.end === true) {
      if (value.keys !== keys.size) throw new UnreadableBackup(`the keyring holds ${keys.size} keys, its end says ${String(value.keys)}`);
      if (header.version !== 1 && value.shredded !== shredded.size) {
        throw new UnreadableBackup(`the keyring marks ${shredded.size} contacts shredded, its end says ${String(value.shredded)}`);
      }
      ended = true;
      continue;
    }
    if (typeof value?.c === 'string' && value.shredded === true && header.version !== 1) {
      if (keys.has(value.c)) throw new UnreadableBackup(`the keyring's line ${lineNo} marks shredded a contact it holds a key of`);
      shredded.add(value.c);
      continue;
    }
    const key = typeof value?.k === 'string' ? Buffer.from(value.k, 'base64') : undefined;
    if (typeof value?.c !== 'string' || !key || key.length !== 32) throw new UnreadableBackup(`the keyring's line ${lineNo} is not a key`);
    if (shredded.has(value.c)) throw new UnreadableBackup(`the keyring's line ${lineNo} holds a key of a contact it marks shredded`);
    keys.set(value.c, key);
  }
  if (!header) throw new UnreadableBackup('the keyring file is empty');
  if (!ended) throw new UnreadableBackup('the keyring ends before its end (truncated)');
  return {
    workspaceId: header.workspaceId as string,
    keys,
    shredded,
    marksShredded: header.version !== 1,
    generation: typeof header.generation === 'number' ? header.generation : null,
    digest: hash ? hash.digest('hex') : null,
  };
}
