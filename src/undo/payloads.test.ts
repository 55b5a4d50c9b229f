import { describe, expect, it } from 'vitest';
import { readJobPayload } from '../jobs/payload.js';
import { undoParams } from './payloads.js';

const job = (params: unknown) => ({ kind: 'undo', id: 'u1', params, progress: {} });

describe("an undo job's params (jobs.params)", () => {
  it('reads back the cause and conflict choice requestUndo writes', () => {
    const params = { undoCause: { tokenId: 't1', from: '2026-01-02T00:00:00.000Z', to: '2026-01-02T04:00:00.000Z' }, onConflict: 'keep_later' };
    expect(readJobPayload(undoParams, job(params), 'params')).toEqual(params);
  });

  it('fails naming the field when the params are not an undo’s, rather than running on them', () => {
    expect(() => readJobPayload(undoParams, job({ undoCause: { importId: 'i1' }, onConflict: 'later' }), 'params')).toThrow(
      /undo job u1: its params are not what a job of its kind writes:[\s\S]*onConflict/,
    );
  });
});
