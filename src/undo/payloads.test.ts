import { describe, expect, it } from 'vitest';
import { readJobPayload } from '../jobs/payload.js';
import { rollbackProgress } from '../rollbacks/payloads.js';
import { undoParams } from './payloads.js';

const job = (params: unknown, progress: unknown = {}) => ({ kind: 'undo', id: 'u1', params, progress });

describe("an undo job's payload (jobs.params, jobs.progress)", () => {
  it('reads back the params requestUndo writes, cause and conflict choice included', () => {
    const params = {
      at: '2026-01-02T03:04:05.000Z',
      scope: { type: 'workspace' },
      resumeAutomations: false,
      cause: { txids: ['101', '102'], undoAnyway: false, merge: false },
      undoCause: { tokenId: 't1', from: '2026-01-02T00:00:00.000Z', to: '2026-01-02T04:00:00.000Z' },
      onConflict: 'keep_later',
    };
    expect(readJobPayload(undoParams, job(params), 'params')).toEqual(params);
    expect(readJobPayload(rollbackProgress, job(params, { phase: 'contacts', cursor: 'c9', contactsDone: 3, txids: ['101'] }), 'progress')).toEqual({
      phase: 'contacts',
      cursor: 'c9',
      contactsDone: 3,
      txids: ['101'],
    });
  });

  it('fails naming the field when the payload is not an undo’s, rather than running on it', () => {
    expect(() => readJobPayload(undoParams, job({ at: '2026-01-02T03:04:05.000Z', scope: { type: 'workspace' }, resumeAutomations: false, onConflict: 'later' }), 'params')).toThrow(
      /undo job u1: its params are not what a job of its kind writes:[\s\S]*onConflict/,
    );
  });
});
