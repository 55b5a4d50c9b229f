import { createHash } from 'node:crypto';

/** The part of an audit entry the hash covers. */
export interface ChainedFields {
  at: Date;
  actorId: string | null;
  action: string;
  targetType: string | null;
  targetId: string | null;
  details: unknown;
}

/** JSON with object keys sorted at every depth, so equal values always hash the same. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

/**
 * Each entry's hash covers its own fields and the previous entry's hash. The body is the
 * canonical JSON of the fields, written out with its keys already in sorted order: this
 * runs for every entry, a hundred thousand in a large restore.
 */
export function chainHash(prevHash: string | null, entry: ChainedFields): string {
  const body =
    `{"action":${JSON.stringify(entry.action)},"actorId":${JSON.stringify(entry.actorId)},"at":${JSON.stringify(entry.at.toISOString())},` +
    `"details":${canonicalJson(entry.details)},"targetId":${JSON.stringify(entry.targetId)},"targetType":${JSON.stringify(entry.targetType)}}`;
  return createHash('sha256').update(`${prevHash ?? ''}\n${body}`).digest('hex');
}
