import type { Readable } from 'node:stream';
import { textLines, UnreadableBackup, type Keyring } from './file.js';

/**
 * The keyring file: a workspace's data keys, kept in the key store (a directory apart
 * from the backups), NDJSON:
 *
 *   {"format":"retrace-keyring","version":1,"workspaceId":…,"generation":7,"writtenAt":…}
 *   {"c":"<contact id>","k":"<base64 key>"}
 *   …
 *   {"end":true,"keys":1234}
 *
 * It is rewritten whole (atomically) after every backup and whenever keys are destroyed,
 * so a destroyed key stays in no keyring, and every backup of the workspace opens with
 * the newest one.
 */
export const keyringFormat = 'retrace-keyring';

export const keyringFileName = (workspaceId: string): string => `${workspaceId}.keyring.ndjson`;

export interface KeyringHeader {
  workspaceId: string;
  generation: number;
  writtenAt: string;
}

/** The keyring's lines, from pages of keys as they are read. */
export async function* keyringLines(header: KeyringHeader, pages: AsyncIterable<{ contact_id: string; key: Buffer }[]>): AsyncGenerator<string> {
  yield `${JSON.stringify({ format: keyringFormat, version: 1, ...header })}\n`;
  let keys = 0;
  for await (const page of pages) {
    keys += page.length;
    yield page.map((k) => `${JSON.stringify({ c: k.contact_id, k: k.key.toString('base64') })}\n`).join('');
  }
  yield `${JSON.stringify({ end: true, keys })}\n`;
}

/** Reads a keyring file; one cut short, of another format or with a malformed key is UnreadableBackup. */
export async function readKeyring(source: Readable): Promise<Keyring> {
  let header: Record<string, unknown> | undefined;
  let ended = false;
  const keys = new Map<string, Buffer>();
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
      header = value;
      continue;
    }
    if (value?.end === true) {
      if (value.keys !== keys.size) throw new UnreadableBackup(`the keyring holds ${keys.size} keys, its end says ${String(value.keys)}`);
      ended = true;
      continue;
    }
    const key = typeof value?.k === 'string' ? Buffer.from(value.k, 'base64') : undefined;
    if (typeof value?.c !== 'string' || !key || key.length !== 32) throw new UnreadableBackup(`the keyring's line ${lineNo} is not a key`);
    keys.set(value.c, key);
  }
  if (!header) throw new UnreadableBackup('the keyring file is empty');
  if (!ended) throw new UnreadableBackup('the keyring ends before its end (truncated)');
  return { workspaceId: header.workspaceId as string, keys };
}
