import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';

/** What a store says of a file it wrote: its size and SHA-256, as written. */
export interface StoredFile {
  byteSize: number;
  sha256: string;
}

/**
 * Where backup files (and, in another instance, keyrings) are kept. A write is atomic:
 * readers see the whole old file or the whole new one, never a part.
 *
 * @example
 * const store = new DirectoryStore('/var/lib/retrace/backups');
 * const { sha256 } = await store.write('ws.b1.ndjson.gz', chunks);
 */
export interface FileStore {
  write(name: string, content: AsyncIterable<Uint8Array | string>): Promise<StoredFile>;
  /** The file's bytes; the stream errors with code ENOENT when there is no such file. */
  read(name: string): Readable;
  exists(name: string): Promise<boolean>;
  /** Removes the file; nothing happens when there is none. */
  remove(name: string): Promise<void>;
  /** Where the file lives, for an operator (a restore takes a path). */
  locate(name: string): string;
}

/** A name this store accepts: no directories, nothing hidden, nothing to escape with. */
const safeName = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** A FileStore in one directory of the local filesystem (made on first write). */
export class DirectoryStore implements FileStore {
  constructor(readonly directory: string) {}

  locate(name: string): string {
    if (!safeName.test(name)) throw new Error(`not a file name for the store: ${JSON.stringify(name)}`);
    return path.join(this.directory, name);
  }

  /**
   * Writes to a temporary file beside the target, flushes it to disk, then renames it over
   * the target (atomic on one filesystem) and flushes the directory. On any failure the
   * temporary file goes and the target is as it was.
   */
  async write(name: string, content: AsyncIterable<Uint8Array | string>): Promise<StoredFile> {
    const target = this.locate(name);
    await mkdir(this.directory, { recursive: true });
    const temporary = path.join(this.directory, `.${name}.${randomBytes(6).toString('hex')}.tmp`);
    const hash = createHash('sha256');
    let byteSize = 0;
    const file = await open(temporary, 'wx', 0o600);
    try {
      for await (const chunk of content) {
        const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        hash.update(bytes);
        byteSize += bytes.byteLength;
        await file.write(bytes);
      }
      await file.sync();
      await file.close();
      await rename(temporary, target);
    } catch (error) {
      await file.close().catch(() => undefined);
      await rm(temporary, { force: true });
      throw error;
    }
    await syncDirectory(this.directory);
    return { byteSize, sha256: hash.digest('hex') };
  }

  read(name: string): Readable {
    return createReadStream(this.locate(name));
  }

  async exists(name: string): Promise<boolean> {
    try {
      return (await stat(this.locate(name))).isFile();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw error;
    }
  }

  async remove(name: string): Promise<void> {
    await rm(this.locate(name), { force: true });
    await syncDirectory(this.directory).catch(() => undefined);
  }
}

/** A rename is durable once its directory is flushed. */
async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
