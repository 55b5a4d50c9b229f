import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJson, chainHash, type ChainedFields } from './chain.js';

/** The hash as the chain has always defined it: the canonical JSON of the fields. */
function definedHash(prevHash: string | null, entry: ChainedFields): string {
  const body = canonicalJson({ ...entry, at: entry.at.toISOString() });
  return createHash('sha256').update(`${prevHash ?? ''}\n${body}`).digest('hex');
}

describe('audit chain hash', () => {
  const entries: ChainedFields[] = [
    { at: new Date('2026-11-25T10:00:00.123Z'), actorId: 'u1', action: 'contact.restored', targetType: 'contact', targetId: 'c1', details: { source: 'deleted' } },
    { at: new Date('2026-01-01T00:00:00Z'), actorId: null, action: 'contact.purged', targetType: null, targetId: null, details: {} },
    {
      at: new Date('2026-06-30T23:59:59.999Z'),
      actorId: 'a"b\\c',
      action: 'role.created',
      targetType: 'role',
      targetId: 'ü\u2028',
      details: { z: [3, { b: null, a: 'x' }], a: { y: true, x: 1.5 }, skipped: undefined },
    },
  ];

  it('equals the hash of the canonical JSON of the fields, for every kind of value', () => {
    for (const prev of [null, 'f'.repeat(64)]) {
      for (const entry of entries) expect(chainHash(prev, entry)).toBe(definedHash(prev, entry));
    }
  });
});
