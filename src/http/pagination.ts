import { sql, type RawBuilder } from 'kysely';
import { z, type ZodType } from 'zod';
import { invalidRequest } from './errors.js';

/** The most items a page holds: `?limit=` 1..500. */
export const maxPageSize = 500;

/** `?limit=` 1..500 (default 50) and an opaque `?cursor=`, as every collection takes. */
export const pageQuery = {
  limit: z.coerce.number().int().min(1).max(maxPageSize).default(50),
  cursor: z.string().min(1).optional(),
};

export interface Page<T> {
  data: T[];
  nextCursor: string | null;
}

/** The schema of a page of `item`s: `{data, nextCursor}` (../shared/API.md, "Collections"). */
export const pageOf = <T extends ZodType>(item: T) => z.object({ data: z.array(item), nextCursor: z.string().nullable() });

/** A keyset position: the sort values of the last row of the previous page. */
export type CursorKey = (string | number)[];

export function encodeCursor(key: CursorKey): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

/**
 * A timestamptz column as a cursor part, to the microsecond: a JS Date keeps only
 * milliseconds, and a cursor cut to them would skip rows written with finer times (by
 * raw SQL, or anything defaulting to the database clock).
 */
export function cursorTime(column: string): RawBuilder<string> {
  return sql<string>`to_char(${sql.ref(column)} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
}

/** What a cursor position holds: a time, a text (an id) or a whole number. */
export type CursorPart = 'timestamp' | 'text' | 'integer';

/** The longest text part a cursor holds: ids are UUIDs, and no key of ours is longer than this. */
const maxCursorTextLength = 512;

/**
 * A time as cursorTime writes one, and only such: `YYYY-MM-DDTHH:MM:SS.ffffffZ` of a real
 * instant from 1970 to 9999 (a time PostgreSQL holds, and no row of ours is older). A
 * year 99999, a 30 February or a 25th hour is no position of any collection.
 */
function isCursorTime(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  const match = /^(\d{4})-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?Z$/.exec(value);
  if (!match || Number(match[1]) < 1970) return false;
  const at = new Date(value);
  // Date rolls 30 February over to 2 March: the time must read back as written.
  return !Number.isNaN(at.getTime()) && at.toISOString().slice(0, 19) === value.slice(0, 19);
}

const cursorPartIs: Record<CursorPart, (v: unknown) => boolean> = {
  timestamp: isCursorTime,
  text: (v) => typeof v === 'string' && v.length <= maxCursorTextLength && !v.includes('\u0000'),
  integer: (v) => Number.isSafeInteger(v),
};

/**
 * The key of a cursor this server issued. `shape` names each position's kind, so a
 * cursor edited by hand is a 400 here rather than a type error in SQL or an empty page.
 */
export function decodeCursor(cursor: string | undefined, shape: readonly CursorPart[]): CursorKey | undefined {
  if (cursor === undefined) return undefined;
  try {
    const key: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(key) && key.length === shape.length && key.every((v, i) => cursorPartIs[shape[i]](v))) return key;
  } catch {
    // falls through to the error below
  }
  throw invalidRequest('cursor is not one this server issued', { issues: [{ in: 'query', path: ['cursor'], message: 'invalid cursor' }] });
}

/** A page asked for: `?limit=` and `?cursor=` as pageQuery parses them. */
export interface PageRequest {
  limit: number;
  cursor?: string;
}

/**
 * Keyset paging in ascending (time, id) order, the order of most collections: the
 * condition for rows past the request's cursor (a 400 for one this server did not
 * issue), the row count to fetch (one more than a page) and how to make the page. Each
 * row carries its time as `page_time`, selected with `pageTime`.
 */
export function pageByTime(request: PageRequest, timeColumn: string, idColumn: string) {
  const after = decodeCursor(request.cursor, ['timestamp', 'text']);
  return {
    pageTime: sql`${cursorTime(timeColumn)} AS page_time`,
    pastCursor: after ? sql`(${sql.ref(timeColumn)}, ${sql.ref(idColumn)}) > (${after[0]}::timestamptz, ${after[1]}::text)` : sql`true`,
    fetch: request.limit + 1,
    page: <R extends { page_time: string }, T>(rows: R[], idOf: (row: R) => string, present: (row: R) => T): Page<T> =>
      toPage(rows, request.limit, (row) => [row.page_time, idOf(row)], present),
  };
}

/**
 * Turns limit+1 fetched rows into a page: the extra row only says that another page
 * exists, and the last kept row's key becomes the cursor.
 */
export function toPage<R, T>(rows: R[], limit: number, keyOf: (row: R) => CursorKey, present: (row: R) => T): Page<T> {
  const kept = rows.slice(0, limit);
  const last = kept.at(-1);
  return {
    data: kept.map(present),
    nextCursor: rows.length > limit && last !== undefined ? encodeCursor(keyOf(last)) : null,
  };
}
